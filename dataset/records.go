package dataset

import (
	"context"
	"fmt"
	"io"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// RecordWriter writes shards of Examples that are already serialised, such
// as the records of another dataset with the same spec: resharding and
// merging write with it, and decode no image. Every record is checked
// against the spec (names, kinds, sizes of its features) and its labels are
// counted for the manifest, so the shards it writes verify as a
// conversion's do.
type RecordWriter struct {
	Spec        *schema.Spec
	Compression tfrecord.Compression // of the written stream
	Index       bool                 // WriteTemp writes a DALI index sidecar with each shard
	SHA256      bool                 // add each shard's SHA-256 to its CRC-32C
}

// Write writes records, in order, as one TFRecord stream to dst and, when
// index is not nil, a DALI index to index. A record that is not an Example
// of the spec is an error naming its position in records.
func (w *RecordWriter) Write(records [][]byte, dst io.Writer, index io.Writer) (ShardStats, error) {
	out := newChecksumWriter(dst, w.SHA256)
	tw, err := tfrecord.NewWriter(out, &tfrecord.WriterOptions{Compression: w.Compression, Index: index})
	if err != nil {
		return ShardStats{}, fmt.Errorf("dataset: %w", err)
	}
	counts := newLabelCounts(w.Spec)
	var parsed example.Parsed
	var rec schema.Record
	for i, record := range records {
		err := example.ParseInto(&parsed, record, true)
		if err == nil {
			err = w.Spec.ReadExample(parsed, &rec)
		}
		if err != nil {
			return ShardStats{}, fmt.Errorf("dataset: record %d of the shard: %w", i, err)
		}
		if err := tw.Write(record); err != nil {
			return ShardStats{}, fmt.Errorf("dataset: writing shard: %w", err)
		}
		counts.add(rec.Labels)
	}
	if err := tw.Close(); err != nil {
		return ShardStats{}, fmt.Errorf("dataset: writing shard: %w", err)
	}
	stats := ShardStats{Records: tw.Records(), Labels: counts.counts}
	out.stats(&stats)
	return stats, nil
}

// WriteTemp writes records, in order, as shard number shard of split to a
// file under tempDir whose name is unique to the call (see
// ShardWriter.WriteTemp), for an Assembly to commit.
func (w *RecordWriter) WriteTemp(ctx context.Context, tempDir, split string, shard int, records [][]byte) (ShardResult, error) {
	return writeTemp(ctx, tempDir, split, shard, w.Compression, w.Index, func(dst, index io.Writer) (ShardStats, error) {
		return w.Write(records, dst, index)
	})
}

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
	return w.writeFrom(sliceRecords(records), dst, index)
}

// sliceRecords returns the records one at a time, io.EOF after the last.
func sliceRecords(records [][]byte) func() ([]byte, error) {
	i := 0
	return func() ([]byte, error) {
		if i == len(records) {
			return nil, io.EOF
		}
		i++
		return records[i-1], nil
	}
}

// writeFrom is Write for records next returns one at a time.
func (w *RecordWriter) writeFrom(next func() ([]byte, error), dst io.Writer, index io.Writer) (ShardStats, error) {
	out := newChecksumWriter(dst, w.SHA256)
	tw, err := tfrecord.NewWriter(out, &tfrecord.WriterOptions{Compression: w.Compression, Index: index})
	if err != nil {
		return ShardStats{}, fmt.Errorf("dataset: %w", err)
	}
	counts := newLabelCounts(w.Spec)
	var parsed example.Parsed
	var rec schema.Record
	for i := 0; ; i++ {
		record, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ShardStats{}, fmt.Errorf("dataset: record %d of the shard: %w", i, err)
		}
		err = example.ParseInto(&parsed, record, true)
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

// WriteTempFrom is WriteTemp for records that next returns one at a time,
// io.EOF after the last. A record needs to stay valid only until the next
// call, so a shard of any size is written in the memory of a few records.
// An error of next fails the shard.
func (w *RecordWriter) WriteTempFrom(ctx context.Context, tempDir, split string, shard int, next func() ([]byte, error)) (ShardResult, error) {
	return writeTemp(ctx, tempDir, split, shard, w.Compression, w.Index, func(dst, index io.Writer) (ShardStats, error) {
		return w.writeFrom(next, dst, index)
	})
}

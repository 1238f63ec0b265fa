package synth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// Split is one split of a dataset written by WriteDataset.
type Split struct {
	Name   string
	Rows   []Row
	Shards int // 0 = 1
}

// DatasetOptions control WriteDataset.
type DatasetOptions struct {
	Spec        *schema.Spec // nil = the "planet" preset
	Image       Options      // how chips are drawn and JPEG-encoded before preparation
	Compression tfrecord.Compression
	Index       bool // write DALI index sidecars (uncompressed shards only)
}

// WriteDataset writes a converted dataset directory (shards and manifest)
// with package dataset's writer, without Beam, for tests and benchmarks of
// the reading side. Each chip is drawn, JPEG-encoded, then prepared exactly
// as the converter prepares a JPEG file; row i of a split goes to shard i mod
// Shards, in row order. The spec must read the CSV columns image_name,
// weather_labels and ground_labels. An earlier dataset in dir is replaced.
func WriteDataset(dir string, splits []Split, o DatasetOptions) (*dataset.Manifest, error) {
	ctx := context.Background()
	spec := o.Spec
	if spec == nil {
		var err error
		if spec, err = schema.Preset("planet"); err != nil {
			return nil, err
		}
	}
	o.Image = o.Image.withDefaults()
	if err := o.Image.validate(); err != nil {
		return nil, err
	}
	dec, err := spec.NewRowDecoder(strings.Split(Header, ","))
	if err != nil {
		return nil, err
	}
	tempDir, err := dataset.Create(ctx, dir, true)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	// The chips are drawn when the writer opens them, by image path.
	chips := map[string]Row{}
	w := &dataset.ShardWriter{
		Spec:        spec,
		Compression: o.Compression,
		Index:       o.Index,
		OpenImage: func(_ context.Context, path string) (io.ReadCloser, error) {
			r, ok := chips[path]
			if !ok {
				return nil, fmt.Errorf("synth: no chip %s", path)
			}
			var buf bytes.Buffer
			if err := EncodeJPEG(&buf, r, o.Image); err != nil {
				return nil, err
			}
			return io.NopCloser(&buf), nil
		},
	}
	a := &dataset.Assembly{
		Overwrite:   true,
		Location:    dir,
		TempDir:     tempDir,
		Spec:        spec,
		Compression: o.Compression,
		Index:       o.Index,
		CommandLine: []string{"synth.WriteDataset"},
		ToolVersion: "(synth)",
		Created:     time.Unix(0, 0).UTC(),
	}
	total := 0
	for _, sp := range splits {
		total += len(sp.Rows)
	}
	a.AddRead(int64(total))
	line := 1
	for _, sp := range splits {
		n := max(sp.Shards, 1)
		a.Splits = append(a.Splits, dataset.SplitLayout{Name: sp.Name, Fraction: float64(len(sp.Rows)) / float64(max(total, 1)), Shards: n})
		for s := range n {
			var rows []dataset.Row
			for i := s; i < len(sp.Rows); i += n {
				r := sp.Rows[i]
				line++
				var weather, ground bytes.Buffer
				writeList(&weather, r.Weather[:])
				writeList(&ground, r.Ground[:])
				row, _, err := dec.Decode(line, []string{r.Name, weather.String(), ground.String()})
				if err != nil {
					return nil, err
				}
				labels := make([][]float32, len(row.Labels))
				for k, l := range row.Labels {
					labels[k] = l.Values
				}
				chips[filepath.Join("", filepath.FromSlash(row.ImagePath))] = r
				rows = append(rows, dataset.Row{Line: line, Key: row.Key, Image: row.ImagePath, Labels: labels})
			}
			res, rejected, err := w.WriteTemp(ctx, tempDir, sp.Name, s, rows)
			if err != nil {
				return nil, fmt.Errorf("synth: %w", err)
			}
			if len(rejected) > 0 {
				dataset.RemoveTemp(ctx, tempDir)
				return nil, fmt.Errorf("synth: %s", rejected[0].Reason)
			}
			if err := a.AddShard(res); err != nil {
				return nil, fmt.Errorf("synth: %w", err)
			}
		}
	}
	m, err := a.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	return m, nil
}

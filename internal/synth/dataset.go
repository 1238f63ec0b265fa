package synth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
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

// WriteDataset writes a converted dataset directory (shards and dataset.json,
// in the layout of package dataset) without Beam, for tests and benchmarks of
// the reading side. Each chip is drawn, JPEG-encoded, then prepared by
// imageprep exactly as the converter prepares a JPEG file; row i of a split
// goes to shard i mod Shards, in row order. The spec must read the CSV
// columns image_name, weather_labels and ground_labels.
func WriteDataset(dir string, splits []Split, o DatasetOptions) (*dataset.Manifest, error) {
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
	proc, err := imageprep.NewProcessor(spec.ImageOptions())
	if err != nil {
		return nil, err
	}
	specJSON, err := spec.Marshal()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := o.Compression
	if c == tfrecord.Auto {
		c = tfrecord.None
	}
	m := &dataset.Manifest{
		FormatVersion: dataset.FormatVersion,
		Tool:          "tfprep",
		ToolVersion:   "(synth)",
		CommandLine:   []string{"synth.WriteDataset"},
		Created:       time.Unix(0, 0).UTC(),
		Spec:          json.RawMessage(specJSON),
		Decoder:       imageprep.DecoderName(),
		Compression:   c.String(),
		Index:         o.Index,
		Rows:          dataset.Rows{RejectedByStage: map[dataset.Stage]int64{}},
	}
	for _, f := range spec.Features() {
		m.Features = append(m.Features, dataset.Feature{Name: f.Name, Kind: f.Kind, DType: f.DType, Shape: f.Shape, Encoding: f.Encoding, Role: f.Role})
	}
	total := 0
	for _, sp := range splits {
		total += len(sp.Rows)
	}
	line := 1
	var jpegBuf bytes.Buffer
	var image, record []byte
	for _, sp := range splits {
		n := max(sp.Shards, 1)
		out := dataset.Split{Name: sp.Name, Fraction: float64(len(sp.Rows)) / float64(max(total, 1))}
		for _, lab := range spec.LabelFeatures() {
			out.Labels = append(out.Labels, dataset.LabelCount{Feature: lab.Feature, Names: lab.Names, Counts: make([]int64, lab.Size)})
		}
		for s := range n {
			name := dataset.ShardName(sp.Name, s, n, c)
			var data, index bytes.Buffer
			wopts := &tfrecord.WriterOptions{Compression: c}
			if o.Index {
				wopts.Index = &index
			}
			w, err := tfrecord.NewWriter(&data, wopts)
			if err != nil {
				return nil, err
			}
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
				jpegBuf.Reset()
				if err := EncodeJPEG(&jpegBuf, r, o.Image); err != nil {
					return nil, err
				}
				image, err = proc.Process(r.Name+".jpg", jpegBuf.Bytes(), image[:0])
				if err != nil {
					return nil, err
				}
				record = spec.AppendExample(record[:0], row, image)
				if err := w.Write(record); err != nil {
					return nil, err
				}
				for k, lab := range row.Labels {
					for j, v := range lab.Values {
						if v != 0 {
							out.Labels[k].Counts[j]++
						}
					}
				}
			}
			if err := w.Close(); err != nil {
				return nil, err
			}
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data.Bytes(), 0o644); err != nil {
				return nil, err
			}
			if o.Index {
				if err := os.WriteFile(dataset.IndexName(path), index.Bytes(), 0o644); err != nil {
					return nil, err
				}
			}
			sum := sha256.Sum256(data.Bytes())
			out.Shards = append(out.Shards, dataset.Shard{File: name, Records: w.Records(), Bytes: int64(data.Len()), SHA256: hex.EncodeToString(sum[:])})
			out.Records += w.Records()
			out.Bytes += int64(data.Len())
		}
		m.Splits = append(m.Splits, out)
		m.Rows.Read += out.Records
		m.Rows.Written += out.Records
	}
	if err := dataset.WriteManifest(dir, m); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	return m, nil
}

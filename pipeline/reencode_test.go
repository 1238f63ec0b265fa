package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// TestReshardReencodes converts testdata once per encoding and re-encodes
// each lossless encoding as every other: the records must be, byte for
// byte, those convert writes in the target encoding (hence the same
// pixels), and the output's spec must say the new encoding.
func TestReshardReencodes(t *testing.T) {
	ctx := context.Background()
	encodings := []string{"float32", "uint8", "png"}
	converted := map[string]string{}
	for _, enc := range encodings {
		converted[enc] = convertForTest(t, "good.csv", func(cfg *Config) { cfg.Spec.Image.Encoding = enc })
	}
	for _, from := range encodings {
		for _, to := range encodings {
			if from == to {
				continue
			}
			t.Run(from+"-to-"+to, func(t *testing.T) {
				cfg := RewriteConfig{Sources: []string{converted[from]}, Out: filepath.Join(t.TempDir(), "out"), Shards: 2, Seed: 4, Encoding: to}
				if _, err := Rewrite(ctx, cfg); err != nil {
					t.Fatal(err)
				}
				verifyOK(t, cfg.Out)
				d, err := dataset.Open(ctx, cfg.Out)
				if err != nil {
					t.Fatal(err)
				}
				if d.Spec.Image.Encoding != to {
					t.Errorf("the output's spec says %s, want %s", d.Spec.Image.Encoding, to)
				}
				want, got := readContents(t, converted[to]), readContents(t, cfg.Out)
				if !slices.Equal(want.all(), got.all()) {
					t.Errorf("records differ from convert's in %s", to)
				}
			})
		}
	}
}

func TestReshardReencodeRefusals(t *testing.T) {
	ctx := context.Background()
	f32 := convertForTest(t, "good.csv", nil)
	jpeg := convertForTest(t, "good.csv", func(cfg *Config) { cfg.Spec.Image.Encoding = "jpeg" })
	normalised := convertForTest(t, "good.csv", func(cfg *Config) {
		cfg.Spec.Image.Mean, cfg.Spec.Image.Std = []float32{0.5, 0.5, 0.5}, []float32{0.25, 0.25, 0.25}
	})
	for _, tt := range []struct {
		src, encoding, want string
	}{
		{f32, "jpeg", "JPEG is lossy"},
		{jpeg, "uint8", "stored as JPEG"},
		{normalised, "uint8", "normalised"},
		{f32, "webp", "--encoding"},
	} {
		_, err := Rewrite(ctx, RewriteConfig{Sources: []string{tt.src}, Out: filepath.Join(t.TempDir(), "out"), Encoding: tt.encoding})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !(errors.Is(err, ErrReencode) || errors.Is(err, ErrConfig)) {
			t.Errorf("%s → %s: got %v, want a refusal saying %q", filepath.Base(filepath.Dir(tt.src)), tt.encoding, err, tt.want)
		}
	}

	// A float32 value that is not k/255 fails the run, naming the record.
	d, err := dataset.Open(ctx, f32)
	if err != nil {
		t.Fatal(err)
	}
	shards, _ := d.Shards()
	sh := shards[0]
	var records [][]byte
	if _, err := d.Scan(ctx, sh, func(_ int64, rec []byte) error { records = append(records, bytes.Clone(rec)); return nil }); err != nil {
		t.Fatal(err)
	}
	p, err := example.Parse(records[1], false)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := p.Bytes("image")
	binary.LittleEndian.PutUint32(img[4*5:], math.Float32bits(0.5)) // 127.5/255
	for i := range p.Features {
		if p.Features[i].Name == "image" {
			p.Features[i].Bytes = [][]byte{img}
		}
	}
	records[1] = example.AppendExample(nil, p.Features)
	var buf bytes.Buffer
	w, _ := tfrecord.NewWriter(&buf, nil)
	for _, rec := range records {
		w.Write(rec)
	}
	w.Close()
	if err := os.WriteFile(sh.Path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	_, err = Rewrite(ctx, RewriteConfig{Sources: []string{f32}, Out: out, Encoding: "uint8"})
	if err == nil || !strings.Contains(err.Error(), "index 5 is not an 8-bit level") || !strings.Contains(err.Error(), sh.Path+" record 1") {
		t.Errorf("a value not k/255: got %v, want an error naming %s record 1 and index 5", err, sh.Path)
	}
	if _, err := os.Stat(filepath.Join(out, dataset.ManifestName)); err == nil {
		t.Error("a refused re-encoding wrote a manifest")
	}
}

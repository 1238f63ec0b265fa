// Command ladder measures tfprep's per-image path one step at a time on a folder of chips, for
// scripts/bench-ladder.sh, which runs it interleaved with the Python reference
// (scripts/pyref_bench.py) on the same files.
//
//	go run ./scripts/ladder -make DIR -n 2000   # Planet-like chips from the two real chips
//	go run ./scripts/ladder -dir DIR            # one pass of every step; one JSON line per step
//
// -make writes DIR/images/planet_NNNNN.jpg and DIR/planet.csv: each chip is one of the real Kaggle
// chips in imageprep/testdata/planet, rotated or flipped (8 ways) and rolled, re-encoded in the real
// chips' layout (4 components, 4:4:4, no Adobe marker, one quantisation table, quality 75) with
// labels drawn from the Planet frequencies. Re-encoded real content keeps the real chips' file
// sizes and entropy-decoding cost, which drawn chips do not.
//
// Each step repeats the previous ones and adds one: decode (+ RGB), + resize (nearest 128x128,
// uint8), + float32 /255, + tf.train.Example, + TFRecord framing with CRC-32C (in memory),
// + write to a file (framed straight into it), + CRC-32C of the shard bytes (what a tfprep
// manifest records), + SHA-256 of them (convert --sha256). Every image is
// read from its file at every step, as a conversion does (from the page cache here).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"hash/crc32"
	"image"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

func main() {
	makeDir := flag.String("make", "", "write Planet-like chips and their CSV to this directory")
	n := flag.Int("n", 2000, "number of chips for -make")
	real := flag.String("real", "imageprep/testdata/planet", "folder of the real chips for -make")
	dir := flag.String("dir", "", "measure every step on DIR/images and DIR/planet.csv")
	flag.Parse()
	var err error
	switch {
	case *makeDir != "":
		err = makeChips(*makeDir, *real, *n)
	case *dir != "":
		err = measure(*dir, os.Stdout)
	default:
		err = fmt.Errorf("want -make DIR or -dir DIR")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ladder:", err)
		os.Exit(1)
	}
}

func makeChips(dir, realDir string, n int) error {
	var sources []*imageprep.Image
	for _, name := range []string{"train_0.jpg", "train_1.jpg"} {
		data, err := os.ReadFile(filepath.Join(realDir, name))
		if err != nil {
			return err
		}
		img, err := imageprep.Decode(data, imageprep.RGB, imageprep.Options{})
		if err != nil {
			return err
		}
		sources = append(sources, img)
	}
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		return err
	}
	rows := synth.SampleRows(n, 1)
	for i := range rows {
		rows[i].Name = fmt.Sprintf("planet_%05d", i)
		src := sources[i%len(sources)]
		img := transform(src, (i/len(sources))%8, (i*37)%src.Width, (i*91)%src.Height)
		var buf bytes.Buffer
		if err := synth.EncodePlanetJPEG(&buf, img, 75); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "images", rows[i].Name+".jpg"), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(dir, "planet.csv"))
	if err != nil {
		return err
	}
	if err := synth.WriteCSV(f, rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// transform applies one of the 8 rotations/flips of a square image (t bit 0: mirror, bits 1-2:
// quarter turns) after rolling it by dx, dy pixels, and returns it as opaque RGBA.
func transform(src *imageprep.Image, t, dx, dy int) *image.RGBA {
	w, h := src.Width, src.Height
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			sx, sy := x, y
			if t&1 == 1 {
				sx = w - 1 - sx
			}
			for range t >> 1 {
				sx, sy = sy, w-1-sx
			}
			sx, sy = (sx+dx)%w, (sy+dy)%h
			p := src.Pix[(sy*w+sx)*3:]
			o := out.Pix[(y*w+x)*4:]
			o[0], o[1], o[2], o[3] = p[0], p[1], p[2], 255
		}
	}
	return out
}

type step struct {
	name string
	run  func(name string, data []byte, row schema.Row) error
}

func measure(dir string, out io.Writer) error {
	spec, err := schema.Preset("planet")
	if err != nil {
		return err
	}
	csvFile, err := os.Open(filepath.Join(dir, "planet.csv"))
	if err != nil {
		return err
	}
	rows, err := synth.ReadCSV(csvFile)
	csvFile.Close()
	if err != nil {
		return err
	}
	dec, err := spec.NewRowDecoder(strings.Split(synth.Header, ","))
	if err != nil {
		return err
	}
	labels := make([]schema.Row, len(rows))
	for i, r := range rows {
		if labels[i], _, err = dec.Decode(i+2, []string{r.Name, listCell(r.Weather[:]), listCell(r.Ground[:])}); err != nil {
			return err
		}
	}
	processor := func(enc imageprep.Encoding) *imageprep.Processor {
		o := spec.ImageOptions()
		o.Encoding = enc
		p, err := imageprep.NewProcessor(o)
		if err != nil {
			panic(err)
		}
		return p
	}
	u8, f32 := processor(imageprep.Uint8), processor(imageprep.Float32)
	var pix, record []byte
	var shard bytes.Buffer
	framer, _ := tfrecord.NewWriter(&shard, nil)
	tmp, err := os.MkdirTemp("", "ladder-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The file steps frame each record straight into the file through sink, as dataset's shard
	// writer does: no copy between the record and the file; the checksums as the bytes pass.
	var sink checksums
	fileFramer, _ := tfrecord.NewWriter(&sink, nil)
	toFile := func(data []byte) error { return fileFramer.Write(data) }
	example := func(name string, data []byte, row schema.Row) error {
		var err error
		if pix, err = f32.Process(name, data, pix[:0]); err != nil {
			return err
		}
		record = spec.AppendExample(record[:0], row, pix)
		return nil
	}
	steps := []step{
		{"decode", func(name string, data []byte, _ schema.Row) error {
			_, err := imageprep.Decode(data, imageprep.RGB, imageprep.Options{})
			return err
		}},
		{"resize", func(name string, data []byte, _ schema.Row) (err error) {
			pix, err = u8.Process(name, data, pix[:0])
			return err
		}},
		{"float32", func(name string, data []byte, _ schema.Row) (err error) {
			pix, err = f32.Process(name, data, pix[:0])
			return err
		}},
		{"example", example},
		{"tfrecord", func(name string, data []byte, row schema.Row) error {
			if err := example(name, data, row); err != nil {
				return err
			}
			shard.Reset()
			return framer.Write(record)
		}},
		{"write", func(name string, data []byte, row schema.Row) error {
			if err := example(name, data, row); err != nil {
				return err
			}
			return toFile(record)
		}},
		{"crc32c", func(name string, data []byte, row schema.Row) error {
			if err := example(name, data, row); err != nil {
				return err
			}
			return toFile(record)
		}},
		{"sha256", func(name string, data []byte, row schema.Row) error {
			if err := example(name, data, row); err != nil {
				return err
			}
			return toFile(record)
		}},
	}
	for _, s := range steps {
		file, err := os.Create(filepath.Join(tmp, "shard"))
		if err != nil {
			return err
		}
		sink = checksums{file: file, crc: s.name == "crc32c" || s.name == "sha256"}
		if s.name == "sha256" {
			sink.sha = sha256.New()
		}
		start := time.Now()
		for i, r := range rows {
			name := r.Name + ".jpg"
			data, err := os.ReadFile(filepath.Join(dir, "images", name))
			if err != nil {
				return err
			}
			if err := s.run(name, data, labels[i]); err != nil {
				return err
			}
		}
		if err := fileFramer.Flush(); err != nil {
			return err
		}
		if err := file.Close(); err != nil {
			return err
		}
		sec := time.Since(start).Seconds()
		line, _ := json.Marshal(map[string]any{"impl": "go", "step": s.name, "images": len(rows),
			"images_per_s": float64(len(rows)) / sec, "gomaxprocs": runtime.GOMAXPROCS(0)})
		fmt.Fprintln(out, string(line))
	}
	return nil
}

// checksums writes to file and computes, when asked, the CRC-32C (tfprep's manifest) and the
// SHA-256 (convert --sha256) of the bytes.
type checksums struct {
	file *os.File
	crc  bool
	sum  uint32
	sha  hash.Hash
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (c *checksums) Write(p []byte) (int, error) {
	n, err := c.file.Write(p)
	if c.crc {
		c.sum = crc32.Update(c.sum, castagnoli, p[:n])
	}
	if c.sha != nil {
		c.sha.Write(p[:n])
	}
	return n, err
}

// listCell is a label vector as the CSV writes it: "[0, 1, 0]".
func listCell(v []uint8) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

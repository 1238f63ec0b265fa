package trainer

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
)

// csvSource is a dataset read straight from a CSV and a folder of images.
type csvSource struct {
	path   string
	images string
	opts   imageprep.Options
	rows   []schema.Row
}

// FromCSV makes a dataset of the rows of a CSV file, each image read from
// imagesDir and prepared as spec says, exactly as "tfprep convert" would
// store it (so batches hold the same values as those of the converted
// shards). It is the seed's Keras Sequence approach: no conversion step, but
// every epoch decodes and resizes every JPEG again. The CSV is read when
// FromCSV is called; a bad row is an error naming its line and column.
// csvPath and imagesDir may be local paths or bucket URLs (gs://, s3://),
// read through package dataset.
func FromCSV(spec *schema.Spec, csvPath, imagesDir string) (*Dataset, error) {
	lay, err := newLayout(spec)
	if err != nil {
		return nil, err
	}
	f, err := dataset.OpenFile(context.Background(), csvPath)
	if err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: %s: empty CSV", ErrDataset, csvPath)
		}
		return nil, fmt.Errorf("trainer: %s: %w", csvPath, err)
	}
	dec, err := spec.NewRowDecoder(header)
	if err != nil {
		return nil, fmt.Errorf("trainer: %s: %w", csvPath, err)
	}
	src := &csvSource{path: csvPath, images: imagesDir, opts: spec.ImageOptions()}
	for {
		record, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("trainer: %s: %w", csvPath, err)
		}
		line, _ := r.FieldPos(0)
		row, _, err := dec.Decode(line, record)
		if err != nil {
			return nil, fmt.Errorf("trainer: %s: %w", csvPath, err)
		}
		src.rows = append(src.rows, row)
	}
	if len(src.rows) == 0 {
		return nil, fmt.Errorf("%w: %s has no rows", ErrDataset, csvPath)
	}
	return &Dataset{spec: spec, csv: src, layout: lay}, nil
}

// ErrImage reports an image of a CSV dataset that cannot be read.
var ErrImage = errors.New("trainer: bad image")

// csvWorker prepares images of a CSV dataset; one per goroutine.
type csvWorker struct {
	src  *csvSource
	proc *imageprep.Processor
	file bytes.Buffer
	read int // bytes of the last image file
}

func newCSVWorker(src *csvSource) (*csvWorker, error) {
	proc, err := imageprep.NewProcessor(src.opts)
	if err != nil {
		return nil, err
	}
	return &csvWorker{src: src, proc: proc}, nil
}

// load reads and prepares row i of the CSV into e.
func (w *csvWorker) load(i int, e *element) error {
	row := &w.src.rows[i]
	path := imagePath(w.src.images, row.ImagePath)
	f, err := dataset.OpenFile(context.Background(), path)
	if err != nil {
		return fmt.Errorf("%w: %s line %d: %w", ErrImage, w.src.path, row.Line, err)
	}
	w.file.Reset()
	_, err = w.file.ReadFrom(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%w: %s line %d: %s: %w", ErrImage, w.src.path, row.Line, path, err)
	}
	w.read = w.file.Len()
	e.image, err = w.proc.Process(path, w.file.Bytes(), e.image[:0])
	if err != nil {
		return fmt.Errorf("%w: %s line %d: %w", ErrImage, w.src.path, row.Line, err)
	}
	e.key = row.Key
	if cap(e.labels) < len(row.Labels) {
		e.labels = make([][]float32, len(row.Labels))
	}
	e.labels = e.labels[:len(row.Labels)]
	for k, l := range row.Labels {
		e.labels[k] = l.Values
	}
	return nil
}

// imagePath joins an image's slash-separated path to the images folder, a
// local directory or a URL (whose query, as in s3://b/x?endpoint=..., stays
// at the end).
func imagePath(images, rel string) string {
	if !strings.Contains(images, "://") {
		return filepath.Join(images, filepath.FromSlash(rel))
	}
	base, query, _ := strings.Cut(images, "?")
	if query != "" {
		query = "?" + query
	}
	return strings.TrimSuffix(base, "/") + "/" + rel + query
}

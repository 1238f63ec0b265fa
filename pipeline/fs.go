package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfprep/tfprep/storage"
)

// The pipeline reads its inputs, the CSV file and the images, through package
// storage (local disk, gs://, s3://), as every other command does; the output
// is package dataset's to write.

// openParent returns the Dir holding the file at path (a local path or a URL,
// whose query, as in s3://b/in.csv?endpoint=..., configures the connection)
// and the file's name in it. The caller closes the Dir.
func openParent(ctx context.Context, path string) (*storage.Dir, string, error) {
	var dir, name string
	if strings.Contains(path, "://") {
		loc, query, _ := strings.Cut(path, "?")
		i := strings.LastIndex(loc, "/")
		dir, name = loc[:i], loc[i+1:]
		if query != "" {
			dir += "?" + query
		}
	} else {
		dir, name = filepath.Dir(path), filepath.Base(path)
	}
	if name == "" {
		return nil, "", fmt.Errorf("%w: %s names no file", ErrConfig, path)
	}
	d, err := storage.Open(ctx, dir)
	if err != nil {
		return nil, "", fmt.Errorf("pipeline: %w", err)
	}
	return d, name, nil
}

// readFile reads a whole file.
func readFile(ctx context.Context, path string) ([]byte, error) {
	d, name, err := openParent(ctx, path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	data, err := d.ReadFile(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return data, nil
}

// openRead opens a file for reading; closing it also closes its Dir.
func openRead(ctx context.Context, path string) (io.ReadCloser, error) {
	d, name, err := openParent(ctx, path)
	if err != nil {
		return nil, err
	}
	r, err := d.NewReader(ctx, name)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return &dirFile{ReadCloser: r, dir: d}, nil
}

type dirFile struct {
	io.ReadCloser
	dir *storage.Dir
}

func (f *dirFile) Close() error {
	err := f.ReadCloser.Close()
	f.dir.Close()
	return err
}

// checkImages checks, before the job starts, that the images root is a
// directory (local) or has at least one object under it (a bucket prefix,
// listed with a limit of one), so that a mistyped --images fails at once
// instead of rejecting every row.
func checkImages(ctx context.Context, images string) error {
	if !strings.Contains(images, "://") {
		if fi, err := os.Stat(images); err != nil || !fi.IsDir() {
			return fmt.Errorf("%w: --images %s is not a directory", ErrConfig, images)
		}
		return nil
	}
	d, err := storage.Open(ctx, images)
	if err != nil {
		return fmt.Errorf("%w: --images: %w", ErrConfig, err)
	}
	defer d.Close()
	empty, err := d.Empty(ctx)
	if err != nil {
		return fmt.Errorf("pipeline: --images: %w", err)
	}
	if empty {
		return fmt.Errorf("%w: --images %s: no object under it", ErrConfig, d.URL()+"/")
	}
	return nil
}

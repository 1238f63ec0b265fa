package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
func openRead(ctx context.Context, path string) (*dirFile, error) {
	d, name, err := openParent(ctx, path)
	if err != nil {
		return nil, err
	}
	r, err := d.NewReader(ctx, name)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return &dirFile{Reader: r, dir: d}, nil
}

// dirFile is a file open for reading (Size gives the whole file's) that
// closes its directory with it.
type dirFile struct {
	*storage.Reader
	dir *storage.Dir
}

func (f *dirFile) Close() error {
	err := f.Reader.Close()
	f.dir.Close()
	return err
}

// randomID is a short random name part, unique enough for job names.
func randomID() string { return rand.Text()[:12] }

// imageOpener returns the function a dataset.ShardWriter opens images with,
// by their full path (images joined with a row's relative path), and the
// function that releases what it holds.
//
// A row's path cannot leave images by its text (the spec's decoder refuses
// that); under a local root a symbolic link could, so local images are
// opened through an os.Root, which resolves links and refuses any target
// (of the file, or of a folder on its path) outside the root. followOutside
// allows such targets; URLs have no links and go through package storage.
func imageOpener(ctx context.Context, images string, followOutside bool) (open func(context.Context, string) (io.ReadCloser, error), release func() error, err error) {
	if strings.Contains(images, "://") || followOutside {
		// dataset.ShardWriter's own opener: package storage.
		return nil, func() error { return nil }, nil
	}
	root, err := os.OpenRoot(images)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: --images: %w", err)
	}
	resolvedRoot, err := filepath.EvalSymlinks(images)
	if err != nil {
		root.Close()
		return nil, nil, fmt.Errorf("pipeline: --images: %w", err)
	}
	clean := filepath.Clean(images)
	open = func(_ context.Context, path string) (io.ReadCloser, error) {
		rel, err := filepath.Rel(clean, path)
		if err != nil {
			return nil, err
		}
		f, err := root.Open(rel)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		if target, lerr := filepath.EvalSymlinks(path); lerr == nil && !within(resolvedRoot, target) {
			return nil, fmt.Errorf("%s is a symbolic link to %s, outside --images %s (--follow-symlinks-outside allows it)", path, target, images)
		}
		return nil, err
	}
	return open, root.Close, nil
}

// within reports whether path is dir or below it; both are clean.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
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

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

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
)

// The pipeline reads its inputs, the CSV file and the images, through Beam's
// filesystems (local, gs://, s3://, whichever the program registered); the
// output is package dataset's to write.

// isDirOrURL reports whether path is a local directory or a URL (whose
// objects are only found when read).
func isDirOrURL(path string) bool {
	if strings.Contains(path, "://") {
		return true
	}
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// openFS returns the filesystem serving path's scheme.
func openFS(ctx context.Context, path string) (filesystem.Interface, error) {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return fsys, nil
}

// readFile reads a whole file.
func readFile(ctx context.Context, path string) ([]byte, error) {
	fsys, err := openFS(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	data, err := filesystem.Read(ctx, fsys, path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: reading %s: %w", path, err)
	}
	return data, nil
}

// openRead opens a file for reading; closing it also closes its filesystem.
func openRead(ctx context.Context, path string) (io.ReadCloser, error) {
	fsys, err := openFS(ctx, path)
	if err != nil {
		return nil, err
	}
	f, err := fsys.OpenRead(ctx, path)
	if err != nil {
		fsys.Close()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return &fsFile{ReadCloser: f, fsys: fsys}, nil
}

type fsFile struct {
	io.ReadCloser
	fsys filesystem.Interface
}

func (f *fsFile) Close() error {
	err := f.ReadCloser.Close()
	f.fsys.Close()
	return err
}

// joinPath joins a local path or URL with a relative name.
func joinPath(root, rel string) string {
	if strings.Contains(root, "://") {
		return strings.TrimSuffix(root, "/") + "/" + rel
	}
	return filepath.Join(root, rel)
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
// allows such targets; URLs have no links and go through Beam's filesystem.
func imageOpener(ctx context.Context, images string, followOutside bool) (open func(context.Context, string) (io.ReadCloser, error), release func() error, err error) {
	if strings.Contains(images, "://") || followOutside {
		fsys, err := openFS(ctx, images)
		if err != nil {
			return nil, nil, err
		}
		return fsys.OpenRead, fsys.Close, nil
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

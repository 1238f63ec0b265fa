package pipeline

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
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

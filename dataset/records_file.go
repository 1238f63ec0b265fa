package dataset

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// Any TFRecord file, local or in a bucket: finding, opening and telling
// which spec its Examples follow, for commands that take files (cat, count,
// verify FILE) and for trainer.Glob.

// Glob turns file names and glob patterns into paths, in the order given,
// each glob's matches sorted. Local arguments are expanded as tfrecord.Glob
// does. On a bucket (gs://, s3://, mem://) a pattern lists the objects under
// its fixed leading part and keeps those whose names match it by
// path.Match; a URL's query (s3://b/*.tfrecord?endpoint=...) is kept on
// every match. A pattern matching nothing is an error; a plain URL is kept
// as is, for opening to report if missing.
func Glob(ctx context.Context, patterns []string) ([]string, error) {
	var paths []string
	for _, p := range patterns {
		var matches []string
		var err error
		if strings.Contains(p, "://") {
			matches, err = globBucket(ctx, p)
		} else {
			matches, err = tfrecord.Glob([]string{p})
		}
		if err != nil {
			return nil, err
		}
		paths = append(paths, matches...)
	}
	return paths, nil
}

func globBucket(ctx context.Context, pattern string) ([]string, error) {
	root, key, query, err := splitURL(pattern)
	if err != nil {
		return nil, err
	}
	meta := strings.IndexAny(key, `*?[`)
	if meta < 0 {
		return []string{pattern}, nil
	}
	dir := key[:strings.LastIndex(key[:meta], "/")+1] // "" or "a/b/"
	rel := key[len(dir):]
	if _, err := path.Match(rel, ""); err != nil {
		return nil, fmt.Errorf("bad glob %q: %w", pattern, err)
	}
	store, err := openBucket(ctx, root+query)
	if err != nil {
		return nil, err
	}
	names, err := store.ListAll(ctx, root+"/"+dir)
	if err != nil {
		return nil, err
	}
	var matches []string
	for _, name := range names {
		if ok, _ := path.Match(rel, name); ok {
			matches = append(matches, root+"/"+dir+name+query)
		}
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("no files match %q", pattern)
	}
	slices.Sort(matches)
	return matches, nil
}

// RecordFile is a TFRecord file opened by OpenRecords: its Reader, and
// Close for the file under it.
type RecordFile struct {
	*tfrecord.Reader
	file File
}

// Close closes the file.
func (f *RecordFile) Close() error { return f.file.Close() }

// OpenRecords opens the TFRecord file at path, local or in a bucket, for
// reading with opts (see tfrecord.Open). A file that cannot be opened gives
// the error of OpenFile, naming it.
func OpenRecords(ctx context.Context, path string, opts *tfrecord.ReaderOptions) (*RecordFile, error) {
	f, err := OpenFile(ctx, path)
	if err != nil {
		return nil, err
	}
	r, err := tfrecord.NewReader(f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (opening %s)", err, path)
	}
	return &RecordFile{Reader: r, file: f}, nil
}

// SpecFor returns the spec the Examples of the TFRecord file at path
// follow: the one nameOrPath resolves to (ResolveSpec) when it is not
// empty, else the spec of the dataset beside the file (a manifest in its
// directory), else nil.
func SpecFor(ctx context.Context, path, nameOrPath string) (*schema.Spec, error) {
	if nameOrPath != "" {
		return ResolveSpec(ctx, nameOrPath)
	}
	dir := fileDir(path)
	if !IsDataset(ctx, dir) {
		return nil, nil
	}
	d, err := Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	return d.Spec, nil
}

// fileDir is the directory of a local path or the URL of the "directory"
// of an object, with the URL's query kept.
func fileDir(p string) string {
	if !strings.Contains(p, "://") {
		return filepath.Dir(p)
	}
	rest, query, _ := strings.Cut(p, "?")
	if query != "" {
		query = "?" + query
	}
	if i := strings.LastIndex(rest, "/"); i > strings.Index(rest, "://")+2 {
		rest = rest[:i]
	}
	return rest + query
}

// CountRecords reads every record of the TFRecord file at path, local or in
// a bucket, verifying checksums, and returns how many it holds. A damaged
// record is an error wrapping its *tfrecord.RecordError.
func CountRecords(ctx context.Context, path string) (int64, error) {
	f, err := OpenRecords(ctx, path, &tfrecord.ReaderOptions{ReuseBuffer: true})
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for {
		if f.Index()%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		if _, err := f.Next(); err != nil {
			if err == io.EOF {
				return f.Index(), nil
			}
			return 0, err
		}
	}
}

// RecordCounts is what "tfprep count" reports: records per file and in all.
type RecordCounts struct {
	Files   []FileCount `json:"files"`
	Records int64       `json:"records"`
}

// FileCount is one file's record count.
type FileCount struct {
	File    string `json:"file"`
	Records int64  `json:"records"`
}

// WriteText writes the counts as wc does: right-aligned, then the name,
// then the total.
func (c *RecordCounts) WriteText(w io.Writer) error {
	var b strings.Builder
	width := len(fmt.Sprint(c.Records))
	for _, f := range c.Files {
		fmt.Fprintf(&b, "%*d  %s\n", width, f.Records, f.File)
	}
	fmt.Fprintf(&b, "%*d  total\n", width, c.Records)
	_, err := io.WriteString(w, b.String())
	return err
}

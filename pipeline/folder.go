package pipeline

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/storage"
)

// Image folders (schema.SourceImageFolder): the tree ROOT/CLASS/.../IMAGE
// is read as a table of two columns, the file's path under ROOT and its
// class folder, so that every step after ReadRows is Convert's own.

func init() {
	register.DoFn5x1[context.Context, string, func(csvRecord), func(dataset.ErrorRecord), func(readCount), error](&readFolderFn{})
}

// folderImageExts are the file name extensions of images an image folder
// yields (case-insensitive): the formats the decoder reads.
var folderImageExts = []string{".jpg", ".jpeg", ".png"}

// folderFile is one file of an image folder: a row, or a file rejected
// before it becomes one (reason set).
type folderFile struct {
	Path   string // relative to the root, forward slashes
	Class  string // first folder of Path; "" directly under the root
	Stage  dataset.Stage
	Reason string
}

// scanFolder lists the files under root (a local directory or a bucket
// prefix) in lexical order and calls visit with each file that is a row
// or a rejected row. Hidden files and folders (a name starting with ".")
// and bucket folder placeholders ("name/") are not rows. A file directly
// under root is rejected (stage label: it has no class folder), as is a
// file that is not a JPEG or PNG by its extension (stage image).
func scanFolder(ctx context.Context, root string, visit func(folderFile) error) error {
	d, err := storage.Open(ctx, root)
	if err != nil {
		return fmt.Errorf("pipeline: --images: %w", err)
	}
	defer d.Close()
	for a, err := range d.List(ctx, storage.ListOptions{Recursive: true}) {
		if err != nil {
			return fmt.Errorf("pipeline: listing --images: %w", err)
		}
		name := a.Name
		if a.IsDir || strings.HasSuffix(name, "/") || hidden(name) {
			continue
		}
		f := folderFile{Path: name}
		class, _, inFolder := strings.Cut(name, "/")
		switch ext := strings.ToLower(path.Ext(name)); {
		case !inFolder:
			f.Stage, f.Reason = dataset.StageLabel, fmt.Sprintf("%s is directly in %s, not in a class folder (ROOT/CLASS/IMAGE): its class is unknown", name, d.URL())
		case !slices.Contains(folderImageExts, ext):
			f.Class = class
			f.Stage, f.Reason = dataset.StageImage, fmt.Sprintf("%s is not an image by its name (want %s)", name, strings.Join(folderImageExts, ", "))
		default:
			f.Class = class
		}
		if err := visit(f); err != nil {
			return err
		}
	}
	return nil
}

// hidden reports whether a slash-separated path has a component starting
// with a dot (.DS_Store, .git/...).
func hidden(name string) bool {
	for part := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

// folderClasses lists root and returns its classes: the first folders of
// the image files, sorted. A tree without such a file is an error.
func folderClasses(ctx context.Context, root string) ([]string, error) {
	var classes []string
	err := scanFolder(ctx, root, func(f folderFile) error {
		if f.Reason == "" && !slices.Contains(classes, f.Class) {
			classes = append(classes, f.Class)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("%w: --images %s holds no JPEG or PNG image in a class folder (ROOT/CLASS/IMAGE)", ErrConfig, root)
	}
	slices.Sort(classes)
	return classes, nil
}

// resolveFolder readies a conversion of an image folder: the spec's class
// labels without names get the class folders (listed now, before the job)
// as names, so the manifest records them. cfg.Spec is replaced by a copy.
func (cfg *Config) resolveFolder(ctx context.Context) error {
	if !cfg.Spec.NeedsClassNames() {
		return nil
	}
	classes, err := folderClasses(ctx, cfg.Images)
	if err != nil {
		return err
	}
	spec, err := cfg.Spec.WithClassNames(classes)
	if err != nil {
		return fmt.Errorf("%w: the class folders of %s: %w", ErrConfig, cfg.Images, err)
	}
	cfg.Spec = spec
	return nil
}

// readFolder lists the image folder root and returns what readRows does
// for a CSV: PCollection<csvRecord> of rows (FolderHeader's fields; Line is
// the file's place in the listing, from 1), PCollection<
// dataset.ErrorRecord> of files rejected before they became rows, and
// PCollection<readCount>, one.
func readFolder(s beam.Scope, spec *schema.Spec, root string) (records, rejected, counts beam.PCollection) {
	s = s.Scope("ReadFolder")
	fn := &readFolderFn{}
	for _, l := range spec.Labels {
		if l.Column == schema.FolderClassColumn {
			fn.Classes = append(fn.Classes, l.Names)
		}
	}
	return beam.ParDo3(s, fn, beam.Create(s, root))
}

// readFolderFn lists an image folder. The listing happens again in the job
// (the launcher's named the classes): a file added since in a new class
// folder is rejected, not given a class the spec does not have.
type readFolderFn struct {
	// Classes are the names of each label of the spec; a file whose class
	// folder one of them lacks is rejected (stage label). A name must
	// match: the class decoder's fallback to an index ("3") does not apply
	// to folders.
	Classes [][]string

	rowsRead beam.Counter
}

func (f *readFolderFn) Setup() { f.rowsRead = beam.NewCounter("tfprep", "rows_read") }

func (f *readFolderFn) ProcessElement(ctx context.Context, root string, emit func(csvRecord), reject func(dataset.ErrorRecord), count func(readCount)) error {
	var read int64
	err := scanFolder(ctx, root, func(file folderFile) error {
		read++
		f.rowsRead.Inc(ctx, 1)
		progress.rowsRead.Add(1)
		line := int(read)
		if file.Reason == "" {
			for i, names := range f.Classes {
				if !slices.Contains(names, file.Class) {
					file.Stage, file.Reason = dataset.StageLabel, fmt.Sprintf("class folder %q is not a class of the spec (label %d: %s)", file.Class, i, strings.Join(names, ", "))
					break
				}
			}
		}
		if file.Reason != "" {
			progress.rejected.Add(1)
			reject(dataset.ErrorRecord{Line: line, Key: file.Path, Stage: file.Stage, Reason: file.Reason})
			return nil
		}
		emit(csvRecord{Line: line, Fields: []string{file.Path, file.Class}})
		return nil
	})
	if err != nil {
		return err
	}
	progress.csvDone.Store(true)
	count(readCount{File: root, Rows: read})
	return nil
}

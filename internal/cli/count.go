package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register(&Command{
		Name:  "count",
		Args:  "[--json] FILE|GLOB...",
		Short: "count the records of TFRecord files",
		Long: `Count reads TFRecord files (uncompressed, GZIP or ZLIB, detected from the content) and
prints the number of records in each and the total. Every record's checksums are verified
on the way; a damaged file stops the count with an error naming file:offset (record N),
exit code 1. Quote globs ("train-*.tfrecord") to let tfprep expand them; a glob that
matches nothing is an error.

Examples:
  tfprep count out/train-00000-of-00004.tfrecord
  tfprep count 'out/train-*' 'out/validation-*'
  tfprep count --json data.tfrecord.gz`,
		Flags: func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) int {
			asJSON := fs.Bool("json", false, "print a JSON object instead of a table")
			return func(ctx context.Context, env *Env, args []string) int {
				return runCount(ctx, env, args, *asJSON)
			}
		},
	})
}

// fileCount is one file's line of "tfprep count".
type fileCount struct {
	File    string `json:"file"`
	Records int64  `json:"records"`
}

func runCount(ctx context.Context, env *Env, args []string, asJSON bool) int {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, "tfprep count: no files given\nrun \"tfprep help count\" for usage")
		return ExitUsage
	}
	paths, err := expandFiles(args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tfprep count: %v\n", err)
		return ExitError
	}
	counts := make([]fileCount, 0, len(paths))
	var total int64
	for _, path := range paths {
		n, err := countRecords(ctx, path)
		if err != nil {
			fmt.Fprintf(env.Stderr, "tfprep count: %v\n", err)
			return ExitError
		}
		counts = append(counts, fileCount{File: path, Records: n})
		total += n
	}
	if asJSON {
		out := struct {
			Files   []fileCount `json:"files"`
			Records int64       `json:"records"`
		}{counts, total}
		return writeJSON(env, "count", out)
	}
	// Like wc: counts right-aligned, then the name.
	width := len(fmt.Sprint(total))
	for _, c := range counts {
		fmt.Fprintf(env.Stdout, "%*d  %s\n", width, c.Records, c.File)
	}
	fmt.Fprintf(env.Stdout, "%*d  total\n", width, total)
	return ExitOK
}

// countRecords reads every record of a file, verifying checksums.
func countRecords(ctx context.Context, path string) (int64, error) {
	r, closer, err := tfrecord.Open(path, &tfrecord.ReaderOptions{ReuseBuffer: true})
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	for {
		if r.Index()%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				return r.Index(), nil
			}
			return 0, recordProblem(path, err)
		}
	}
}

// recordProblem formats a reading error as file:offset (record N): reason.
func recordProblem(path string, err error) error {
	var re *tfrecord.RecordError
	if errors.As(err, &re) {
		return fmt.Errorf("%s:%d (record %d): %s", path, re.Offset, re.Record, strings.TrimPrefix(re.Err.Error(), "tfrecord: "))
	}
	return fmt.Errorf("%s: %w", path, err)
}

// expandFiles turns FILE|GLOB arguments into paths, in the order given and
// each glob's matches sorted. A glob matching nothing and a directory are
// errors; a plain path is kept as is, for opening to report if missing.
func expandFiles(args []string) ([]string, error) {
	var paths []string
	for _, arg := range args {
		if !strings.ContainsAny(arg, `*?[`) {
			if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
				return nil, fmt.Errorf("%s is a directory, not a TFRecord file", arg)
			}
			paths = append(paths, arg)
			continue
		}
		matches, err := filepath.Glob(arg)
		if err != nil {
			return nil, fmt.Errorf("bad glob %q: %v", arg, err)
		}
		var files []string
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
				files = append(files, m)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no files match %q", arg)
		}
		paths = append(paths, files...)
	}
	return paths, nil
}

// writeJSON prints v as indented JSON on stdout.
func writeJSON(env *Env, command string, v any) int {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(env.Stderr, "tfprep %s: %v\n", command, err)
		return ExitError
	}
	return ExitOK
}

package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register(&Command{
		Name:  "count",
		Args:  "[--json] FILE|GLOB...",
		Short: "count the records of TFRecord files",
		Long: `Count reads TFRecord files (uncompressed, GZIP or ZLIB, detected from the content) and
prints the number of records in each and the total. Files may be local paths, gs:// or
s3:// URLs. Every record's checksums are verified
on the way; a damaged file stops the count with an error naming file:offset (record N),
exit code 1. Quote globs ("train-*.tfrecord") to let tfprep expand them; a glob that
matches nothing is an error; on a bucket, * and ? do not match "/".

Examples:
  tfprep count out/train-00000-of-00004.tfrecord
  tfprep count 'out/train-*' 'out/validation-*'
  tfprep count --json data.tfrecord.gz 'gs://bucket/out/train-*'`,
		Flags: func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
			asJSON := fs.Bool("json", false, "print a JSON object instead of a table")
			return func(ctx context.Context, env *Env, args []string) error {
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

func runCount(ctx context.Context, env *Env, args []string, asJSON bool) error {
	if len(args) == 0 {
		return usagef("no files given")
	}
	paths, err := dataset.Glob(ctx, args)
	if err != nil {
		return err
	}
	counts := make([]fileCount, 0, len(paths))
	var total int64
	for _, path := range paths {
		n, err := countRecords(ctx, path)
		if err != nil {
			return err
		}
		counts = append(counts, fileCount{File: path, Records: n})
		total += n
	}
	if asJSON {
		out := struct {
			Files   []fileCount `json:"files"`
			Records int64       `json:"records"`
		}{counts, total}
		return writeJSON(env.Stdout, out)
	}
	// Like wc: counts right-aligned, then the name.
	width := len(fmt.Sprint(total))
	for _, c := range counts {
		fmt.Fprintf(env.Stdout, "%*d  %s\n", width, c.Records, c.File)
	}
	fmt.Fprintf(env.Stdout, "%*d  total\n", width, total)
	return nil
}

// countRecords reads every record of a file, verifying checksums.
func countRecords(ctx context.Context, path string) (int64, error) {
	f, err := dataset.OpenRecords(ctx, path, &tfrecord.ReaderOptions{ReuseBuffer: true})
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
			return 0, recordProblem(path, err)
		}
	}
}

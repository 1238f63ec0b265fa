package cli

import (
	"context"
	"flag"

	"github.com/tfprep/tfprep/dataset"
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

func runCount(ctx context.Context, env *Env, args []string, asJSON bool) error {
	if len(args) == 0 {
		return usagef("no files given")
	}
	paths, err := dataset.Glob(ctx, args)
	if err != nil {
		return err
	}
	counts := &dataset.RecordCounts{Files: make([]dataset.FileCount, 0, len(paths))}
	for _, path := range paths {
		n, err := dataset.CountRecords(ctx, path)
		if err != nil {
			return recordProblem(path, err)
		}
		counts.Files = append(counts.Files, dataset.FileCount{File: path, Records: n})
		counts.Records += n
	}
	return writeReport(env.Stdout, counts, asJSON)
}

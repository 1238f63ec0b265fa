package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func init() {
	register(&Command{
		Name:  "verify",
		Args:  "[--recover] [--all] [--json] FILE|GLOB... | [--quick] DIR",
		Short: "check TFRecord files, or a converted dataset against its manifest",
		Long: `Given TFRecord files (uncompressed, GZIP or ZLIB, detected from the content), verify reads
every record, checks the CRC-32C of every length and every payload, and parses every
payload as a tf.train.Example. Payloads that are not Examples (a TFRecord file may hold any
bytes) are counted as raw records, not errors; a payload counts as an Example when it parses
and has at least one feature. It prints, per file, the records, Examples, raw records,
payload bytes, compression and size on disk.

At the first damaged record it stops and exits 1, naming file:offset (record N): the byte
offset where the record starts, in the uncompressed stream for GZIP and ZLIB files, and
the number of records before it. --all goes on to the other files and names the first
problem of each. --recover goes further: inside a damaged file it skips to the next
record whose checksums verify, lists every skipped byte range and reads every other
record (it still exits 1, since damage was found). A compressed stream cannot be
resynchronised after damage; the rest of such a file is reported lost.

` + verifyDatasetHelp + `

Examples:
  tfprep verify data.tfrecord
  tfprep verify 'out/train-*' 'out/validation-*'
  tfprep verify --recover --json damaged.tfrecord
  tfprep verify out/planet
  tfprep verify --quick gs://bucket/planet`,
		Flags: func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
			var opts tfrecord.VerifyOptions
			fs.BoolVar(&opts.Recover, "recover", false, "files: skip damaged byte ranges, list each, and read every other record")
			fs.BoolVar(&opts.All, "all", false, "files: report the first problem of every file; DIR: list every discrepancy")
			asJSON := fs.Bool("json", false, "print the result as a JSON object")
			quick := fs.Bool("quick", false, "DIR: only each shard's size and checksums (on GCS the stored CRC-32C, nothing read)")
			return func(ctx context.Context, env *Env, args []string) error {
				return runVerify(ctx, env, args, opts, *quick, *asJSON)
			}
		},
	})
}

func runVerify(ctx context.Context, env *Env, args []string, opts tfrecord.VerifyOptions, quick, asJSON bool) error {
	if len(args) == 0 {
		return usagef("no files or directory given")
	}
	if len(args) == 1 && isDatasetDir(args[0]) {
		if opts.Recover {
			return usagef("--recover is for TFRecord files, not a dataset directory")
		}
		return runVerifyDataset(ctx, env, args[0], opts.All, quick, asJSON)
	}
	if quick {
		return usagef("--quick is for a dataset directory, not TFRecord files")
	}
	paths, err := tfrecord.Glob(args)
	if err != nil {
		return fmt.Errorf("%w (a dataset directory, with dataset.json, is verified on its own)", err)
	}
	var parsed example.Parsed
	opts.IsExample = func(rec []byte) bool { return example.ParseInto(&parsed, rec, true) == nil && len(parsed.Features) > 0 }
	r, err := tfrecord.VerifyFiles(ctx, paths, opts)
	if err != nil {
		return err
	}
	if asJSON {
		err = writeJSON(env.Stdout, r)
	} else {
		printFilesReport(env.Stdout, r)
	}
	if err == nil && !r.OK {
		err = errFailed
	}
	return err
}

// printFilesReport writes the verdict for people: a table of files, then
// each problem.
func printFilesReport(w io.Writer, r *tfrecord.FilesReport) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSTATUS\tRECORDS\tEXAMPLES\tRAW\tBYTES\tCOMPRESSION\tSIZE")
	for _, f := range r.Files {
		status := "ok"
		switch {
		case f.Compression == "":
			status = "UNREADABLE"
		case len(f.Damage) > 0:
			status = "DAMAGED"
		}
		compression := f.Compression
		if compression == "" {
			compression = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\n", f.File, status, f.Records, f.Examples, f.Raw, f.Bytes, compression, f.FileBytes)
	}
	tw.Flush()
	for _, f := range r.Files {
		for _, d := range f.Damage {
			fmt.Fprintln(w, d)
		}
	}
	files := fmt.Sprintf("%d files", len(r.Files))
	if len(r.Files) == 1 {
		files = "1 file"
	}
	switch {
	case r.OK:
		fmt.Fprintf(w, "ok: %s, %d records (%d Examples, %d raw), %d payload bytes\n", files, r.Records, r.Examples, r.Raw, r.Bytes)
	case !r.Complete:
		fmt.Fprintf(w, "FAILED at the first problem, in file %d of %d (--all checks every file, --recover reads past damage)\n", len(r.Files), r.Paths)
	default:
		fmt.Fprintf(w, "FAILED: %s, %d intact records (%d Examples, %d raw), %d payload bytes\n", files, r.Records, r.Examples, r.Raw, r.Bytes)
	}
}

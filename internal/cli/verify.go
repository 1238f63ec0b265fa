package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func init() {
	register(&Command{
		Name:  "verify",
		Args:  "[--recover] [--all] [--json] FILE|GLOB... | [--quick] DIR",
		Short: "check TFRecord files, or a converted dataset against its manifest",
		Long: `Given TFRecord files (uncompressed, GZIP or ZLIB, detected from the content; local paths,
gs:// or s3:// URLs, or globs of them), verify reads every record, checks the CRC-32C of every
length and payload, and parses every payload as a tf.train.Example. A payload that does not
parse or has no feature (a TFRecord file may hold any bytes) counts as raw, not as an error.
It prints, per file, the records, Examples, raw records, payload bytes, compression and size.

At the first damaged record it stops and exits 1, naming file:offset (record N): where the
record starts, in the uncompressed stream for GZIP and ZLIB files, and the records before
it. --all goes on to the other files and names the first problem of each. --recover goes
further: inside a damaged file it skips to the next record whose checksums verify, lists
every skipped byte range and reads every other record (still exit 1). A compressed stream
cannot be resynchronised after damage; the rest of such a file is reported lost.

Given a converted dataset directory (one holding dataset.json), verify checks it against
its manifest: the row accounting (rows read = written + rejected, records of splits and
shards add up); every shard's size, checksums (CRC-32C; SHA-256 when convert --sha256 recorded
it), record framing and record count; every record
a tf.train.Example with the spec's features (names, kinds, byte lengths), which the
manifest's feature list describes; index sidecars' record counts; label counts per split;
errors.csv against the rejected rows per stage; and no shard file left in the directory
that the manifest does not list (a glob such as "train-*" would pick it up). It stops at
the first discrepancy, names it and exits 1; --all lists every one. --quick checks only
dataset.json and each shard's size and checksums: on GCS against the CRC-32C the store keeps
(one metadata request per shard, nothing downloaded; the manifest's crc32c is in GCS's
encoding, base64 of the 4 big-endian bytes); elsewhere by reading each shard once, unparsed.

Examples:
  tfprep verify data.tfrecord
  tfprep verify 'out/train-*' 'gs://bucket/out/validation-*'
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
	if len(args) == 1 && dataset.IsDataset(ctx, args[0]) {
		if opts.Recover {
			return usagef("--recover is for TFRecord files, not a dataset directory")
		}
		return runVerifyDataset(ctx, env, args[0], opts.All, quick, asJSON)
	}
	if quick {
		return usagef("--quick is for a dataset directory, not TFRecord files")
	}
	paths, err := dataset.Glob(ctx, args)
	if err != nil {
		return fmt.Errorf("%w (a dataset directory, with %s, is verified on its own)", err, dataset.ManifestName)
	}
	var parsed example.Parsed
	opts.IsExample = func(rec []byte) bool { return example.ParseInto(&parsed, rec, true) == nil && len(parsed.Features) > 0 }
	opts.Open = openSized
	r, err := tfrecord.VerifyFiles(ctx, paths, opts)
	if err != nil {
		return err
	}
	return writeVerdict(env, r, r.OK, asJSON)
}

// runVerifyDataset is "tfprep verify DIR" for a dataset directory: anything
// that differs from the manifest fails it (errFailed).
func runVerifyDataset(ctx context.Context, env *Env, dir string, all, quick, asJSON bool) error {
	verify := dataset.Verify
	if quick {
		verify = dataset.VerifyChecksums
	}
	r, err := verify(ctx, dir, all)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return writeVerdict(env, r, r.OK, asJSON)
}

// writeVerdict prints a verification report; one that is not ok fails the
// command (errFailed).
func writeVerdict(env *Env, r interface{ WriteText(io.Writer) error }, ok, asJSON bool) error {
	err := writeReport(env.Stdout, r, asJSON)
	if err == nil && !ok {
		err = errFailed
	}
	return err
}

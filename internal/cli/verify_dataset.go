package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/tfprep/tfprep/dataset"
)

// verifyDatasetHelp is the dataset-directory half of "tfprep verify"'s help.
const verifyDatasetHelp = `Given a converted dataset directory (one holding dataset.json), verify checks it against
its manifest:

  - dataset.json parses, and its row accounting holds: rows read = written + rejected,
    each split's records = the sum of its shards', rows written = the sum of the splits'
  - every shard listed exists, has the recorded size and checksums (CRC-32C, and SHA-256
    when convert --sha256 recorded it), every record's length and data CRC-32C verify,
    and it holds the recorded number of records
  - every record is a tf.train.Example with the spec's features: names, kinds and byte
    lengths (tfprep's spec is embedded in dataset.json), and dataset.json's feature
    list, what other readers parse with, describes those features
  - with index sidecars, each one lists as many records as its shard holds
  - each split's label counts equal those recorded
  - errors.csv has one row per rejected input row, per stage as recorded
  - the directory holds no shard file that the manifest does not list (left over from
    an earlier conversion, it would be picked up by a glob such as "train-*")

It stops at the first discrepancy, names it and exits 1; --all lists every one. --json
prints the result as a JSON object. --quick checks only dataset.json and each shard's
size and checksums: on Google Cloud Storage against the CRC-32C the store keeps with each
object (one metadata request per shard, nothing downloaded); elsewhere by reading each
shard once, without parsing its records. The manifest's crc32c is in GCS's encoding
(base64 of the 4 big-endian bytes), the value "gcloud storage objects describe" shows.`

// isDatasetDir reports whether path is a dataset directory (one holding
// a manifest).
func isDatasetDir(path string) bool { return dataset.IsDataset(context.Background(), path) }

// printDatasetReport writes the verdict for people.
func printDatasetReport(w io.Writer, r *dataset.VerifyReport) {
	for _, d := range r.Discrepancies {
		fmt.Fprintf(w, "%s: %s\n", filepath.Join(r.Dir, d.File), d.Check+": "+d.Detail)
	}
	switch {
	case r.OK:
		fmt.Fprintf(w, "%s: ok: %d splits, %d shards, %d records; rows read %d = written %d + rejected %d\n",
			r.Dir, r.Splits, r.Shards, r.Records, r.Rows.Read, r.Rows.Written, r.Rows.Rejected)
	case !r.Complete:
		fmt.Fprintf(w, "%s: FAILED at the first discrepancy (--all lists every one)\n", r.Dir)
	default:
		fmt.Fprintf(w, "%s: FAILED: %d discrepancies\n", r.Dir, len(r.Discrepancies))
	}
}

// runVerifyDataset is "tfprep verify DIR" for a dataset directory: it
// prints the report (as JSON with asJSON); anything that differs from the
// manifest fails it (errFailed).
func runVerifyDataset(ctx context.Context, env *Env, dir string, all, quick, asJSON bool) error {
	verify := dataset.Verify
	if quick {
		verify = dataset.VerifyChecksums
	}
	r, err := verify(ctx, dir, all)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if asJSON {
		err = writeJSON(env.Stdout, r)
	} else {
		printDatasetReport(env.Stdout, r)
	}
	if err == nil && !r.OK {
		err = errFailed
	}
	return err
}

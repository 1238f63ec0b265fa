package cli

import (
	"context"
	"fmt"

	"github.com/tfprep/tfprep/dataset"
)

// verifyDatasetHelp is the dataset-directory half of "tfprep verify"'s help.
const verifyDatasetHelp = `Given a converted dataset directory (one holding dataset.json), verify checks it against
its manifest:

  - dataset.json parses, and its row accounting holds: rows read = written + rejected,
    each split's records = the sum of its shards', rows written = the sum of the splits'
  - every shard listed exists, has the recorded size and SHA-256, every record's length
    and data CRC-32C verify, and it holds the recorded number of records
  - every record is a tf.train.Example with the spec's features: names, kinds and byte
    lengths (tfprep's spec is embedded in dataset.json), and dataset.json's feature
    list, what other readers parse with, describes those features
  - with index sidecars, each one lists as many records as its shard holds
  - each split's label counts equal those recorded
  - errors.csv has one row per rejected input row, per stage as recorded
  - the directory holds no shard file that the manifest does not list (left over from
    an earlier conversion, it would be picked up by a glob such as "train-*")

It stops at the first discrepancy, names it and exits 1; --all lists every one. --json
prints the result as a JSON object.`

// isDatasetDir reports whether path is a dataset directory (one holding
// a manifest).
func isDatasetDir(path string) bool { return dataset.IsDataset(context.Background(), path) }

// runVerifyDataset is "tfprep verify DIR" for a dataset directory: it
// prints the report (as JSON with asJSON); anything that differs from the
// manifest fails it (errFailed).
func runVerifyDataset(ctx context.Context, env *Env, dir string, all, asJSON bool) error {
	r, err := dataset.Verify(ctx, dir, all)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	err = writeReport(env.Stdout, r, asJSON)
	if err == nil && !r.OK {
		err = errFailed
	}
	return err
}

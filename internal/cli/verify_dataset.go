package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
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

// discrepancy is one way a dataset directory differs from its manifest.
type discrepancy struct {
	File   string `json:"file"`  // path inside the dataset directory
	Check  string `json:"check"` // what was checked: "sha256", "records", "crc", "example", ...
	Detail string `json:"detail"`
}

func (d discrepancy) String() string { return fmt.Sprintf("%s: %s: %s", d.File, d.Check, d.Detail) }

// datasetReport is the result of verifying a dataset directory; its JSON
// form is the --json output.
type datasetReport struct {
	Dir           string        `json:"dir"`
	OK            bool          `json:"ok"`
	Complete      bool          `json:"complete"` // false: stopped at the first discrepancy
	Splits        int           `json:"splits"`
	Shards        int           `json:"shards"`
	Records       int64         `json:"records"` // read and checked
	Rows          dataset.Rows  `json:"rows"`    // as the manifest records them
	Discrepancies []discrepancy `json:"discrepancies"`
}

// errStopVerify ends a verification at its first discrepancy.
var errStopVerify = errors.New("verify: stopped at the first discrepancy")

type datasetVerifier struct {
	dir    string
	all    bool
	report *datasetReport
}

// fail records a discrepancy; it returns errStopVerify unless every
// discrepancy is wanted.
func (v *datasetVerifier) fail(file, check, format string, args ...any) error {
	v.report.Discrepancies = append(v.report.Discrepancies, discrepancy{File: file, Check: check, Detail: fmt.Sprintf(format, args...)})
	if v.all {
		return nil
	}
	return errStopVerify
}

// isDatasetDir reports whether path is a directory holding dataset.json.
func isDatasetDir(path string) bool {
	fi, err := os.Stat(filepath.Join(path, dataset.ManifestName))
	return err == nil && fi.Mode().IsRegular()
}

// verifyDataset checks the dataset in dir against its manifest. The error
// is for failures to check (a cancelled context), not for discrepancies,
// which go in the report.
func verifyDataset(ctx context.Context, dir string, all bool) (*datasetReport, error) {
	v := &datasetVerifier{dir: dir, all: all, report: &datasetReport{Dir: dir, Discrepancies: []discrepancy{}}}
	err := v.run(ctx)
	v.report.OK = len(v.report.Discrepancies) == 0
	v.report.Complete = !errors.Is(err, errStopVerify)
	if errors.Is(err, errStopVerify) {
		err = nil
	}
	return v.report, err
}

func (v *datasetVerifier) run(ctx context.Context) error {
	m, spec, err := v.manifest()
	if err != nil || m == nil {
		return err
	}
	v.report.Splits = len(m.Splits)
	v.report.Rows = m.Rows
	if err := v.features(m, spec); err != nil {
		return err
	}
	listed := map[string]bool{}
	var written int64
	allRead := true
	for _, sp := range m.Splits {
		counts := newLabelCounts(spec)
		splitRead := true
		for _, sh := range sp.Shards {
			listed[sh.File] = true
			before := len(v.report.Discrepancies)
			n, err := v.shard(ctx, spec, sh, m.Index, counts)
			if err != nil {
				return err
			}
			written += n
			v.report.Shards++
			splitRead = splitRead && len(v.report.Discrepancies) == before
		}
		// Totals over records that could not all be read would only repeat
		// the shard's discrepancy.
		allRead = allRead && splitRead
		if !splitRead {
			continue
		}
		if err := v.labels(sp, counts); err != nil {
			return err
		}
	}
	if allRead && written != m.Rows.Written {
		if err := v.fail(dataset.ManifestName, "rows", "the shards hold %d records, rows.written is %d", written, m.Rows.Written); err != nil {
			return err
		}
	}
	if err := v.errorsFile(m); err != nil {
		return err
	}
	return v.strays(listed)
}

// manifest reads dataset.json without stopping at its first inconsistency,
// so that --all can go on to check the shards it lists. A nil manifest means
// nothing more can be checked.
func (v *datasetVerifier) manifest() (*dataset.Manifest, *schema.Spec, error) {
	path := filepath.Join(v.dir, dataset.ManifestName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, v.fail(dataset.ManifestName, "manifest", "%v", err)
	}
	m, err := dataset.ParseManifest(data)
	if err != nil {
		if ferr := v.fail(dataset.ManifestName, "manifest", "%v", err); ferr != nil {
			return nil, nil, ferr
		}
		// Decode what there is and check the rest against it.
		m = new(dataset.Manifest)
		if json.Unmarshal(data, m) != nil {
			return nil, nil, nil
		}
	}
	spec, err := schema.Parse(m.Spec, "json", dataset.ManifestName+": spec")
	if err != nil {
		return nil, nil, v.fail(dataset.ManifestName, "spec", "%v", err)
	}
	return m, spec, nil
}

// features checks that the manifest's feature list, what readers in other
// languages parse with, describes the Examples the spec makes.
func (v *datasetVerifier) features(m *dataset.Manifest, spec *schema.Spec) error {
	want, err := json.Marshal(spec.Features())
	if err != nil {
		return err
	}
	got, err := json.Marshal(m.Features)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return v.fail(dataset.ManifestName, "features", "feature list %s does not match the spec's %s", got, want)
	}
	return nil
}

// shard checks one shard file: size, SHA-256, framing CRCs, record count,
// every Example against the spec, and the index sidecar. It returns the
// number of records read.
func (v *datasetVerifier) shard(ctx context.Context, spec *schema.Spec, sh dataset.Shard, indexed bool, counts *labelCounts) (int64, error) {
	path := filepath.Join(v.dir, sh.File)
	f, err := os.Open(path)
	if err != nil {
		return 0, v.fail(sh.File, "missing", "%v", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() != sh.Bytes {
		if err := v.fail(sh.File, "bytes", "file has %d bytes, dataset.json says %d", fi.Size(), sh.Bytes); err != nil {
			return 0, err
		}
	}
	// One pass: the reader's input also feeds the digest.
	digest := sha256.New()
	tee := io.TeeReader(f, digest)
	r, err := tfrecord.NewReader(tee, &tfrecord.ReaderOptions{Compression: tfrecord.CompressionFromName(sh.File), ReuseBuffer: true, Recover: true})
	if err != nil {
		return 0, v.fail(sh.File, "crc", "%v", err)
	}
	var rec schema.Record
	var records int64
	var broken error // the stream cannot be read past this
	for {
		if records%256 == 0 {
			if err := ctx.Err(); err != nil {
				return records, err
			}
		}
		data, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A compressed stream cannot be resynchronised: the rest is lost.
			broken = fmt.Errorf("unreadable from byte %d of the uncompressed stream on: %w", r.Offset(), err)
			break
		}
		where := "record " + strconv.FormatInt(records, 10)
		records++
		parsed, err := example.Parse(data, true)
		if err != nil {
			if err := v.fail(sh.File, "example", "%s: %v", where, err); err != nil {
				return records, err
			}
			continue
		}
		if err := spec.ReadExample(parsed, &rec); err != nil {
			if err := v.fail(sh.File, "example", "%s: %v", where, err); err != nil {
				return records, err
			}
			continue
		}
		counts.add(rec.Labels)
	}
	for _, d := range r.Skipped() {
		if err := v.fail(sh.File, "crc", "damaged, %d bytes from byte %d cannot be read: %v", d.Length, d.Offset, d.Err); err != nil {
			return records, err
		}
	}
	if broken != nil {
		if err := v.fail(sh.File, "crc", "%v", broken); err != nil {
			return records, err
		}
	}
	v.report.Records += records
	if records != sh.Records {
		if err := v.fail(sh.File, "records", "read %d records, dataset.json says %d", records, sh.Records); err != nil {
			return records, err
		}
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return records, v.fail(sh.File, "sha256", "%v", err)
	}
	if got := hex.EncodeToString(digest.Sum(nil)); got != sh.SHA256 {
		if err := v.fail(sh.File, "sha256", "file has %s, dataset.json says %s", got, sh.SHA256); err != nil {
			return records, err
		}
	}
	if indexed {
		if err := v.index(sh, records); err != nil {
			return records, err
		}
	}
	return records, nil
}

// index checks that a shard's DALI index sidecar lists its records.
func (v *datasetVerifier) index(sh dataset.Shard, records int64) error {
	name := dataset.IndexName(sh.File)
	f, err := os.Open(filepath.Join(v.dir, name))
	if err != nil {
		return v.fail(name, "index", "%v", err)
	}
	defer f.Close()
	entries, err := tfrecord.ReadIndex(f)
	if err != nil {
		return v.fail(name, "index", "%v", err)
	}
	if int64(len(entries)) != records {
		return v.fail(name, "index", "lists %d records, the shard holds %d", len(entries), records)
	}
	return nil
}

// labelCounts counts, per label feature, the examples with each label set
// (value != 0), as the manifest does.
type labelCounts struct {
	features []string
	counts   [][]int64
}

func newLabelCounts(spec *schema.Spec) *labelCounts {
	lc := &labelCounts{}
	for _, l := range spec.LabelFeatures() {
		lc.features = append(lc.features, l.Feature)
		lc.counts = append(lc.counts, make([]int64, l.Size))
	}
	return lc
}

func (lc *labelCounts) add(labels [][]float32) {
	for i, values := range labels {
		for j, v := range values {
			if v != 0 && j < len(lc.counts[i]) {
				lc.counts[i][j]++
			}
		}
	}
}

// labels compares a split's counted labels with those its manifest entry
// recorded; a split without recorded counts is not compared.
func (v *datasetVerifier) labels(sp dataset.Split, counted *labelCounts) error {
	for _, recorded := range sp.Labels {
		i := slices.Index(counted.features, recorded.Feature)
		if i < 0 {
			if err := v.fail(dataset.ManifestName, "labels", "split %q records counts for %q, which the spec does not have", sp.Name, recorded.Feature); err != nil {
				return err
			}
			continue
		}
		if !slices.Equal(recorded.Counts, counted.counts[i]) {
			if err := v.fail(dataset.ManifestName, "labels", "split %q %s: shards have %v, dataset.json says %v", sp.Name, recorded.Feature, counted.counts[i], recorded.Counts); err != nil {
				return err
			}
		}
	}
	return nil
}

// errorsFile checks errors.csv against rows.rejected and its stages.
func (v *datasetVerifier) errorsFile(m *dataset.Manifest) error {
	recs, err := dataset.ReadErrorsFile(v.dir)
	if err != nil {
		return v.fail(dataset.ErrorsName, "errors.csv", "%v", err)
	}
	if err := m.CheckErrors(recs); err != nil {
		return v.fail(dataset.ErrorsName, "errors.csv", "%v", err)
	}
	return nil
}

// strays reports shard files in the directory that the manifest does not
// list.
func (v *datasetVerifier) strays(listed map[string]bool) error {
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		return v.fail(".", "directory", "%v", err)
	}
	for _, e := range entries {
		if _, err := dataset.ParseShardName(e.Name()); err != nil || listed[e.Name()] {
			continue
		}
		if err := v.fail(e.Name(), "unlisted", "shard file not in dataset.json (left from another conversion?)"); err != nil {
			return err
		}
	}
	return nil
}

// printDatasetReport writes the verdict for people.
func printDatasetReport(w io.Writer, r *datasetReport) {
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
func runVerifyDataset(ctx context.Context, env *Env, dir string, all, asJSON bool) error {
	r, err := verifyDataset(ctx, dir, all)
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

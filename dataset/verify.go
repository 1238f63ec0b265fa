package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// Discrepancy is one way a dataset differs from its manifest.
type Discrepancy struct {
	File   string `json:"file"`  // path inside the dataset directory
	Check  string `json:"check"` // what was checked: "crc32c", "sha256", "records", "crc", "example", ...
	Detail string `json:"detail"`
}

func (d Discrepancy) String() string { return fmt.Sprintf("%s: %s: %s", d.File, d.Check, d.Detail) }

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Dir           string        `json:"dir"`
	OK            bool          `json:"ok"`
	Complete      bool          `json:"complete"` // false: stopped at the first discrepancy
	Splits        int           `json:"splits"`
	Shards        int           `json:"shards"`
	Records       int64         `json:"records"` // read and checked
	Rows          Rows          `json:"rows"`    // as the manifest records them
	Discrepancies []Discrepancy `json:"discrepancies"`
	// Notes are true facts a user should know that are not discrepancies:
	// shards made by a decoder whose pixels are not PIL-identical (a pure-Go
	// build, or --allow-approximate-pixels on a cluster).
	Notes []string `json:"notes,omitempty"`
}

// errStopVerify ends a verification at its first discrepancy.
var errStopVerify = errors.New("dataset: verify stopped at the first discrepancy")

// Verify checks the dataset at location against its manifest:
//
//   - dataset.json parses, and its row accounting holds;
//   - every shard listed exists, has the recorded size and checksums
//     (CRC-32C, SHA-256 or both, whichever the manifest records), every
//     record's framing verifies, and it holds the recorded number of records;
//   - every record is an Example with the spec's features, and the
//     manifest's feature list describes them;
//   - with index sidecars, each one lists as many records as its shard holds;
//   - each split's label counts equal those recorded;
//   - errors.csv agrees with rows.rejected and its stages;
//   - no shard file is in the directory that the manifest does not list.
//
// It stops at the first discrepancy unless all is set. Discrepancies go in
// the report; the error is for failures to check, such as a cancelled
// context.
func Verify(ctx context.Context, location string, all bool) (*VerifyReport, error) {
	return verify(ctx, location, all, false)
}

// VerifyChecksums is the quick check of a copy ("tfprep verify --quick"):
// dataset.json parses and its accounting holds, and every shard listed
// exists with the recorded size and checksums. On Google Cloud Storage the
// shard's CRC-32C is the one the store keeps with the object (one metadata
// request per shard, no byte read); elsewhere, or for a manifest that
// records only SHA-256, the shard is read once and its checksums computed.
// Records, Examples, labels and errors.csv are not read (Verify does that);
// the report's Records is the manifest's count of the shards checked.
func VerifyChecksums(ctx context.Context, location string, all bool) (*VerifyReport, error) {
	return verify(ctx, location, all, true)
}

func verify(ctx context.Context, location string, all, quick bool) (*VerifyReport, error) {
	store, err := storageFor(location)
	if err != nil {
		return nil, err
	}
	v := &verifier{store: store, dir: location, all: all, quick: quick, report: &VerifyReport{Dir: location, Discrepancies: []Discrepancy{}}}
	err = v.run(ctx)
	v.report.OK = len(v.report.Discrepancies) == 0
	v.report.Complete = !errors.Is(err, errStopVerify)
	if errors.Is(err, errStopVerify) {
		err = nil
	}
	return v.report, err
}

type verifier struct {
	store  storage
	dir    string
	all    bool
	quick  bool // VerifyChecksums: sizes and checksums only
	report *VerifyReport
}

// fail records a discrepancy; it returns errStopVerify unless every
// discrepancy is wanted.
func (v *verifier) fail(file, check, format string, args ...any) error {
	v.report.Discrepancies = append(v.report.Discrepancies, Discrepancy{File: file, Check: check, Detail: fmt.Sprintf(format, args...)})
	if v.all {
		return nil
	}
	return errStopVerify
}

func (v *verifier) run(ctx context.Context) error {
	m, spec, err := v.manifest(ctx)
	if err != nil || m == nil {
		return err
	}
	v.report.Splits = len(m.Splits)
	v.report.Rows = m.Rows
	if m.Rows.Read > 0 && m.Rows.Written == 0 {
		if err := v.fail(ManifestName, "rows", "%v: all %d rows read were rejected; the conversion failed", ErrNothingWritten, m.Rows.Read); err != nil {
			return err
		}
	}
	if err := v.features(m, spec); err != nil {
		return err
	}
	if err := v.decoders(m); err != nil {
		return err
	}
	if v.quick {
		return v.checksums(ctx, m)
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
		if err := v.fail(ManifestName, "rows", "the shards hold %d records, rows.written is %d", written, m.Rows.Written); err != nil {
			return err
		}
	}
	if err := v.errorsFile(ctx, m); err != nil {
		return err
	}
	return v.strays(ctx, listed)
}

// manifest reads dataset.json without stopping at its first inconsistency,
// so that a full verification can go on to check the shards it lists. A nil
// manifest means nothing more can be checked.
func (v *verifier) manifest(ctx context.Context) (*Manifest, *schema.Spec, error) {
	data, err := readAll(ctx, v.store, joinPath(v.dir, ManifestName))
	if err != nil {
		return nil, nil, v.fail(ManifestName, "manifest", "%v", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		if ferr := v.fail(ManifestName, "manifest", "%v", err); ferr != nil {
			return nil, nil, ferr
		}
		// Decode what there is and check the rest against it.
		m = new(Manifest)
		if json.Unmarshal(data, m) != nil {
			return nil, nil, nil
		}
	}
	spec, err := schema.Parse(m.Spec, "json", ManifestName+": spec")
	if err != nil {
		return nil, nil, v.fail(ManifestName, "spec", "%v", err)
	}
	return m, spec, nil
}

// features checks that the manifest's feature list, what readers in other
// languages parse with, describes the Examples the spec makes.
func (v *verifier) features(m *Manifest, spec *schema.Spec) error {
	want, err := json.Marshal(spec.Features())
	if err != nil {
		return err
	}
	got, err := json.Marshal(m.Features)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return v.fail(ManifestName, "features", "feature list %s does not match the spec's %s", got, want)
	}
	return nil
}

// decoders checks that the manifest's decoder tells the truth about its
// shards' (one decoder, or "mixed" and the list), and notes the shards made
// by a decoder whose pixels are not PIL-identical: a spec promises the
// pixels of Keras' load_img, which only libjpeg-turbo gives. A manifest whose
// shards name no decoder (written before shards recorded theirs, or by
// reshard and merge, which copy records) is taken at its word.
func (v *verifier) decoders(m *Manifest) error {
	var names []string
	for _, sp := range m.Splits {
		for _, sh := range sp.Shards {
			names = append(names, sh.Decoder)
		}
	}
	decoder, list := shardDecoders(names, m.Decoder)
	if decoder != m.Decoder || !slices.Equal(list, m.Decoders) {
		want := decoder
		if list != nil {
			want = fmt.Sprintf("%s %q", decoder, list)
		}
		if err := v.fail(ManifestName, "decoder", "decoder %q, decoders %q; the shards record %s", m.Decoder, m.Decoders, want); err != nil {
			return err
		}
	}
	approximate := map[string][]string{} // decoder → shards
	for _, sp := range m.Splits {
		for _, sh := range sp.Shards {
			if sh.Decoder != "" && !PILIdentical(sh.Decoder) {
				approximate[sh.Decoder] = append(approximate[sh.Decoder], sh.File)
			}
		}
	}
	for _, decoder := range slices.Sorted(maps.Keys(approximate)) {
		files := approximate[decoder]
		v.report.Notes = append(v.report.Notes, fmt.Sprintf("%s made by %s (first %s): JPEG pixels within a few levels of PIL's, not identical; PIL-identical pixels need libjpeg-turbo (a cgo build, or --worker_binary on clusters)",
			plural(len(files), "shard"), decoder, files[0]))
	}
	return nil
}

// shard checks one shard file: size, checksums, framing CRCs, record count,
// every Example against the spec, and the index sidecar. It returns the
// number of records read.
func (v *verifier) shard(ctx context.Context, spec *schema.Spec, sh Shard, indexed bool, counts *labelCounts) (int64, error) {
	path := joinPath(v.dir, sh.File)
	f, err := v.store.Open(ctx, path)
	if err != nil {
		return 0, v.fail(sh.File, "missing", "%v", err)
	}
	defer f.Close()
	if size, err := v.store.Size(ctx, path); err == nil {
		if err := v.size(sh, size); err != nil {
			return 0, err
		}
	}
	// One pass: the reader's input also feeds the checksums.
	sums := newShardSums(sh)
	tee := io.TeeReader(f, sums)
	tr, err := newShardReader(tee, sh.File)
	if err != nil {
		return 0, v.fail(sh.File, "crc", "%v", err)
	}
	var rec schema.Record
	var records int64
	damage, err := scan(ctx, tr, sh.File, "", func(index int64, data []byte) error {
		where := "record " + strconv.FormatInt(index, 10)
		records++
		parsed, err := example.Parse(data, true)
		if err == nil {
			err = spec.ReadExample(parsed, &rec)
		}
		if err != nil {
			return v.fail(sh.File, "example", "%s: %v", where, err)
		}
		counts.add(rec.Labels)
		return nil
	})
	if err != nil {
		return records, err
	}
	for _, d := range damage {
		detail := fmt.Sprintf("damaged, %d bytes from byte %d cannot be read: %v", d.Length, d.Offset, d.Err)
		if d.Length < 0 {
			// A compressed stream cannot be resynchronised: the rest is lost.
			detail = fmt.Sprintf("unreadable from byte %d of the uncompressed stream on: %v", d.Offset, d.Err)
		}
		if err := v.fail(sh.File, "crc", "%s", detail); err != nil {
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
		return records, v.fail(sh.File, sums.check(), "%v", err)
	}
	if err := v.sums(sh, sums); err != nil {
		return records, err
	}
	if indexed {
		if err := v.index(ctx, sh, records); err != nil {
			return records, err
		}
	}
	return records, nil
}

// checksums is VerifyChecksums' pass over the shards.
func (v *verifier) checksums(ctx context.Context, m *Manifest) error {
	stored, _ := v.store.(interface {
		StoredCRC32C(ctx context.Context, path string) (int64, uint32, bool, error)
	})
	for _, sp := range m.Splits {
		for _, sh := range sp.Shards {
			path := joinPath(v.dir, sh.File)
			v.report.Shards++
			if stored != nil && sh.CRC32C != "" {
				size, crc, ok, err := stored.StoredCRC32C(ctx, path)
				if err != nil {
					if err := v.fail(sh.File, "missing", "%v", err); err != nil {
						return err
					}
					continue
				}
				if ok {
					if err := v.size(sh, size); err != nil {
						return err
					}
					if got := FormatCRC32C(crc); got != sh.CRC32C {
						if err := v.fail(sh.File, "crc32c", "the store's crc32c is %s, dataset.json says %s", got, sh.CRC32C); err != nil {
							return err
						}
					}
					v.report.Records += sh.Records
					continue
				}
			}
			if err := v.readSums(ctx, sh); err != nil {
				return err
			}
			v.report.Records += sh.Records
		}
	}
	return nil
}

// readSums reads a shard once and compares its size and checksums.
func (v *verifier) readSums(ctx context.Context, sh Shard) error {
	f, err := v.store.Open(ctx, joinPath(v.dir, sh.File))
	if err != nil {
		return v.fail(sh.File, "missing", "%v", err)
	}
	defer f.Close()
	sums := newShardSums(sh)
	n, err := io.CopyBuffer(sums, struct{ io.Reader }{f}, make([]byte, 1<<20))
	if err != nil {
		return v.fail(sh.File, sums.check(), "%v", err)
	}
	if err := v.size(sh, n); err != nil {
		return err
	}
	return v.sums(sh, sums)
}

// size compares a shard's size with the recorded one.
func (v *verifier) size(sh Shard, size int64) error {
	if size != sh.Bytes {
		return v.fail(sh.File, "bytes", "file has %d bytes, dataset.json says %d", size, sh.Bytes)
	}
	return nil
}

// shardSums computes the checksums a shard's manifest entry records, as
// its bytes are read: CRC-32C and SHA-256, or only the one recorded.
type shardSums struct {
	crc    uint32
	hasCRC bool
	sha    hash.Hash // nil when the manifest has no SHA-256
}

func newShardSums(sh Shard) *shardSums {
	s := &shardSums{hasCRC: sh.CRC32C != ""}
	if sh.SHA256 != "" {
		s.sha = sha256.New()
	}
	return s
}

func (s *shardSums) Write(p []byte) (int, error) {
	if s.hasCRC {
		s.crc = crc32.Update(s.crc, castagnoli, p)
	}
	if s.sha != nil {
		s.sha.Write(p)
	}
	return len(p), nil
}

// check names the checksum a read failure is reported under.
func (s *shardSums) check() string {
	if s.hasCRC {
		return "crc32c"
	}
	return "sha256"
}

// sums compares a shard's computed checksums with its manifest entry's.
func (v *verifier) sums(sh Shard, sums *shardSums) error {
	if sums.hasCRC {
		if got := FormatCRC32C(sums.crc); got != sh.CRC32C {
			if err := v.fail(sh.File, "crc32c", "file has %s, dataset.json says %s", got, sh.CRC32C); err != nil {
				return err
			}
		}
	}
	if sums.sha != nil {
		if got := hex.EncodeToString(sums.sha.Sum(nil)); got != sh.SHA256 {
			if err := v.fail(sh.File, "sha256", "file has %s, dataset.json says %s", got, sh.SHA256); err != nil {
				return err
			}
		}
	}
	return nil
}

// index checks that a shard's DALI index sidecar lists its records.
func (v *verifier) index(ctx context.Context, sh Shard, records int64) error {
	name := IndexName(sh.File)
	f, err := v.store.Open(ctx, joinPath(v.dir, name))
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

// labels compares a split's counted labels with those its manifest entry
// recorded; a split without recorded counts is not compared.
func (v *verifier) labels(sp Split, counted *labelCounts) error {
	for _, recorded := range sp.Labels {
		i := slices.IndexFunc(counted.features, func(l schema.LabelInfo) bool { return l.Feature == recorded.Feature })
		if i < 0 {
			if err := v.fail(ManifestName, "labels", "split %q records counts for %q, which the spec does not have", sp.Name, recorded.Feature); err != nil {
				return err
			}
			continue
		}
		if !slices.Equal(recorded.Counts, counted.counts[i]) {
			if err := v.fail(ManifestName, "labels", "split %q %s: shards have %v, dataset.json says %v", sp.Name, recorded.Feature, counted.counts[i], recorded.Counts); err != nil {
				return err
			}
		}
	}
	return nil
}

// errorsFile checks errors.csv against rows.rejected and its stages.
func (v *verifier) errorsFile(ctx context.Context, m *Manifest) error {
	recs, err := readErrorsFile(ctx, v.store, v.dir)
	if err != nil {
		return v.fail(ErrorsName, "errors.csv", "%v", err)
	}
	if err := m.CheckErrors(recs); err != nil {
		return v.fail(ErrorsName, "errors.csv", "%v", err)
	}
	return nil
}

// strays reports shard files in the directory that the manifest does not
// list.
func (v *verifier) strays(ctx context.Context, listed map[string]bool) error {
	names, err := v.store.List(ctx, v.dir)
	if err != nil {
		return v.fail(".", "directory", "%v", err)
	}
	for _, name := range names {
		if _, err := ParseShardName(name); err != nil || listed[name] {
			continue
		}
		if err := v.fail(name, "unlisted", "shard file not in dataset.json (left from another conversion?)"); err != nil {
			return err
		}
	}
	return nil
}

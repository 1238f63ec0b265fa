// Package dataset owns the dataset format of tfprep: what a converted
// dataset directory holds, and the one implementation that opens it (Open),
// writes it (ShardWriter, Assembly), verifies it (Verify) and summarises it
// (Stats), without Beam. Every file access goes through one storage seam
// (fs.go), so a location is a string that may later be a URL. A directory OUT
// written by convert contains
//
//	OUT/{split}-{SSSSS}-of-{NNNNN}.tfrecord[.gz|.zz]  shards of tf.train.Example
//	OUT/{shard}.idx                                    optional DALI index sidecars (uncompressed shards only)
//	OUT/errors.csv                                     every rejected input row: line,key,stage,reason
//	OUT/dataset.json                                   the Manifest, written last
//
// Shard numbers SSSSS count from 00000 and NNNNN is the number of shards of
// that split, both zero-padded to five digits (TensorFlow's and Beam's
// convention), so a glob such as "train-*" selects one split and sorting the
// names sorts the shards.
//
// dataset.json is written after every shard has its final name, so its
// presence means the conversion finished; a directory without it is a failed
// or interrupted run and holds no final-named shard. The manifest records, per
// shard, the file name, record count, byte size and CRC-32C (and SHA-256 on
// request), so readers can verify a copy, and it satisfies the invariant
//
//	rows.read = rows.written + rows.rejected
//
// where rows.read counts every CSV data record (header excluded), rows.written
// equals the sum of all shards' records and rows.rejected equals the number of
// lines of errors.csv (header excluded) and the sum of rows.rejected_by_stage.
package dataset

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tfprep/tfprep/schema"
)

// File names inside a dataset directory.
const (
	ManifestName = "dataset.json"
	ErrorsName   = "errors.csv"
)

// FormatVersion is the version of the Manifest document this package writes.
// ReadManifest refuses other versions; a reader that understands a later
// version must bump it.
const FormatVersion = 1

// Manifest is the document stored as dataset.json. Every field is part of
// the output contract; field names are the JSON keys.
type Manifest struct {
	// FormatVersion is the manifest schema version, currently 1.
	FormatVersion int `json:"format_version"`
	// Tool is the program that wrote the dataset, "tfprep".
	Tool string `json:"tool"`
	// ToolVersion is the writer's version (a module version such as
	// "v0.1.0", or "(devel)" for a build from a checkout).
	ToolVersion string `json:"tool_version"`
	// CommandLine is the full command line of the conversion, program name
	// first, one element per argument.
	CommandLine []string `json:"command_line"`
	// Created is when the conversion finished, in UTC.
	Created time.Time `json:"created"`
	// Spec is the dataset specification (tfprep's schema.Spec) as canonical
	// JSON, so that the dataset can be parsed with nothing but this file.
	Spec json.RawMessage `json:"spec"`
	// Features describes every feature of the stored tf.train.Example
	// records: what tf.io.parse_single_example needs (the spec's
	// Features).
	Features []schema.FeatureInfo `json:"features"`
	// Decoder is the JPEG decoder that produced the pixels, with its
	// version, e.g. "libjpeg-turbo 2.1.5 (cgo)". Pixels of different
	// decoders can differ by a few levels. Each shard records its own
	// (Shard.Decoder); when they differ, Decoder is DecoderMixed and
	// Decoders lists them.
	Decoder string `json:"decoder"`
	// Decoders lists, sorted, the distinct decoders of the shards when
	// there is more than one; absent otherwise.
	Decoders []string `json:"decoders,omitempty"`
	// Seed seeds the split assignment and the write-time shuffle; the same
	// input converted with the same seed gives byte-identical shards.
	Seed int64 `json:"seed"`
	// Compression of the shards: "none", "gzip" or "zlib" (TFRecord
	// compression_type "", "GZIP", "ZLIB").
	Compression string `json:"compression"`
	// Index is true when every shard has a DALI index sidecar (IndexName).
	Index bool `json:"index"`
	// Splits in the order they were requested on the command line.
	Splits []Split `json:"splits"`
	// Rows accounts for every input row.
	Rows Rows `json:"rows"`
}

// Split is one named part of the dataset (train, validation, ...).
type Split struct {
	// Name of the split, the shard file prefix.
	Name string `json:"name"`
	// Fraction of the keys assigned to this split (the --splits weight).
	Fraction float64 `json:"fraction"`
	// Records is the number of examples in the split's shards.
	Records int64 `json:"records"`
	// Bytes is the total size of the split's shard files on disk.
	Bytes int64 `json:"bytes"`
	// Shards in shard-number order.
	Shards []Shard `json:"shards"`
	// Labels holds, per label feature, how many of the split's examples have
	// each label set (value != 0).
	Labels []LabelCount `json:"labels"`
}

// Shard is one TFRecord file.
type Shard struct {
	// File is the base name inside the dataset directory (ShardName).
	File string `json:"file"`
	// Records is the number of examples in the file.
	Records int64 `json:"records"`
	// Bytes is the file size on disk (compressed size when compressed).
	Bytes int64 `json:"bytes"`
	// CRC32C is the CRC-32C (Castagnoli) of the file's bytes, encoded as
	// Google Cloud Storage reports an object's crc32c: base64 (standard,
	// padded) of the checksum's 4 bytes in big-endian order, such as
	// "yZRlqg==". Written by every conversion since it was introduced; a
	// manifest written before has only SHA256.
	CRC32C string `json:"crc32c,omitempty"`
	// SHA256 is the lowercase hex SHA-256 of the file's bytes, written only
	// on request (convert/reshard/merge --sha256) and by tfprep before
	// CRC32C existed. A shard has at least one of the two.
	SHA256 string `json:"sha256,omitempty"`
	// Decoder is the JPEG decoder of the process that wrote the shard
	// (imageprep.DecoderName on that worker); absent for a shard with no
	// record and for shards copied without decoding (reshard, merge).
	Decoder string `json:"decoder,omitempty"`
}

// DecoderMixed is Manifest.Decoder when the shards were made by different
// decoders (Manifest.Decoders lists them).
const DecoderMixed = "mixed"

// PILIdentical reports whether pixels made by decoder, as a manifest names
// it, are bit-identical to Keras/PIL's: libjpeg-turbo through cgo is, the
// pure-Go build's image/jpeg is not (a few levels off).
func PILIdentical(decoder string) bool { return strings.HasPrefix(decoder, "libjpeg-turbo ") }

// shardDecoders returns the manifest's decoder fields for shards made by
// decoders (empty names ignored): the one decoder, or DecoderMixed and the
// sorted list; fallback when no shard names one.
func shardDecoders(decoders []string, fallback string) (string, []string) {
	var distinct []string
	for _, d := range decoders {
		if d != "" && !slices.Contains(distinct, d) {
			distinct = append(distinct, d)
		}
	}
	switch len(distinct) {
	case 0:
		return fallback, nil
	case 1:
		return distinct[0], nil
	}
	slices.Sort(distinct)
	return DecoderMixed, distinct
}

// LabelCount is the label frequency table of one label feature.
type LabelCount struct {
	// Feature is the label feature name, e.g. "weather_labels".
	Feature string `json:"feature"`
	// Names are the labels, in vector order (the spec's vocabulary).
	Names []string `json:"names"`
	// Counts[i] is the number of examples whose label vector has a non-zero
	// value at index i.
	Counts []int64 `json:"counts"`
}

// Rows accounts for the input rows of the conversion.
type Rows struct {
	// Read is the number of CSV data records read (header excluded),
	// including those that could not be parsed.
	Read int64 `json:"read"`
	// Written is the number of examples written, summed over all shards.
	Written int64 `json:"written"`
	// Rejected is the number of rows listed in errors.csv.
	Rejected int64 `json:"rejected"`
	// RejectedByStage splits Rejected by the Stage that rejected the row;
	// stages without rejections are omitted.
	RejectedByStage map[Stage]int64 `json:"rejected_by_stage"`
	// Warned is the number of rows whose labels were accepted with a
	// warning, such as an all-zero one-hot vector (a spec with strict: true
	// rejects them instead). They are written unless a later stage rejects
	// them; omitted when zero.
	Warned int64 `json:"warned,omitempty"`
	// Warnings lists the first MaxWarnings of those rows by CSV line.
	Warnings []Warning `json:"warnings,omitempty"`
}

// MaxWarnings is how many label warnings a manifest lists; rows.warned
// counts them all.
const MaxWarnings = 100

// Warning is a row accepted with a doubtful label.
type Warning struct {
	Line   int    `json:"line"`   // CSV line where the row starts (the header is line 1)
	Key    string `json:"key"`    // the row's key
	Reason string `json:"reason"` // column, value and what is doubtful
}

// Sentinel errors, matched with errors.Is.
var (
	// ErrManifest: dataset.json is malformed or contradicts itself.
	ErrManifest = errors.New("dataset: invalid manifest")
	// ErrInvariant: rows read != rows written + rows rejected, or totals
	// that must agree do not.
	ErrInvariant = errors.New("dataset: row accounting does not add up")
	// ErrVersion: the manifest has a format version this package cannot read.
	ErrVersion = errors.New("dataset: unsupported manifest format version")
)

// ManifestError reports a problem with a manifest: the file, the JSON path of
// the offending field (such as "splits[1].shards[0].file"), and the cause.
type ManifestError struct {
	File  string // path of dataset.json, empty when read from a stream
	Field string // JSON path; empty for the document as a whole
	Err   error  // wraps ErrManifest, ErrInvariant or ErrVersion
}

func (e *ManifestError) Error() string {
	msg := e.Err.Error()
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.File != "" {
		msg = e.File + ": " + msg
	}
	return msg
}

func (e *ManifestError) Unwrap() error { return e.Err }

// ReadManifest reads and validates dir/dataset.json. A directory without the
// file is reported as an error wrapping fs.ErrNotExist: the conversion did not
// finish.
func ReadManifest(dir string) (*Manifest, error) {
	store, err := storageFor(dir)
	if err != nil {
		return nil, err
	}
	return readManifest(context.Background(), store, dir)
}

func readManifest(ctx context.Context, store storage, dir string) (*Manifest, error) {
	// The journal and the manifest are read at once: on a bucket each is a
	// round trip. A journal wins over whatever the manifest says.
	journalChecked := make(chan error, 1)
	go func() { journalChecked <- checkNoJournal(ctx, store, dir) }()
	path := joinPath(dir, ManifestName)
	data, err := readAll(ctx, store, path)
	if jerr := <-journalChecked; jerr != nil {
		return nil, jerr
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: %w (no finished conversion in %s)", err, dir)
	}
	m, err := ParseManifest(data)
	if err != nil {
		var me *ManifestError
		if errors.As(err, &me) {
			me.File = path
		}
		return nil, err
	}
	return m, nil
}

// ParseManifest decodes and validates a dataset.json document. Unknown
// fields are rejected so that a typo in a hand-edited manifest is not
// silently ignored.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, &ManifestError{Err: fmt.Errorf("%w: %v", ErrManifest, err)}
	}
	if dec.More() {
		return nil, &ManifestError{Err: fmt.Errorf("%w: data after the JSON document", ErrManifest)}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// WriteManifest validates m and writes it as dir/dataset.json, through a
// temporary file renamed into place so that a reader never sees half a
// manifest.
func WriteManifest(dir string, m *Manifest) error {
	store, err := storageFor(dir)
	if err != nil {
		return err
	}
	return writeManifest(context.Background(), store, dir, m)
}

func writeManifest(ctx context.Context, store storage, dir string, m *Manifest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	return writeAtomic(ctx, store, joinPath(dir, ManifestName), data)
}

// Marshal validates m and returns it as indented JSON ending in a newline.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return append(data, '\n'), nil
}

// Validate checks that m is self-consistent: a supported format version,
// well-formed shard names that match their split, position and count and
// compression, at least one well-formed checksum per shard, unique split names, and the row accounting
// (Check).
func (m *Manifest) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ManifestError{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{ErrManifest}, args...)...)}
	}
	if m.FormatVersion != FormatVersion {
		return &ManifestError{Field: "format_version", Err: fmt.Errorf("%w: got %d, want %d", ErrVersion, m.FormatVersion, FormatVersion)}
	}
	suffix, ok := compressionSuffix[m.Compression]
	if !ok {
		return bad("compression", "unknown compression %q (want none, gzip or zlib)", m.Compression)
	}
	if len(m.Spec) == 0 || !json.Valid(m.Spec) {
		return bad("spec", "missing or not JSON")
	}
	seen := map[string]bool{}
	for i, sp := range m.Splits {
		field := fmt.Sprintf("splits[%d]", i)
		if err := validSplitName(sp.Name); err != nil {
			return bad(field+".name", "%v", err)
		}
		if seen[sp.Name] {
			return bad(field+".name", "duplicate split %q", sp.Name)
		}
		seen[sp.Name] = true
		for j, sh := range sp.Shards {
			sfield := fmt.Sprintf("%s.shards[%d]", field, j)
			want := shardName(sp.Name, j, len(sp.Shards), suffix)
			if sh.File != want {
				return bad(sfield+".file", "got %q, want %q", sh.File, want)
			}
			if sh.Records < 0 || sh.Bytes < 0 {
				return bad(sfield, "negative records or bytes")
			}
			if sh.CRC32C == "" && sh.SHA256 == "" {
				return bad(sfield, "no checksum: neither crc32c nor sha256")
			}
			if _, err := ParseCRC32C(sh.CRC32C); sh.CRC32C != "" && err != nil {
				return bad(sfield+".crc32c", "%v", err)
			}
			if sh.SHA256 != "" && !isHexDigest(sh.SHA256) {
				return bad(sfield+".sha256", "%q is not 64 lowercase hex digits", sh.SHA256)
			}
		}
		for j, lc := range sp.Labels {
			if len(lc.Names) != len(lc.Counts) {
				return bad(fmt.Sprintf("%s.labels[%d]", field, j), "%d names but %d counts", len(lc.Names), len(lc.Counts))
			}
		}
	}
	return m.Check()
}

// Check verifies the row accounting: rows.read = rows.written +
// rows.rejected, rows.rejected = the sum of rows.rejected_by_stage, each
// split's records = the sum of its shards' records and bytes likewise, and
// rows.written = the sum of the splits' records. Errors wrap ErrInvariant.
func (m *Manifest) Check() error {
	bad := func(field, format string, args ...any) error {
		return &ManifestError{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvariant}, args...)...)}
	}
	r := m.Rows
	if err := CheckRows(r.Read, r.Written, r.Rejected); err != nil {
		return &ManifestError{Field: "rows", Err: err}
	}
	var byStage int64
	for stage, n := range r.RejectedByStage {
		if !stage.Valid() {
			return bad("rows.rejected_by_stage", "unknown stage %q", stage)
		}
		if n < 0 {
			return bad("rows.rejected_by_stage."+string(stage), "negative count %d", n)
		}
		byStage += n
	}
	if byStage != r.Rejected {
		return bad("rows.rejected_by_stage", "stages sum to %d, rows.rejected is %d", byStage, r.Rejected)
	}
	if r.Warned < int64(len(r.Warnings)) || r.Warned > r.Read || len(r.Warnings) > MaxWarnings {
		return bad("rows.warned", "%d warned rows with %d listed (at most %d), %d rows read", r.Warned, len(r.Warnings), MaxWarnings, r.Read)
	}
	var written int64
	for i, sp := range m.Splits {
		var records, size int64
		for _, sh := range sp.Shards {
			records += sh.Records
			size += sh.Bytes
		}
		if records != sp.Records {
			return bad(fmt.Sprintf("splits[%d].records", i), "split %q has %d, its shards sum to %d", sp.Name, sp.Records, records)
		}
		if size != sp.Bytes {
			return bad(fmt.Sprintf("splits[%d].bytes", i), "split %q has %d, its shards sum to %d", sp.Name, sp.Bytes, size)
		}
		written += records
	}
	if written != r.Written {
		return bad("rows.written", "got %d, the splits hold %d records", r.Written, written)
	}
	return nil
}

// CheckRows checks the invariant read = written + rejected, and that no
// count is negative. The error wraps ErrInvariant and states the numbers.
func CheckRows(read, written, rejected int64) error {
	if read < 0 || written < 0 || rejected < 0 {
		return fmt.Errorf("%w: negative count (read %d, written %d, rejected %d)", ErrInvariant, read, written, rejected)
	}
	if read != written+rejected {
		return fmt.Errorf("%w: rows read %d != written %d + rejected %d", ErrInvariant, read, written, rejected)
	}
	return nil
}

// Split returns the split with the given name, or nil.
func (m *Manifest) Split(name string) *Split {
	for i := range m.Splits {
		if m.Splits[i].Name == name {
			return &m.Splits[i]
		}
	}
	return nil
}

// SplitNames returns the split names in manifest order.
func (m *Manifest) SplitNames() []string {
	names := make([]string, len(m.Splits))
	for i, sp := range m.Splits {
		names[i] = sp.Name
	}
	return names
}

// WriteTo writes m's JSON to w; it implements io.WriterTo for callers that
// store the manifest somewhere other than a local directory.
func (m *Manifest) WriteTo(w io.Writer) (int64, error) {
	data, err := m.Marshal()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(data)
	return int64(n), err
}

// FormatCRC32C encodes a CRC-32C as the manifest and Google Cloud Storage
// write it: base64 of its 4 bytes, big-endian.
func FormatCRC32C(sum uint32) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
}

// ParseCRC32C decodes FormatCRC32C's encoding.
func ParseCRC32C(s string) (uint32, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 4 {
		return 0, fmt.Errorf("%q is not a CRC-32C: want base64 of 4 bytes, such as \"AAAAAA==\"", s)
	}
	return binary.BigEndian.Uint32(b), nil
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

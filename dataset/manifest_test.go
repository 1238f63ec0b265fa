package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/schema"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

const digestA = "8405735b6e7dba49ddd4ab062f2ec541b8501e03a13054ea6202db9d440f7dfe"
const digestB = "a74f703362228cd526662d9881150dfd2e38308a71359483bf48f1988c4f64da"

// sampleManifest is a small but complete manifest: two splits, three shards,
// one rejected row of each of two stages.
func sampleManifest() *Manifest {
	return &Manifest{
		FormatVersion: FormatVersion,
		Tool:          "tfprep",
		ToolVersion:   "(devel)",
		CommandLine:   []string{"tfprep", "convert", "--spec", "planet", "--csv", "planet.csv", "--images", "img", "--out", "out"},
		Created:       time.Date(2026, 11, 27, 1, 40, 0, 0, time.UTC),
		Spec:          json.RawMessage(`{"name":"planet"}`),
		Features: []schema.FeatureInfo{
			{Name: "ground_labels", Kind: "bytes_list", DType: "float32", Shape: []int{13}, Encoding: "raw", Role: "label"},
			{Name: "image", Kind: "bytes_list", DType: "float32", Shape: []int{128, 128, 3}, Encoding: "raw", Role: "image"},
			{Name: "weather_labels", Kind: "bytes_list", DType: "float32", Shape: []int{4}, Encoding: "raw", Role: "label"},
		},
		Decoder:     "libjpeg-turbo 2.1.5 (cgo)",
		Seed:        42,
		Compression: "none",
		Splits: []Split{
			{
				Name: "train", Fraction: 0.8, Records: 5, Bytes: 300,
				Shards: []Shard{
					{File: "train-00000-of-00002.tfrecord", Records: 3, Bytes: 180, SHA256: digestA},
					{File: "train-00001-of-00002.tfrecord", Records: 2, Bytes: 120, SHA256: digestB},
				},
				Labels: []LabelCount{{Feature: "weather_labels", Names: []string{"clear", "cloudy", "haze", "partly_cloudy"}, Counts: []int64{3, 1, 1, 0}}},
			},
			{
				Name: "validation", Fraction: 0.2, Records: 1, Bytes: 60,
				Shards: []Shard{{File: "validation-00000-of-00001.tfrecord", Records: 1, Bytes: 60, SHA256: digestA}},
				Labels: []LabelCount{{Feature: "weather_labels", Names: []string{"clear", "cloudy", "haze", "partly_cloudy"}, Counts: []int64{0, 0, 0, 1}}},
			},
		},
		Rows: Rows{Read: 8, Written: 6, Rejected: 2, RejectedByStage: map[Stage]int64{StageImage: 1, StageLabel: 1}},
	}
}

func TestManifestGolden(t *testing.T) {
	got, err := sampleManifest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", ManifestName)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("dataset.json mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteReadManifest(t *testing.T) {
	dir := t.TempDir()
	want := sampleManifest()
	if err := WriteManifest(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, compactJSON); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != ManifestName {
		t.Errorf("got directory entries %v, want only %s (no temporary left behind)", entries, ManifestName)
	}
}

// compactJSON compares embedded JSON documents ignoring layout: the spec
// is re-indented when the manifest is written.
var compactJSON = cmp.Transformer("compact", func(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "invalid JSON: " + string(raw)
	}
	return b.String()
})

func TestReadManifestMissing(t *testing.T) {
	_, err := ReadManifest(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want an error wrapping fs.ErrNotExist", err)
	}
}

func TestReadManifestNamesFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ManifestName), []byte(`{"format_version": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadManifest(dir)
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("got %v, want ErrVersion", err)
	}
	if want := filepath.Join(dir, ManifestName) + ": format_version: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %q, want prefix %q", err, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(m *Manifest)
		wantErr   error
		wantField string
	}{
		{"ok", func(m *Manifest) {}, nil, ""},
		{"version", func(m *Manifest) { m.FormatVersion = 0 }, ErrVersion, "format_version"},
		{"compression", func(m *Manifest) { m.Compression = "zstd" }, ErrManifest, "compression"},
		{"no spec", func(m *Manifest) { m.Spec = nil }, ErrManifest, "spec"},
		{"spec not json", func(m *Manifest) { m.Spec = json.RawMessage("{") }, ErrManifest, "spec"},
		{"split name", func(m *Manifest) { m.Splits[1].Name = "val-1" }, ErrManifest, "splits[1].name"},
		{"duplicate split", func(m *Manifest) {
			m.Splits[1].Name = "train"
		}, ErrManifest, "splits[1].name"},
		{"shard out of order", func(m *Manifest) {
			sh := m.Splits[0].Shards
			sh[0], sh[1] = sh[1], sh[0]
		}, ErrManifest, "splits[0].shards[0].file"},
		{"shard compression suffix", func(m *Manifest) { m.Compression = "gzip" }, ErrManifest, "splits[0].shards[0].file"},
		{"digest", func(m *Manifest) { m.Splits[0].Shards[1].SHA256 = strings.ToUpper(digestA) }, ErrManifest, "splits[0].shards[1].sha256"},
		{"negative", func(m *Manifest) { m.Splits[0].Shards[1].Bytes = -1 }, ErrManifest, "splits[0].shards[1]"},
		{"crc32c only", func(m *Manifest) {
			m.Splits[0].Shards[1].SHA256, m.Splits[0].Shards[1].CRC32C = "", "4waSgw=="
		}, nil, ""},
		{"crc32c and sha256", func(m *Manifest) { m.Splits[0].Shards[1].CRC32C = "AAAAAA==" }, nil, ""},
		{"no checksum", func(m *Manifest) { m.Splits[0].Shards[1].SHA256 = "" }, ErrManifest, "splits[0].shards[1]"},
		{"crc32c not base64", func(m *Manifest) { m.Splits[0].Shards[1].CRC32C = "4waSgw" }, ErrManifest, "splits[0].shards[1].crc32c"},
		{"crc32c hex", func(m *Manifest) { m.Splits[0].Shards[1].CRC32C = "e3069283" }, ErrManifest, "splits[0].shards[1].crc32c"},
		{"label counts", func(m *Manifest) { m.Splits[0].Labels[0].Counts = nil }, ErrManifest, "splits[0].labels[0]"},
		{"invariant", func(m *Manifest) { m.Rows.Read = 9 }, ErrInvariant, "rows"},
		{"stage sum", func(m *Manifest) { m.Rows.RejectedByStage[StageIO] = 1 }, ErrInvariant, "rows.rejected_by_stage"},
		{"unknown stage", func(m *Manifest) { m.Rows.RejectedByStage["disk"] = 0 }, ErrInvariant, "rows.rejected_by_stage"},
		{"warned", func(m *Manifest) {
			m.Rows.Warned, m.Rows.Warnings = 1, []Warning{{Line: 3, Key: "k", Reason: "r"}}
		}, nil, ""},
		{"warnings over count", func(m *Manifest) {
			m.Rows.Warnings = []Warning{{Line: 3, Key: "k", Reason: "r"}}
		}, ErrInvariant, "rows.warned"},
		{"warned over read", func(m *Manifest) { m.Rows.Warned = 9 }, ErrInvariant, "rows.warned"},
		{"split records", func(m *Manifest) { m.Splits[0].Records = 4 }, ErrInvariant, "splits[0].records"},
		{"split bytes", func(m *Manifest) { m.Splits[1].Bytes = 1 }, ErrInvariant, "splits[1].bytes"},
		{"written", func(m *Manifest) {
			m.Rows.Written, m.Rows.Read = 7, 9
		}, ErrInvariant, "rows.written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sampleManifest()
			tt.edit(m)
			err := m.Validate()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var me *ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("got %T, want *ManifestError", err)
			}
			if me.Field != tt.wantField {
				t.Errorf("got field %q, want %q (%v)", me.Field, tt.wantField, err)
			}
		})
	}
}

// TestCRC32CEncoding pins the manifest's encoding of CRC-32C to Google Cloud
// Storage's: base64 of the 4 big-endian bytes. 0xe3069283 is CRC-32C's check
// value (the checksum of "123456789", RFC 3720 B.4).
func TestCRC32CEncoding(t *testing.T) {
	sum := crc32.Checksum([]byte("123456789"), crc32.MakeTable(crc32.Castagnoli))
	if sum != 0xe3069283 {
		t.Fatalf("CRC-32C check value %#x, want 0xe3069283", sum)
	}
	if got := FormatCRC32C(sum); got != "4waSgw==" {
		t.Errorf("FormatCRC32C(%#x) = %q, want 4waSgw==", sum, got)
	}
	if got := FormatCRC32C(0); got != "AAAAAA==" {
		t.Errorf("FormatCRC32C(0) = %q, want AAAAAA== (an empty object's crc32c on GCS)", got)
	}
	for _, s := range []string{"4waSgw==", "AAAAAA==", "/////w=="} {
		v, err := ParseCRC32C(s)
		if err != nil || FormatCRC32C(v) != s {
			t.Errorf("ParseCRC32C(%q) = %#x, %v: does not round-trip", s, v, err)
		}
	}
	for _, s := range []string{"", "4waSgw", "4waSgw=", "e3069283", "4waSg5M=", "AAAAAAAA"} {
		if v, err := ParseCRC32C(s); err == nil {
			t.Errorf("ParseCRC32C(%q) = %#x, want an error", s, v)
		}
	}
}

func TestParseManifestStrict(t *testing.T) {
	good, err := sampleManifest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		doc  []byte
	}{
		{"unknown field", bytes.Replace(good, []byte(`"seed"`), []byte(`"sed"`), 1)},
		{"trailing", append(append([]byte{}, good...), "{}"...)},
		{"truncated", good[:len(good)/2]},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseManifest(tt.doc); !errors.Is(err, ErrManifest) {
				t.Errorf("got %v, want ErrManifest", err)
			}
		})
	}
}

func TestCheckRows(t *testing.T) {
	tests := []struct {
		read, written, rejected int64
		ok                      bool
	}{
		{0, 0, 0, true},
		{10, 7, 3, true},
		{10, 7, 2, false},
		{10, 11, -1, false},
	}
	for _, tt := range tests {
		err := CheckRows(tt.read, tt.written, tt.rejected)
		if got := err == nil; got != tt.ok {
			t.Errorf("CheckRows(%d, %d, %d) = %v, want ok=%v", tt.read, tt.written, tt.rejected, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvariant) {
			t.Errorf("got %v, want ErrInvariant", err)
		}
	}
}

func TestShards(t *testing.T) {
	dir := t.TempDir()
	d := &Dataset{Location: dir, Manifest: sampleManifest(), store: localDisk{}}
	tests := []struct {
		splits []string
		want   []string
	}{
		{nil, []string{"train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord", "validation-00000-of-00001.tfrecord"}},
		{[]string{"validation"}, []string{"validation-00000-of-00001.tfrecord"}},
		{[]string{"validation", "train"}, []string{"validation-00000-of-00001.tfrecord", "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"}},
	}
	for _, tt := range tests {
		shards, err := d.Shards(tt.splits...)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, name := range tt.want {
			want = append(want, filepath.Join(dir, name))
		}
		for _, sh := range shards {
			got = append(got, sh.Path)
			if sh.Path != filepath.Join(dir, sh.File) || d.Manifest.Split(sh.Split) == nil {
				t.Errorf("got shard %+v, inconsistent", sh)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Shards(%q) (-want +got):\n%s", tt.splits, diff)
		}
	}
	if _, err := d.Shards("test"); !errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), `no split "test" (have train, validation)`) {
		t.Errorf("got %v, want ErrNoSplit naming split \"test\"", err)
	}
}

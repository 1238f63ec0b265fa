package tfrecord_test

import (
	"encoding/json"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

func TestParseCompression(t *testing.T) {
	tests := []struct {
		in      string
		want    tfrecord.Compression
		wantErr bool
	}{
		{"", tfrecord.None, false},
		{"none", tfrecord.None, false},
		{"NONE", tfrecord.None, false},
		{"gzip", tfrecord.GZIP, false},
		{"GZIP", tfrecord.GZIP, false},
		{"zlib", tfrecord.ZLIB, false},
		{"ZLib", tfrecord.ZLIB, false},
		{"auto", tfrecord.Auto, false},
		{"gz", tfrecord.None, true},
		{"snappy", tfrecord.None, true},
	}
	for _, tc := range tests {
		got, err := tfrecord.ParseCompression(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseCompression(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCompressionNames(t *testing.T) {
	tests := []struct {
		c              tfrecord.Compression
		name, suffix   string
		fromSuffixName string
	}{
		{tfrecord.Auto, "auto", "", "x.tfrecord"},
		{tfrecord.None, "none", "", "x.tfrecord"},
		{tfrecord.GZIP, "gzip", ".gz", "x.tfrecord.gz"},
		{tfrecord.ZLIB, "zlib", ".zz", "x.tfrecord.zz"},
	}
	for _, tc := range tests {
		if got := tc.c.String(); got != tc.name {
			t.Errorf("String() = %q, want %q", got, tc.name)
		}
		if got := tc.c.Suffix(); got != tc.suffix {
			t.Errorf("%v.Suffix() = %q, want %q", tc.c, got, tc.suffix)
		}
		if tc.c != tfrecord.Auto {
			if got, err := tfrecord.ParseCompression(tc.c.String()); err != nil || got != tc.c {
				t.Errorf("ParseCompression(%q) = %v, %v; want %v", tc.c.String(), got, err, tc.c)
			}
			if got := tfrecord.CompressionFromName("dir/x" + tc.c.Suffix()); got != tc.c {
				t.Errorf("CompressionFromName of suffix %q = %v, want %v", tc.c.Suffix(), got, tc.c)
			}
		}
	}
	if got, want := tfrecord.Compression(9).String(), "Compression(9)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCompressionFromName(t *testing.T) {
	tests := []struct {
		path string
		want tfrecord.Compression
	}{
		{"a.tfrecord", tfrecord.None},
		{"a", tfrecord.None},
		{"a.gz", tfrecord.GZIP},
		{"A.TFRECORD.GZ", tfrecord.GZIP},
		{"a.gzip", tfrecord.GZIP},
		{"a.zz", tfrecord.ZLIB},
		{"a.zlib", tfrecord.ZLIB},
		{"dir.gz/a.tfrecord", tfrecord.None},
		{"a.gz.tfrecord", tfrecord.None},
	}
	for _, tc := range tests {
		if got := tfrecord.CompressionFromName(tc.path); got != tc.want {
			t.Errorf("CompressionFromName(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestCompressionJSON(t *testing.T) {
	type config struct{ Compression tfrecord.Compression }
	data, err := json.Marshal(config{tfrecord.GZIP})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), `{"Compression":"gzip"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var back config
	if err := json.Unmarshal([]byte(`{"Compression":"ZLIB"}`), &back); err != nil || back.Compression != tfrecord.ZLIB {
		t.Errorf("got %v, %v, want zlib", back.Compression, err)
	}
	if err := json.Unmarshal([]byte(`{"Compression":"lz4"}`), &back); err == nil {
		t.Error("unmarshalling lz4 succeeded, want an error")
	}
	if _, err := json.Marshal(config{tfrecord.Compression(-1)}); err == nil {
		t.Error("marshalling Compression(-1) succeeded, want an error")
	}
}

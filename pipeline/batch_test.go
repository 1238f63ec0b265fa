package pipeline

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// batchSamples are batches the coder must round-trip exactly.
var batchSamples = []rowBatch{
	{},
	{Rows: []splitRow{{}}},
	{Rows: []splitRow{
		{Line: 2, Key: "train_0", Image: "train_0.jpg", Split: "train", Shard: 3,
			Labels: [][]float32{{0, 1, 0, 0}, {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}}},
		{File: 3, Line: 40480, Key: "ключ", Image: "a/b c.jpg", Split: "validation", Shard: 99998,
			Labels: [][]float32{{0.5, -1, float32(math.Inf(1)), float32(math.Copysign(0, -1))}, {}, {1}}},
		{Line: 7, Key: "", Image: "x.jpg", Split: "test", Labels: [][]float32{make([]float32, 10000)}},
	}},
}

func TestRowBatchCoderRoundTrip(t *testing.T) {
	for i, b := range batchSamples {
		got, err := decodeRowBatch(encodeRowBatch(b))
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if diff := cmp.Diff(b, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("sample %d (-want +got):\n%s", i, diff)
		}
	}
	// -0 keeps its sign bit: the Example's bytes depend on it.
	got, _ := decodeRowBatch(encodeRowBatch(batchSamples[2]))
	if bits := math.Float32bits(got.Rows[1].Labels[0][3]); bits != 0x80000000 {
		t.Errorf("got -0 decoded as bits %#x, want 0x80000000", bits)
	}
}

// TestRowBatchCoderSize pins the point of the coder: a Planet row in about
// 50 bytes.
func TestRowBatchCoderSize(t *testing.T) {
	row := splitRow{Line: 12345, Key: "train_12345", Image: "train_12345.jpg", Split: "train", Shard: 17,
		Labels: [][]float32{{0, 0, 1, 0}, {1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}}}
	if got := len(encodeRowBatch(rowBatch{Rows: []splitRow{row}})); got > 60 {
		t.Errorf("got %d bytes for one Planet row, want at most 60", got)
	}
}

func TestRowBatchCoderErrors(t *testing.T) {
	good := encodeRowBatch(batchSamples[2])
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"too many rows", []byte{0xff, 0x7f}},
		{"huge vector", []byte{1, 0, 2, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0}},
		{"index past vector", []byte{1, 0, 2, 0, 0, 0, 0, 1, 2, 1, 5}},
		{"stored zero", []byte{1, 0, 2, 0, 0, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRowBatch(tt.data)
			if !errors.Is(err, errRowBatch) {
				t.Errorf("got %v, want errRowBatch", err)
			}
		})
	}
}

// FuzzDecodeRowBatch: any input decodes or fails with errRowBatch, and
// what decodes re-encodes to the same bytes.
func FuzzDecodeRowBatch(f *testing.F) {
	for _, b := range batchSamples {
		f.Add(encodeRowBatch(b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodeRowBatch(data)
		if err != nil {
			if !errors.Is(err, errRowBatch) {
				t.Fatalf("got %v, want errRowBatch", err)
			}
			return
		}
		again, err := decodeRowBatch(encodeRowBatch(b))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(b, again, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("re-decoded (-first +second):\n%s", diff)
		}
	})
}

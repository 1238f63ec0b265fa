package example

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// marshalGenerated is what AppendExample must equal byte for byte.
func marshalGenerated(t testing.TB, features []Feature) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(New(features...))
	if err != nil {
		t.Fatalf("proto.Marshal: %v", err)
	}
	return b
}

func TestAppendExampleMatchesProto(t *testing.T) {
	tests := []struct {
		name     string
		features []Feature
	}{
		{"no features", nil},
		{"one float", []Feature{FloatFeature("w", 1)}},
		{"unsorted names", []Feature{Int64Feature("b", 2), Int64Feature("a", 1), Int64Feature("c", 3)}},
		{"byte order, not locale order", []Feature{Int64Feature("a", 1), Int64Feature("B", 2), Int64Feature("_", 3), Int64Feature("é", 4)}},
		{"empty name", []Feature{BytesFeature("", []byte("x"))}},
		{"no kind", []Feature{{Name: "missing"}}},
		{"no kind ignores lists", []Feature{{Name: "missing", Floats: []float32{1}, Bytes: [][]byte{{1}}}}},
		{"empty lists", []Feature{BytesFeature("b"), FloatFeature("f"), Int64Feature("i")}},
		{"empty bytes values", []Feature{BytesFeature("b", nil, []byte{}, []byte("x"))}},
		{"other kinds' lists ignored", []Feature{{Name: "f", Kind: FloatKind, Floats: []float32{2}, Int64s: []int64{7}}}},
		{"negative int64", []Feature{Int64Feature("i", -1, math.MinInt64, math.MaxInt64, 0, 127, 128)}},
		{"special floats", []Feature{FloatFeature("f", float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32)}},
		{"duplicate names, last wins", []Feature{Int64Feature("a", 1), FloatFeature("b", 2), Int64Feature("a", 3)}},
		{"duplicates of sorted names", []Feature{Int64Feature("a", 1), Int64Feature("a", 2), Int64Feature("b", 3)}},
		{"long name", []Feature{StringFeature(string(bytes.Repeat([]byte("n"), 300)), "v")}},
		{"value over 127 bytes", []Feature{BytesFeature("image", bytes.Repeat([]byte{7}, 200))}},
		{"value over 16383 bytes", []Feature{BytesFeature("image", bytes.Repeat([]byte{7}, 20000))}},
		{"many features", manyFeatures(40)},
		{"seed example", seedFeatures()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := marshalGenerated(t, tt.features)
			got := AppendExample(nil, tt.features)
			if !bytes.Equal(got, want) {
				t.Errorf("AppendExample:\ngot  %s\nwant %s", hex.EncodeToString(got), hex.EncodeToString(want))
			}
			if n := EncodedSize(tt.features); n != len(want) {
				t.Errorf("EncodedSize: got %d, want %d", n, len(want))
			}
			prefix := []byte("prefix")
			got = AppendExample(prefix, tt.features)
			if !bytes.Equal(got[:len(prefix)], []byte("prefix")) || !bytes.Equal(got[len(prefix):], want) {
				t.Errorf("AppendExample after a prefix: got %q, want %q + %x", got, prefix, want)
			}
		})
	}
}

func manyFeatures(n int) []Feature {
	var fs []Feature
	for i := n - 1; i >= 0; i-- {
		fs = append(fs, Int64Feature(string(rune('A'+i%26))+string(rune('a'+i/26)), int64(i)))
	}
	return fs
}

// seedFeatures is the Planet pipeline's Example: a 128x128x3 float32 image
// and the two label vectors, all stored as raw float32 bytes.
func seedFeatures() []Feature {
	image := make([]byte, 128*128*3*4)
	for i := range image {
		image[i] = byte(i * 7)
	}
	return []Feature{
		BytesFeature("ground_labels", make([]byte, 13*4)),
		BytesFeature("image", image),
		BytesFeature("weather_labels", make([]byte, 4*4)),
	}
}

// randomFeatures draws an Example with every shape the encoder handles:
// any kind, empty and long lists, extreme values, repeated and unsorted
// names.
func randomFeatures(r *rand.Rand) []Feature {
	// proto.Marshal insists on UTF-8 names; AppendExample does not care.
	names := []string{"", "a", "b", "image", "label", "weather_labels", "é", "\x00", "z/y"}
	n := r.IntN(8)
	fs := make([]Feature, n)
	for i := range fs {
		f := &fs[i]
		if r.IntN(4) == 0 {
			f.Name = strings.ToValidUTF8(string(randBytes(r, r.IntN(200))), "?")
		} else {
			f.Name = names[r.IntN(len(names))]
		}
		f.Kind = Kind(r.IntN(4))
		count := r.IntN(6)
		if r.IntN(10) == 0 {
			count = r.IntN(300)
		}
		for range count {
			switch f.Kind {
			case BytesKind:
				f.Bytes = append(f.Bytes, randBytes(r, r.IntN(3)*r.IntN(100)))
			case FloatKind:
				f.Floats = append(f.Floats, math.Float32frombits(r.Uint32()))
			case Int64Kind:
				f.Int64s = append(f.Int64s, int64(r.Uint64()>>r.IntN(64)))
			}
		}
	}
	return fs
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func TestAppendExampleRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		fs := randomFeatures(r)
		want := marshalGenerated(t, fs)
		got := AppendExample(nil, fs)
		if !bytes.Equal(got, want) {
			t.Fatalf("example %d (%d features): AppendExample differs from proto.Marshal\ngot  %x\nwant %x", i, len(fs), got, want)
		}
		if n := EncodedSize(fs); n != len(want) {
			t.Fatalf("example %d: EncodedSize got %d, want %d", i, n, len(want))
		}
	}
}

// The image must be copied once, into dst: no intermediate buffers, one
// allocation when dst is nil and none when it has room.
func TestAppendExampleAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	fs := seedFeatures()
	if n := testing.AllocsPerRun(20, func() { AppendExample(nil, fs) }); n != 1 {
		t.Errorf("AppendExample(nil, ...): got %v allocations, want 1", n)
	}
	dst := make([]byte, 0, EncodedSize(fs))
	if n := testing.AllocsPerRun(20, func() { AppendExample(dst[:0], fs) }); n != 0 {
		t.Errorf("AppendExample into a large enough dst: got %v allocations, want 0", n)
	}
	unsorted := []Feature{fs[2], fs[0], fs[1]}
	if n := testing.AllocsPerRun(20, func() { AppendExample(dst[:0], unsorted) }); n != 0 {
		t.Errorf("AppendExample of unsorted features into a large enough dst: got %v allocations, want 0", n)
	}
}

func TestAppendExampleInvalidKindPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("AppendExample with Kind(9): got no panic, want one")
		}
	}()
	AppendExample(nil, []Feature{{Name: "x", Kind: 9}})
}

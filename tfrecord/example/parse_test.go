package example

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tfprep/tfprep/tfrecord/example/examplepb"
)

// Wire-building helpers: each returns one encoded field.
func lenField(num protowire.Number, parts ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, slices.Concat(parts...))
}

func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func fixed32Field(num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(nil, num, protowire.Fixed32Type), v)
}

func fixed64Field(num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), v)
}

func groupField(num protowire.Number, inner ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.StartGroupType)
	b = append(b, slices.Concat(inner...)...)
	return protowire.AppendTag(b, num, protowire.EndGroupType)
}

// entry is a Features map entry: key and Feature value.
func entry(name string, feature ...[]byte) []byte {
	return lenField(1, lenField(1, []byte(name)), lenField(2, feature...))
}

// example wraps entries into an Example.
func example(entries ...[]byte) []byte { return lenField(1, entries...) }

func floatBits(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func varints(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return b
}

// canonical makes Features comparable: sorted by name, floats as bits (NaN
// equals itself), empty and nil lists alike.
func canonical(fs []Feature) []Feature {
	out := make([]Feature, len(fs))
	for i, f := range fs {
		c := Feature{Name: f.Name, Kind: f.Kind}
		for _, v := range f.Bytes {
			c.Bytes = append(c.Bytes, append([]byte{}, v...))
		}
		for _, v := range f.Floats {
			c.Int64s = append(c.Int64s, int64(math.Float32bits(v))) // floats compared by bits
		}
		c.Int64s = append(c.Int64s, f.Int64s...)
		out[i] = c
	}
	slices.SortStableFunc(out, func(a, b Feature) int { return strings.Compare(a.Name, b.Name) })
	return out
}

var featureOpts = cmpopts.EquateEmpty()

// diffFeatures compares canonical forms: reflect.DeepEqual first, as
// cmp.Diff is slow on the large random examples, then cmp.Diff to explain.
func diffFeatures(want, got []Feature) string {
	want, got = canonical(want), canonical(got)
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return cmp.Diff(want, got, featureOpts)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
		want []Feature // in wire order
	}{
		{"empty buffer", nil, []Feature{}},
		{"empty Features", example(), []Feature{}},
		{"one of each kind", example(
			entry("b", lenField(1, lenField(1, []byte("x")), lenField(1, nil))),
			entry("f", lenField(2, lenField(1, floatBits(1.5, -2)))),
			entry("i", lenField(3, lenField(1, varints(-1, 300)))),
		), []Feature{
			BytesFeature("b", []byte("x"), []byte{}),
			FloatFeature("f", 1.5, -2),
			Int64Feature("i", -1, 300),
		}},
		{"wire order kept", example(entry("z", lenField(3)), entry("a", lenField(3))),
			[]Feature{Int64Feature("z"), Int64Feature("a")}},
		{"no kind (taxi's missing values)", example(entry("company")), []Feature{{Name: "company"}}},
		{"no value field", example(lenField(1, lenField(1, []byte("k")))), []Feature{{Name: "k"}}},
		{"no key field", example(lenField(1, lenField(2, lenField(3, lenField(1, varints(5)))))), []Feature{Int64Feature("", 5)}},
		{"key after value", example(lenField(1, lenField(2, lenField(3, lenField(1, varints(5)))), lenField(1, []byte("k")))),
			[]Feature{Int64Feature("k", 5)}},
		{"key given twice, last wins", example(lenField(1, lenField(1, []byte("a")), lenField(1, []byte("b")), lenField(2))),
			[]Feature{{Name: "b"}}},
		{"unpacked floats", example(entry("f", lenField(2, fixed32Field(1, math.Float32bits(1)), fixed32Field(1, math.Float32bits(2))))),
			[]Feature{FloatFeature("f", 1, 2)}},
		{"packed and unpacked floats mixed", example(entry("f", lenField(2, fixed32Field(1, math.Float32bits(1)), lenField(1, floatBits(2, 3))))),
			[]Feature{FloatFeature("f", 1, 2, 3)}},
		{"unpacked int64s", example(entry("i", lenField(3, varintField(1, 7), varintField(1, math.MaxUint64)))),
			[]Feature{Int64Feature("i", 7, -1)}},
		{"duplicate key, last wins in first place", example(
			entry("a", lenField(3, lenField(1, varints(1)))),
			entry("b", lenField(3, lenField(1, varints(2)))),
			entry("a", lenField(2, lenField(1, floatBits(3)))),
		), []Feature{FloatFeature("a", 3), Int64Feature("b", 2)}},
		{"two features fields merge", slices.Concat(
			example(entry("a", lenField(3, lenField(1, varints(1))))),
			example(entry("b", lenField(3, lenField(1, varints(2)))), entry("a", lenField(3, lenField(1, varints(3))))),
		), []Feature{Int64Feature("a", 3), Int64Feature("b", 2)}},
		{"two values of one entry merge", example(lenField(1, lenField(1, []byte("a")),
			lenField(2, lenField(3, lenField(1, varints(1)))),
			lenField(2, lenField(3, lenField(1, varints(2)))),
		)), []Feature{Int64Feature("a", 1, 2)}},
		{"same list twice concatenates", example(entry("b",
			lenField(1, lenField(1, []byte("x"))),
			lenField(1, lenField(1, []byte("y"))),
		)), []Feature{BytesFeature("b", []byte("x"), []byte("y"))}},
		{"another kind replaces", example(entry("k",
			lenField(1, lenField(1, []byte("x"))),
			lenField(2, lenField(1, floatBits(1))),
		)), []Feature{FloatFeature("k", 1)}},
		{"empty list of a kind", example(entry("f", lenField(2))), []Feature{FloatFeature("f")}},
		{"unknown fields everywhere", slices.Concat(
			varintField(5, 1),
			example(
				fixed64Field(9, 1),
				lenField(1, varintField(3, 4), lenField(1, []byte("a")), groupField(7, varintField(1, 1)),
					lenField(2, lenField(4, []byte("junk")), fixed32Field(9, 0), lenField(3, varintField(2, 1), lenField(1, varints(8))))),
			),
			groupField(100, fixed64Field(1, 2)),
		), []Feature{Int64Feature("a", 8)}},
		{"known fields with other wire types are skipped", example(
			varintField(1, 3),
			lenField(1, varintField(1, 3), lenField(1, []byte("a")), fixed32Field(2, 0),
				lenField(2, varintField(1, 1), lenField(1, lenField(1, []byte("v"))), fixed32Field(1, 0))),
		), []Feature{BytesFeature("a", []byte("v"))}},
		{"many features, some repeated", example(func() [][]byte {
			var es [][]byte
			for i := range 40 {
				es = append(es, entry(string(rune('A'+i)), lenField(3, lenField(1, varints(int64(i))))))
			}
			return append(es, entry("B", lenField(3, lenField(1, varints(99)))))
		}()...), func() []Feature {
			var fs []Feature
			for i := range 40 {
				fs = append(fs, Int64Feature(string(rune('A'+i)), int64(i)))
			}
			fs[1].Int64s = []int64{99}
			return fs
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, noCopy := range []bool{false, true} {
				got, err := Parse(tt.buf, noCopy)
				if err != nil {
					t.Fatalf("Parse(noCopy=%v): %v", noCopy, err)
				}
				if diff := cmp.Diff(tt.want, got.Features, featureOpts); diff != "" {
					t.Errorf("Parse(noCopy=%v) (-want +got):\n%s", noCopy, diff)
				}
			}
			// The generated code must agree.
			var ex examplepb.Example
			if err := proto.Unmarshal(tt.buf, &ex); err != nil {
				t.Fatalf("proto.Unmarshal: %v", err)
			}
			if diff := diffFeatures(tt.want, FromProto(&ex).Features); diff != "" {
				t.Errorf("proto.Unmarshal disagrees with the test's want (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := example(entry("f", lenField(2, lenField(1, floatBits(1, 2)))))
	tests := []struct {
		name   string
		buf    []byte
		offset int
		reason string
	}{
		{"truncated tag", []byte{0x80}, 0, "bad field tag"},
		{"field number 0", []byte{0x02, 0x00}, 0, "bad field tag"},
		{"field number too large", protowire.AppendTag(nil, protowire.MaxValidNumber+1, protowire.VarintType), 0, "out of range"},
		{"truncated Example", good[:len(good)-1], 1, "bad length-delimited value"},
		{"length past the end", []byte{0x0a, 0x05, 0x0a, 0x00}, 1, "bad length-delimited value"},
		{"stray end group", []byte{0x0c}, 1, "bad value of wire type 4"},
		{"unclosed group", []byte{0x0b, 0x08, 0x01}, 1, "bad value of wire type 3"},
		{"bad wire type", []byte{0x0f}, 1, "bad value of wire type 7"},
		{"truncated varint in unknown field", []byte{0x10, 0xff}, 1, "bad value of wire type 0"},
		{"packed floats not a multiple of 4", example(entry("f", lenField(2, lenField(1, []byte{1, 2, 3})))), 13, "not a multiple of 4"},
		{"truncated packed varint", example(entry("i", lenField(3, lenField(1, []byte{0x01, 0x80})))), 14, "packed int64_list"},
		{"bad entry", example(lenField(1, []byte{0x0a, 0x09})), 5, "field 1: bad length-delimited value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.buf, true)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%x): got error %v, want a *ParseError", tt.buf, err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("got %v, want errors.Is(err, ErrMalformed)", err)
			}
			if pe.Offset != tt.offset || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Parse(%x): got offset %d reason %q, want offset %d reason containing %q", tt.buf, pe.Offset, pe.Reason, tt.offset, tt.reason)
			}
			if !strings.Contains(err.Error(), "byte") {
				t.Errorf("error %q does not name the byte offset", err)
			}
			// Whatever Parse rejects, the generated code rejects too.
			if err := proto.Unmarshal(tt.buf, &examplepb.Example{}); err == nil {
				t.Errorf("proto.Unmarshal(%x) accepts what Parse rejects", tt.buf)
			}
		})
	}
}

// Cutting a good encoding short, or flipping any byte of it, must never
// panic, and any accepted result must match the generated code's.
func TestParseTruncatedAndFlipped(t *testing.T) {
	good := AppendExample(nil, []Feature{
		StringFeature("name", "value"), FloatFeature("f", 1, 2), Int64Feature("i", -5, 1<<40), {Name: "none"},
	})
	for n := range good {
		checkAgainstProto(t, good[:n])
	}
	for i := range good {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(good)
			b[i] ^= x
			checkAgainstProto(t, b)
		}
	}
}

// checkAgainstProto fails when proto.Unmarshal accepts buf and Parse does
// not, or they decode different features.
func checkAgainstProto(t *testing.T, buf []byte) {
	t.Helper()
	got, err := Parse(buf, false)
	var ex examplepb.Example
	if perr := proto.Unmarshal(buf, &ex); perr != nil {
		return // Parse may be more lenient (it does not check UTF-8)
	}
	if err != nil {
		t.Fatalf("Parse(%x): %v, but proto.Unmarshal accepts it", buf, err)
	}
	if diff := diffFeatures(FromProto(&ex).Features, got.Features); diff != "" {
		t.Fatalf("Parse(%x) differs from proto.Unmarshal (-proto +Parse):\n%s", buf, diff)
	}
}

func TestParseRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		fs := randomFeatures(r)
		buf := AppendExample(nil, fs)
		got, err := Parse(buf, i%2 == 0)
		if err != nil {
			t.Fatalf("example %d: Parse: %v", i, err)
		}
		want := FromProto(New(fs...)) // deduplicated, sorted
		if diff := diffFeatures(want.Features, got.Features); diff != "" {
			t.Fatalf("example %d: round trip (-want +got):\n%s", i, diff)
		}
	}
}

func TestParseNoCopyAliases(t *testing.T) {
	buf := AppendExample(nil, []Feature{StringFeature("s", "hello")})
	aliased, err := Parse(buf, true)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := Parse(buf, false)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf[bytes.Index(buf, []byte("hello")):], "HELLO")
	if got, _ := aliased.Bytes("s"); string(got) != "HELLO" {
		t.Errorf("noCopy=true: got %q after changing buf, want the change seen (%q)", got, "HELLO")
	}
	if got, _ := copied.Bytes("s"); string(got) != "hello" {
		t.Errorf("noCopy=false: got %q after changing buf, want %q", got, "hello")
	}
	// Appending to an aliased value must not write into buf.
	v, _ := aliased.Bytes("s")
	_ = append(v, '!')
	if !bytes.Contains(buf, []byte("HELLO")) || bytes.Contains(buf, []byte("HELLO!")) {
		t.Errorf("append to an aliased value changed buf: %q", buf)
	}
}

func TestParseIntoReuses(t *testing.T) {
	fs := seedFeatures()
	fs = append(fs, FloatFeature("scores", 1, 2, 3), Int64Feature("ids", 4, 5))
	buf := AppendExample(nil, fs)
	var p Parsed
	if err := ParseInto(&p, buf, true); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(50, func() {
		if err := ParseInto(&p, buf, true); err != nil {
			t.Fatal(err)
		}
	}); n != 0 && !raceEnabled {
		t.Errorf("warm ParseInto: got %v allocations, want 0", n)
	}
	// A smaller Example after a larger one leaves nothing behind.
	small := AppendExample(nil, []Feature{Int64Feature("ids", 9)})
	if err := ParseInto(&p, small, true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Feature{Int64Feature("ids", 9)}, p.Features, featureOpts); diff != "" {
		t.Errorf("ParseInto after a larger Example (-want +got):\n%s", diff)
	}
}

func TestGetters(t *testing.T) {
	p, err := Parse(AppendExample(nil, []Feature{
		StringFeature("one", "x"),
		StringFeature("two", "x", "y"),
		FloatFeature("f", 1, 2),
		Int64Feature("i", 3),
		{Name: "none"},
	}), true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		get     func() (any, error)
		want    any
		wantErr error
		errText string
	}{
		{"bytes", func() (any, error) { return p.Bytes("one") }, []byte("x"), nil, ""},
		{"bytes list", func() (any, error) { return p.BytesList("two") }, [][]byte{[]byte("x"), []byte("y")}, nil, ""},
		{"floats", func() (any, error) { return p.Floats("f") }, []float32{1, 2}, nil, ""},
		{"int64s", func() (any, error) { return p.Int64s("i") }, []int64{3}, nil, ""},
		{"no kind is an empty float list", func() (any, error) { return p.Floats("none") }, []float32(nil), nil, ""},
		{"no kind is an empty int64 list", func() (any, error) { return p.Int64s("none") }, []int64(nil), nil, ""},
		{"no kind has no single bytes value", func() (any, error) { return p.Bytes("none") }, []byte(nil), ErrCount, `feature "none": has 0 values, want 1`},
		{"two values for one", func() (any, error) { return p.Bytes("two") }, []byte(nil), ErrCount, `feature "two": has 2 values, want 1`},
		{"missing", func() (any, error) { return p.Floats("image") }, []float32(nil), ErrMissing, `feature "image": missing; the Example has "f", "i", "none", "one", "two"`},
		{"wrong kind", func() (any, error) { return p.Int64s("f") }, []int64(nil), ErrKind, `feature "f": is a float_list, want a int64_list`},
		{"wrong kind for bytes", func() (any, error) { return p.Bytes("i") }, []byte(nil), ErrKind, `is a int64_list, want a bytes_list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("got error %q, want it to contain %q", err, tt.errText)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if f, ok := p.Get("two"); !ok || f.Len() != 2 {
		t.Errorf("Get(two): got %+v, %v; want a feature of 2 values", f, ok)
	}
	if _, ok := p.Get("absent"); ok {
		t.Errorf("Get(absent): got ok, want not found")
	}
}

// readRecords returns the payloads of a TFRecord file (gzip when the name
// ends in .gz), checking only the framing lengths: the tfrecord package
// owns CRCs, this test owns Example decoding.
func readRecords(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		if r, err = gzip.NewReader(r); err != nil {
			t.Fatal(err)
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var records [][]byte
	for len(data) > 0 {
		if len(data) < 12 {
			t.Fatalf("%s: truncated header", path)
		}
		n := int(binary.LittleEndian.Uint64(data))
		if len(data) < 12+n+4 {
			t.Fatalf("%s: truncated record", path)
		}
		records = append(records, data[12:12+n])
		data = data[12+n+4:]
	}
	return records
}

// Real files written by TensorFlow and Java: Parse agrees with the
// generated code on every record, and re-encoding is what proto would write.
func TestParseCorpus(t *testing.T) {
	tests := []struct {
		file       string
		records    int
		noKindSeen bool
	}{
		{"ecosystem_hadoop_tf-records_part-m-00000", 5, false},
		{"tfx_penguin_Split-eval_data_tfrecord-00000-of-00001.gz", 100, false},
		{"tfx_taxi_csv_example_gen_Split-eval_data_tfrecord-00000-of-00012.gz", 424, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			records := readRecords(t, filepath.Join("testdata", tt.file))
			if len(records) != tt.records {
				t.Fatalf("got %d records, want %d", len(records), tt.records)
			}
			noKind := false
			var p Parsed
			for i, rec := range records {
				if err := ParseInto(&p, rec, true); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				var ex examplepb.Example
				if err := proto.Unmarshal(rec, &ex); err != nil {
					t.Fatalf("record %d: proto.Unmarshal: %v", i, err)
				}
				if diff := diffFeatures(FromProto(&ex).Features, p.Features); diff != "" {
					t.Fatalf("record %d (-proto +Parse):\n%s", i, diff)
				}
				want, err := proto.MarshalOptions{Deterministic: true}.Marshal(&ex)
				if err != nil {
					t.Fatal(err)
				}
				if got := AppendExample(nil, p.Features); !bytes.Equal(got, want) {
					t.Fatalf("record %d: re-encoded\n got %x\nwant %x", i, got, want)
				}
				for _, f := range p.Features {
					noKind = noKind || f.Kind == NoKind
				}
			}
			if noKind != tt.noKindSeen {
				t.Errorf("a Feature without kind seen: got %v, want %v", noKind, tt.noKindSeen)
			}
		})
	}
}

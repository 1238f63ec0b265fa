package schema

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listCases are literals with what Python 3's ast.literal_eval makes of them
// (checked against python3 by TestParseListAgreesWithPython).
var listCases = []struct {
	in   string
	want []float64 // nil: an error
}{
	{"[0, 0, 1, 0]", []float64{0, 0, 1, 0}},
	{"[1,0,0,0]", []float64{1, 0, 0, 0}},
	{"  [ 0 ,  1 ]  ", []float64{0, 1}},
	{"[0, 1,]", []float64{0, 1}},
	{"[]", []float64{}},
	{"[ ]", []float64{}},
	{"()", []float64{}},
	{"(1,)", []float64{1}},
	{"(0, 1)", []float64{0, 1}},
	{"[True, False, True]", []float64{1, 0, 1}},
	{"[1.0, 0.0, 0.5]", []float64{1, 0, 0.5}},
	{"[1., .5, 1e3, 2.5E-1]", []float64{1, 0.5, 1000, 0.25}},
	{"[-1, +1, - 2]", []float64{-1, 1, -2}},
	{"[0x1F, 0o17, 0b101, 0X_f]", []float64{31, 15, 5, 15}},
	{"[1_000, 1_0.5_0, 1e1_0]", []float64{1000, 10.5, 1e10}},
	{"[00, 0_0, 00.5, 01e1]", []float64{0, 0, 0.5, 10}},
	{"[\n1,\t2\r\n]", []float64{1, 2}},
	{"[- \n1]", []float64{-1}},
	{"1, 2\r\n", []float64{1, 2}},
	{"\n \n[1]", []float64{1}},
	{"\n\f[1]", []float64{1}},
	{"[1]\n \n", []float64{1}},
	{"1,\n", []float64{1}},
	{"\n [1]", nil},
	{"[1] \n ", nil},
	{"1\n, 2", nil},
	{"- \n1, 2", nil},
	{"[(1), 2]", []float64{1, 2}},
	{"([0, 1])", []float64{0, 1}},
	{"((1,))", []float64{1}},
	{"(1),(2)", []float64{1, 2}},
	{"[-(1), (+2)]", []float64{-1, 2}},
	{"[(True)]", []float64{1}},
	{"(\n1,\n)", []float64{1}},
	{"-(1)", nil},
	{"[-(-1)]", nil},
	{"[-(True)]", nil},
	{"([1],)", nil},
	{"[()]", nil},
	{"[(1,)]", nil},
	{"[1], 2", nil},
	{"[1,\\\n2]", []float64{1, 2}},
	{"1,\\\n2", []float64{1, 2}},
	{"[1,\\ 2]", nil},
	{"1,\\\n", nil},
	{"[1]\\\n", nil},
	{"[1e309]", []float64{math.Inf(1)}},
	{"", nil},
	{"0, 1", []float64{0, 1}},
	{" 1 ,", []float64{1}},
	{"1, 2 3", nil},
	{"1,,", nil},
	{"1", nil},
	{"(1)", nil},
	{"[1", nil},
	{"[1,,2]", nil},
	{"[,]", nil},
	{"[1 2]", nil},
	{"[01]", nil},
	{"[1__0]", nil},
	{"[_1]", nil},
	{"[1_]", nil},
	{"[1e]", nil},
	{"[.]", nil},
	{"[--1]", nil},
	{"[-True]", nil},
	{"[true]", nil},
	{"[None]", nil},
	{"[inf]", nil},
	{"[nan]", nil},
	{"[1j]", nil},
	{"[0x]", nil},
	{"[0b12]", nil},
	{"['a']", nil},
	{"[[1]]", nil},
	{"[1-2]", nil},
	{"[1](2)", nil},
	{"[1] x", nil},
	{"[0, 1)", nil},
}

func TestParseList(t *testing.T) {
	for _, tt := range listCases {
		got, err := ParseList(nil, tt.in)
		if tt.want == nil {
			if !errors.Is(err, ErrBadLiteral) {
				t.Errorf("ParseList(%q) = %v, %v; want an error wrapping ErrBadLiteral", tt.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseList(%q): %v", tt.in, err)
			continue
		}
		if got == nil {
			got = []float64{}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseList(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseListErrorOffset(t *testing.T) {
	_, err := ParseList(nil, "[0, 1, x]")
	if err == nil || !strings.Contains(err.Error(), "byte 7") {
		t.Errorf("got %v, want an error at byte 7", err)
	}
}

func TestParseListAppends(t *testing.T) {
	got, err := ParseList([]float64{9}, "[1, 2]")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float64{9, 1, 2}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// On error dst comes back as it was, whatever was parsed before.
	got, err = ParseList([]float64{9}, "[1, 2, x]")
	if err == nil {
		t.Fatal("no error")
	}
	if diff := cmp.Diff([]float64{9}, got); diff != "" {
		t.Errorf("after an error (-want +got):\n%s", diff)
	}
}

// TestParseListAgreesWithPython runs python3's ast.literal_eval on the table
// and on the fuzz seed corpus, and compares. Inputs that Python reads as
// something other than a flat list or tuple of numbers must be errors here.
func TestParseListAgreesWithPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	inputs := make([]string, 0, len(listCases))
	for _, tt := range listCases {
		inputs = append(inputs, tt.in)
	}
	inputs = append(inputs, fuzzSeeds(t, "testdata/fuzz/FuzzParseList")...)
	const script = `
import ast, json, sys
for line in sys.stdin:
    s = json.loads(line)
    try:
        v = ast.literal_eval(s)
        ok = isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float)) for x in v)
        print(json.dumps([repr(float(x)) for x in v] if ok else None))
    except Exception:
        print("null")
`
	var stdin strings.Builder
	for _, in := range inputs {
		b, _ := json.Marshal(in)
		stdin.Write(b)
		stdin.WriteByte('\n')
	}
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = strings.NewReader(stdin.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for i := 0; sc.Scan(); i++ {
		var want []string
		if err := json.Unmarshal(sc.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		got, err := ParseList(nil, inputs[i])
		switch {
		case want == nil && err == nil:
			t.Errorf("ParseList(%q) = %v, but Python rejects it", inputs[i], got)
		case want != nil && err != nil:
			t.Errorf("ParseList(%q): %v, but Python reads %v", inputs[i], err, want)
		case want != nil:
			gotStr := make([]string, len(got))
			for j, v := range got {
				gotStr[j] = pythonRepr(v)
			}
			if diff := cmp.Diff(want, gotStr); diff != "" {
				t.Errorf("ParseList(%q) (-python +go):\n%s", inputs[i], diff)
			}
		}
	}
}

// pythonRepr formats v as Python's repr(float(v)): the shortest digits,
// positional for exponents -4..15, else d.ddde±XX.
func pythonRepr(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	sci := strconv.FormatFloat(v, 'e', -1, 64)
	mant, expText, _ := strings.Cut(sci, "e")
	exp, _ := strconv.Atoi(expText)
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	return fmt.Sprintf("%se%s%02d", mant, sign, exp)
}

// fuzzSeeds reads the string arguments of a committed fuzz corpus.
func fuzzSeeds(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, e := range entries {
		data, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "string("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(rest, ")"))
				if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				seeds = append(seeds, s)
			}
		}
	}
	return seeds
}

// FuzzParseList checks that the parser never panics and that what it accepts
// reads back the same after formatting as a Python list.
func FuzzParseList(f *testing.F) {
	for _, tt := range listCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseList(nil, s)
		if err != nil {
			if !errors.Is(err, ErrBadLiteral) {
				t.Fatalf("ParseList(%q): error %v does not wrap ErrBadLiteral", s, err)
			}
			return
		}
		parts := make([]string, len(got))
		for i, v := range got {
			parts[i] = pythonRepr(v)
			if math.IsInf(v, 0) {
				parts[i] = strings.Replace(parts[i], "inf", "1e999", 1)
			}
		}
		again, err := ParseList(nil, "["+strings.Join(parts, ", ")+"]")
		if err != nil {
			t.Fatalf("ParseList(%q) = %v, but its formatting does not parse: %v", s, got, err)
		}
		if !cmp.Equal(got, again, cmp.Comparer(func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) })) {
			t.Fatalf("ParseList(%q) = %v, formatted and parsed again %v", s, got, again)
		}
	})
}

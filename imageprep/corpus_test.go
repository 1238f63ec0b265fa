package imageprep

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The reference manifest was made with Pillow 9.4 exactly as Keras' load_img does (convert("RGB"),
// then resize) for every corpus JPEG, several filters and sizes. It records the sha256 of the uint8
// HWC pixels and of numpy's float32 array / 255.; where PIL failed, the error it raised.
type refEntry struct {
	File          string `json:"file"`
	Float32SHA256 string `json:"float32_sha256"`
	Uint8SHA256   string `json:"uint8_sha256"`
	Shape         []int  `json:"shape"`
	Error         string `json:"error"`
}

type refManifest struct {
	Generator string                         `json:"generator"`
	Images    map[string]map[string]refEntry `json:"images"`
}

func loadManifest(t testing.TB) refManifest {
	t.Helper()
	b, err := os.ReadFile("testdata/reference/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m refManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Images) == 0 {
		t.Fatal("reference manifest lists no images")
	}
	return m
}

// corpusPath finds a corpus image by its reference name.
func corpusPath(name string) string {
	if strings.HasPrefix(name, "train_") {
		return filepath.Join("testdata", "planet", name)
	}
	return filepath.Join("testdata", "jpeg", name)
}

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(corpusPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseVariant splits "bilinear_100x100" into a filter and a size.
func parseVariant(t testing.TB, v string) (Filter, int, int) {
	t.Helper()
	fname, size, ok := strings.Cut(v, "_")
	if !ok {
		t.Fatalf("bad variant %q", v)
	}
	f, err := ParseFilter(fname)
	if err != nil {
		t.Fatal(err)
	}
	var w, h int
	if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil {
		t.Fatalf("bad variant %q: %v", v, err)
	}
	return f, w, h
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readReferencePixels returns the PIL pixels for a variant when testdata carries them (only
// nearest_128x128 does, to keep the repository small); nil otherwise.
func readReferencePixels(t testing.TB, variant, image string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "reference", variant, image+".rgb.gz"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstDiff describes where got and want first differ, for failure messages.
func firstDiff(got, want []byte, w, c int) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	n, maxd := 0, 0
	first := -1
	for i := range got {
		if got[i] != want[i] {
			if first < 0 {
				first = i
			}
			n++
			maxd = max(maxd, absDiff(got[i], want[i]))
		}
	}
	if first < 0 {
		return "identical"
	}
	px := first / c
	return fmt.Sprintf("%d bytes differ (max %d levels); first at x=%d y=%d c=%d: got %d, want %d",
		n, maxd, px%w, px/w, first%c, got[first], want[first])
}

func absDiff(a, b byte) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// TestPILReference is the promise of the package: for every corpus image, filter and size in the
// reference manifest, the cgo build's uint8 pixels and float32 bytes hash exactly like PIL's and
// numpy's; where PIL raised an error, imageprep returns a typed error.
func TestPILReference(t *testing.T) {
	if !PILIdentical {
		t.Skipf("%s is not PIL-identical; TestPureGoTolerance covers it", DecoderName())
	}
	m := loadManifest(t)
	for _, image := range sortedKeys(m.Images) {
		data := readCorpus(t, image)
		for _, variant := range sortedKeys(m.Images[image]) {
			ref := m.Images[image][variant]
			t.Run(image+"/"+variant, func(t *testing.T) {
				f, w, h := parseVariant(t, variant)
				opts := Options{Width: w, Height: h, Filter: f, Encoding: Uint8}
				p, err := NewProcessor(opts)
				if err != nil {
					t.Fatal(err)
				}
				got, err := p.Process(image, data, nil)
				if ref.Error != "" {
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("got error %v, want an *Error (PIL: %s)", err, ref.Error)
					}
					if e.Name != image {
						t.Errorf("got error name %q, want %q", e.Name, image)
					}
					return
				}
				if err != nil {
					t.Fatalf("got error %v, want PIL's pixels", err)
				}
				if got := sha(got); got != ref.Uint8SHA256 {
					msg := "no reference pixels in testdata to compare"
					if want := readReferencePixels(t, variant, image); want != nil {
						img, _ := p.pixels(image, data)
						msg = firstDiff(img.Pix, want, w, 3)
					}
					t.Fatalf("uint8 sha256 %s, want %s: %s", got, ref.Uint8SHA256, msg)
				}
				p.opts.Encoding = Float32
				fl, err := p.Process(image, data, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := sha(fl); got != ref.Float32SHA256 {
					t.Errorf("float32 sha256 %s, want %s", got, ref.Float32SHA256)
				}
			})
		}
	}
}

// TestPILReferenceErrorKinds checks the kind of error for the files PIL cannot read.
func TestPILReferenceErrorKinds(t *testing.T) {
	tests := []struct {
		image    string
		cgo, pgo ErrorKind // cgo and pure-Go decoders
	}{
		{"ljt_testorig12.jpg", Unsupported, Unsupported},
		{"pil_truncated_jpeg.jpg", Truncated, Truncated},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			p, err := NewProcessor(Options{Width: 128, Height: 128})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Process(tt.image, readCorpus(t, tt.image), nil)
			want := tt.cgo
			if !PILIdentical {
				want = tt.pgo
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != want {
				t.Fatalf("got %v, want an *Error of kind %s", err, want)
			}
			if !errors.Is(err, want.sentinel()) {
				t.Errorf("errors.Is(%v, %v) = false", err, want.sentinel())
			}
		})
	}
}

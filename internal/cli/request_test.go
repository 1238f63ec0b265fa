package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/pipeline"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord/example"
)

var requestImages = []string{
	filepath.Join("testdata", "inspect", "train_0.jpg"),
	filepath.Join("testdata", "inspect", "ljt_testorig.jpg"),
}

// instanceValues parses a request body and returns, per instance, the
// input's numbers as float32 (parsed from their decimal text), and the
// tensor shape of the first instance.
func instanceValues(t *testing.T, body []byte, input string) (values [][]float32, shape []int) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var req struct {
		Instances []map[string]any `json:"instances"`
	}
	if err := dec.Decode(&req); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	for i, inst := range req.Instances {
		tensor, ok := inst[input]
		if !ok {
			t.Fatalf("instance %d has no %q: keys %v", i, input, slices.Sorted(maps.Keys(inst)))
		}
		var flat []float32
		var walk func(v any, depth int)
		walk = func(v any, depth int) {
			switch v := v.(type) {
			case []any:
				if i == 0 && len(shape) == depth {
					shape = append(shape, len(v))
				}
				for _, e := range v {
					walk(e, depth+1)
				}
			case json.Number:
				f, err := strconv.ParseFloat(string(v), 32)
				if err != nil {
					t.Fatalf("instance %d: %v", i, err)
				}
				flat = append(flat, float32(f))
			default:
				t.Fatalf("instance %d: unexpected %T in tensor", i, v)
			}
		}
		walk(tensor, 0)
		values = append(values, flat)
	}
	return values, shape
}

// storedImage is what the spec's Example holds for an image file: the
// processed bytes written through AppendExample and read back with
// ReadExample, as float32 values.
func storedImage(t *testing.T, spec *schema.Spec, path string) []float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := imageprep.NewProcessor(spec.ImageOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	pix, err := proc.Process(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	row := schema.Row{Key: path, Labels: []schema.Label{
		{Feature: "weather_labels", Values: make([]float32, 4)},
		{Feature: "ground_labels", Values: make([]float32, 13)},
	}}
	parsed, err := example.Parse(spec.AppendExample(nil, row, pix), false)
	if err != nil {
		t.Fatal(err)
	}
	var rec schema.Record
	if err := spec.ReadExample(parsed, &rec); err != nil {
		t.Fatal(err)
	}
	return float32Bytes(t, rec.Image)
}

func float32Bytes(t *testing.T, b []byte) []float32 {
	t.Helper()
	if len(b)%4 != 0 {
		t.Fatalf("%d bytes is not a whole number of float32s", len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestRequestBodyEqualsStoredImage checks, value for value, that the body's
// numbers parse back to the very float32s the dataset stores.
func TestRequestBodyEqualsStoredImage(t *testing.T) {
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runInspect(t, "", append([]string{"request", "--spec", "planet"}, requestImages...)...)
	if code != ExitOK {
		t.Fatalf("got exit %d: %s", code, stderr)
	}
	values, shape := instanceValues(t, []byte(stdout), "input_image")
	if want := []int{128, 128, 3}; !cmp.Equal(want, shape) {
		t.Errorf("got shape %v, want %v", shape, want)
	}
	if len(values) != len(requestImages) {
		t.Fatalf("got %d instances, want %d", len(values), len(requestImages))
	}
	for i, path := range requestImages {
		want := storedImage(t, spec, path)
		if len(values[i]) != len(want) {
			t.Fatalf("%s: got %d values, want %d", path, len(values[i]), len(want))
		}
		for j := range want {
			if math.Float32bits(values[i][j]) != math.Float32bits(want[j]) {
				t.Fatalf("%s value %d: got %v, want %v", path, j, values[i][j], want[j])
			}
		}
	}
}

func TestRequestEncodings(t *testing.T) {
	img := filepath.Join("testdata", "inspect", "ljt_testorig.jpg")
	for _, tt := range []struct {
		encoding string
		check    func(t *testing.T, tensor json.RawMessage, stored []byte)
	}{
		{"uint8", func(t *testing.T, tensor json.RawMessage, stored []byte) {
			var v [][][]int
			if err := json.Unmarshal(tensor, &v); err != nil {
				t.Fatal(err)
			}
			var flat []byte
			for _, row := range v {
				for _, px := range row {
					for _, c := range px {
						flat = append(flat, byte(c))
					}
				}
			}
			if !bytes.Equal(flat, stored) {
				t.Errorf("uint8 tensor differs from the stored bytes")
			}
		}},
		{"png", func(t *testing.T, tensor json.RawMessage, stored []byte) {
			var v struct{ B64 []byte }
			if err := json.Unmarshal(tensor, &v); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(v.B64, stored) {
				t.Errorf("b64 payload differs from the stored png")
			}
		}},
	} {
		t.Run(tt.encoding, func(t *testing.T) {
			specFile := filepath.Join(t.TempDir(), "spec.yaml")
			writeFile(t, specFile, []byte(`name: small
labels: [{column: ground_labels, kind: list, semantics: multihot, names: [a, b]}]
image: {width: 20, height: 10, filter: bilinear, encoding: `+tt.encoding+`}
`))
			code, stdout, stderr := runInspect(t, "", "request", "--spec", specFile, "--input-name", "pixels", img)
			if code != ExitOK {
				t.Fatalf("got exit %d: %s", code, stderr)
			}
			var req struct{ Instances []map[string]json.RawMessage }
			if err := json.Unmarshal([]byte(stdout), &req); err != nil {
				t.Fatal(err)
			}
			spec, err := schema.Load(specFile)
			if err != nil {
				t.Fatal(err)
			}
			proc, err := imageprep.NewProcessor(spec.ImageOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer proc.Close()
			data, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := proc.Process(img, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, req.Instances[0]["pixels"], stored)
		})
	}
}

// servingStub answers like TF Serving's REST predict endpoint with a fixed
// reply, after checking the request it got.
func servingStub(t *testing.T, status int, reply func(n int) string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/models/planet:predict" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, `{"error": "unexpected request"}`, http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		var req struct{ Instances []map[string]json.RawMessage }
		if err := json.Unmarshal(body, &req); err != nil || len(req.Instances) == 0 || req.Instances[0]["input_image"] == nil {
			http.Error(w, `{"error": "bad instances"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, reply(len(req.Instances)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Scores of the two requestImages, in the planet label order.
const (
	weather0 = `[0.05, 0.01, 0.9, 0.04]`
	ground0  = `[0.1, 0, 0, 0, 0, 0, 0, 0, 0.97, 0, 0, 0, 0.2]`
	weather1 = `[0.7, 0.1, 0.1, 0.1]`
	ground1  = `[[0.8, 0, 0, 0, 0, 0, 0, 0, 0.99, 0.5, 0, 0, 0.6]]` // an extra batch-like dimension
)

func TestRequestPredictions(t *testing.T) {
	concat := func(a, b string) string {
		return strings.TrimSuffix(a, "]") + ", " + strings.TrimPrefix(strings.Trim(b, "[]"), "[") + "]"
	}
	tests := []struct {
		name   string
		status int
		reply  string
		args   []string
		code   int
		golden string // for stdout; "" checks stderr names the problem instead
	}{
		{"row dict", 200, `{"predictions": [{"weather": ` + weather0 + `, "ground": ` + ground0 + `}, {"ground": ` + ground1 + `, "weather": ` + weather1 + `}]}`, nil, ExitOK, "request_predictions.txt"},
		{"row list", 200, `{"predictions": [` + concat(weather0, ground0) + `, ` + concat(weather1, "[0.8, 0, 0, 0, 0, 0, 0, 0, 0.99, 0.5, 0, 0, 0.6]") + `]}`, nil, ExitOK, "request_predictions.txt"},
		{"columnar dict", 200, `{"outputs": {"weather": [` + weather0 + `, ` + weather1 + `], "ground": [` + ground0 + `, ` + ground1 + `]}}`, nil, ExitOK, "request_predictions.txt"},
		{"columnar list", 200, `{"outputs": [` + concat(weather0, ground0) + `, ` + concat(weather1, "[0.8, 0, 0, 0, 0, 0, 0, 0, 0.99, 0.5, 0, 0, 0.6]") + `]}`, nil, ExitOK, "request_predictions.txt"},
		{"threshold", 200, `{"predictions": [{"weather": ` + weather0 + `, "ground": ` + ground0 + `}, {"ground": ` + ground1 + `, "weather": ` + weather1 + `}]}`, []string{"--threshold", "0.15"}, ExitOK, "request_predictions_t015.txt"},
		{"json", 200, `{"predictions": [{"weather": ` + weather0 + `, "ground": ` + ground0 + `}, {"ground": ` + ground1 + `, "weather": ` + weather1 + `}]}`, []string{"--json"}, ExitOK, "request_predictions.json"},
		{"renamed outputs", 200, `{"predictions": [{"w": ` + weather0 + `, "g": ` + ground0 + `}, {"g": ` + ground1 + `, "w": ` + weather1 + `}]}`, []string{"--outputs", "w,g"}, ExitOK, "request_predictions_renamed.txt"},
		{"missing output", 200, `{"predictions": [{"w": ` + weather0 + `}, {"w": ` + weather1 + `}]}`, nil, ExitError, ""},
		{"wrong length", 200, `{"predictions": [{"weather": [1, 0], "ground": ` + ground0 + `}, {"weather": ` + weather1 + `, "ground": ` + ground1 + `}]}`, nil, ExitError, ""},
		{"too few predictions", 200, `{"predictions": [{"weather": ` + weather0 + `, "ground": ` + ground0 + `}]}`, nil, ExitError, ""},
		{"error field", 200, `{"error": "Failed to process element: 0 of 'instances' list."}`, nil, ExitError, ""},
		{"http 400", 400, `{"error": "Input to reshape is a tensor with 3 values"}`, nil, ExitError, ""},
		{"not json", 200, `<html>`, nil, ExitError, ""},
		{"string score", 200, `{"predictions": [{"weather": ["a", 0, 0, 0], "ground": ` + ground0 + `}, {"weather": ` + weather1 + `, "ground": ` + ground1 + `}]}`, nil, ExitError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := servingStub(t, tt.status, func(int) string { return tt.reply })
			args := append([]string{"request", "--spec", "planet", "--url", srv.URL + "/v1/models/planet:predict"}, tt.args...)
			code, stdout, stderr := runInspect(t, "", append(args, requestImages...)...)
			if code != tt.code {
				t.Fatalf("got exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if tt.golden != "" {
				golden(t, tt.golden, strings.ReplaceAll(stdout, string(filepath.Separator), "/"))
				return
			}
			if !strings.Contains(stderr, srv.URL) {
				t.Errorf("stderr does not name the server: %s", stderr)
			}
			if n := strings.Count(stderr, "request:"); n != 1 {
				t.Errorf("stderr %q says \"request:\" %d times, want once", stderr, n)
			}
		})
	}
}

// TestRequestServerProblems checks that each way of not reaching a usable
// model says what failed and which flag fixes it, once prefixed.
func TestRequestServerProblems(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	noInput := servingStub(t, http.StatusBadRequest, func(int) string {
		// TF Serving's answer to an instance key the signature lacks.
		return `{"error": "Failed to process element: 0 key: input_image of 'instances' list. Error: INVALID_ARGUMENT: JSON object: does not have named input: input_image"}`
	})
	renamed := servingStub(t, http.StatusOK, func(int) string {
		return `{"predictions": [{"w": ` + weather0 + `, "g": ` + ground0 + `}]}`
	})
	// A listener that never accepts: the connection is made, the answer
	// never comes.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	slowURL := "http://" + silent.Addr().String()
	tests := []struct {
		name string
		url  string
		args []string
		want []string
	}{
		{"refused", closed.URL, nil, []string{closed.URL, "cannot connect", "is TF Serving running?", "connection refused", "check --url"}},
		{"no named input", noInput.URL, nil, []string{noInput.URL, `no such input "input_image"`, "--input-name", `"input_1"`}},
		{"unknown output", renamed.URL, nil, []string{renamed.URL, `no such output "weather" (have g, w)`, "--outputs"}},
		{"timeout", slowURL, []string{"--timeout", "50ms"}, []string{slowURL, "no answer", "deadline exceeded", "--timeout 50ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"request", "--url", tt.url + "/v1/models/planet:predict"}, tt.args...)
			code, _, stderr := runInspect(t, "", append(args, requestImages[0])...)
			if code != ExitError {
				t.Errorf("got exit %d, want %d", code, ExitError)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not contain %q", stderr, want)
				}
			}
			if n := strings.Count(stderr, "request:"); n != 1 {
				t.Errorf("stderr %q says \"request:\" %d times, want once", stderr, n)
			}
		})
	}
}

func TestRequestBadImage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.jpg")
	writeFile(t, bad, []byte("\xff\xd8\xffnot a jpeg"))
	code, _, stderr := runInspect(t, "", "request", bad)
	if code != ExitError || !strings.Contains(stderr, "bad.jpg") {
		t.Errorf("got exit %d, stderr %q; want 1 naming the file", code, stderr)
	}
}

// TestRequestSpecFromDataset takes the spec from a dataset's manifest and
// warns when the dataset was decoded by another JPEG decoder.
func TestRequestSpecFromDataset(t *testing.T) {
	dir := writeFixture(t, fixture{})
	code, stdout, stderr := runInspect(t, dir, "request", "--spec", dir, requestImages[1])
	if code != ExitOK {
		t.Fatalf("got exit %d: %s", code, stderr)
	}
	_, shape := instanceValues(t, []byte(stdout), "input_image")
	if want := []int{fixtureH, fixtureW, 3}; !cmp.Equal(want, shape) {
		t.Errorf("got shape %v, want the dataset's %v", shape, want)
	}
	if !strings.Contains(stderr, "warning: DIR was converted with test fixture") {
		t.Errorf("got stderr %q, want a decoder warning", stderr)
	}
}

// convertChips converts the two real Planet chips of testdata/inspect with
// the planet preset through the Beam pipeline, as "tfprep convert" does,
// plus a row whose image is missing, so errors.csv is not empty.
func convertChips(t *testing.T) string {
	t.Helper()
	images, err := filepath.Abs(filepath.Join("testdata", "inspect"))
	if err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(t.TempDir(), "planet.csv")
	writeFile(t, csv, []byte(`image_name,weather_labels,ground_labels
train_0,"[0, 0, 1, 0]","[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]"
train_1,"[1, 0, 0, 0]","[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]"
train_missing,"[1, 0, 0, 0]","[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]"
`))
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := pipeline.Convert(context.Background(), pipeline.Config{Spec: spec, CSV: []string{csv}, Images: images, Out: out, Shards: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRequestEqualsConverted: the request body's values are, value for
// value, the image features that the converter wrote for the same files.
func TestRequestEqualsConverted(t *testing.T) {
	dir := convertChips(t)
	stored := map[string][]float32{}
	spec, err := dataset.ResolveSpec(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := ds.Shards()
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		if damage, err := ds.Scan(context.Background(), sh, func(_ int64, data []byte) error {
			parsed, err := example.Parse(data, false)
			if err != nil {
				return err
			}
			var rec schema.Record
			if err := spec.ReadExample(parsed, &rec); err != nil {
				return err
			}
			stored[rec.Key] = float32Bytes(t, rec.Image)
			return nil
		}); err != nil || len(damage) > 0 {
			t.Fatal(err, damage)
		}
	}
	chips := []string{filepath.Join("testdata", "inspect", "train_0.jpg"), filepath.Join("testdata", "inspect", "train_1.jpg")}
	code, stdout, stderr := runInspect(t, dir, append([]string{"request", "--spec", dir}, chips...)...)
	if code != ExitOK {
		t.Fatalf("got exit %d: %s", code, stderr)
	}
	values, _ := instanceValues(t, []byte(stdout), "input_image")
	for i, key := range []string{"train_0", "train_1"} {
		want, ok := stored[key]
		if !ok {
			t.Fatalf("no %s in the converted shards (have %d records)", key, len(stored))
		}
		if len(values[i]) != len(want) {
			t.Fatalf("%s: got %d values, want %d", key, len(values[i]), len(want))
		}
		for j := range want {
			if math.Float32bits(values[i][j]) != math.Float32bits(want[j]) {
				t.Fatalf("%s value %d: request has %v, dataset has %v", key, j, values[i][j], want[j])
			}
		}
	}
}

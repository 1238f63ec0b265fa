package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
)

var testHeads = []Head{
	{Output: "weather", Feature: "weather_labels", Names: []string{"a", "b"}, ArgMax: true},
	{Output: "ground", Feature: "ground_labels", Names: []string{"c", "d", "e"}},
}

func TestDecodePredictionsErrors(t *testing.T) {
	heads := testHeads[:1]
	for _, answer := range []string{
		`{}`,
		`[]`,
		`{"predictions": {"weather": [1, 0]}}`,
		`{"predictions": [[1, 0, 0]]}`,
		`{"outputs": {"weather": [[1, 0], [0, 1]]}}`,
		`{"outputs": 3}`,
		`{"predictions": [{"weather": [1, {"x": 1}]}]}`,
		`{"predictions": [{"weather": [1e999, 0]}]}`,
		`{"predictions": [{"w": [1, 0]}]}`,
	} {
		if _, err := decodePredictions([]byte(answer), 1, heads); !errors.Is(err, ErrPrediction) {
			t.Errorf("%s: got error %v, want ErrPrediction", answer, err)
		}
	}
	_, err := decodePredictions([]byte(`{"predictions": [{"w": [1, 0]}]}`), 1, heads)
	if !errors.Is(err, ErrUnknownOutput) || !strings.Contains(err.Error(), `no such output "weather" (have w)`) {
		t.Errorf("missing output: got %v, want ErrUnknownOutput naming weather and w", err)
	}
}

// writeJPEG writes a small gradient JPEG and returns its path.
func writeJPEG(t testing.TB, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(4 * y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chip.jpg")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stub answers every predict request with status and reply, after checking
// it got a JSON body with instances.
func stub(t *testing.T, status int, reply string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Instances []map[string]json.RawMessage }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Instances) == 0 || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, `{"error": "bad request"}`, http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
		fmt.Fprint(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPredict(t *testing.T) {
	instances, err := Preprocess(imageprep.Options{Width: 4, Height: 4, Encoding: imageprep.Uint8}, []string{writeJPEG(t, 16, 16)})
	if err != nil {
		t.Fatal(err)
	}
	srv := stub(t, http.StatusOK, `{"predictions": [{"weather": [0.2, 0.8], "ground": [[0.9, 0.1, 0.5]]}]}`)
	c := &Client{URL: srv.URL, InputName: "input_image", Heads: testHeads}
	scores, err := c.Predict(context.Background(), instances)
	if err != nil {
		t.Fatal(err)
	}
	preds := Label(instances, testHeads, scores, 0.5)
	want := map[string][]string{"weather": {"b"}, "ground": {"c", "e"}}
	if diff := cmp.Diff(want, preds[0].Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// TestPredictErrors: every failure names the URL and matches the sentinel
// a caller tells its user about.
func TestPredictErrors(t *testing.T) {
	instances, err := Preprocess(imageprep.Options{Width: 2, Height: 2, Encoding: imageprep.Uint8}, []string{writeJPEG(t, 8, 8)})
	if err != nil {
		t.Fatal(err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	// A listener that never accepts: the connection is made, the answer
	// never comes.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	tests := []struct {
		name string
		url  string
		want error
	}{
		{"refused", closed.URL, ErrUnreachable},
		{"no named input", stub(t, http.StatusBadRequest, `{"error": "Failed to process element: 0 key: pixels of 'instances' list. Error: INVALID_ARGUMENT: JSON object: does not have named input: pixels"}`).URL, ErrUnknownInput},
		{"error field", stub(t, http.StatusOK, `{"error": "out of memory"}`).URL, ErrPrediction},
		{"timeout", "http://" + silent.Addr().String(), context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			c := &Client{URL: tt.url, InputName: "pixels", Heads: testHeads}
			_, err := c.Predict(ctx, instances)
			if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), tt.url+": ") {
				t.Errorf("got %v, want an error starting with the URL and matching %v", err, tt.want)
			}
			if n := strings.Count(err.Error(), tt.url); n != 1 {
				t.Errorf("%q names the URL %d times, want once", err, n)
			}
		})
	}
}

// TestWriteRequest checks the body's shape and that uint8 values and
// base64 payloads are the processed bytes.
func TestWriteRequest(t *testing.T) {
	inst := []Instance{
		{Name: "a", Data: []byte{1, 2, 3, 4, 5, 6}, Encoding: imageprep.Uint8, Height: 1, Width: 2, Channels: 3},
		{Name: "b", Data: []byte("\x89PNG"), Encoding: imageprep.PNG},
	}
	var b strings.Builder
	if err := WriteRequest(&b, "x", inst); err != nil {
		t.Fatal(err)
	}
	want := `{"instances":[{"x":[[[1,2,3],[4,5,6]]]},{"x":{"b64":"iVBORw=="}}]}` + "\n"
	if b.String() != want {
		t.Errorf("got %s, want %s", b.String(), want)
	}
}

// BenchmarkWriteRequest encodes one planet-sized image (128x128x3 float32)
// as a request body.
func BenchmarkWriteRequest(b *testing.B) {
	instances, err := Preprocess(imageprep.Options{Width: 128, Height: 128}, []string{writeJPEG(b, 64, 64)})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(instances[0].Data)))
	for b.Loop() {
		if err := WriteRequest(io.Discard, "input_image", instances); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// FuzzDecodePredictions feeds arbitrary answers to the answer decoder: it
// must not panic, and whatever it accepts must have one score per label.
func FuzzDecodePredictions(f *testing.F) {
	for _, seed := range []string{
		`{"predictions": [{"weather": [0.1, 0.9], "ground": [1, 0, 0.5]}]}`,
		`{"predictions": [[0.1, 0.9, 1, 0, 0.5]]}`,
		`{"outputs": {"weather": [[0.1, 0.9]], "ground": [[[1, 0, 0.5]]]}}`,
		`{"outputs": [[0.1, 0.9, 1, 0, 0.5]]}`,
		`{"error": "x"}`,
		`{"predictions": [{"weather": [1e400, 0]}]}`,
	} {
		f.Add([]byte(seed), 1)
	}
	f.Fuzz(func(t *testing.T, answer []byte, n int) {
		if n < 0 || n > 8 {
			return
		}
		scores, err := decodePredictions(answer, n, testHeads)
		if err != nil {
			if !errors.Is(err, ErrPrediction) {
				t.Errorf("error %v does not wrap ErrPrediction", err)
			}
			return
		}
		if len(scores) != n {
			t.Fatalf("got %d predictions, want %d", len(scores), n)
		}
		for i, s := range scores {
			for j, h := range testHeads {
				if len(s[j]) != len(h.Names) {
					t.Fatalf("prediction %d output %s: got %d scores, want %d", i, h.Output, len(s[j]), len(h.Names))
				}
			}
		}
		Label(make([]Instance, n), testHeads, scores, 0.5)
	})
}

func TestHeadsAndPredictionString(t *testing.T) {
	labels := []schema.LabelInfo{
		{Feature: "weather_labels", Names: []string{"clear", "haze"}, Size: 2, Semantics: schema.OneHot},
		{Feature: "ground_labels", Names: []string{"primary", "water"}, Size: 2, Semantics: schema.MultiHot},
	}
	heads := Heads(labels, nil)
	if heads[0].Output != "weather" || !heads[0].ArgMax || heads[1].Output != "ground" || heads[1].ArgMax {
		t.Errorf("default names: got %+v", heads)
	}
	if got := Heads(labels, []string{" w", "g "}); got[0].Output != "w" || got[1].Output != "g" {
		t.Errorf("given names: got %+v, want w and g", got)
	}
	preds := Label([]Instance{{Name: "a.jpg"}, {Name: "b.jpg"}}, heads,
		[][][]float64{{{0.2, 0.8}, {0.9, 0.6}}, {{0.7, 0.3}, {0.1, 0.2}}}, 0.5)
	for i, want := range []string{"a.jpg\tweather: haze 0.800\tground: primary 0.900, water 0.600", "b.jpg\tweather: clear 0.700\tground: -"} {
		if got := preds[i].String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

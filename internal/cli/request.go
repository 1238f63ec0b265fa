package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
)

func init() {
	register(&Command{
		Name:  "request",
		Args:  "[--spec NAME|FILE|DIR] [--url URL] [flags] IMAGE...",
		Short: "build (and send) a TF Serving REST request with the conversion's preprocessing",
		Long: `Request turns image files into the body of a TensorFlow Serving REST predict call,
{"instances": [{"input_image": ...}, ...]}, one instance per IMAGE, preprocessed exactly as
"tfprep convert" preprocesses images for the same spec: the same decoder, resize filter,
colour mode, scaling and normalisation. A float32 dataset gives nested [height][width][channel]
lists of numbers, each printed as the shortest decimal that parses back to the very float32 that
convert stores; uint8 gives integers 0..255; png and jpeg give {"b64": "..."} objects.

--spec takes a preset name, a spec file, or a converted dataset directory (its dataset.json
embeds the spec it was converted with, which is the safest choice).

Without --url the body is written to stdout. With --url it is POSTed and the predictions are
printed as label names. One model output is expected per label feature of the spec, named by
--outputs (default: the label feature names without a "_labels" suffix, so "weather" and
"ground" for the planet preset). A one-hot feature is read as arg-max, a multi-hot feature as
every label whose score is at least --threshold. The response may be in either of TF Serving's
documented shapes:

  row format:      {"predictions": [{"weather": [4 floats], "ground": [13 floats]}, ...]}
                   {"predictions": [[17 floats], ...]}   outputs concatenated in spec order
  columnar format: {"outputs": {"weather": [[4 floats], ...], "ground": [[13 floats], ...]}}
                   {"outputs": [[17 floats], ...]}

An {"error": "..."} response, or an HTTP status other than 200, is an error (exit 1).` + requestExamples,
		Flags: requestFlags,
	})
}

const requestExamples = `

Examples:
  # the body for two chips, for curl or a load test
  tfprep request --spec planet train_0.jpg train_1.jpg > body.json

  # exactly the preprocessing of a converted dataset, sent to a running model server
  tfprep request --spec out/demo --url http://localhost:8501/v1/models/planet:predict train_0.jpg

  # machine-readable predictions
  tfprep request --spec planet --url http://localhost:8501/v1/models/planet:predict --json *.jpg`

type requestConfig struct {
	spec      string
	url       string
	inputName string
	outputs   string
	threshold float64
	timeout   time.Duration
	json      bool
}

func requestFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) int {
	cfg := &requestConfig{}
	fs.StringVar(&cfg.spec, "spec", "planet", "preset `name`, spec file, or converted dataset directory")
	fs.StringVar(&cfg.url, "url", "", "TF Serving REST predict `URL`; empty: print the request body")
	fs.StringVar(&cfg.inputName, "input-name", "input_image", "`name` of the model input in each instance")
	fs.StringVar(&cfg.outputs, "outputs", "", "comma-separated model output `names`, one per label feature in spec order (default: label feature names without \"_labels\")")
	fs.Float64Var(&cfg.threshold, "threshold", 0.5, "multi-hot labels: report every label with a score >= `t`")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "HTTP request timeout")
	fs.BoolVar(&cfg.json, "json", false, "print predictions as JSON")
	return func(ctx context.Context, env *Env, args []string) int {
		return runRequest(ctx, env, cfg, args)
	}
}

func runRequest(ctx context.Context, env *Env, cfg *requestConfig, images []string) int {
	if len(images) == 0 {
		fmt.Fprintf(env.Stderr, "tfprep request: no IMAGE given%s\n", requestExamples)
		return ExitUsage
	}
	if cfg.url == "" && (cfg.json || cfg.outputs != "") {
		fmt.Fprintln(env.Stderr, "tfprep request: --json and --outputs describe predictions; they need --url")
		return ExitUsage
	}
	spec, err := dataset.ResolveSpec(ctx, cfg.spec)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tfprep request: %v\n", err)
		return ExitError
	}
	if m, err := dataset.ReadManifest(cfg.spec); err == nil && m.Decoder != imageprep.DecoderName() {
		// Decoders may differ by a level here and there; say so rather than
		// let "value for value" silently not hold.
		fmt.Fprintf(env.Stderr, "tfprep request: warning: %s was converted with %s, this build decodes with %s; pixels may differ slightly\n", cfg.spec, m.Decoder, imageprep.DecoderName())
	}
	heads, err := outputHeads(spec, cfg.outputs)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tfprep request: %v\n", err)
		return ExitUsage
	}
	instances, err := preprocess(spec.ImageOptions(), images)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tfprep request: %v\n", err)
		return ExitError
	}
	if cfg.url == "" {
		w := bufio.NewWriter(env.Stdout)
		if err := writeServingRequest(w, cfg.inputName, instances); err != nil {
			fmt.Fprintf(env.Stderr, "tfprep request: %v\n", err)
			return ExitError
		}
		if err := w.Flush(); err != nil {
			fmt.Fprintf(env.Stderr, "tfprep request: %v\n", err)
			return ExitError
		}
		return ExitOK
	}
	var body bytes.Buffer
	if err := writeServingRequest(&body, cfg.inputName, instances); err != nil {
		fmt.Fprintf(env.Stderr, "tfprep request: %v\n", err)
		return ExitError
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	answer, err := postPredict(ctx, cfg.url, body.Bytes())
	if err != nil {
		fmt.Fprintf(env.Stderr, "tfprep request: %v\n", err)
		return ExitError
	}
	scores, err := decodePredictions(answer, len(instances), heads)
	if err != nil {
		fmt.Fprintf(env.Stderr, "tfprep request: %s: %v\n", cfg.url, err)
		return ExitError
	}
	preds := namePredictions(instances, heads, scores, cfg.threshold)
	if cfg.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(preds); err != nil {
			fmt.Fprintf(env.Stderr, "tfprep request: %v\n", err)
			return ExitError
		}
		return ExitOK
	}
	printPredictions(env.Stdout, preds)
	return ExitOK
}

// servingInstance is one preprocessed image, encoded as the spec's image
// feature is encoded in a converted dataset.
type servingInstance struct {
	Name                    string
	Data                    []byte
	Encoding                imageprep.Encoding
	Height, Width, Channels int
}

// preprocess runs every image through the processor that convert uses for
// the same options, so the request carries the very values of the dataset.
func preprocess(opts imageprep.Options, paths []string) ([]servingInstance, error) {
	proc, err := imageprep.NewProcessor(opts)
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	instances := make([]servingInstance, 0, len(paths))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out, err := proc.Process(path, data, nil)
		if err != nil {
			return nil, err
		}
		inst := servingInstance{Name: path, Data: out, Encoding: opts.Encoding, Height: opts.Height, Width: opts.Width, Channels: opts.Channels()}
		if want := opts.OutputBytes(); want >= 0 && len(out) != want {
			return nil, fmt.Errorf("%s: processed image is %d bytes, want %dx%dx%d %s = %d", path, len(out), inst.Height, inst.Width, inst.Channels, opts.Encoding, want)
		}
		instances = append(instances, inst)
	}
	return instances, nil
}

// writeServingRequest writes {"instances":[{name: tensor}, ...]}. Floats are
// written with the fewest digits that round-trip to the same float32, so the
// server sees exactly the values a converted dataset holds.
func writeServingRequest(w io.Writer, inputName string, instances []servingInstance) error {
	name, err := json.Marshal(inputName)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, `{"instances":[`...)
	for i, inst := range instances {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '{')
		buf = append(buf, name...)
		buf = append(buf, ':')
		switch inst.Encoding {
		case imageprep.PNG, imageprep.JPEG:
			buf = append(buf, `{"b64":"`...)
			buf = base64.StdEncoding.AppendEncode(buf, inst.Data)
			buf = append(buf, `"}`...)
		default:
			buf = appendTensor(buf, inst, func(buf []byte, i int) []byte {
				if inst.Encoding == imageprep.Float32 {
					v := math.Float32frombits(binary.LittleEndian.Uint32(inst.Data[4*i:]))
					return strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
				}
				return strconv.AppendUint(buf, uint64(inst.Data[i]), 10)
			})
		}
		buf = append(buf, '}')
		if len(buf) >= 1<<20 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	buf = append(buf, "]}\n"...)
	_, err = w.Write(buf)
	return err
}

// appendTensor appends the HWC row-major values as nested lists.
func appendTensor(buf []byte, inst servingInstance, value func([]byte, int) []byte) []byte {
	buf = append(buf, '[')
	i := 0
	for y := range inst.Height {
		if y > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		for x := range inst.Width {
			if x > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '[')
			for c := range inst.Channels {
				if c > 0 {
					buf = append(buf, ',')
				}
				buf = value(buf, i)
				i++
			}
			buf = append(buf, ']')
		}
		buf = append(buf, ']')
	}
	return append(buf, ']')
}

// errPrediction is wrapped by every complaint about a model server's answer.
var errPrediction = errors.New("request: unusable prediction")

// outputHead ties one model output to the label feature it predicts.
type outputHead struct {
	Output  string   // model output name in the response
	Feature string   // label feature of the spec
	Names   []string // label names, by position in the output vector
	ArgMax  bool     // one-hot feature: exactly one label per image
}

// outputHeads pairs the spec's label features with model output names: the
// comma-separated list given, or each feature's name without "_labels".
func outputHeads(spec *schema.Spec, outputs string) ([]outputHead, error) {
	labels := spec.LabelFeatures()
	var names []string
	if outputs != "" {
		names = strings.Split(outputs, ",")
		if len(names) != len(labels) {
			return nil, fmt.Errorf("--outputs names %d outputs, but the spec has %d label features", len(names), len(labels))
		}
	}
	heads := make([]outputHead, len(labels))
	for i, l := range labels {
		h := outputHead{Feature: l.Feature, Names: dataset.LabelNames(l), ArgMax: l.Semantics == schema.OneHot}
		if names != nil {
			h.Output = strings.TrimSpace(names[i])
		} else {
			h.Output = strings.TrimSuffix(l.Feature, "_labels")
		}
		heads[i] = h
	}
	return heads, nil
}

func postPredict(ctx context.Context, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	const maxAnswer = 64 << 20
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", url, err)
	}
	if len(answer) > maxAnswer {
		return nil, fmt.Errorf("%s: %w: answer larger than %d bytes", url, errPrediction, maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(answer, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s: %s: %s", url, resp.Status, e.Error)
		}
		return nil, fmt.Errorf("%s: %s: %.200s", url, resp.Status, answer)
	}
	return answer, nil
}

// decodePredictions reads a TF Serving predict answer, row ("predictions")
// or columnar ("outputs"), into scores[instance][head].
func decodePredictions(answer []byte, n int, heads []outputHead) ([][][]float64, error) {
	var resp struct {
		Predictions json.RawMessage `json:"predictions"`
		Outputs     json.RawMessage `json:"outputs"`
		Error       *string         `json:"error"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil {
		return nil, fmt.Errorf("%w: answer is not a JSON object: %v", errPrediction, err)
	}
	var rows []json.RawMessage
	switch {
	case resp.Error != nil:
		return nil, fmt.Errorf("%w: model server error: %s", errPrediction, *resp.Error)
	case resp.Predictions != nil:
		if err := json.Unmarshal(resp.Predictions, &rows); err != nil {
			return nil, fmt.Errorf("%w: \"predictions\" is not a list: %v", errPrediction, err)
		}
	case resp.Outputs != nil:
		var err error
		if rows, err = columnsToRows(resp.Outputs, n); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: answer has neither \"predictions\" nor \"outputs\"", errPrediction)
	}
	if len(rows) != n {
		return nil, fmt.Errorf("%w: %d predictions for %d instances", errPrediction, len(rows), n)
	}
	scores := make([][][]float64, n)
	for i, row := range rows {
		s, err := rowScores(row, heads)
		if err != nil {
			return nil, fmt.Errorf("prediction %d: %w", i, err)
		}
		scores[i] = s
	}
	return scores, nil
}

// columnsToRows turns the columnar {"outputs": ...} shape into the row
// shape: a dict of per-output batches becomes one dict per instance, a
// batch of lists stays as it is.
func columnsToRows(outputs json.RawMessage, n int) ([]json.RawMessage, error) {
	var rows []json.RawMessage
	if json.Unmarshal(outputs, &rows) == nil {
		return rows, nil
	}
	var columns map[string][]json.RawMessage
	if err := json.Unmarshal(outputs, &columns); err != nil {
		return nil, fmt.Errorf("%w: \"outputs\" is neither a list nor a dict of lists: %v", errPrediction, err)
	}
	perRow := make([]map[string]json.RawMessage, n)
	for i := range perRow {
		perRow[i] = make(map[string]json.RawMessage, len(columns))
	}
	for name, batch := range columns {
		if len(batch) != n {
			return nil, fmt.Errorf("%w: output %q has %d rows for %d instances", errPrediction, name, len(batch), n)
		}
		for i, v := range batch {
			perRow[i][name] = v
		}
	}
	rows = make([]json.RawMessage, n)
	for i, m := range perRow {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		rows[i] = b
	}
	return rows, nil
}

// rowScores splits one instance's prediction into per-head score vectors:
// a dict is looked up by output name, a list is the outputs concatenated in
// spec order.
func rowScores(row json.RawMessage, heads []outputHead) ([][]float64, error) {
	scores := make([][]float64, len(heads))
	if trimmed := bytes.TrimSpace(row); len(trimmed) > 0 && trimmed[0] == '{' {
		var named map[string]json.RawMessage
		if err := json.Unmarshal(row, &named); err != nil {
			return nil, fmt.Errorf("%w: %v", errPrediction, err)
		}
		for i, h := range heads {
			raw, ok := named[h.Output]
			if !ok {
				return nil, fmt.Errorf("%w: no output %q (have %s); set --outputs", errPrediction, h.Output, strings.Join(sortedKeys(named), ", "))
			}
			v, err := flattenNumbers(raw)
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", h.Output, err)
			}
			if len(v) != len(h.Names) {
				return nil, fmt.Errorf("%w: output %q has %d scores, want %d (%s)", errPrediction, h.Output, len(v), len(h.Names), h.Feature)
			}
			scores[i] = v
		}
		return scores, nil
	}
	v, err := flattenNumbers(row)
	if err != nil {
		return nil, err
	}
	want := 0
	for _, h := range heads {
		want += len(h.Names)
	}
	if len(v) != want {
		return nil, fmt.Errorf("%w: %d scores, want %d for the label features concatenated in spec order", errPrediction, len(v), want)
	}
	for i, h := range heads {
		scores[i], v = v[:len(h.Names):len(h.Names)], v[len(h.Names):]
	}
	return scores, nil
}

// flattenNumbers returns the numbers of a JSON number or nested list in
// order, so an output of shape [1, k] reads like one of shape [k].
func flattenNumbers(raw json.RawMessage) ([]float64, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", errPrediction, err)
	}
	var out []float64
	var walk func(v any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				return fmt.Errorf("%w: score %s: %v", errPrediction, v, err)
			}
			out = append(out, f)
		case []any:
			for _, e := range v {
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%w: score is %T, want a number", errPrediction, v)
		}
		return nil
	}
	return out, walk(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// prediction is one image's answer in label names.
type prediction struct {
	Image  string               `json:"image"`
	Labels map[string][]string  `json:"labels"` // by model output name
	Scores map[string][]float64 `json:"scores"` // every score, in label-name order
	order  []outputHead
	picked [][]int // per head, the indices behind Labels
}

func namePredictions(instances []servingInstance, heads []outputHead, scores [][][]float64, threshold float64) []prediction {
	preds := make([]prediction, len(instances))
	for i, inst := range instances {
		p := prediction{Image: inst.Name, Labels: map[string][]string{}, Scores: map[string][]float64{}, order: heads, picked: make([][]int, len(heads))}
		for j, h := range heads {
			s := scores[i][j]
			p.Scores[h.Output] = s
			var picked []int
			if h.ArgMax {
				picked = []int{0}
				for k := range s {
					if s[k] > s[picked[0]] {
						picked[0] = k
					}
				}
			} else {
				for k, v := range s {
					if v >= threshold {
						picked = append(picked, k)
					}
				}
			}
			names := make([]string, len(picked))
			for k, idx := range picked {
				names[k] = h.Names[idx]
			}
			p.Labels[h.Output] = names
			p.picked[j] = picked
		}
		preds[i] = p
	}
	return preds
}

// printPredictions writes one line per image:
// "IMAGE<TAB>weather: haze 0.912<TAB>ground: primary 0.990, water 0.620".
func printPredictions(w io.Writer, preds []prediction) {
	for _, p := range preds {
		fmt.Fprint(w, p.Image)
		for j, h := range p.order {
			fmt.Fprintf(w, "\t%s:", h.Output)
			if len(p.picked[j]) == 0 {
				fmt.Fprint(w, " -")
			}
			for k, idx := range p.picked[j] {
				sep := " "
				if k > 0 {
					sep = ", "
				}
				fmt.Fprintf(w, "%s%s %.3f", sep, h.Names[idx], p.Scores[h.Output][idx])
			}
		}
		fmt.Fprintln(w)
	}
}

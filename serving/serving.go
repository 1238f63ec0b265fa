// Package serving is a client of TensorFlow Serving's REST predict API that
// preprocesses images exactly as "tfprep convert" stores them, so that a
// model trained on a converted dataset sees the very same values at serving
// time.
//
// A request body is {"instances": [{INPUT: tensor}, ...]}, one instance per
// image: nested [height][width][channel] lists of numbers for float32 and
// uint8 images (each float printed as the shortest decimal that parses back
// to the same float32), {"b64": "..."} for png and jpeg. The answer may be in
// either of TF Serving's documented shapes:
//
//	row format:      {"predictions": [{"weather": [4 floats], "ground": [13 floats]}, ...]}
//	                 {"predictions": [[17 floats], ...]}   outputs concatenated in head order
//	columnar format: {"outputs": {"weather": [[4 floats], ...], "ground": [[13 floats], ...]}}
//	                 {"outputs": [[17 floats], ...]}
//
// Each model output is read as one Head: arg-max for a one-hot label, every
// label at or above a threshold for a multi-hot one.
package serving

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
)

// Errors of Predict, matched with errors.Is.
var (
	// ErrUnreachable: no connection to the model server could be made.
	ErrUnreachable = errors.New("serving: cannot connect to the model server (is TF Serving running?)")
	// ErrUnknownInput: the model has no input of the name the instances use.
	ErrUnknownInput = errors.New("serving: the model has no such input")
	// ErrPrediction: the answer cannot be read as the heads' scores.
	ErrPrediction = errors.New("serving: unusable prediction")
	// ErrUnknownOutput: the answer lacks an output a head names. It is an
	// ErrPrediction too.
	ErrUnknownOutput = fmt.Errorf("%w: no such output", ErrPrediction)
)

// maxAnswer bounds the answer read from the server.
const maxAnswer = 64 << 20

// Instance is one preprocessed image, encoded as the spec's image feature is
// encoded in a converted dataset.
type Instance struct {
	Name                    string // the image file
	Data                    []byte // as imageprep.Processor.Process returns it
	Encoding                imageprep.Encoding
	Height, Width, Channels int
}

// Preprocess runs every image through the processor that convert uses for
// the same options, so the request carries the very values of the dataset.
func Preprocess(opts imageprep.Options, paths []string) ([]Instance, error) {
	proc, err := imageprep.NewProcessor(opts)
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	instances := make([]Instance, 0, len(paths))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out, err := proc.Process(path, data, nil)
		if err != nil {
			return nil, err
		}
		inst := Instance{Name: path, Data: out, Encoding: opts.Encoding, Height: opts.Height, Width: opts.Width, Channels: opts.Channels()}
		if want := opts.OutputBytes(); want >= 0 && len(out) != want {
			return nil, fmt.Errorf("%s: processed image is %d bytes, want %dx%dx%d %s = %d", path, len(out), inst.Height, inst.Width, inst.Channels, opts.Encoding, want)
		}
		instances = append(instances, inst)
	}
	return instances, nil
}

// WriteRequest writes the request body {"instances":[{inputName: tensor},
// ...]}. Floats are written with the fewest digits that round-trip to the
// same float32, so the server sees exactly the values a converted dataset
// holds.
func WriteRequest(w io.Writer, inputName string, instances []Instance) error {
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
func appendTensor(buf []byte, inst Instance, value func([]byte, int) []byte) []byte {
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

// Head ties one model output to the label feature it predicts.
type Head struct {
	Output  string   // model output name in the answer
	Feature string   // label feature of the spec
	Names   []string // label names, by position in the output vector
	ArgMax  bool     // one-hot feature: exactly one label per image
}

// Heads pairs label features with model outputs: outputs[i] (spaces
// trimmed) for labels[i], or when outputs is nil each feature's name without
// "_labels" (Keras-style output names: weather_labels -> weather).
func Heads(labels []schema.LabelInfo, outputs []string) []Head {
	heads := make([]Head, len(labels))
	for i, l := range labels {
		h := Head{Feature: l.Feature, Names: dataset.LabelNames(l), ArgMax: l.Semantics == schema.OneHot}
		if outputs != nil {
			h.Output = strings.TrimSpace(outputs[i])
		} else {
			h.Output = strings.TrimSuffix(l.Feature, "_labels")
		}
		heads[i] = h
	}
	return heads
}

// ParseHeads is Heads with the output names given as one comma-separated
// list ("tfprep request --outputs"); an empty list means the default names.
// A list with another number of names than there are labels is an error.
func ParseHeads(labels []schema.LabelInfo, outputs string) ([]Head, error) {
	var names []string
	if outputs != "" {
		names = strings.Split(outputs, ",")
		if len(names) != len(labels) {
			return nil, fmt.Errorf("--outputs names %d outputs, but the spec has %d label features", len(names), len(labels))
		}
	}
	return Heads(labels, names), nil
}

// Client sends predict requests to one model.
type Client struct {
	URL       string       // the predict endpoint, http://HOST:8501/v1/models/NAME:predict
	InputName string       // the model input each instance feeds
	Heads     []Head       // the model outputs to read, in spec order
	HTTP      *http.Client // nil: http.DefaultClient
}

// Predict sends the instances in one request and returns, per instance and
// head, the scores of the head's labels. Errors name the URL; a connection
// that fails wraps ErrUnreachable, a model without the input ErrUnknownInput,
// an answer that cannot be read ErrPrediction, and a deadline of ctx that
// passes context.DeadlineExceeded.
func (c *Client) Predict(ctx context.Context, instances []Instance) ([][][]float64, error) {
	var body bytes.Buffer
	if err := WriteRequest(&body, c.InputName, instances); err != nil {
		return nil, err
	}
	answer, err := c.post(ctx, body.Bytes())
	var scores [][][]float64
	if err == nil {
		scores, err = decodePredictions(answer, len(instances), c.Heads)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.URL, err)
	}
	return scores, nil
}

func (c *Client) post(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the method and URL, which the caller names.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		var operr *net.OpError
		if errors.As(err, &operr) && operr.Op == "dial" {
			return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
		return nil, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(answer) > maxAnswer {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrPrediction, maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(answer, &e) != nil || e.Error == "" {
			return nil, fmt.Errorf("%s: %.200s", resp.Status, answer)
		}
		// TF Serving's words (json_tensor.cc) for an instance key that is
		// not an input of the model's signature.
		if strings.Contains(e.Error, "does not have named input") {
			return nil, fmt.Errorf("%w %q (%s: %s)", ErrUnknownInput, c.InputName, resp.Status, e.Error)
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	return answer, nil
}

// decodePredictions reads a predict answer, row ("predictions") or
// columnar ("outputs"), into scores[instance][head].
func decodePredictions(answer []byte, n int, heads []Head) ([][][]float64, error) {
	var resp struct {
		Predictions json.RawMessage `json:"predictions"`
		Outputs     json.RawMessage `json:"outputs"`
		Error       *string         `json:"error"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil {
		return nil, fmt.Errorf("%w: answer is not a JSON object: %w", ErrPrediction, err)
	}
	var rows []json.RawMessage
	switch {
	case resp.Error != nil:
		return nil, fmt.Errorf("%w: model server error: %s", ErrPrediction, *resp.Error)
	case resp.Predictions != nil:
		if err := json.Unmarshal(resp.Predictions, &rows); err != nil {
			return nil, fmt.Errorf("%w: \"predictions\" is not a list: %w", ErrPrediction, err)
		}
	case resp.Outputs != nil:
		var err error
		if rows, err = columnsToRows(resp.Outputs, n); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: answer has neither \"predictions\" nor \"outputs\"", ErrPrediction)
	}
	if len(rows) != n {
		return nil, fmt.Errorf("%w: %d predictions for %d instances", ErrPrediction, len(rows), n)
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
		return nil, fmt.Errorf("%w: \"outputs\" is neither a list nor a dict of lists: %w", ErrPrediction, err)
	}
	perRow := make([]map[string]json.RawMessage, n)
	for i := range perRow {
		perRow[i] = make(map[string]json.RawMessage, len(columns))
	}
	for name, batch := range columns {
		if len(batch) != n {
			return nil, fmt.Errorf("%w: output %q has %d rows for %d instances", ErrPrediction, name, len(batch), n)
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
// head order.
func rowScores(row json.RawMessage, heads []Head) ([][]float64, error) {
	scores := make([][]float64, len(heads))
	if trimmed := bytes.TrimSpace(row); len(trimmed) > 0 && trimmed[0] == '{' {
		var named map[string]json.RawMessage
		if err := json.Unmarshal(row, &named); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPrediction, err)
		}
		for i, h := range heads {
			raw, ok := named[h.Output]
			if !ok {
				names := slices.Sorted(maps.Keys(named))
				return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownOutput, h.Output, strings.Join(names, ", "))
			}
			v, err := flattenNumbers(raw)
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", h.Output, err)
			}
			if len(v) != len(h.Names) {
				return nil, fmt.Errorf("%w: output %q has %d scores, want %d (%s)", ErrPrediction, h.Output, len(v), len(h.Names), h.Feature)
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
		return nil, fmt.Errorf("%w: %d scores, want %d for the label features concatenated in spec order", ErrPrediction, len(v), want)
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
		return nil, fmt.Errorf("%w: %w", ErrPrediction, err)
	}
	var out []float64
	var walk func(v any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				return fmt.Errorf("%w: score %s: %w", ErrPrediction, v, err)
			}
			out = append(out, f)
		case []any:
			for _, e := range v {
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%w: score is %T, want a number", ErrPrediction, v)
		}
		return nil
	}
	return out, walk(v)
}

// Prediction is one image's answer in label names.
type Prediction struct {
	Image  string               `json:"image"`
	Labels map[string][]string  `json:"labels"` // by model output name
	Scores map[string][]float64 `json:"scores"` // every score, in label-name order
	Heads  []Head               `json:"-"`
	Picked [][]int              `json:"-"` // per head, the label indices behind Labels
}

// String is the prediction in one line: "IMAGE<TAB>weather: haze
// 0.912<TAB>ground: primary 0.990, water 0.620", "-" for a head with no
// label picked.
func (p Prediction) String() string {
	var b strings.Builder
	b.WriteString(p.Image)
	for j, h := range p.Heads {
		fmt.Fprintf(&b, "\t%s:", h.Output)
		if len(p.Picked[j]) == 0 {
			b.WriteString(" -")
		}
		for k, idx := range p.Picked[j] {
			sep := " "
			if k > 0 {
				sep = ", "
			}
			fmt.Fprintf(&b, "%s%s %.3f", sep, h.Names[idx], p.Scores[h.Output][idx])
		}
	}
	return b.String()
}

// Label names the labels of each instance's scores: a one-hot head's
// arg-max, a multi-hot head's labels scoring at least threshold.
func Label(instances []Instance, heads []Head, scores [][][]float64, threshold float64) []Prediction {
	preds := make([]Prediction, len(instances))
	for i, inst := range instances {
		p := Prediction{Image: inst.Name, Labels: map[string][]string{}, Scores: map[string][]float64{}, Heads: heads, Picked: make([][]int, len(heads))}
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
			p.Picked[j] = picked
		}
		preds[i] = p
	}
	return preds
}

package schema

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// demoDataset is what the cli passes for a converted dataset's manifest.
var demoDataset = PythonOptions{Dir: "out/demo", Manifest: "out/demo/dataset.json", Compression: "gzip", Splits: []PythonSplit{
	{Name: "train", Records: 30, Files: []string{"train-00000-of-00002.tfrecord.gz", "train-00001-of-00002.tfrecord.gz"}},
	{Name: "validation", Records: 9, Files: []string{"validation-00000-of-00001.tfrecord.gz"}},
}}

type pythonCase struct {
	name string
	spec *Spec
	opts PythonOptions
}

func pythonCases(t *testing.T) []pythonCase {
	t.Helper()
	var cases []pythonCase
	for _, name := range []string{"planet", "planet-tags"} {
		cases = append(cases, pythonCase{name, mustPreset(t, name), PythonOptions{}})
	}
	for _, path := range []string{"testdata/flowers/flowers.yaml", "testdata/flowers/flowers.json"} {
		s, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, pythonCase{s.Name, s, PythonOptions{}})
	}
	normalised := mustPreset(t, "planet")
	normalised.Name = "planet-normalised"
	normalised.Image.Mean = []float32{0.485, 0.456, 0.406}
	normalised.Image.Std = []float32{0.229, 0.224, 0.225}
	normalised.Labels[1].Encoding = FloatList
	normalised.Key.Omit = true
	if err := normalised.Validate(); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, pythonCase{normalised.Name, normalised, PythonOptions{}})
	sparse := sparsePlanet(t)
	cases = append(cases, pythonCase{"planet-sparse-dataset", sparse, demoDataset})
	return append(cases, pythonCase{"planet-dataset", mustPreset(t, "planet"), demoDataset})
}

// TestPython compares the generated code with golden files and, when
// python3 is installed, parses it.
func TestPython(t *testing.T) {
	python, _ := exec.LookPath("python3")
	for _, tc := range pythonCases(t) {
		code, err := tc.spec.Python(tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		golden(t, tc.name+".py", []byte(code))
		if python == "" {
			continue
		}
		path := filepath.Join(t.TempDir(), "parse.py")
		if err := os.WriteFile(path, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		check := "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])"
		if out, err := exec.Command(python, "-c", check, path).CombinedOutput(); err != nil {
			t.Errorf("%s: not valid Python: %v\n%s", tc.name, err, out)
		}
	}
	if python == "" {
		t.Log("python3 not installed: generated code not parsed")
	}
}

func TestPythonUnknownCompression(t *testing.T) {
	opts := demoDataset
	opts.Compression = "bzip2"
	if _, err := mustPreset(t, "planet").Python(opts); err == nil || !strings.Contains(err.Error(), `unknown compression "bzip2"`) {
		t.Errorf("got %v, want an unknown compression error", err)
	}
}

// fakeTF stands in for TensorFlow: every attribute and call is recorded and
// returns another recorder, so the generated module runs without
// TensorFlow and the test sees what it asks of tf.data.
const fakeTF = `
import json, sys
calls = []
class R:
    def __init__(self, path):
        self.path = path
    def __getattr__(self, name):
        return R(self.path + "." + name)
    def __call__(self, *args, **kwargs):
        method = self.path.rsplit(".", 1)[-1]
        calls.append({"method": method, "compression_type": kwargs.get("compression_type")})
        return R(method + "()")
    def __getitem__(self, key):
        return R(self.path + "[" + repr(key) + "]")
sys.modules["tensorflow"] = R("tf")
sys.path.insert(0, sys.argv[1])
import generated as g
features, labels = g.parse_record(R("proto"))
calls.clear()
ds, steps = g.split_dataset("train", batch_size=8)
pipeline = [c["method"] for c in calls if c["method"] in
            ("from_tensor_slices", "TFRecordDataset", "map", "shuffle", "repeat", "batch", "prefetch")]
compression = [c["compression_type"] for c in calls if c["method"] == "TFRecordDataset"]
calls.clear()
g.split_dataset("validation", batch_size=8)
validation = [c["method"] for c in calls if c["method"] in ("shuffle", "repeat")]
print(json.dumps({"features": sorted(features), "labels": list(labels), "steps": steps,
                  "pipeline": pipeline, "compression": compression, "validation": validation}))
`

// TestPythonRuns runs the generated module for a converted dataset against
// a recording stand-in for TensorFlow: parse_record returns dicts keyed by
// the input name and the label features, the training split is shuffled
// before it repeats, the compression comes from the manifest, the steps per
// epoch from its record count, and a validation split is one pass.
func TestPythonRuns(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	code, err := mustPreset(t, "planet").Python(demoDataset)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "generated.py"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", fakeTF, dir).Output()
	if err != nil {
		t.Fatalf("running the generated code: %v\n%s", err, out)
	}
	var got struct {
		Features, Labels, Pipeline, Compression, Validation []string
		Steps                                               int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := got
	want.Features = []string{"input_image"}
	want.Labels = []string{"weather_labels", "ground_labels"}
	want.Steps = 4 // ceil(30 / 8)
	want.Pipeline = []string{"from_tensor_slices", "shuffle", "TFRecordDataset", "map", "shuffle", "repeat", "batch", "prefetch"}
	want.Compression = []string{"GZIP"}
	want.Validation = []string{}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestPythonPlanetIsTheSeed checks the substance of the seed's
// _parse_record in the planet code: the same FixedLenFeatures, decode_raw
// to float32 and the 128x128x3 reshape; the tensors are returned keyed by
// the names a Keras model's input and outputs carry.
func TestPythonPlanetIsTheSeed(t *testing.T) {
	code, err := mustPreset(t, "planet").Python(PythonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"image": tf.io.FixedLenFeature([], tf.string),`,
		`"weather_labels": tf.io.FixedLenFeature([], tf.string),`,
		`"ground_labels": tf.io.FixedLenFeature([], tf.string),`,
		"ex = tf.io.parse_single_example(example_proto, feature_description)",
		`image = tf.io.decode_raw(ex["image"], tf.float32)`,
		"IMAGE_SHAPE = (128, 128, 3)",
		"image = tf.reshape(image, IMAGE_SHAPE)",
		`weather_labels = tf.io.decode_raw(ex["weather_labels"], tf.float32)`,
		`ground_labels = tf.io.decode_raw(ex["ground_labels"], tf.float32)`,
		`INPUT_NAME = "input_image"`,
		`return {INPUT_NAME: image}, {"weather_labels": weather_labels, "ground_labels": ground_labels}`,
	} {
		if !strings.Contains(code, want) {
			t.Errorf("planet Python lacks %q", want)
		}
	}
}

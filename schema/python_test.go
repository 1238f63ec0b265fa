package schema

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func pythonSpecs(t *testing.T) []*Spec {
	t.Helper()
	specs := []*Spec{mustPreset(t, "planet"), mustPreset(t, "planet-tags")}
	for _, path := range []string{"testdata/flowers/flowers.yaml", "testdata/flowers/flowers.json"} {
		s, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
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
	return append(specs, normalised)
}

// TestPython compares the generated code with golden files and, when
// python3 is installed, byte-compiles it.
func TestPython(t *testing.T) {
	python, _ := exec.LookPath("python3")
	for _, spec := range pythonSpecs(t) {
		code := spec.Python()
		golden(t, spec.Name+".py", []byte(code))
		if python == "" {
			continue
		}
		path := filepath.Join(t.TempDir(), "parse.py")
		if err := os.WriteFile(path, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(python, "-m", "py_compile", path).CombinedOutput(); err != nil {
			t.Errorf("%s: py_compile: %v\n%s", spec.Name, err, out)
		}
	}
	if python == "" {
		t.Log("python3 not installed: generated code not compiled")
	}
}

// TestPythonPlanetIsTheSeed checks the substance of the seed's
// _parse_record in the planet code: the same FixedLenFeatures, decode_raw
// to float32, the 128x128x3 reshape and the (image, (weather, ground))
// return.
func TestPythonPlanetIsTheSeed(t *testing.T) {
	code := mustPreset(t, "planet").Python()
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
		"return image, (weather_labels, ground_labels)",
		"ds = ds.repeat()",
		"ds = ds.shuffle(shuffle_buffer)",
		"return ds.batch(batch_size)",
	} {
		if !strings.Contains(code, want) {
			t.Errorf("planet Python lacks %q", want)
		}
	}
}

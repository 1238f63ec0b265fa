package tinynet

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/trainer"
)

// generated writes a small dataset of synthetic Planet chips, split 3:1.
func generated(t *testing.T, n int) (train, validation *trainer.Dataset) {
	t.Helper()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	spec.Image.Width, spec.Image.Height = 32, 32
	rows := synth.SampleRows(n, 3)
	dir := t.TempDir()
	_, err = synth.WriteDataset(dir, []synth.Split{
		{Name: "train", Rows: rows[:n*3/4], Shards: 2},
		{Name: "validation", Rows: rows[n*3/4:], Shards: 1},
	}, synth.DatasetOptions{Spec: spec, Image: synth.Options{Size: 64, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if train, err = trainer.Open(dir, "train"); err != nil {
		t.Fatal(err)
	}
	if validation, err = trainer.Open(dir, "validation"); err != nil {
		t.Fatal(err)
	}
	return train, validation
}

// fit trains a fresh model on train for epochs and scores validation
// after each, returning the epochs and the training label frequencies.
func fit(t *testing.T, train, validation *trainer.Dataset, size, epochs int) ([]Epoch, [][]float64) {
	t.Helper()
	m, err := New(Config{Seed: 1}, size, size, 3, HeadsFor(train))
	if err != nil {
		t.Fatal(err)
	}
	vit, err := validation.Iter(context.Background(), trainer.Options{BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	set, err := m.Load(vit)
	vit.Close()
	if err != nil {
		t.Fatal(err)
	}
	it, err := train.Iter(context.Background(), trainer.Options{BatchSize: 32, Shuffle: 256, Epochs: epochs, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var log []Epoch
	freq, err := Fit(m, it, set, func(e Epoch) { log = append(log, e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != epochs {
		t.Fatalf("got %d epochs, want %d", len(log), epochs)
	}
	return log, freq
}

// checkBeatsBaselines checks the point of the package: on images whose
// content depends on their labels, the model's validation scores after the
// last epoch clearly beat the image-blind baselines.
func checkBeatsBaselines(t *testing.T, log []Epoch, freq [][]float64, weatherMargin, groundMargin float64) {
	t.Helper()
	first, last := log[0], log[len(log)-1]
	if !(last.Train.Loss() < 0.7*first.Train.Loss()) {
		t.Errorf("training loss went from %.3f to %.3f, want below 70%% of the first", first.Train.Loss(), last.Train.Loss())
	}
	if !(last.Validation.Loss() < first.Validation.Loss()) {
		t.Errorf("validation loss went from %.3f to %.3f, want lower", first.Validation.Loss(), last.Validation.Loss())
	}
	weather, ground := &last.Validation.Heads[0], &last.Validation.Heads[1]
	if weather.Name != "weather_labels" || !weather.OneHot || ground.Name != "ground_labels" || ground.OneHot {
		t.Fatalf("got heads %q (one-hot %v), %q (one-hot %v), want weather_labels (one-hot), ground_labels", weather.Name, weather.OneHot, ground.Name, ground.OneHot)
	}
	majority := weather.MajorityAccuracy(Majority(freq[0]))
	constant := ground.MajorityMacroF1(freq[1])
	t.Logf("%d validation examples: weather accuracy %.3f (majority %.3f), ground macro F1 %.3f (majority %.3f)",
		weather.Examples, weather.Accuracy(), majority, ground.MacroF1(), constant)
	if weather.Accuracy() < majority+weatherMargin {
		t.Errorf("weather: got accuracy %.3f, want at least the majority baseline %.3f + %v", weather.Accuracy(), majority, weatherMargin)
	}
	if ground.MacroF1() < constant+groundMargin {
		t.Errorf("ground: got macro F1 %.3f, want at least the majority baseline %.3f + %v", ground.MacroF1(), constant, groundMargin)
	}
}

func TestBeatsBaselines(t *testing.T) {
	train, validation := generated(t, 640)
	log, freq := fit(t, train, validation, 32, 15)
	if got := freq[0][0]; math.Abs(got-0.70) > 0.08 {
		t.Errorf("got clear frequency %.2f in training, want about 0.70", got)
	}
	if Majority(freq[0]) != 0 {
		t.Errorf("majority weather class %d, want 0 (clear)", Majority(freq[0]))
	}
	if n := log[0].Validation.Examples; n != 160 {
		t.Errorf("scored %d validation examples, want 160", n)
	}
	if n := log[0].Train.Examples; n != 480 {
		t.Errorf("trained on %d examples in the first epoch, want 480", n)
	}
	checkBeatsBaselines(t, log, freq, 0.15, 0.05)
}

// TestDemoHoldout trains on the demo CSV with a validation part held out by
// key from its single set of rows, as "tfprep train" does on a dataset that
// "tfprep convert" wrote with one split.
func TestDemoHoldout(t *testing.T) {
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	spec.Image.Width, spec.Image.Height = 32, 32
	demo := filepath.Join("..", "..", "testdata", "demo")
	all, err := trainer.FromCSV(spec, filepath.Join(demo, "planet.csv"), filepath.Join(demo, "images"))
	if err != nil {
		t.Fatal(err)
	}
	train, validation, err := all.Holdout(trainer.Holdout{Fraction: 0.25, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if train.Examples()+validation.Examples() != all.Examples() {
		t.Fatalf("parts of %d and %d examples, want %d together", train.Examples(), validation.Examples(), all.Examples())
	}
	log, freq := fit(t, train, validation, 32, 20)
	checkBeatsBaselines(t, log, freq, 0.1, 0.05)
}

func TestNewErrors(t *testing.T) {
	heads := []Head{{Name: "a", Size: 2, OneHot: true}}
	for _, tt := range []struct {
		h, w, c int
		heads   []Head
	}{
		{4, 32, 3, heads},
		{32, 32, 0, heads},
		{32, 32, 3, nil},
		{32, 32, 3, []Head{{Name: "b", Size: 0}}},
	} {
		if _, err := New(Config{}, tt.h, tt.w, tt.c, tt.heads); err == nil {
			t.Errorf("New(%dx%dx%d, %v): got no error", tt.h, tt.w, tt.c, tt.heads)
		}
	}
}

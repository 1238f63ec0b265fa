package tinynet

import (
	"context"
	"math"
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

// TestBeatsMajorityBaseline is the point of the package: on chips whose
// content depends on their labels, the model must clearly beat always
// predicting the majority.
func TestBeatsMajorityBaseline(t *testing.T) {
	train, validation := generated(t, 640)
	m, err := New(Config{Seed: 1}, 32, 32, 3, HeadsFor(train))
	if err != nil {
		t.Fatal(err)
	}
	it, err := train.Iter(context.Background(), trainer.Options{BatchSize: 32, Shuffle: 256, Epochs: 15, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	freq, err := Fit(m, it, func(e Epoch) { losses = append(losses, e.Loss.Total) })
	it.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != 15 || !(losses[14] < 0.7*losses[0]) {
		t.Errorf("got losses %.3f, want 15 epochs ending below 70%% of the first", losses)
	}
	if got := freq[0][0]; math.Abs(got-0.70) > 0.08 {
		t.Errorf("got clear frequency %.2f in training, want about 0.70", got)
	}
	vit, err := validation.Iter(context.Background(), trainer.Options{BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer vit.Close()
	scores, n, err := Evaluate(m, vit, freq)
	if err != nil {
		t.Fatal(err)
	}
	if n != 160 {
		t.Errorf("scored %d validation examples, want 160", n)
	}
	weather, ground := scores[0], scores[1]
	t.Logf("weather accuracy %.3f (baseline %.3f), ground %.3f (baseline %.3f)", weather.Accuracy, weather.Baseline, ground.Accuracy, ground.Baseline)
	if weather.Name != "weather_labels" || weather.MajorityClass != 0 {
		t.Errorf("got head %q with majority class %d, want weather_labels with 0 (clear)", weather.Name, weather.MajorityClass)
	}
	if weather.Accuracy < weather.Baseline+0.15 {
		t.Errorf("weather: got accuracy %.3f, want at least the baseline %.3f + 0.15", weather.Accuracy, weather.Baseline)
	}
	if ground.Accuracy < ground.Baseline+0.01 {
		t.Errorf("ground: got accuracy %.3f, want at least the baseline %.3f + 0.01", ground.Accuracy, ground.Baseline)
	}
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

package tinynet

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/schema"
)

// TestWriteEpochAndValidation pins the output format on hand-made metrics.
func TestWriteEpochAndValidation(t *testing.T) {
	weather := HeadMetrics{Name: "weather_labels", OneHot: true, Examples: 4, LossSum: 2,
		Labels: []LabelCounts{{TP: 2, FP: 1, TN: 1}, {TP: 1, FN: 1, TN: 2}}}
	ground := HeadMetrics{Name: "ground_labels", Examples: 4, LossSum: 1,
		Labels: []LabelCounts{{TP: 3, FP: 1}, {TN: 4}, {TP: 1, FN: 1, TN: 2}}}
	metrics := Metrics{Examples: 4, Heads: []HeadMetrics{weather, ground}}
	e := Epoch{Epoch: 2, Steps: 7, Elapsed: 1500 * time.Millisecond, Train: metrics, Validation: metrics}
	labels := []schema.LabelInfo{
		{Feature: "weather_labels", Names: []string{"clear", "haze"}, Size: 2, Semantics: "onehot"},
		{Feature: "ground_labels", Names: []string{"primary", "blow_down", "water"}, Size: 3, Semantics: "multihot"},
	}
	var b strings.Builder
	WriteEpoch(&b, e, 5)
	WriteValidation(&b, labels, e, [][]float64{{0.6, 0.4}, {0.9, 0.1, 0.3}})
	want := `Epoch 3/5
7/7 - 1.5s - loss: 0.7500 - weather_loss: 0.5000 - ground_loss: 0.2500 - weather_accuracy: 0.7500 - ground_macro_f1: 0.5079 - val_loss: 0.7500 - val_weather_loss: 0.5000 - val_ground_loss: 0.2500 - val_weather_accuracy: 0.7500 - val_ground_macro_f1: 0.5079
Validation (4 examples, after epoch 3):
  weather: accuracy 0.750, majority baseline (always "clear") 0.500: +0.250
  ground: macro F1 0.508, per-label majority baseline (always primary) 0.286: +0.222
    label      precision  recall     F1  support
    primary        0.750   1.000  0.857        3
    blow_down      0.000   0.000  0.000        0
    water          1.000   0.500  0.667        2
    (1 of 3 labels neither occur nor are predicted: each counts as F1 0 in the macro average, as in Keras and scikit-learn)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

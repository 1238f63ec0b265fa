package tinynet

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLabelCounts(t *testing.T) {
	for _, tt := range []struct {
		c                 LabelCounts
		precision, recall float64
		f1                float64
		support           int
	}{
		{LabelCounts{TP: 3, FP: 1, FN: 2, TN: 4}, 0.75, 0.6, 6.0 / 9, 5}, // 2·3/(6+1+2)
		{LabelCounts{TP: 5, TN: 5}, 1, 1, 1, 5},
		{LabelCounts{FP: 2, FN: 3}, 0, 0, 0, 3},
		{LabelCounts{TN: 10}, 0, 0, 0, 0}, // never present, never predicted
		{LabelCounts{TP: 1, FP: 9}, 0.1, 1, 2.0 / 11, 1},
	} {
		c := tt.c
		got := []float64{c.Precision(), c.Recall(), c.F1(), float64(c.Support())}
		want := []float64{tt.precision, tt.recall, tt.f1, float64(tt.support)}
		if diff := cmp.Diff(want, got, cmp.Comparer(close)); diff != "" {
			t.Errorf("%+v: precision, recall, F1, support (-want +got):\n%s", c, diff)
		}
	}
}

func close(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// TestHeadMetrics feeds hand-made predictions and checks the counts and
// scores against values worked out by hand.
func TestHeadMetrics(t *testing.T) {
	type example struct {
		p     []float64
		truth []float32
		loss  float64
	}
	for _, tt := range []struct {
		name     string
		oneHot   bool
		examples []example
		want     []LabelCounts
		loss     float64
		accuracy float64 // one-hot only
		macroF1  float64
		// baselines: MajorityAccuracy(majority) for one-hot, MajorityMacroF1(freq) for multi-hot
		majority int
		freq     []float64
		baseline float64
	}{
		{
			name:   "one-hot",
			oneHot: true,
			examples: []example{
				{[]float64{0.7, 0.2, 0.1}, []float32{1, 0, 0}, 0.3}, // right: 0
				{[]float64{0.2, 0.5, 0.3}, []float32{1, 0, 0}, 1.5}, // says 1, is 0
				{[]float64{0.1, 0.1, 0.8}, []float32{0, 0, 1}, 0.2}, // right: 2
				{[]float64{0.4, 0.3, 0.3}, []float32{0, 0, 0}, 0.4}, // no true class: says 0
			},
			want: []LabelCounts{
				{TP: 1, FP: 1, FN: 1, TN: 1},
				{FP: 1, TN: 3},
				{TP: 1, TN: 3},
			},
			loss:     0.6,
			accuracy: 0.5,
			macroF1:  (0.5 + 0 + 1) / 3, // class 0: 2/(2+1+1)
			majority: 0,
			baseline: 0.5, // class 0 is the truth of 2 of 4
		},
		{
			name: "multi-hot",
			examples: []example{
				{[]float64{0.9, 0.6, 0.1}, []float32{1, 0, 0}, 0.2},
				{[]float64{0.5, 0.2, 0.4}, []float32{1, 1, 0}, 0.4}, // 0.5 counts as predicted
				{[]float64{0.3, 0.7, 0.2}, []float32{0, 1, 0}, 0.3},
				{[]float64{0.8, 0.1, 0.3}, []float32{1, 0, 1}, 0.5},
			},
			want: []LabelCounts{
				{TP: 3, TN: 1},
				{TP: 1, FP: 1, FN: 1, TN: 1},
				{FN: 1, TN: 3},
			},
			loss:    0.35,
			macroF1: (1 + 0.5 + 0) / 3,
			// Label 0 (frequency 0.8 ≥ 0.5) always predicted: TP 3, FP 1,
			// F1 2·3/(6+1); labels 1 and 2 never: F1 0.
			freq:     []float64{0.8, 0.3, 0.5 - 1e-9},
			baseline: (6.0/7 + 0 + 0) / 3,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := HeadMetrics{Name: tt.name, OneHot: tt.oneHot}
			for _, e := range tt.examples {
				h.Add(e.p, e.truth, e.loss)
			}
			if diff := cmp.Diff(tt.want, h.Labels); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if got := h.Loss(); !close(got, tt.loss) {
				t.Errorf("loss: got %v, want %v", got, tt.loss)
			}
			if got := h.MacroF1(); !close(got, tt.macroF1) {
				t.Errorf("macro F1: got %v, want %v", got, tt.macroF1)
			}
			if tt.oneHot {
				if got := h.Accuracy(); !close(got, tt.accuracy) {
					t.Errorf("accuracy: got %v, want %v", got, tt.accuracy)
				}
				if got := h.MajorityAccuracy(tt.majority); !close(got, tt.baseline) {
					t.Errorf("majority accuracy: got %v, want %v", got, tt.baseline)
				}
			} else if got := h.MajorityMacroF1(tt.freq); !close(got, tt.baseline) {
				t.Errorf("majority macro F1: got %v, want %v", got, tt.baseline)
			}
		})
	}
}

func TestMajority(t *testing.T) {
	for _, tt := range []struct {
		freq []float64
		want int
	}{
		{[]float64{0.7, 0.2, 0.1}, 0},
		{[]float64{0.1, 0.2, 0.7}, 2},
		{[]float64{0.4, 0.4, 0.2}, 0}, // first on ties
	} {
		if got := Majority(tt.freq); got != tt.want {
			t.Errorf("Majority(%v): got %d, want %d", tt.freq, got, tt.want)
		}
	}
}

func TestMetricsLossSumsHeads(t *testing.T) {
	m := Metrics{Heads: []HeadMetrics{{Examples: 2, LossSum: 1}, {Examples: 2, LossSum: 3}}}
	if got := m.Loss(); got != 2 {
		t.Errorf("got loss %v, want 0.5 + 1.5 = 2", got)
	}
}

package tinynet

// LabelCounts are one binary label's outcomes over a set of examples: true
// and false positives, false and true negatives.
type LabelCounts struct{ TP, FP, FN, TN int }

// Precision is TP / (TP + FP): of the examples predicted to have the label,
// the share that have it. It is 0 when the label was never predicted, as in
// Keras' Precision and scikit-learn's zero_division=0.
func (c LabelCounts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP / (TP + FN): of the examples that have the label, the share
// predicted to have it; 0 when none has it.
func (c LabelCounts) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall, 2TP / (2TP + FP + FN);
// 0 when there is no true positive.
func (c LabelCounts) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

// Support is the number of examples that have the label.
func (c LabelCounts) Support() int { return c.TP + c.FN }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// HeadMetrics accumulate one head's loss and outcomes. A multi-hot head
// predicts a label when its probability is at least 0.5 (Keras' default
// threshold); a one-hot head predicts its most probable class, and each
// class is counted one-vs-rest against the true class.
type HeadMetrics struct {
	Name     string
	OneHot   bool
	Examples int
	LossSum  float64       // summed over examples
	Labels   []LabelCounts // one per label (multi-hot) or class (one-hot)
}

// Add counts one example: the head's probabilities p, the true label
// vector and the example's loss. A one-hot truth without a 1 (an all-zero
// row kept by the spec) counts as no class: the prediction is a false
// positive.
func (h *HeadMetrics) Add(p []float64, truth []float32, loss float64) {
	h.Examples++
	h.LossSum += loss
	if h.Labels == nil {
		h.Labels = make([]LabelCounts, len(p))
	}
	predicted := -1
	if h.OneHot {
		predicted = 0
		for i := range p {
			if p[i] > p[predicted] {
				predicted = i
			}
		}
	}
	for i := range p {
		has := truth[i] >= 0.5
		guess := p[i] >= 0.5
		if h.OneHot {
			guess = i == predicted
		}
		c := &h.Labels[i]
		switch {
		case guess && has:
			c.TP++
		case guess:
			c.FP++
		case has:
			c.FN++
		default:
			c.TN++
		}
	}
}

// Loss is the mean loss per example.
func (h *HeadMetrics) Loss() float64 { return mean(h.LossSum, h.Examples) }

// Accuracy is, for a one-hot head, the share of examples whose most
// probable class is the true one (Keras' categorical_accuracy).
func (h *HeadMetrics) Accuracy() float64 {
	correct := 0
	for _, c := range h.Labels {
		correct += c.TP
	}
	return ratio(correct, h.Examples)
}

// MacroF1 is the unweighted mean of the labels' F1 scores (Keras'
// F1Score(average="macro"), scikit-learn's f1_score(average="macro")): a rare
// label weighs as much as a common one, so predicting only the common labels
// scores low. Labels absent from the examples and never predicted count as 0.
func (h *HeadMetrics) MacroF1() float64 {
	if len(h.Labels) == 0 {
		return 0
	}
	sum := 0.0
	for _, c := range h.Labels {
		sum += c.F1()
	}
	return sum / float64(len(h.Labels))
}

// MajorityAccuracy is the accuracy, on the counted examples, of always
// predicting class c: a one-hot head's baseline with c its most frequent
// training class ([Majority]).
func (h *HeadMetrics) MajorityAccuracy(c int) float64 {
	return ratio(h.Labels[c].Support(), h.Examples)
}

// MajorityMacroF1 is a multi-hot head's baseline: the macro F1, on the
// counted examples, of predicting for every example each label's majority
// value in training — the labels whose training frequency trainFreq is at
// least 0.5, and no other. It is what the model predicts when it learns
// nothing from the images (its probabilities then converge to the training
// frequencies), so beating it shows that the images carry their labels.
func (h *HeadMetrics) MajorityMacroF1(trainFreq []float64) float64 {
	var constant HeadMetrics
	constant.Labels = make([]LabelCounts, len(h.Labels))
	for i, c := range h.Labels {
		if trainFreq[i] >= 0.5 {
			constant.Labels[i] = LabelCounts{TP: c.Support(), FP: h.Examples - c.Support()}
		} else {
			constant.Labels[i] = LabelCounts{FN: c.Support(), TN: h.Examples - c.Support()}
		}
	}
	return constant.MacroF1()
}

// Majority returns the index of the largest frequency, the first on ties.
func Majority(freq []float64) int {
	best := 0
	for i, f := range freq {
		if f > freq[best] {
			best = i
		}
	}
	return best
}

func mean(sum float64, n int) float64 {
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Metrics are a model's metrics over a set of examples, one entry per head.
type Metrics struct {
	Examples int
	Heads    []HeadMetrics
}

func newMetrics(heads []Head) Metrics {
	m := Metrics{Heads: make([]HeadMetrics, len(heads))}
	for k, hd := range heads {
		m.Heads[k] = HeadMetrics{Name: hd.Name, OneHot: hd.OneHot, Labels: make([]LabelCounts, hd.Size)}
	}
	return m
}

// Loss is the model's loss: the sum of the heads' mean losses, as Keras
// reports the loss of a multi-output model.
func (m *Metrics) Loss() float64 {
	total := 0.0
	for k := range m.Heads {
		total += m.Heads[k].Loss()
	}
	return total
}

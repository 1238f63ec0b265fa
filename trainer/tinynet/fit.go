package tinynet

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tfprep/tfprep/trainer"
)

// HeadsFor returns one head per label feature of a dataset's spec: softmax for
// one-hot labels, sigmoid for multi-hot ones.
func HeadsFor(ds *trainer.Dataset) []Head {
	var heads []Head
	for _, l := range ds.Spec().LabelFeatures() {
		heads = append(heads, Head{Name: l.Feature, Size: l.Size, OneHot: l.Semantics == "onehot"})
	}
	return heads
}

// Epoch is the summary of one training epoch.
type Epoch struct {
	Epoch    int // zero-based
	Steps    int // batches
	Examples int
	Loss     Losses // means over the epoch's examples
	Elapsed  time.Duration
}

// Fit trains m on every batch of it (float32 images) until it ends, calling
// progress after each epoch. It returns, per head, the frequency of each
// label in the first epoch (the fraction of examples that have it): the
// training labels, for majority baselines.
func Fit(m *Model, it *trainer.Iterator, progress func(Epoch)) ([][]float64, error) {
	var freq [][]float64
	firstEpoch := 0
	var cur Epoch
	start := time.Now()
	finish := func() {
		if cur.Examples == 0 {
			return
		}
		cur.Loss.Total /= float64(cur.Examples)
		for k := range cur.Loss.Heads {
			cur.Loss.Heads[k] /= float64(cur.Examples)
		}
		cur.Elapsed = time.Since(start)
		if progress != nil {
			progress(cur)
		}
	}
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			finish()
			break
		}
		if err != nil {
			return nil, err
		}
		if b.Images.Float32 == nil {
			return nil, fmt.Errorf("tinynet: want float32 images")
		}
		if b.Epoch != cur.Epoch || cur.Loss.Heads == nil {
			finish()
			cur, start = Epoch{Epoch: b.Epoch, Loss: Losses{Heads: make([]float64, len(m.heads))}}, time.Now()
		}
		labels := make([][]float32, len(b.Labels))
		for k, l := range b.Labels {
			labels[k] = l.Values
		}
		n := b.Len()
		loss := m.Train(b.Images.Float32, labels, n)
		cur.Steps++
		cur.Examples += n
		cur.Loss.Total += loss.Total * float64(n)
		for k, l := range loss.Heads {
			cur.Loss.Heads[k] += l * float64(n)
		}
		if b.Epoch == 0 {
			firstEpoch += n
			if freq == nil {
				freq = make([][]float64, len(m.heads))
				for k, hd := range m.heads {
					freq[k] = make([]float64, hd.Size)
				}
			}
			for k, l := range b.Labels {
				size := l.Shape[1]
				for i, v := range l.Values {
					freq[k][i%size] += float64(v)
				}
			}
		}
	}
	if freq == nil {
		return nil, fmt.Errorf("tinynet: no training batches")
	}
	for _, f := range freq {
		for i := range f {
			f[i] /= float64(firstEpoch)
		}
	}
	return freq, nil
}

// HeadScore is a head's validation result.
type HeadScore struct {
	Name     string
	OneHot   bool
	Accuracy float64 // one-hot: argmax matches; multi-hot: mean per-label accuracy at 0.5
	// Baseline is the accuracy of always predicting the training majority:
	// the most frequent class (one-hot), or each label's majority value.
	Baseline      float64
	MajorityClass int // one-hot heads: index of the most frequent training class
}

// Evaluate scores m on every batch of it against the majority baseline of
// the training label frequencies freq (fractions, as Fit returns them). It
// also returns the number of examples scored.
func Evaluate(m *Model, it *trainer.Iterator, freq [][]float64) ([]HeadScore, int, error) {
	scores := make([]HeadScore, len(m.heads))
	for k, hd := range m.heads {
		scores[k] = HeadScore{Name: hd.Name, OneHot: hd.OneHot}
		if hd.OneHot {
			for i, v := range freq[k] {
				if v > freq[k][scores[k].MajorityClass] {
					scores[k].MajorityClass = i
				}
			}
		}
	}
	var out [][]float64
	examples := 0
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		n := b.Len()
		if out == nil {
			out = make([][]float64, len(m.heads))
			for k, hd := range m.heads {
				out[k] = make([]float64, len(b.Keys)*hd.Size)
			}
		}
		for k, hd := range m.heads {
			if len(out[k]) < n*hd.Size {
				out[k] = make([]float64, n*hd.Size)
			}
		}
		m.Predict(b.Images.Float32, n, out)
		for k, hd := range m.heads {
			y := b.Labels[k].Values
			for e := range n {
				p, t := out[k][e*hd.Size:(e+1)*hd.Size], y[e*hd.Size:(e+1)*hd.Size]
				if hd.OneHot {
					best, truth := 0, -1
					for i := range p {
						if p[i] > p[best] {
							best = i
						}
						if t[i] == 1 {
							truth = i
						}
					}
					if best == truth {
						scores[k].Accuracy++
					}
					if truth == scores[k].MajorityClass {
						scores[k].Baseline++
					}
					continue
				}
				for i := range p {
					if (p[i] >= 0.5) == (t[i] >= 0.5) {
						scores[k].Accuracy += 1 / float64(hd.Size)
					}
					if (freq[k][i] >= 0.5) == (t[i] >= 0.5) {
						scores[k].Baseline += 1 / float64(hd.Size)
					}
				}
			}
		}
		examples += n
	}
	if examples == 0 {
		return nil, 0, fmt.Errorf("tinynet: no validation examples")
	}
	for k := range scores {
		scores[k].Accuracy /= float64(examples)
		scores[k].Baseline /= float64(examples)
	}
	return scores, examples, nil
}

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

// Set is a set of examples as the model sees them: each image's summary
// features and its labels. Reading a validation set once into a Set lets
// every epoch score it without reading and decoding its images again (a
// Planet example's 196 KB image summarises to 198 numbers).
type Set struct {
	inputs   int
	features []float64   // n × inputs
	labels   [][]float32 // per head, n × Size
}

// Len returns the number of examples.
func (s *Set) Len() int {
	if s.inputs == 0 {
		return 0
	}
	return len(s.features) / s.inputs
}

// Load reads every batch of it (float32 images) into a Set for m.
func (m *Model) Load(it *trainer.Iterator) (*Set, error) {
	s := &Set{inputs: m.inputs, labels: make([][]float32, len(m.heads))}
	px := m.h * m.w * m.c
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		if err := m.check(b); err != nil {
			return nil, err
		}
		for e := range b.Len() {
			m.features(b.Images.Float32[e*px : (e+1)*px])
			s.features = append(s.features, m.x...)
		}
		for k, l := range b.Labels {
			s.labels[k] = append(s.labels[k], l.Values...)
		}
	}
}

// check reports a batch the model cannot take.
func (m *Model) check(b *trainer.Batch) error {
	if b.Images.Float32 == nil {
		return fmt.Errorf("tinynet: want float32 images")
	}
	if sh := b.Images.Shape; sh[1] != m.h || sh[2] != m.w || sh[3] != m.c || len(b.Labels) != len(m.heads) {
		return fmt.Errorf("tinynet: a batch of %dx%dx%d images with %d label features for a model of %dx%dx%d images with %d heads",
			sh[1], sh[2], sh[3], len(b.Labels), m.h, m.w, m.c, len(m.heads))
	}
	return nil
}

// Evaluate returns m's loss and outcomes on every example of s.
func (m *Model) Evaluate(s *Set) Metrics {
	out := newMetrics(m.heads)
	for e := range s.Len() {
		m.forward(s.features[e*s.inputs : (e+1)*s.inputs])
		for k := range m.heads {
			hd := &m.heads[k]
			y := s.labels[k][e*hd.Size : (e+1)*hd.Size]
			out.Heads[k].Add(m.out[k], y, headLoss(hd, m.out[k], y, nil))
		}
		out.Examples++
	}
	return out
}

// Epoch is the summary of one training epoch.
type Epoch struct {
	Epoch   int // zero-based
	Steps   int // batches
	Elapsed time.Duration
	// Train accumulates each batch's outcomes before its update, as Keras'
	// training metrics do; Validation scores the validation set with the
	// weights at the end of the epoch (zero Examples without one).
	Train, Validation Metrics
}

// Fit trains m on every batch of it (float32 images) until it ends. After
// each epoch it scores validation, when not nil, and calls progress. It
// returns, per head, the frequency of each label in the first epoch (the
// fraction of examples that have it): the training labels, for baselines.
func Fit(m *Model, it *trainer.Iterator, validation *Set, progress func(Epoch)) ([][]float64, error) {
	var freq [][]float64
	firstEpoch := 0
	cur := Epoch{Epoch: -1}
	start := time.Now()
	finish := func() {
		if cur.Epoch < 0 {
			return
		}
		cur.Elapsed = time.Since(start)
		if validation != nil {
			cur.Validation = m.Evaluate(validation)
		}
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
		if err := m.check(b); err != nil {
			return nil, err
		}
		if b.Epoch != cur.Epoch {
			finish()
			cur, start = Epoch{Epoch: b.Epoch, Train: newMetrics(m.heads)}, time.Now()
		}
		labels := make([][]float32, len(b.Labels))
		for k, l := range b.Labels {
			labels[k] = l.Values
		}
		n := b.Len()
		m.Train(b.Images.Float32, labels, n, &cur.Train)
		cur.Steps++
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

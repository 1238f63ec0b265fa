// Package tinynet is a deliberately small image classifier in pure Go, with
// one output head per label feature: softmax with categorical cross-entropy
// for a one-hot label, sigmoid with binary cross-entropy for a multi-hot one,
// trained with Adam. It exists to prove a data path, not to win Kaggle: when
// it learns labels from pixels, images and labels stayed together from the
// CSV through conversion to the training batches.
//
// The network sees a fixed summary of each image: the mean of every channel
// over a Pool x Pool grid of blocks, plus each channel's standard deviation
// and mean absolute horizontal difference (contrast and texture). One hidden
// ReLU layer feeds all heads; the loss is the sum of the heads' losses, as
// Keras sums the losses of a multi-output model.
package tinynet

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Head describes one output.
type Head struct {
	Name    string
	Size    int
	OneHot  bool // softmax + categorical cross-entropy; else sigmoid + binary cross-entropy
	weights []float64
	bias    []float64
}

// Config sets the model's shape and training.
type Config struct {
	Pool         int     // grid of pooled blocks per side; 0 = 8
	Hidden       int     // hidden units; 0 = 32
	LearningRate float64 // Adam step size; 0 = 0.005
	Seed         uint64  // initial weights
}

// Model is a network for images of one shape. Not safe for concurrent use.
type Model struct {
	cfg     Config
	h, w, c int
	inputs  int
	w1, b1  []float64
	heads   []Head
	params  [][]float64 // every parameter slice, for Adam
	grads   [][]float64
	m, v    [][]float64
	step    int
	// scratch
	x, hidden, dHidden []float64
	out, dOut          [][]float64
}

// New returns a model for h x w x c images with the given heads.
func New(cfg Config, h, w, c int, heads []Head) (*Model, error) {
	if cfg.Pool == 0 {
		cfg.Pool = 8
	}
	if cfg.Hidden == 0 {
		cfg.Hidden = 32
	}
	if cfg.LearningRate == 0 {
		cfg.LearningRate = 0.005
	}
	if h < cfg.Pool || w < cfg.Pool || c < 1 || len(heads) == 0 {
		return nil, fmt.Errorf("tinynet: images %dx%dx%d too small for a %d grid, or no heads", h, w, c, cfg.Pool)
	}
	m := &Model{cfg: cfg, h: h, w: w, c: c, inputs: cfg.Pool*cfg.Pool*c + 2*c}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7e11))
	normal := func(n int, scale float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = rng.NormFloat64() * scale
		}
		return s
	}
	m.w1 = normal(cfg.Hidden*m.inputs, math.Sqrt(2/float64(m.inputs)))
	m.b1 = make([]float64, cfg.Hidden)
	m.params = [][]float64{m.w1, m.b1}
	for _, hd := range heads {
		if hd.Size < 1 {
			return nil, fmt.Errorf("tinynet: head %q has size %d", hd.Name, hd.Size)
		}
		hd.weights = normal(hd.Size*cfg.Hidden, math.Sqrt(1/float64(cfg.Hidden)))
		hd.bias = make([]float64, hd.Size)
		m.heads = append(m.heads, hd)
		m.params = append(m.params, hd.weights, hd.bias)
		m.out = append(m.out, make([]float64, hd.Size))
		m.dOut = append(m.dOut, make([]float64, hd.Size))
	}
	for _, p := range m.params {
		m.grads = append(m.grads, make([]float64, len(p)))
		m.m = append(m.m, make([]float64, len(p)))
		m.v = append(m.v, make([]float64, len(p)))
	}
	m.x = make([]float64, m.inputs)
	m.hidden = make([]float64, cfg.Hidden)
	m.dHidden = make([]float64, cfg.Hidden)
	return m, nil
}

// Heads returns the model's heads.
func (m *Model) Heads() []Head { return m.heads }

// features summarises one HWC image (values in about [0,1]) into m.x.
func (m *Model) features(img []float32) {
	p, h, w, c := m.cfg.Pool, m.h, m.w, m.c
	for i := range m.x {
		m.x[i] = 0
	}
	counts := make([]float64, p*p)
	sum, sum2, diff := make([]float64, c), make([]float64, c), make([]float64, c)
	for y := range h {
		by := y * p / h
		for x := range w {
			bx := x * p / w
			counts[by*p+bx]++
			for k := range c {
				v := float64(img[(y*w+x)*c+k])
				m.x[(by*p+bx)*c+k] += v
				sum[k] += v
				sum2[k] += v * v
				if x > 0 {
					diff[k] += math.Abs(v - float64(img[(y*w+x-1)*c+k]))
				}
			}
		}
	}
	for b := range p * p {
		for k := range c {
			m.x[b*c+k] = 2*m.x[b*c+k]/counts[b] - 1
		}
	}
	n := float64(h * w)
	base := p * p * c
	for k := range c {
		mean := sum[k] / n
		m.x[base+k] = 4 * math.Sqrt(max(sum2[k]/n-mean*mean, 0))
		m.x[base+c+k] = 8 * diff[k] / (n - float64(h))
	}
}

// forward computes the hidden layer and every head's probabilities for the
// image features x.
func (m *Model) forward(x []float64) {
	hidden := m.cfg.Hidden
	for j := range hidden {
		s := m.b1[j]
		row := m.w1[j*m.inputs : (j+1)*m.inputs]
		for i, v := range x {
			s += row[i] * v
		}
		m.hidden[j] = max(s, 0)
	}
	for k, hd := range m.heads {
		out := m.out[k]
		for o := range hd.Size {
			s := hd.bias[o]
			row := hd.weights[o*hidden : (o+1)*hidden]
			for j, a := range m.hidden {
				s += row[j] * a
			}
			out[o] = s
		}
		if hd.OneHot {
			top := out[0]
			for _, v := range out {
				top = max(top, v)
			}
			total := 0.0
			for o := range out {
				out[o] = math.Exp(out[o] - top)
				total += out[o]
			}
			for o := range out {
				out[o] /= total
			}
		} else {
			for o := range out {
				out[o] = 1 / (1 + math.Exp(-out[o]))
			}
		}
	}
}

const eps = 1e-7

// Losses are a batch's mean losses: the total and one per head.
type Losses struct {
	Total float64
	Heads []float64
}

// headLoss returns one example's loss for head hd with probabilities p and
// true labels y: categorical cross-entropy (one-hot) or the mean binary
// cross-entropy over the labels (multi-hot), as Keras computes them. When d
// is not nil it receives the loss's gradient with respect to the head's
// logits.
func headLoss(hd *Head, p []float64, y []float32, d []float64) float64 {
	l := 0.0
	for o := range hd.Size {
		t := float64(y[o])
		var grad float64
		if hd.OneHot {
			l -= t * math.Log(p[o]+eps)
			grad = p[o] - t
		} else {
			l -= (t*math.Log(p[o]+eps) + (1-t)*math.Log(1-p[o]+eps)) / float64(hd.Size)
			grad = (p[o] - t) / float64(hd.Size)
		}
		if d != nil {
			d[o] = grad
		}
	}
	return l
}

// Train runs one Adam step on a batch of n images (n*h*w*c values) with, per
// head, n*Size label values, and returns the batch's losses before the step.
// When into is not nil, each example's outcome before the step is added to
// it, as Keras accumulates training metrics during an epoch.
func (m *Model) Train(images []float32, labels [][]float32, n int, into *Metrics) Losses {
	for _, g := range m.grads {
		clear(g)
	}
	loss := Losses{Heads: make([]float64, len(m.heads))}
	px := m.h * m.w * m.c
	hidden := m.cfg.Hidden
	for e := range n {
		m.features(images[e*px : (e+1)*px])
		m.forward(m.x)
		clear(m.dHidden)
		for k := range m.heads {
			hd := &m.heads[k]
			y := labels[k][e*hd.Size : (e+1)*hd.Size]
			l := headLoss(hd, m.out[k], y, m.dOut[k])
			if into != nil {
				into.Heads[k].Add(m.out[k], y, l)
			}
			loss.Heads[k] += l / float64(n)
			d := m.dOut[k]
			gw, gb := m.grads[2+2*k], m.grads[3+2*k]
			for o, dz := range d {
				gb[o] += dz
				row := hd.weights[o*hidden : (o+1)*hidden]
				grow := gw[o*hidden : (o+1)*hidden]
				for j, a := range m.hidden {
					grow[j] += dz * a
					m.dHidden[j] += dz * row[j]
				}
			}
		}
		if into != nil {
			into.Examples++
		}
		g1, gb1 := m.grads[0], m.grads[1]
		for j, a := range m.hidden {
			if a <= 0 {
				continue
			}
			dz := m.dHidden[j]
			gb1[j] += dz
			grow := g1[j*m.inputs : (j+1)*m.inputs]
			for i, x := range m.x {
				grow[i] += dz * x
			}
		}
	}
	for _, l := range loss.Heads {
		loss.Total += l
	}
	m.adam(float64(n))
	return loss
}

// adam applies one Adam step with the accumulated gradients divided by n.
func (m *Model) adam(n float64) {
	const beta1, beta2, epsilon = 0.9, 0.999, 1e-8
	m.step++
	lr := m.cfg.LearningRate * math.Sqrt(1-math.Pow(beta2, float64(m.step))) / (1 - math.Pow(beta1, float64(m.step)))
	for p, param := range m.params {
		g, mm, vv := m.grads[p], m.m[p], m.v[p]
		for i := range param {
			gi := g[i] / n
			mm[i] = beta1*mm[i] + (1-beta1)*gi
			vv[i] = beta2*vv[i] + (1-beta2)*gi*gi
			param[i] -= lr * mm[i] / (math.Sqrt(vv[i]) + epsilon)
		}
	}
}

// Predict writes each head's probabilities for image e of the batch into
// out[k][e*Size:(e+1)*Size].
func (m *Model) Predict(images []float32, n int, out [][]float64) {
	px := m.h * m.w * m.c
	for e := range n {
		m.features(images[e*px : (e+1)*px])
		m.forward(m.x)
		for k, hd := range m.heads {
			copy(out[k][e*hd.Size:(e+1)*hd.Size], m.out[k])
		}
	}
}

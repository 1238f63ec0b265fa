package tinynet

import (
	"context"
	"fmt"
	"io"

	"github.com/tfprep/tfprep/trainer"
)

// RunOptions control Run.
type RunOptions struct {
	Model   Config
	Epochs  int
	Batch   int
	Shuffle int    // shuffle buffer in examples
	Seed    uint64 // shuffling and initial weights
	// Validation says what the validation examples are, for the first
	// line: `of split "validation"`, or how they were held out.
	Validation string
}

// Run trains a model on data.Train as "tfprep train" does and writes,
// Keras-style, a first line saying what it trains and validates on, one
// line per epoch (WriteEpoch), then the validation report against the
// image-blind baselines (WriteValidation).
func Run(ctx context.Context, w io.Writer, split string, data trainer.TrainingData, o RunOptions) error {
	var shape []int // the image's [H, W, C]
	for _, f := range data.Train.Spec().Features() {
		if f.Role == "image" {
			shape = f.Shape
		}
	}
	o.Model.Seed = o.Seed
	model, err := New(o.Model, shape[0], shape[1], shape[2], HeadsFor(data.Train))
	if err != nil {
		return err
	}
	vit, err := data.Validation.Iter(ctx, trainer.Options{BatchSize: 256})
	if err != nil {
		return err
	}
	valSet, err := model.Load(vit)
	vit.Close()
	if err != nil {
		return err
	}
	if valSet.Len() == 0 {
		return fmt.Errorf("no validation examples %s; hold out a larger fraction (--holdout)", o.Validation)
	}
	it, err := data.Train.Iter(ctx, trainer.Options{BatchSize: o.Batch, Shuffle: o.Shuffle, Epochs: o.Epochs, Seed: o.Seed})
	if err != nil {
		return err
	}
	defer it.Close()
	trainCount := data.Train.Examples()
	if data.Total >= 0 {
		trainCount = data.Total - int64(valSet.Len())
	}
	count := "an unknown number of"
	if trainCount >= 0 {
		count = fmt.Sprint(trainCount)
	}
	fmt.Fprintf(w, "Train on %s examples of split %q, validate on %d %s\n", count, split, valSet.Len(), o.Validation)
	var last Epoch
	freq, err := Fit(model, it, valSet, func(e Epoch) {
		WriteEpoch(w, e, o.Epochs)
		last = e
	})
	if err != nil {
		return err
	}
	WriteValidation(w, data.Train.Spec().LabelFeatures(), last, freq)
	return nil
}

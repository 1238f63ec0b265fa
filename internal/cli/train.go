package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tfprep/tfprep/trainer"
	"github.com/tfprep/tfprep/trainer/tinynet"
)

func init() {
	register(&Command{
		Name:  "train",
		Args:  "[flags] DIR",
		Short: "train a tiny two-headed model on a dataset and compare it with the majority baseline",
		Long: `Train is a demonstration of the reading side: it streams the training split of a
converted dataset through the trainer package (shuffled, batched, several epochs) into
a small pure-Go network with one head per label feature (softmax and categorical
cross-entropy for a one-hot label such as Planet's weather, sigmoid and binary
cross-entropy for a multi-hot one such as ground), trained with Adam. It prints
Keras-style progress per epoch (loss and one loss per head), then scores the
validation split against always predicting the training majority.

On images whose content depends on their labels (tfprep synth), the model clearly
beats the baseline; that proves images and labels stayed together from the CSV
through conversion and shards to the batches. Images may be stored in any of the
spec's encodings and sizes (at least --pool pixels a side); the model sees a --pool x
--pool grid of block means plus per-channel contrast and texture.` + trainExamples,
		Flags: trainFlags,
	})
}

const trainExamples = `

Examples:
  tfprep train out/demo
  tfprep train out/planet --epochs 20 --shuffle 1024 --hidden 64`

type trainConfig struct {
	split, validation string
	epochs, batch     int
	shuffle           int
	seed              uint64
	model             tinynet.Config
}

func trainFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	cfg := &trainConfig{}
	fs.StringVar(&cfg.split, "split", "train", "split to train on")
	fs.StringVar(&cfg.validation, "validation", "validation", "split to score")
	fs.IntVar(&cfg.epochs, "epochs", 20, "training epochs")
	fs.IntVar(&cfg.batch, "batch", 32, "batch size")
	fs.IntVar(&cfg.shuffle, "shuffle", 256, "shuffle buffer in examples")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of shuffling and initial weights")
	fs.IntVar(&cfg.model.Hidden, "hidden", 32, "hidden units")
	fs.IntVar(&cfg.model.Pool, "pool", 8, "image summary grid per side")
	fs.Float64Var(&cfg.model.LearningRate, "lr", 0.005, "Adam learning rate")
	return func(ctx context.Context, env *Env, args []string) error {
		return runTrain(ctx, env, cfg, args)
	}
}

func runTrain(ctx context.Context, env *Env, cfg *trainConfig, args []string) error {
	if len(args) != 1 {
		return usagef("want one dataset directory, got %d arguments", len(args))
	}
	if cfg.epochs < 1 || cfg.batch < 1 {
		return usagef("--epochs and --batch must be positive")
	}
	train, err := trainer.Open(args[0], cfg.split)
	if err != nil {
		return err
	}
	validation, err := trainer.Open(args[0], cfg.validation)
	if err != nil {
		return err
	}
	var shape []int // the image's [H, W, C]
	for _, f := range train.Spec().Features() {
		if f.Role == "image" {
			shape = f.Shape
		}
	}
	cfg.model.Seed = cfg.seed
	model, err := tinynet.New(cfg.model, shape[0], shape[1], shape[2], tinynet.HeadsFor(train))
	if err != nil {
		return err
	}
	opts := trainer.Options{BatchSize: cfg.batch, Shuffle: cfg.shuffle, Epochs: cfg.epochs, Seed: cfg.seed}
	it, err := train.Iter(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Train on %s examples of split %q, validate on %s of split %q\n",
		countString(train.Examples()), cfg.split, countString(validation.Examples()), cfg.validation)
	freq, err := tinynet.Fit(model, it, func(e tinynet.Epoch) {
		fmt.Fprintf(env.Stdout, "Epoch %d/%d\n%d/%d - %.1fs - loss: %.4f", e.Epoch+1, cfg.epochs, e.Steps, e.Steps, e.Elapsed.Seconds(), e.Loss.Total)
		for k, hd := range model.Heads() {
			fmt.Fprintf(env.Stdout, " - %s_loss: %.4f", headName(hd.Name), e.Loss.Heads[k])
		}
		fmt.Fprintln(env.Stdout)
	})
	it.Close()
	if err != nil {
		return err
	}
	vit, err := validation.Iter(ctx, trainer.Options{BatchSize: 256})
	if err != nil {
		return err
	}
	defer vit.Close()
	scores, n, err := tinynet.Evaluate(model, vit, freq)
	if err != nil {
		return err
	}
	printScores(env.Stdout, validation, scores, n)
	return nil
}

func countString(n int64) string {
	if n < 0 {
		return "an unknown number of"
	}
	return fmt.Sprint(n)
}

// headName shortens a label feature name as Keras names outputs:
// weather_labels -> weather.
func headName(feature string) string { return strings.TrimSuffix(feature, "_labels") }

func printScores(w io.Writer, ds *trainer.Dataset, scores []tinynet.HeadScore, n int) {
	labels := ds.Spec().LabelFeatures()
	fmt.Fprintf(w, "Validation (%d examples):\n", n)
	for k, s := range scores {
		if s.OneHot {
			class := fmt.Sprint(s.MajorityClass)
			if s.MajorityClass < len(labels[k].Names) {
				class = labels[k].Names[s.MajorityClass]
			}
			fmt.Fprintf(w, "  %s: accuracy %.3f, majority baseline (always %q) %.3f: %+.3f\n",
				headName(s.Name), s.Accuracy, class, s.Baseline, s.Accuracy-s.Baseline)
			continue
		}
		fmt.Fprintf(w, "  %s: mean per-label accuracy %.3f, majority baseline %.3f: %+.3f\n",
			headName(s.Name), s.Accuracy, s.Baseline, s.Accuracy-s.Baseline)
	}
}

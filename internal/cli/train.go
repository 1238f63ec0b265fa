package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/trainer"
	"github.com/tfprep/tfprep/trainer/tinynet"
)

func init() {
	register(&Command{
		Name:  "train",
		Args:  "[flags] DIR",
		Short: "train a tiny two-headed model on a dataset and compare it with image-blind baselines",
		Long: `Train is a demonstration of the reading side: it streams the training split of a
converted dataset through the trainer package (shuffled, batched, several epochs) into
a small pure-Go network with one head per label feature (softmax and categorical
cross-entropy for a one-hot label such as Planet's weather, sigmoid and binary
cross-entropy for a multi-hot one such as ground), trained with Adam.

It validates on the split named by --validation; by default on the split "validation"
when the dataset has one, otherwise on a part of the training split held out by a
seeded hash of each example's key (--holdout, 10% by default): the same examples in
every run, never also trained on.

Per epoch it prints a Keras-style line: loss and one loss per head, then each head's
metric (accuracy for a one-hot head, macro-averaged F1 at threshold 0.5 for a multi-hot
one), for the training batches and, prefixed val_, for the validation examples. At the
end it compares the validation scores with image-blind baselines: always predicting
the most frequent training class (one-hot), and predicting each label's training
majority (multi-hot; what the model predicts if it learns nothing from the images),
and lists precision, recall, F1 and support per label of each multi-hot head.

On images whose content depends on their labels (tfprep synth), the model clearly
beats the baselines; that proves images and labels stayed together from the CSV
through conversion and shards to the batches. Images may be stored in any of the
spec's encodings and sizes (at least --pool pixels a side); the model sees a --pool x
--pool grid of block means plus per-channel contrast and texture.` + trainExamples,
		Flags: trainFlags,
	})
}

const trainExamples = `

Examples:
  tfprep train out/demo
  tfprep train out/planet --holdout 0.2
  tfprep train out/planet --epochs 20 --shuffle 1024 --hidden 64`

type trainConfig struct {
	split, validation string
	holdout           trainer.Holdout
	holdoutSet        bool // --holdout given
	epochs, batch     int
	shuffle           int
	seed              uint64
	model             tinynet.Config
}

func trainFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	cfg := &trainConfig{}
	fs.StringVar(&cfg.split, "split", "train", "split to train on")
	fs.StringVar(&cfg.validation, "validation", "", `split to validate on (default "validation" if the dataset has it, else a hold-out of --split)`)
	fs.Float64Var(&cfg.holdout.Fraction, "holdout", 0.1, "fraction of --split's keys held out for validation when no validation split is used")
	fs.Uint64Var(&cfg.holdout.Seed, "holdout-seed", 1, "seed of the hold-out's key hash (same seed, same validation examples)")
	fs.IntVar(&cfg.epochs, "epochs", 20, "training epochs")
	fs.IntVar(&cfg.batch, "batch", 32, "batch size")
	fs.IntVar(&cfg.shuffle, "shuffle", 256, "shuffle buffer in examples")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of shuffling and initial weights")
	fs.IntVar(&cfg.model.Hidden, "hidden", 32, "hidden units")
	fs.IntVar(&cfg.model.Pool, "pool", 8, "image summary grid per side")
	fs.Float64Var(&cfg.model.LearningRate, "lr", 0.005, "Adam learning rate")
	return func(ctx context.Context, env *Env, args []string) error {
		fs.Visit(func(f *flag.Flag) { cfg.holdoutSet = cfg.holdoutSet || f.Name == "holdout" })
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
	if cfg.validation != "" && cfg.holdoutSet {
		return usagef("--validation names a split to validate on, --holdout holds one out of --split: give one of them")
	}
	if err := cfg.holdout.Validate(); err != nil {
		return usagef("--holdout: %w", err)
	}
	if cfg.validation == cfg.split {
		return usagef("--validation %q is the training split: validating on the training examples proves nothing", cfg.split)
	}
	data, err := openTrainData(args[0], cfg)
	if err != nil {
		return err
	}
	var shape []int // the image's [H, W, C]
	for _, f := range data.train.Spec().Features() {
		if f.Role == "image" {
			shape = f.Shape
		}
	}
	cfg.model.Seed = cfg.seed
	model, err := tinynet.New(cfg.model, shape[0], shape[1], shape[2], tinynet.HeadsFor(data.train))
	if err != nil {
		return err
	}
	vit, err := data.validation.Iter(ctx, trainer.Options{BatchSize: 256})
	if err != nil {
		return err
	}
	valSet, err := model.Load(vit)
	vit.Close()
	if err != nil {
		return err
	}
	if valSet.Len() == 0 {
		return fmt.Errorf("no validation examples in %s; hold out a larger fraction (--holdout)", data.what)
	}
	opts := trainer.Options{BatchSize: cfg.batch, Shuffle: cfg.shuffle, Epochs: cfg.epochs, Seed: cfg.seed}
	it, err := data.train.Iter(ctx, opts)
	if err != nil {
		return err
	}
	trainCount := data.train.Examples()
	if data.total >= 0 {
		trainCount = data.total - int64(valSet.Len())
	}
	fmt.Fprintf(env.Stdout, "Train on %s examples of split %q, validate on %d %s\n",
		countString(trainCount), cfg.split, valSet.Len(), data.what)
	var last tinynet.Epoch
	freq, err := tinynet.Fit(model, it, valSet, func(e tinynet.Epoch) {
		printEpoch(env.Stdout, e, cfg.epochs)
		last = e
	})
	it.Close()
	if err != nil {
		return err
	}
	printValidation(env.Stdout, data.train.Spec().LabelFeatures(), last, freq)
	return nil
}

// trainData is what train reads: the examples to train on, those to
// validate on, and how they were chosen.
type trainData struct {
	train, validation *trainer.Dataset
	what              string // the validation examples: `of split "validation"`, `held out ...`
	total             int64  // examples of the training split with the held-out part, -1 when unknown or not held out
}

// openTrainData opens the training split and the validation examples: a
// named split, the split "validation" when the dataset has one and no
// hold-out was asked for, else a hold-out of the training split.
func openTrainData(dir string, cfg *trainConfig) (trainData, error) {
	data := trainData{total: -1}
	name := cfg.validation
	if name == "" && !cfg.holdoutSet {
		all, err := trainer.Open(dir)
		if err != nil {
			return data, err
		}
		for _, sh := range all.Shards() {
			if sh.Split == "validation" && cfg.split != "validation" {
				name = "validation"
			}
		}
	}
	train, err := trainer.Open(dir, cfg.split)
	if err != nil {
		return data, err
	}
	if name != "" {
		validation, err := trainer.Open(dir, name)
		if err != nil {
			return data, err
		}
		return trainData{train: train, validation: validation, what: fmt.Sprintf("of split %q", name), total: -1}, nil
	}
	rest, held, err := train.Holdout(cfg.holdout)
	if err != nil {
		return data, err
	}
	what := fmt.Sprintf("held out from it (%g%% of keys by hash, seed %d)", 100*cfg.holdout.Fraction, cfg.holdout.Seed)
	return trainData{train: rest, validation: held, what: what, total: train.Examples()}, nil
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

// printEpoch prints an epoch as Keras' fit(verbose=2) does: the steps, the
// time, then losses and metrics, training first and val_ after.
func printEpoch(w io.Writer, e tinynet.Epoch, epochs int) {
	fmt.Fprintf(w, "Epoch %d/%d\n%d/%d - %.1fs", e.Epoch+1, epochs, e.Steps, e.Steps, e.Elapsed.Seconds())
	for _, m := range []struct {
		prefix  string
		metrics *tinynet.Metrics
	}{{"", &e.Train}, {"val_", &e.Validation}} {
		fmt.Fprintf(w, " - %sloss: %.4f", m.prefix, m.metrics.Loss())
		for k := range m.metrics.Heads {
			h := &m.metrics.Heads[k]
			fmt.Fprintf(w, " - %s%s_loss: %.4f", m.prefix, headName(h.Name), h.Loss())
		}
		for k := range m.metrics.Heads {
			h := &m.metrics.Heads[k]
			if h.OneHot {
				fmt.Fprintf(w, " - %s%s_accuracy: %.4f", m.prefix, headName(h.Name), h.Accuracy())
			} else {
				fmt.Fprintf(w, " - %s%s_macro_f1: %.4f", m.prefix, headName(h.Name), h.MacroF1())
			}
		}
	}
	fmt.Fprintln(w)
}

// printValidation prints the last epoch's validation scores against the
// baselines of the training label frequencies freq, and a per-label table
// for each multi-hot head.
func printValidation(w io.Writer, labels []schema.LabelInfo, e tinynet.Epoch, freq [][]float64) {
	name := func(k, i int) string {
		if i < len(labels[k].Names) {
			return labels[k].Names[i]
		}
		return fmt.Sprint(i)
	}
	fmt.Fprintf(w, "Validation (%d examples, after epoch %d):\n", e.Validation.Examples, e.Epoch+1)
	for k := range e.Validation.Heads {
		h := &e.Validation.Heads[k]
		if h.OneHot {
			majority := tinynet.Majority(freq[k])
			base := h.MajorityAccuracy(majority)
			fmt.Fprintf(w, "  %s: accuracy %.3f, majority baseline (always %q) %.3f: %+.3f\n",
				headName(h.Name), h.Accuracy(), name(k, majority), base, h.Accuracy()-base)
			continue
		}
		var always []string
		for i, f := range freq[k] {
			if f >= 0.5 {
				always = append(always, name(k, i))
			}
		}
		rule := "never any label"
		if len(always) > 0 {
			rule = "always " + strings.Join(always, ", ")
		}
		base := h.MajorityMacroF1(freq[k])
		fmt.Fprintf(w, "  %s: macro F1 %.3f, per-label majority baseline (%s) %.3f: %+.3f\n",
			headName(h.Name), h.MacroF1(), rule, base, h.MacroF1()-base)
		width := len("label")
		for i := range h.Labels {
			width = max(width, len(name(k, i)))
		}
		fmt.Fprintf(w, "    %-*s  precision  recall     F1  support\n", width, "label")
		absent := 0
		for i, c := range h.Labels {
			fmt.Fprintf(w, "    %-*s  %9.3f  %6.3f  %5.3f  %7d\n", width, name(k, i), c.Precision(), c.Recall(), c.F1(), c.Support())
			if c.Support() == 0 && c.FP == 0 {
				absent++
			}
		}
		if absent > 0 {
			fmt.Fprintf(w, "    (%d of %d labels neither occur nor are predicted: each counts as F1 0 in the macro average, as in Keras and scikit-learn)\n", absent, len(h.Labels))
		}
	}
}

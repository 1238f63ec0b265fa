package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/tfprep/tfprep/trainer"
	"github.com/tfprep/tfprep/trainer/tinynet"
)

func init() {
	register(&Command{
		Name:  "train",
		Args:  "[flags] DIR",
		Short: "train a tiny two-headed model on a dataset and compare it with image-blind baselines",
		Long: `Train demonstrates the reading side: it streams the training split of a converted dataset
through the trainer package (shuffled, batched, several epochs) into a small pure-Go network
with one head per label feature, trained with Adam (softmax for a one-hot label, sigmoid for
a multi-hot one), on a --pool x --pool grid of block means plus per-channel contrast and
texture of images in any of the spec's encodings. It validates on --validation's split
("validation" when there is one), else on a part of the training split held out by a seeded
hash of each key (--holdout, 10%): the same examples every run, never trained on.
Per epoch it prints a Keras-style line: losses and each head's metric (accuracy; macro F1 at
0.5 for multi-hot), val_ for validation. At the end it compares the validation scores with
image-blind baselines (the majority class, each label's majority) and lists precision,
recall, F1 and support per label. On images whose content follows their labels (tfprep
synth) the model clearly beats the baselines: images and labels stayed together from the
CSV through conversion and shards to the batches.` + trainExamples,
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
	data, err := trainer.OpenTraining(args[0], cfg.split, cfg.validation, cfg.holdout, cfg.holdoutSet)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("of split %q", data.ValidationSplit)
	if data.ValidationSplit == "" {
		what = fmt.Sprintf("held out from it (%g%% of keys by hash, seed %d)", 100*cfg.holdout.Fraction, cfg.holdout.Seed)
	}
	return tinynet.Run(ctx, env.Stdout, cfg.split, data, tinynet.RunOptions{Model: cfg.model, Epochs: cfg.epochs,
		Batch: cfg.batch, Shuffle: cfg.shuffle, Seed: cfg.seed, Validation: what})
}

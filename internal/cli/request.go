package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/serving"
)

func init() {
	register(&Command{
		Name:  "request",
		Args:  "[--spec NAME|FILE|DIR] [--url URL] [flags] IMAGE...",
		Short: "build (and send) a TF Serving REST request with the conversion's preprocessing",
		Long: `Request turns image files into the body of a TensorFlow Serving REST predict call,
{"instances": [{"input_image": ...}, ...]}, one instance per IMAGE, preprocessed exactly as
"tfprep convert" preprocesses images for the same spec: the same decoder, resize filter,
colour mode, scaling and normalisation. A float32 dataset gives nested [height][width][channel]
lists of numbers, each printed as the shortest decimal that parses back to the very float32 that
convert stores; uint8 gives integers 0..255; png and jpeg give {"b64": "..."} objects.

--spec takes a preset name, a spec file, or a converted dataset directory (its dataset.json
embeds the spec it was converted with, which is the safest choice).

Without --url the body is written to stdout. With --url it is POSTed and the predictions are
printed as label names. One model output is expected per label feature of the spec, named by
--outputs (default: the label feature names without a "_labels" suffix, so "weather" and
"ground" for the planet preset). A one-hot feature is read as arg-max, a multi-hot feature as
every label whose score is at least --threshold. The response may be in either of TF Serving's
documented shapes:

  row format:      {"predictions": [{"weather": [4 floats], "ground": [13 floats]}, ...]}
                   {"predictions": [[17 floats], ...]}   outputs concatenated in spec order
  columnar format: {"outputs": {"weather": [[4 floats], ...], "ground": [[13 floats], ...]}}
                   {"outputs": [[17 floats], ...]}

An {"error": "..."} response, or an HTTP status other than 200, is an error (exit 1). When
the model has no input of the --input-name (Keras names an unnamed Input "input_1";
"saved_model_cli show --dir MODEL --all" lists a model's names), the error says so.` + requestExamples,
		Flags: requestFlags,
	})
}

const requestExamples = `

Examples:
  # the body for two chips, for curl or a load test
  tfprep request --spec planet train_0.jpg train_1.jpg > body.json

  # exactly the preprocessing of a converted dataset, sent to a running model server
  tfprep request --spec out/demo --url http://localhost:8501/v1/models/planet:predict train_0.jpg

  # machine-readable predictions
  tfprep request --spec planet --url http://localhost:8501/v1/models/planet:predict --json *.jpg`

type requestConfig struct {
	spec      string
	url       string
	inputName string
	outputs   string
	threshold float64
	timeout   time.Duration
	json      bool
}

func requestFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	cfg := &requestConfig{}
	fs.StringVar(&cfg.spec, "spec", "planet", "preset `name`, spec file, or converted dataset directory")
	fs.StringVar(&cfg.url, "url", "", "TF Serving REST predict `URL`; empty: print the request body")
	fs.StringVar(&cfg.inputName, "input-name", "input_image", "`name` of the model input in each instance (Keras names an unnamed Input \"input_1\")")
	fs.StringVar(&cfg.outputs, "outputs", "", "comma-separated model output `names`, one per label feature in spec order (default: label feature names without \"_labels\")")
	fs.Float64Var(&cfg.threshold, "threshold", 0.5, "multi-hot labels: report every label with a score >= `t`")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "HTTP request timeout")
	fs.BoolVar(&cfg.json, "json", false, "print predictions as JSON")
	return func(ctx context.Context, env *Env, args []string) error {
		return runRequest(ctx, env, cfg, args)
	}
}

func runRequest(ctx context.Context, env *Env, cfg *requestConfig, images []string) error {
	if len(images) == 0 {
		return usagef("no IMAGE given")
	}
	if cfg.url == "" && (cfg.json || cfg.outputs != "") {
		return usagef("--json and --outputs describe predictions; they need --url")
	}
	spec, err := dataset.ResolveSpec(ctx, cfg.spec)
	if err != nil {
		return err
	}
	if m, err := dataset.ReadManifest(cfg.spec); err == nil && m.Decoder != imageprep.DecoderName() {
		// Decoders may differ by a level here and there; say so rather than
		// let "value for value" silently not hold.
		env.notef("warning: %s was converted with %s, this build decodes with %s; pixels may differ slightly", cfg.spec, m.Decoder, imageprep.DecoderName())
	}
	heads, err := serving.ParseHeads(spec.LabelFeatures(), cfg.outputs)
	if err != nil {
		return &usageError{err}
	}
	instances, err := serving.Preprocess(spec.ImageOptions(), images)
	if err != nil {
		return err
	}
	if cfg.url == "" {
		w := bufio.NewWriter(env.Stdout)
		if err := serving.WriteRequest(w, cfg.inputName, instances); err != nil {
			return err
		}
		return w.Flush()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	client := &serving.Client{URL: cfg.url, InputName: cfg.inputName, Heads: heads}
	scores, err := client.Predict(ctx, instances)
	switch {
	case errors.Is(err, serving.ErrUnknownInput):
		return fmt.Errorf("%w; name the model's input with --input-name (Keras names an unnamed Input \"input_1\"; \"saved_model_cli show --dir MODEL --all\" lists the names)", err)
	case errors.Is(err, serving.ErrUnknownOutput):
		return fmt.Errorf("%w; name the model's outputs with --outputs", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w (no answer within --timeout %v)", err, cfg.timeout)
	case errors.Is(err, serving.ErrUnreachable):
		return fmt.Errorf("%w (check --url: the server's host and port)", err)
	case err != nil:
		return err
	}
	preds := serving.Label(instances, heads, scores, cfg.threshold)
	if cfg.json {
		return writeJSON(env.Stdout, preds)
	}
	for _, p := range preds {
		fmt.Fprintln(env.Stdout, p)
	}
	return nil
}

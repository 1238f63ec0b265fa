package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
)

func init() {
	register(&Command{
		Name:  "spec",
		Args:  "list | validate SPEC... | show SPEC [--format yaml|json] | python SPEC|DIR [--input-name NAME] | init --csv PATH",
		Short: "list, check, print dataset specs and their tf.data parsing code",
		Long: `A spec says what a dataset is: the CSV's key column and image path template, each
label column with its kind (list, tags, class), vocabulary and output feature, and how
images are resized and stored. SPEC is a preset name (see "tfprep spec list"), a spec
file (.yaml, .yml or .json) or a converted dataset's directory, whose dataset.json
embeds the spec it was written with.

  list               the presets, with what they read
  validate SPEC...   check spec files; every problem is listed with its field path
  show SPEC          print the spec with every field and its default (YAML with the
                     allowed values as comments, or JSON with --format json: the
                     canonical form the manifest embeds); docs/SPEC.md describes
                     every field
  python SPEC|DIR    print Python that reads the dataset with tf.data and feeds a
                     Keras model: parse_record returns ({input name: image},
                     {label feature: label}); make_dataset shuffles, then repeats.
                     Given a converted dataset's DIR it adds the compression, the
                     record count and shard files of each split, and
                     split_dataset, which returns a split and its steps per epoch
  init --csv PATH    draft a spec from a CSV's header and first rows (--rows):
                     key column, image path, label kinds and vocabularies, with
                     notes on what was guessed; edit it, then validate it

Exit codes: 0 ok, 1 an invalid or unreadable spec, 2 usage.` + specExamples,
		Flags: specFlags,
	})
}

const specExamples = `

Examples:
  tfprep spec list
  tfprep spec show planet > myspec.yaml    # start a spec of your own from a preset
  tfprep spec validate myspec.yaml
  tfprep spec init --csv labels.csv > myspec.yaml   # a spec for your own CSV
  tfprep spec python out/demo > planet_input.py`

func specFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	format := fs.String("format", "", `output format of "show": yaml (default) or json`)
	inputName := fs.String("input-name", schema.DefaultInputName, `"python": the model input's name, the key of the image in the features dict (as "request --input-name")`)
	csvPath := fs.String("csv", "", `"init": the CSV file to draft a spec for`)
	rows := fs.Int("rows", 10000, `"init": data rows read to guess label kinds and vocabularies (0: all)`)
	return func(ctx context.Context, env *Env, args []string) error {
		// Each flag belongs to one subcommand.
		var set []string
		fs.Visit(func(f *flag.Flag) { set = append(set, f.Name) })
		return runSpec(env, specOptions{format: *format, inputName: *inputName, csv: *csvPath, rows: *rows, set: set}, args)
	}
}

type specOptions struct {
	format, inputName, csv string
	rows                   int
	set                    []string // the flags given
}

var specFlagOwner = map[string]string{"format": "show", "input-name": "python", "csv": "init", "rows": "init"}

func runSpec(env *Env, opts specOptions, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: list, validate, show, python or init")
	}
	sub, operands := args[0], args[1:]
	for _, name := range opts.set {
		if owner := specFlagOwner[name]; owner != sub {
			return usagef("--%s applies to %s only", name, owner)
		}
	}
	switch sub {
	case "list":
		if len(operands) != 0 {
			return usagef("list takes no arguments")
		}
		return specList(env)
	case "validate":
		if len(operands) == 0 {
			return usagef("validate wants at least one spec")
		}
		return specValidate(env, operands)
	case "init":
		if len(operands) != 0 || opts.csv == "" {
			return usagef("init wants --csv PATH and no arguments")
		}
		return specInit(env, opts.csv, opts.rows)
	case "show", "python":
		if len(operands) != 1 {
			return usagef("%s wants one spec, got %d arguments", sub, len(operands))
		}
		if sub == "python" {
			code, err := dataset.Python(context.Background(), operands[0], opts.inputName)
			if err == nil {
				_, err = io.WriteString(env.Stdout, code)
			}
			return err
		}
		switch opts.format {
		case "", "yaml", "json":
		default:
			return usagef("unknown --format %q, want yaml or json", opts.format)
		}
		return specShow(env, operands[0], opts.format)
	}
	return usagef("unknown subcommand %q, want list, validate, show, python or init", sub)
}

func specList(env *Env) error {
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, name := range schema.PresetNames() {
		s, err := schema.Preset(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, s.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return nil
}

// specValidate checks every spec and reports each; it fails if any is bad.
func specValidate(env *Env, specs []string) error {
	var failed error
	for _, arg := range specs {
		s, err := schema.Resolve(arg)
		if err != nil {
			// A finding, one of several: the error names the file (or the
			// unknown preset) already.
			fmt.Fprintln(env.Stderr, err)
			failed = errFailed
			continue
		}
		var features []string
		for _, f := range s.Features() {
			features = append(features, fmt.Sprintf("%s %s%v", f.Name, f.DType, f.Shape))
		}
		fmt.Fprintf(env.Stdout, "%s: ok: spec %q, features: %s\n", arg, s.Name, strings.Join(features, ", "))
	}
	return failed
}

func specShow(env *Env, arg, format string) error {
	s, err := schema.Resolve(arg)
	if err != nil {
		return err
	}
	var out []byte
	if format == "json" {
		out, err = s.Marshal()
		out = append(out, '\n')
	} else {
		out, err = s.YAML()
	}
	if err != nil {
		return err
	}
	if _, err := env.Stdout.Write(out); err != nil {
		return err
	}
	return nil
}

// specInit prints a spec drafted from a CSV file, local or in a bucket.
func specInit(env *Env, csvPath string, rows int) error {
	f, err := dataset.OpenFile(context.Background(), csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := schema.DraftYAML(csvPath, f, rows)
	if err == nil {
		_, err = env.Stdout.Write(out)
	}
	return err
}

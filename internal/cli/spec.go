package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/tfprep/tfprep/schema"
)

func init() {
	register(&Command{
		Name:  "spec",
		Args:  "list | validate SPEC... | show SPEC [--format yaml|json] | python SPEC",
		Short: "list, check, print dataset specs and their tf.data parsing code",
		Long: `A spec says what a dataset is: the CSV's key column and image path template, each
label column with its kind (list, tags, class), vocabulary and output feature, and how
images are resized and stored. SPEC is a preset name (see "tfprep spec list"), a spec
file (.yaml, .yml or .json) or a converted dataset's directory, whose dataset.json
embeds the spec it was written with.

  list               the presets, with what they read
  validate SPEC...   check spec files; every problem is listed with its field path
  show SPEC          print the spec with all defaults filled in (YAML, or JSON with
                     --format json: the canonical form the manifest embeds)
  python SPEC        print Python that reads the dataset with tf.data: the
                     feature_description, parse_record and make_dataset

Exit codes: 0 ok, 1 an invalid or unreadable spec, 2 usage.` + specExamples,
		Flags: specFlags,
	})
}

const specExamples = `

Examples:
  tfprep spec list
  tfprep spec show planet > myspec.yaml    # start a spec of your own from a preset
  tfprep spec validate myspec.yaml
  tfprep spec python out/demo > planet_input.py`

func specFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	format := fs.String("format", "", `output format of "show": yaml (default) or json`)
	return func(ctx context.Context, env *Env, args []string) error {
		return runSpec(env, *format, args)
	}
}

func runSpec(env *Env, format string, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: list, validate, show or python")
	}
	sub, operands := args[0], args[1:]
	if format != "" && sub != "show" {
		return usagef("--format applies to show only")
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
	case "show", "python":
		if len(operands) != 1 {
			return usagef("%s wants one spec, got %d arguments", sub, len(operands))
		}
		if sub == "python" {
			return specPython(env, operands[0])
		}
		switch format {
		case "", "yaml", "json":
		default:
			return usagef("unknown --format %q, want yaml or json", format)
		}
		return specShow(env, operands[0], format)
	}
	return usagef("unknown subcommand %q, want list, validate, show or python", sub)
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
	return tw.Flush()
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
	_, err = env.Stdout.Write(out)
	return err
}

func specPython(env *Env, arg string) error {
	s, err := schema.Resolve(arg)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(env.Stdout, s.Python())
	return err
}

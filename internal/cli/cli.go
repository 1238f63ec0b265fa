// Package cli implements the tfprep command line: a registry of subcommands,
// each in its own file, dispatched by Run. main stays thin so that tests can
// call Run with injected writers.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/tfprep/tfprep/pipeline"
)

// Exit codes, documented in "tfprep help".
const (
	ExitOK      = 0 // success
	ExitError   = 1 // failure: bad data, I/O error, verification failed
	ExitUsage   = 2 // bad command line
	ExitPartial = 3 // output written, but some input rows were rejected
	// ExitInterrupted: stopped by SIGINT or SIGTERM (128 + SIGINT, as
	// shells report it).
	ExitInterrupted = 130
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	name   string // the command's, for notef
}

// notef writes a line that is not an error to stderr: a warning, a result
// that is not data, progress. Errors are returned, not printed.
func (e *Env) notef(format string, a ...any) {
	fmt.Fprintf(e.Stderr, "tfprep %s: %s\n", e.name, fmt.Sprintf(format, a...))
}

// Command is one tfprep subcommand.
type Command struct {
	Name  string // "convert"
	Args  string // synopsis after the name: "--spec planet --csv PATH ..."
	Short string // one line for the command list
	Long  string // full help: what it does, flags are appended, then examples
	// Flags declares the command's flags on fs and returns the function that
	// runs it with the positional arguments left after parsing. The error it
	// returns picks the exit code (see Run).
	Flags func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error
	// Hidden commands are left out of the command list.
	Hidden bool
}

var commands = map[string]*Command{}

// register adds a command; each command file calls it from init.
func register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("cli: duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

// Usage writes the top-level help.
func Usage(w io.Writer) {
	fmt.Fprint(w, `tfprep converts a CSV of image names and labels plus a folder of JPEGs into
sharded TFRecord files of tf.train.Example on Apache Beam, and reads them back.

Usage:
  tfprep [beam flags] <command> [flags] [args]

Commands:
`)
	names := make([]string, 0, len(commands))
	for name, c := range commands {
		if !c.Hidden {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].Short)
	}
	fmt.Fprint(w, `
Run "tfprep help <command>" for a command's flags and examples.

Exit codes:
  0  success
  1  error (bad data, I/O failure, verification failed)
  2  usage error
  3  output written, but some input rows were rejected (see errors.csv)
`)
}

// Run dispatches args (without the program name) to a subcommand and
// returns the process exit code. It is the one place that turns a command's
// error into an exit code and prints it, once, as "tfprep CMD: error": a
// usage error (usagef) exits 2 with a pointer to the command's help, a
// partial result (partialf) 3, errFailed 1 without a message (the command
// printed its findings), any other error 1.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		Usage(stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(stderr, "tfprep: unknown command %q\n", args[1])
				return ExitUsage
			}
			commandHelp(stdout, c)
			return ExitOK
		}
		Usage(stdout)
		return ExitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "tfprep: unknown command %q; run \"tfprep help\"\n", name)
		return ExitUsage
	}
	fs := flag.NewFlagSet("tfprep "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	run := c.Flags(fs)
	rest, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		commandHelp(stdout, c)
		return ExitOK
	}
	if err != nil {
		err = &usageError{err}
	} else {
		err = run(ctx, &Env{Stdout: stdout, Stderr: stderr, Stdin: os.Stdin, name: c.Name}, rest)
	}
	return exitCode(stderr, c.Name, err)
}

// exitCode prints a command's error and returns its exit code.
func exitCode(stderr io.Writer, name string, err error) int {
	var usage *usageError
	var partial *partialError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errFailed):
		return ExitError
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "tfprep %s: %v\nrun \"tfprep help %s\" for usage\n", name, err, name)
		return ExitUsage
	}
	fmt.Fprintf(stderr, "tfprep %s: %v\n", name, err)
	if errors.Is(err, pipeline.ErrInterrupted) {
		return ExitInterrupted
	}
	if errors.As(err, &partial) {
		return ExitPartial
	}
	return ExitError
}

// usageError is a bad command line: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error; format may wrap errors with %w.
func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// partialError reports output that was written although some input was
// skipped: exit code 3.
type partialError struct{ err error }

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

// partialf returns a partial-result error; format may wrap errors with %w.
func partialf(format string, a ...any) error { return &partialError{fmt.Errorf(format, a...)} }

// errFailed is returned by a command whose check failed after it printed
// its findings (verify's report, spec validate's problems): exit code 1,
// with nothing more said.
var errFailed = errors.New("failed; see the report")

func commandHelp(w io.Writer, c *Command) {
	fmt.Fprintf(w, "Usage: tfprep %s %s\n\n%s\n", c.Name, c.Args, strings.TrimSpace(c.Short))
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	c.Flags(fs)
	// The command's own flags first; flags it shares with the global flag
	// set (Beam's) are listed by name only, since "tfprep help" and Beam's
	// documentation describe them.
	own := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	var inherited []string
	fs.VisitAll(func(f *flag.Flag) {
		if g := flag.CommandLine.Lookup(f.Name); g != nil && g.Value == f.Value {
			inherited = append(inherited, "--"+f.Name)
			return
		}
		own.Var(f.Value, f.Name, f.Usage)
		own.Lookup(f.Name).DefValue = f.DefValue
	})
	var b strings.Builder
	own.SetOutput(&b)
	own.PrintDefaults()
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", b.String())
	}
	if len(inherited) > 0 {
		fmt.Fprintf(w, "\nApache Beam pipeline flags (before or after the command name):\n%s\n",
			wrapList(inherited, 88, "  "))
	}
}

// wrapList joins words with spaces into lines of at most width columns, each
// starting with indent.
func wrapList(words []string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, w := range words {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments ("tfprep cat FILE --limit 3"); "--" ends flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		// fs.Parse stops at the first non-flag, or just after a "--" that it
		// swallows; everything after "--" is positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// inheritGlobalFlags makes every flag of the global flag set (Beam's
// --runner, --endpoint, --project, ...) also settable after the subcommand
// name, sharing the same value.
func inheritGlobalFlags(fs *flag.FlagSet) {
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
}

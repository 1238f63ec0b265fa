// Package workerbin inspects the tfprep binary that a distributed Beam runner
// (Dataflow, Flink, Spark, a Prism job server) stages and starts on its
// workers, before any job is submitted.
//
// The workers of those runners are other processes, often on other machines
// and inside a minimal container: they run whatever binary the launcher
// staged. For the workers to produce the pixels the spec promises and to
// speak the launcher's protocol, that binary must be
//
//   - an ELF executable for linux/amd64 (what the runners' Go containers run),
//   - fully static (no program interpreter, no shared library needed: the
//     containers do not have libjpeg-turbo, nor always a matching glibc),
//   - tfprep itself (main package github.com/tfprep/tfprep/cmd/tfprep), of
//     the launcher's version and VCS revision, with the launcher's Beam SDK,
//   - built with cgo, so that images are decoded by libjpeg-turbo exactly as
//     PIL decodes them (without it, the pure-Go decoder's pixels are within a
//     few levels of PIL's, not identical).
//
// Inspect reads all of this from the file alone (debug/elf and the Go build
// information embedded in every Go binary); nothing is executed.
package workerbin

import (
	"cmp"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
)

// Module paths a worker binary is recognised by.
const (
	MainPath   = "github.com/tfprep/tfprep/cmd/tfprep"
	ModulePath = "github.com/tfprep/tfprep"
	BeamModule = "github.com/apache/beam/sdks/v2"
)

// ErrUnusable is the error of a binary that cannot serve as the workers'
// binary; the *Error wrapping it lists every reason.
var ErrUnusable = errors.New("workerbin: unusable worker binary")

// Error lists why the binary at Path cannot be staged.
type Error struct {
	Path     string
	Problems []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("worker binary %s: %s", e.Path, strings.Join(e.Problems, "; "))
}

func (e *Error) Unwrap() error { return ErrUnusable }

// Build is what a Go binary says about how it was built.
type Build struct {
	MainPath  string // the main package, e.g. github.com/tfprep/tfprep/cmd/tfprep
	Version   string // tfprep's module version: "v1.2.3", or "(devel)" from a checkout
	Revision  string // vcs.revision; "" when the build did not record it
	Modified  bool   // vcs.modified: built from a checkout with uncommitted changes
	Beam      string // version of the Beam Go SDK linked in
	GoVersion string
	GOOS      string
	GOARCH    string
	CGO       bool // CGO_ENABLED=1: imageprep decodes with libjpeg-turbo
}

// Binary is an inspected executable file.
type Binary struct {
	Path string
	Build
	Machine elf.Machine
	Interp  string   // the program interpreter (PT_INTERP) of a dynamic executable
	Needed  []string // shared libraries (DT_NEEDED)
}

// Static reports whether the binary needs neither an interpreter nor shared
// libraries.
func (b *Binary) Static() bool { return b.Interp == "" && len(b.Needed) == 0 }

// Running describes the build of the running program: the launcher.
func Running() (Build, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Build{}, errors.New("workerbin: the running program has no build information")
	}
	return fromBuildInfo(bi), nil
}

// Self inspects the running executable: a launcher that can serve as its
// own workers' binary stages itself.
func Self() (*Binary, error) {
	path, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("workerbin: locating this program: %w", err)
	}
	return Inspect(path)
}

// Inspect reads the ELF headers and the Go build information of the file at
// path. It fails only when the file cannot be read or is not an ELF Go
// binary; Check judges the rest.
func Inspect(path string) (*Binary, error) {
	if _, err := os.Stat(path); err != nil {
		problem := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			problem = "does not exist"
		}
		return nil, &Error{Path: path, Problems: []string{problem}}
	}
	f, err := elf.Open(path)
	if err != nil {
		return nil, &Error{Path: path, Problems: []string{fmt.Sprintf("not a Linux (ELF) executable: %v", err)}}
	}
	defer f.Close()
	b := &Binary{Path: path, Machine: f.Machine}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				return nil, &Error{Path: path, Problems: []string{fmt.Sprintf("reading its program interpreter: %v", err)}}
			}
			b.Interp = strings.TrimRight(string(data), "\x00")
			if b.Interp == "" {
				b.Interp = "(empty PT_INTERP)"
			}
		}
	}
	// A static executable has no dynamic section: ErrNoSymbols or nil.
	if libs, err := f.ImportedLibraries(); err == nil {
		b.Needed = libs
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, &Error{Path: path, Problems: []string{fmt.Sprintf("not a Go program (%v)", err)}}
	}
	b.Build = fromBuildInfo(bi)
	return b, nil
}

func fromBuildInfo(bi *debug.BuildInfo) Build {
	b := Build{MainPath: bi.Path, GoVersion: bi.GoVersion}
	if bi.Main.Path == ModulePath {
		b.Version = bi.Main.Version
	}
	for _, dep := range bi.Deps {
		switch dep.Path {
		case ModulePath:
			b.Version = dep.Version // a program that imports tfprep
		case BeamModule:
			b.Beam = dep.Version
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "GOOS":
			b.GOOS = s.Value
		case "GOARCH":
			b.GOARCH = s.Value
		case "CGO_ENABLED":
			b.CGO = s.Value == "1"
		}
	}
	return b
}

// Check returns an *Error listing every reason the binary cannot run as the
// workers of a job launched by launcher; with pilPixels, a binary built
// without cgo is one (its pixels are not PIL's). It returns nil for a usable
// binary.
func (b *Binary) Check(launcher Build, pilPixels bool) error {
	var problems []string
	if b.Machine != elf.EM_X86_64 || b.GOOS != "linux" || b.GOARCH != "amd64" {
		problems = append(problems, fmt.Sprintf("built for %s/%s (%s), the workers run linux/amd64", b.GOOS, b.GOARCH, b.Machine))
	}
	if !b.Static() {
		what := "dynamically linked"
		if b.Interp != "" {
			what += " (interpreter " + b.Interp + ")"
		}
		if len(b.Needed) > 0 {
			what += " (needs " + strings.Join(b.Needed, ", ") + ")"
		}
		problems = append(problems, what+", the workers' containers need a static binary")
	}
	if b.MainPath != MainPath {
		problems = append(problems, fmt.Sprintf("is %s, not tfprep (%s)", cmp.Or(b.MainPath, "an unknown program"), MainPath))
	} else {
		problems = append(problems, sameBuild(launcher, b.Build)...)
	}
	if pilPixels && !b.CGO {
		problems = append(problems, "built without cgo (CGO_ENABLED=0): its pure-Go JPEG decoder's pixels are not PIL's")
	}
	if len(problems) == 0 {
		return nil
	}
	return &Error{Path: b.Path, Problems: problems}
}

// sameBuild lists how the worker's build differs from the launcher's in what
// the job depends on: tfprep's version and revision, and Beam's.
func sameBuild(launcher, worker Build) []string {
	var problems []string
	if launcher.Version != worker.Version {
		problems = append(problems, fmt.Sprintf("is tfprep %s, this is tfprep %s", cmp.Or(worker.Version, "of unknown version"), cmp.Or(launcher.Version, "of unknown version")))
	}
	// A build without VCS information (go install from the module proxy,
	// -buildvcs=false) is known by its version alone.
	if launcher.Revision != "" && worker.Revision != "" &&
		(launcher.Revision != worker.Revision || launcher.Modified != worker.Modified) {
		problems = append(problems, fmt.Sprintf("was built from revision %s, this tfprep from %s", revision(worker), revision(launcher)))
	}
	if launcher.Beam != worker.Beam {
		problems = append(problems, fmt.Sprintf("links Beam SDK %s, this tfprep %s", cmp.Or(worker.Beam, "(none)"), cmp.Or(launcher.Beam, "(none)")))
	}
	return problems
}

func revision(b Build) string {
	if b.Modified {
		return b.Revision + " with uncommitted changes"
	}
	return b.Revision
}

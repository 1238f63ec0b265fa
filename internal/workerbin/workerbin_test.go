package workerbin

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// good is a worker binary as `make worker` builds it, launched by the same tfprep.
func good() (*Binary, Build) {
	build := Build{MainPath: MainPath, Version: "v1.2.0", Revision: "abc123", Beam: "v2.77.0",
		GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64", CGO: true}
	return &Binary{Path: "bin/tfprep-linux-amd64", Build: build, Machine: elf.EM_X86_64}, build
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		change    func(b *Binary, launcher *Build)
		pilPixels bool
		want      []string // problems, in order; none: usable
	}{
		{"usable", func(*Binary, *Build) {}, true, nil},
		{"other go version is fine", func(b *Binary, _ *Build) { b.GoVersion = "go1.26.1" }, true, nil},
		{"no vcs information on one side", func(b *Binary, _ *Build) { b.Revision = "" }, true, nil},
		{"arm64", func(b *Binary, _ *Build) { b.GOARCH, b.Machine = "arm64", elf.EM_AARCH64 }, true,
			[]string{"built for linux/arm64 (EM_AARCH64), the workers run linux/amd64"}},
		{"dynamic", func(b *Binary, _ *Build) {
			b.Interp, b.Needed = "/lib64/ld-linux-x86-64.so.2", []string{"libc.so.6"}
		}, true, []string{"dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2) (needs libc.so.6)"}},
		{"not tfprep", func(b *Binary, _ *Build) { b.MainPath = "example.com/wordcount" }, true,
			[]string{"is example.com/wordcount, not tfprep"}},
		{"other version", func(_ *Binary, l *Build) { l.Version = "v1.3.0" }, true,
			[]string{"is tfprep v1.2.0, this is tfprep v1.3.0"}},
		{"other revision", func(_ *Binary, l *Build) { l.Revision = "def456" }, true,
			[]string{"was built from revision abc123, this tfprep from def456"}},
		{"uncommitted changes", func(b *Binary, _ *Build) { b.Modified = true }, true,
			[]string{"abc123 with uncommitted changes"}},
		{"other beam", func(b *Binary, _ *Build) { b.Beam = "v2.70.0" }, true,
			[]string{"links Beam SDK v2.70.0, this tfprep v2.77.0"}},
		{"pure go, PIL pixels wanted", func(b *Binary, _ *Build) { b.CGO = false }, true,
			[]string{"built without cgo"}},
		{"pure go, approximate pixels accepted", func(b *Binary, _ *Build) { b.CGO = false }, false, nil},
		{"everything wrong", func(b *Binary, _ *Build) {
			b.GOOS, b.Needed, b.MainPath, b.CGO = "darwin", []string{"libSystem.B.dylib"}, "", false
		}, true, []string{"built for darwin/amd64", "dynamically linked", "is an unknown program, not tfprep", "built without cgo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, launcher := good()
			tt.change(b, &launcher)
			err := b.Check(launcher, tt.pilPixels)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want a usable binary", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrUnusable) {
				t.Fatalf("got %v, want an *Error that is ErrUnusable", err)
			}
			if len(e.Problems) != len(tt.want) {
				t.Fatalf("got problems %q, want %d like %q", e.Problems, len(tt.want), tt.want)
			}
			for i, want := range tt.want {
				if !strings.Contains(e.Problems[i], want) {
					t.Errorf("problem %d: got %q, want it to contain %q", i, e.Problems[i], want)
				}
			}
			if !strings.HasPrefix(err.Error(), "worker binary bin/tfprep-linux-amd64: ") {
				t.Errorf("got %q, want the path first", err)
			}
		})
	}
}

// TestInspect reads real files: this test binary (a Go program, not tfprep), a text file, a
// missing file and a truncated copy of the test binary.
func TestInspect(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Inspect(self)
	if err != nil {
		t.Fatal(err)
	}
	running, err := Running()
	if err != nil {
		t.Fatal(err)
	}
	if b.Build != running {
		t.Errorf("the file's build %+v differs from the running program's %+v", b.Build, running)
	}
	if b.Machine != elf.EM_X86_64 && b.GOARCH == "amd64" {
		t.Errorf("got machine %v for an amd64 build", b.Machine)
	}
	if b.MainPath == MainPath || !strings.HasSuffix(b.MainPath, "workerbin.test") {
		t.Errorf("got main package %q, want the test's", b.MainPath)
	}
	if err := b.Check(running, false); err == nil || !strings.Contains(err.Error(), "not tfprep") {
		t.Errorf("got %v, want the test binary refused as not tfprep", err)
	}

	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated")
	if err := os.WriteFile(truncated, data[:4096], 0o755); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		text:                                   "not a Linux (ELF) executable",
		filepath.Join(dir, "missing"):          "does not exist",
		truncated:                              "",
		filepath.Join(dir, "notes.txt") + "/x": "not a directory",
	} {
		_, err := Inspect(path)
		if err == nil || !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("Inspect(%s): got %v, want an ErrUnusable naming the file and %q", filepath.Base(path), err, want)
		}
	}
}

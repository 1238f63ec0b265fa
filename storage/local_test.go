package storage

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// watchSyncDir replaces syncDir until the test ends: each call is passed to
// check, then syncDir runs (or fails with check's error).
func watchSyncDir(t *testing.T, check func(dir string) error) {
	orig := syncDir
	syncDir = func(dir string) error {
		if err := check(dir); err != nil {
			return err
		}
		return orig(dir)
	}
	t.Cleanup(func() { syncDir = orig })
}

// TestCreateNewFile: the file appears whole, under its name only, once the
// directory is synced; its temporary is gone by then; an existing file is
// fs.ErrExist and keeps its content, and nothing is left beside it.
func TestCreateNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".journal")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16+1) // 1 MiB and 16 bytes
	var synced []string
	watchSyncDir(t, func(d string) error {
		synced = append(synced, d)
		if d != dir {
			return nil
		}
		// The name is in place, whole, and the temporary gone before the
		// directory is synced (the sync makes both durable).
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
			t.Errorf("at the directory's sync: %s holds %d bytes (%v), want %d", path, len(got), err, len(data))
		}
		if names := dirNames(t, dir); len(names) != 1 {
			t.Errorf("at the directory's sync: %s holds %v, want only %s", dir, names, filepath.Base(path))
		}
		return nil
	})
	if err := CreateNewFile(path, data); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Errorf("directories synced: %q, want [%q]", synced, dir)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(data))
	}

	synced = nil
	err := CreateNewFile(path, []byte("other"))
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("CreateNewFile over an existing file: %v, want fs.ErrExist naming %s", err, path)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Errorf("the existing file was changed: %d bytes", len(got))
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("after a refused CreateNewFile: %v, want only %s", names, filepath.Base(path))
	}
	if len(synced) != 0 {
		t.Errorf("a refused CreateNewFile synced %q", synced)
	}

	// The directory is made if needed.
	nested := filepath.Join(dir, "a", "b", "f")
	if err := CreateNewFile(nested, nil); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(nested); err != nil || info.Size() != 0 {
		t.Errorf("empty file in a new directory: %v, %v", info, err)
	}
}

// TestCreateNewFileSyncFails: a directory that cannot be synced is an
// error, and the name is removed again (the caller treats the file as not
// created), with its temporary.
func TestCreateNewFileSyncFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	watchSyncDir(t, func(string) error { return &fs.PathError{Op: "fsync", Path: dir, Err: syscall.EIO} })
	if err := CreateNewFile(path, []byte("data")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("got %v, want EIO", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}

// TestCreateNewFileNeverPartial races readers against writers of a file
// large enough to take many writes: a reader that finds the name finds the
// whole file, and the only other name in the directory meanwhile is the
// temporary, "NAME.tmp-" and 12 hex digits (the name package dataset sweeps
// as a leftover of a killed run).
func TestCreateNewFileNeverPartial(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte{'x'}, 3*writeBehindChunk+12345)
	tempRE := regexp.MustCompile(`^f[0-9]\.tmp-[0-9a-f]{12}$`)
	for i := range 3 {
		name := "f" + string(rune('0'+i))
		path := filepath.Join(dir, name)
		done := make(chan struct{})
		var wg sync.WaitGroup
		var seenWhole, seenTemp bool
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if got, err := os.ReadFile(path); err == nil {
					if len(got) != len(data) {
						t.Errorf("%s read while being created: %d bytes of %d", name, len(got), len(data))
						return
					}
					seenWhole = true
				}
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					n := e.Name()
					if n == name || n < name { // earlier files are done
						continue
					}
					if !tempRE.MatchString(n) || !strings.HasPrefix(n, name+".tmp-") {
						t.Errorf("%s holds %s while %s is created", dir, n, name)
						return
					}
					seenTemp = true
				}
			}
		})
		err := CreateNewFile(path, data)
		close(done)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: reader saw the temporary %v, the whole file %v", name, seenTemp, seenWhole)
	}
	if names := dirNames(t, dir); strings.Join(names, " ") != "f0 f1 f2" {
		t.Errorf("left: %v", names)
	}
}

// TestLeaseCreateSyncsDir: a lease created only if absent on local disk is
// linked into place the same way, its directory synced.
func TestLeaseCreateSyncsDir(t *testing.T) {
	var synced []string
	watchSyncDir(t, func(d string) error {
		synced = append(synced, d)
		return nil
	})
	root := t.TempDir()
	d, err := Open(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.AcquireLease(t.Context(), "lock", CurrentHolder("run"), 0); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != root {
		t.Errorf("directories synced: %q, want [%q]", synced, root)
	}
	if names := dirNames(t, root); strings.Join(names, " ") != "lock" {
		t.Errorf("%s holds %v, want only the lease", root, names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

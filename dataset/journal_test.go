package dataset

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

// TestLocalJournalWrite: the local journal is created only if absent
// (fs.ErrExist, the old one kept) and nothing but it is left beside it.
func TestLocalJournalWrite(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	path := filepath.Join(dir, JournalName)
	if err := (localDisk{}).CreateNew(ctx, path, []byte(`{"run":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if err := (localDisk{}).CreateNew(ctx, path, []byte(`{"run":"b"}`)); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateNew: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != `{"run":"a"}` {
		t.Errorf("journal holds %q after a refused CreateNew", got)
	}
	if all, _ := (localDisk{}).ListAll(ctx, dir); strings.Join(all, " ") != JournalName {
		t.Errorf("%s holds %v, want only the journal", dir, all)
	}
}

// TestDamagedJournal: a torn journal (an earlier tfprep wrote it in place
// and was killed, or the power failed) is not deleted; Create and Open say
// it is damaged, name it and its size, and tell the user to delete it and
// run again; once deleted, the next conversion succeeds and a leftover
// temporary of the journal is swept.
func TestDamagedJournal(t *testing.T) {
	ctx := context.Background()
	for _, torn := range []string{"", `{"run":"abc","staging":".tfprep-tmp-x","moves":[{"fr`} {
		t.Run(fmt.Sprintf("%d bytes", len(torn)), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			if _, err := sampleAssembly(t, dir, tfrecord.None, true, false, 2).Commit(ctx); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, JournalName)
			if err := os.WriteFile(path, []byte(torn), 0o644); err != nil {
				t.Fatal(err)
			}
			leftover := filepath.Join(dir, JournalName+".tmp-0123456789ab")
			if err := os.WriteFile(leftover, []byte(torn), 0o644); err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrCommitInterrupted) {
					t.Fatalf("%s: %v, want ErrCommitInterrupted", what, err)
				}
				msg := err.Error()
				t.Logf("%s: %s", what, msg)
				for _, want := range []string{"damaged", path, fmt.Sprintf("(%d bytes", len(torn)), "delete " + path} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: %q lacks %q", what, msg, want)
					}
				}
				if strings.Contains(msg, "to finish it") {
					t.Errorf("%s: %q tells the user that running again finishes the commit", what, msg)
				}
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: the damaged journal is gone: %v", what, err)
				}
			}
			_, err := Open(ctx, dir)
			check("Open", err)
			_, err = Create(ctx, dir, true)
			check("Create", err)

			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if _, err := sampleAssembly(t, dir, tfrecord.None, true, true, 3).Commit(ctx); err != nil {
				t.Fatalf("conversion after the damaged journal was deleted: %v", err)
			}
			verifyClean(t, dir, 3)
			if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the journal's temporary %s was not swept: %v", leftover, err)
			}
		})
	}
}

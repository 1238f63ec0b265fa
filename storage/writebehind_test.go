package storage

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCreateFile writes more than two write-behind chunks in pieces that do not divide them and reads the
// file back; the writes already handed to the disk must end at the last whole chunk boundary crossed.
func TestCreateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shard")
	w, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	piece := bytes.Repeat([]byte("0123456789abcdef"), 12289) // 196,624 bytes, about one Planet record
	var want []byte
	for len(want) < 2*writeBehindChunk+len(piece) {
		if _, err := w.Write(piece); err != nil {
			t.Fatal(err)
		}
		want = append(want, piece...)
	}
	wb := &w.(*syncedFile).writeBehind
	if wb.written != int64(len(want)) || wb.started < 2*writeBehindChunk || wb.started > wb.written || wb.written-wb.started >= writeBehindChunk {
		t.Errorf("written %d, handed to the disk %d: want every whole chunk of %d handed over", wb.written, wb.started, writeBehindChunk)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes, wrote %d (or different bytes)", len(got), len(want))
	}
	// Truncates, as os.Create.
	if w, err = CreateFile(path); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Size() != 0 {
		t.Errorf("after CreateFile and Close: %v, %v; want an empty file", info, err)
	}
}

func TestCreateFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "shard")
	if _, err := CreateFile(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CreateFile in a missing directory: %v, want fs.ErrNotExist", err)
	}
	w, err := CreateFile(filepath.Join(t.TempDir(), "shard"))
	if err != nil {
		t.Fatal(err)
	}
	w.(*syncedFile).f.Close() // the descriptor goes away under the writer
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write to a closed file: no error")
	}
	if err := w.Close(); err == nil {
		t.Error("Close of a closed file: no error")
	}
}

package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"

	"github.com/google/go-cmp/cmp"
)

func TestLowestLines(t *testing.T) {
	var ws []Warning
	for _, line := range []int{9, 3, 7, 1, 5} {
		ws = append(ws, Warning{Line: line})
	}
	var got []int
	for _, w := range lowestLines(ws, 3) {
		got = append(got, w.Line)
	}
	if diff := cmp.Diff([]int{1, 3, 5}, got); diff != "" {
		t.Errorf("lowestLines (-want +got):\n%s", diff)
	}
}

// A conversion that read rows and wrote none has failed: no manifest, no
// shard, errors.csv kept, the error naming the stage most rows failed at.
func TestCommitNothingWritten(t *testing.T) {
	ctx := context.Background()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	tempDir, err := Create(ctx, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	a := &Assembly{Location: dir, TempDir: tempDir, Spec: spec, Splits: []SplitLayout{{Name: "train", Fraction: 1, Shards: 2}}}
	a.AddRead(3)
	a.AddRejected(ErrorRecord{Line: 4, Key: "c", Stage: StageIO, Reason: "open c.jpg: no such file"})
	a.AddRejected(ErrorRecord{Line: 2, Key: "a", Stage: StageLabel, Reason: "bad label"})
	a.AddRejected(ErrorRecord{Line: 3, Key: "b", Stage: StageIO, Reason: "open b.jpg: no such file"})
	_, err = a.Commit(ctx)
	var nw *NothingWrittenError
	if !errors.As(err, &nw) || !errors.Is(err, ErrNothingWritten) {
		t.Fatalf("got %v, want a NothingWrittenError", err)
	}
	if nw.Stage != StageIO || nw.StageRows != 2 || nw.First.Line != 3 || nw.Read != 3 {
		t.Errorf("got %+v, want stage io, 2 rows, first line 3", nw)
	}
	if !strings.Contains(err.Error(), "line 3: open b.jpg") {
		t.Errorf("error %q does not name the first io rejection", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{ErrorsName}, names); diff != "" {
		t.Errorf("files left (-want +got):\n%s", diff)
	}
}

// A dataset whose manifest says every row was rejected fails verification.
func TestVerifyNothingWritten(t *testing.T) {
	dir, m := writeSample(t, tfrecord.None, false)
	m.Rows.Read = m.Rows.Rejected
	m.Rows.Written = 0
	for i := range m.Splits {
		m.Splits[i].Records, m.Splits[i].Bytes = 0, 0
		m.Splits[i].Shards = nil
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range r.Discrepancies {
		found = found || d.Check == "rows" && strings.Contains(d.Detail, "no row written")
	}
	if r.OK || !found {
		t.Errorf("got ok=%v %v, want a rows discrepancy: nothing written", r.OK, r.Discrepancies)
	}
}

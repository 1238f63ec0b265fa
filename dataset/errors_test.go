package dataset

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestErrorsRoundTrip(t *testing.T) {
	recs := []ErrorRecord{
		{Line: 7, Key: "train_5", Stage: StageIO, Reason: `open images/train_5.jpg: no such file or directory`},
		{Line: 3, Key: "", Stage: StageCSV, Reason: `bare " in non-quoted field`},
		{Line: 3, Key: "train_1", Stage: StageLabel, Reason: "line 3, column weather_labels: \"[0, 1\":\nnot a list"},
		{Line: 5, Key: "train_3", Stage: StageImage, Reason: "train_3.jpg: corrupt JPEG, with a, comma"},
	}
	SortErrorRecords(recs)
	var gotOrder []int
	for _, r := range recs {
		gotOrder = append(gotOrder, r.Line)
	}
	if diff := cmp.Diff([]int{3, 3, 5, 7}, gotOrder); diff != "" {
		t.Errorf("sorted lines (-want +got):\n%s", diff)
	}
	if recs[0].Stage != StageCSV {
		t.Errorf("got stage %q first on line 3, want %q (pipeline order)", recs[0].Stage, StageCSV)
	}
	var buf bytes.Buffer
	if err := WriteErrors(&buf, recs); err != nil {
		t.Fatal(err)
	}
	if want := "line,key,stage,reason\n"; !strings.HasPrefix(buf.String(), want) {
		t.Errorf("got %q, want header %q", buf.String(), want)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ErrorsName), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadErrorsFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	want := map[Stage]int64{StageCSV: 1, StageLabel: 1, StageImage: 1, StageIO: 1}
	if diff := cmp.Diff(want, CountByStage(got)); diff != "" {
		t.Errorf("CountByStage (-want +got):\n%s", diff)
	}
}

func TestReadErrorsBad(t *testing.T) {
	tests := []struct {
		name, doc  string
		wantLine   int
		wantColumn string
	}{
		{"empty", "", 1, ""},
		{"header", "line,key,reason,stage\n", 1, ""},
		{"line", "line,key,stage,reason\nx,k,csv,r\n", 2, "line"},
		{"negative line", "line,key,stage,reason\n1,k,csv,r\n-1,k,csv,r\n", 3, "line"},
		{"stage", "line,key,stage,reason\n4,k,disk,r\n", 2, "stage"},
		{"fields", "line,key,stage,reason\n4,k,csv\n", 2, ""},
		{"quote", "line,key,stage,reason\n4,\"k,csv,r\n", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadErrors(strings.NewReader(tt.doc))
			if !errors.Is(err, ErrErrorsFile) {
				t.Fatalf("got %v, want ErrErrorsFile", err)
			}
			var fe *ErrorsFileError
			if !errors.As(err, &fe) {
				t.Fatalf("got %T, want *ErrorsFileError", err)
			}
			if fe.Line != tt.wantLine || fe.Column != tt.wantColumn {
				t.Errorf("got line %d column %q, want line %d column %q (%v)", fe.Line, fe.Column, tt.wantLine, tt.wantColumn, err)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	m := sampleManifest()
	recs := []ErrorRecord{{Line: 2, Key: "a", Stage: StageLabel}, {Line: 4, Key: "b", Stage: StageImage}}
	if err := m.CheckErrors(recs); err != nil {
		t.Errorf("got %v, want nil", err)
	}
	if err := m.CheckErrors(recs[:1]); !errors.Is(err, ErrInvariant) {
		t.Errorf("one row missing: got %v, want ErrInvariant", err)
	}
	recs[1].Stage = StageIO
	if err := m.CheckErrors(recs); !errors.Is(err, ErrInvariant) {
		t.Errorf("wrong stage: got %v, want ErrInvariant", err)
	}
}

func FuzzReadErrors(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteErrors(&buf, []ErrorRecord{
		{Line: 2, Key: "train_0", Stage: StageIO, Reason: "missing"},
		{Line: 9, Key: "", Stage: StageCSV, Reason: `bare " in non-quoted field`},
	}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("line,key,stage,reason\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		recs, err := ReadErrors(bytes.NewReader(doc))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteErrors(&out, recs); err != nil {
			t.Fatal(err)
		}
		again, err := ReadErrors(&out)
		if err != nil {
			t.Fatalf("rereading written records: %v", err)
		}
		if diff := cmp.Diff(recs, again); diff != "" {
			t.Fatalf("write/read round trip (-want +got):\n%s", diff)
		}
	})
}

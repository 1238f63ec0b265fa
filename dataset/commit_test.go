package dataset

import (
	"testing"

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

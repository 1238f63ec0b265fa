package trainer

import (
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

func TestOpenTraining(t *testing.T) {
	f := makeDataset(t, 20, 2, tfrecord.None, false)
	h := Holdout{Fraction: 0.3, Seed: 1}
	data, err := OpenTraining(f.dir, "train", "", h, false)
	if err != nil {
		t.Fatal(err)
	}
	if data.ValidationSplit != "" || data.Total != 20 {
		t.Errorf("no validation split: got split %q, total %d; want a hold-out of 20 examples", data.ValidationSplit, data.Total)
	}
	held := map[string]bool{}
	for _, b := range iterate(t, data.Validation, Options{BatchSize: 4, Epochs: 1}) {
		for _, k := range b.Keys {
			if !h.Held(k) {
				t.Errorf("validation example %s is not held out", k)
			}
			held[k] = true
		}
	}
	for _, b := range iterate(t, data.Train, Options{BatchSize: 4, Epochs: 1}) {
		for _, k := range b.Keys {
			if held[k] {
				t.Errorf("example %s is both trained and validated on", k)
			}
		}
	}
	data, err = OpenTraining(f.dir, "train", "train", h, false)
	if err != nil || data.ValidationSplit != "train" || data.Total != -1 {
		t.Errorf("named split: got %+v, %v; want split train, total -1", data, err)
	}
	if _, err := OpenTraining(f.dir, "train", "nosuch", h, false); err == nil {
		t.Error("unknown validation split: got no error")
	}
}

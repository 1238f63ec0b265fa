package schema

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestImageFolderSpec(t *testing.T) {
	s := mustPreset(t, "imagefolder")
	if !s.NeedsClassNames() {
		t.Fatal("the preset: NeedsClassNames false, want true (no names until the folders name them)")
	}
	// Two labels of the class column: the index and the onehot vector.
	s.Labels = append(s.Labels, LabelSpec{Column: FolderClassColumn, Kind: KindClass, Feature: "label_onehot", Encoding: FloatList})
	if err := s.Validate(); err != nil {
		t.Fatalf("class index and onehot of one folder: %v", err)
	}
	named, err := s.WithClassNames([]string{"cat", "dog"})
	if err != nil {
		t.Fatal(err)
	}
	if named.NeedsClassNames() || s.Labels[0].Size != 0 {
		t.Errorf("WithClassNames: got names %q on a copy, original size %d; want names on the copy only", named.Labels[0].Names, s.Labels[0].Size)
	}
	for _, l := range named.Labels {
		if !slices.Equal(l.Names, []string{"cat", "dog"}) || l.Size != 2 {
			t.Errorf("label %s: got names %q size %d, want [cat dog] 2", l.Feature, l.Names, l.Size)
		}
	}
	if _, err := s.WithClassNames([]string{"cat", "cat"}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("repeated class: got %v, want ErrInvalidSpec", err)
	}

	bad := mustPreset(t, "imagefolder")
	bad.Labels[0].Column = "species"
	if err := bad.Validate(); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), `"species"`) {
		t.Errorf("imagefolder reading another column: got %v, want ErrInvalidSpec naming it", err)
	}
	csv := mustPreset(t, "planet")
	csv.Labels[0].Names, csv.Labels[0].Size = nil, 0
	if err := csv.Validate(); err == nil || csv.NeedsClassNames() {
		t.Errorf("a csv spec without names: got %v, want it refused", err)
	}
	if csv.Source = "folder"; csv.Validate() == nil {
		t.Error("source folder: accepted, want refused")
	}
}

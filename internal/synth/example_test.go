package synth_test

import (
	"os"

	"github.com/tfprep/tfprep/internal/synth"
)

func ExampleWriteCSV() {
	rows := []synth.Row{{Name: "synth_00000"}}
	rows[0].Weather[synth.Clear] = 1
	rows[0].Ground[synth.Primary] = 1
	rows[0].Ground[synth.Water] = 1
	synth.WriteCSV(os.Stdout, rows)
	// Output:
	// image_name,weather_labels,ground_labels
	// synth_00000,"[1, 0, 0, 0]","[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]"
}

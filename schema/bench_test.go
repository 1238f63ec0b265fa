package schema

import (
	"encoding/csv"
	"os"
	"testing"

	"github.com/tfprep/tfprep/tfrecord/example"
)

// readRecords loads a CSV file's header and records for the benchmarks.
func readRecords(b *testing.B, path string) ([]string, [][]string, int64) {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	return records[0], records[1:], int64(len(data))
}

// BenchmarkDecodeRows decodes all 40,479 rows of each Planet CSV per
// iteration; rows/s is the figure that matters next to image decoding.
func BenchmarkDecodeRows(b *testing.B) {
	for _, bc := range []struct{ preset, path string }{
		{"planet", "testdata/planet/KagglePlanetMCML.csv"},
		{"planet-tags", "testdata/planet/train_v2.csv"},
	} {
		b.Run(bc.preset, func(b *testing.B) {
			header, records, size := readRecords(b, bc.path)
			dec, err := mustPreset(b, bc.preset).NewRowDecoder(header)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for i, r := range records {
					if _, _, err := dec.Decode(i+2, r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(records))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkParseList(b *testing.B) {
	const cell = "[1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0]"
	b.SetBytes(int64(len(cell)))
	b.ReportAllocs()
	buf := make([]float64, 0, 16)
	for b.Loop() {
		var err error
		if buf, err = ParseList(buf[:0], cell); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendExample encodes one planet record (196,608 image bytes)
// into a reused buffer; BenchmarkReadExample parses and checks it back.
func BenchmarkAppendExample(b *testing.B) {
	spec := mustPreset(b, "planet")
	row := planetRow(b)
	image := make([]byte, 196608)
	buf := spec.AppendExample(nil, row, image)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = spec.AppendExample(buf[:0], row, image)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}

func BenchmarkReadExample(b *testing.B) {
	spec := mustPreset(b, "planet")
	data := spec.AppendExample(nil, planetRow(b), make([]byte, 196608))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var rec Record
	for b.Loop() {
		parsed, err := example.Parse(data, true)
		if err != nil {
			b.Fatal(err)
		}
		if err := spec.ReadExample(parsed, &rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}

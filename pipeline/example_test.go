package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/pipeline"
	"github.com/tfprep/tfprep/schema"
)

func ExampleParseSplits() {
	splits, err := pipeline.ParseSplits("train=0.9,validation=0.1")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, sp := range splits {
		fmt.Println(sp.Name, sp.Weight)
	}
	_, err = pipeline.ParseSplits("train=0.9,validation")
	fmt.Println(err)
	// Output:
	// train 0.9
	// validation 0.1
	// pipeline: bad --splits: "validation": want name=weight
}

func ExampleConvert() {
	spec, err := schema.Preset("planet")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := os.MkdirTemp("", "tfprep-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(out)
	m, err := pipeline.Convert(context.Background(), pipeline.Config{
		Spec:   spec,
		CSV:    []string{filepath.Join("testdata", "bad.csv")},
		Images: filepath.Join("testdata", "images"),
		Out:    out,
		Shards: 1,
		Seed:   42,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := m.Rows
	fmt.Printf("read %d = written %d + rejected %d\n", r.Read, r.Written, r.Rejected)
	for _, stage := range dataset.Stages {
		fmt.Println(stage, r.RejectedByStage[stage])
	}
	fmt.Println(m.Splits[0].Shards[0].File)
	// Output:
	// read 11 = written 3 + rejected 8
	// csv 3
	// label 2
	// image 2
	// io 1
	// train-00000-of-00001.tfrecord
}

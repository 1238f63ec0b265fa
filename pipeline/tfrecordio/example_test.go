package tfrecordio_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/tfprep/tfprep/pipeline/tfrecordio"
	"github.com/tfprep/tfprep/tfrecord"
)

// Write records as three gzip-compressed shards, then read every shard
// back in a second pipeline.
func Example() {
	dir, err := os.MkdirTemp("", "tfrecordio-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	records := [][]byte{[]byte("one"), []byte("two"), []byte("three"), []byte("four"), []byte("five")}

	p, s := beam.NewPipelineWithRoot()
	files := tfrecordio.Write(s, filepath.Join(dir, "data"), beam.CreateList(s, records),
		tfrecordio.WriteOptions{Shards: 3, Compression: tfrecord.GZIP})
	passert.Count(s, files, "files", 3)
	if err := beamx.Run(context.Background(), p); err != nil {
		fmt.Println(err)
		return
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, name := range names {
		fmt.Println(filepath.Base(name))
	}

	p, s = beam.NewPipelineWithRoot()
	read := tfrecordio.Read(s, beam.Create(s, filepath.Join(dir, "data-*")), tfrecordio.ReadOptions{})
	passert.Equals(s, read, beam.CreateList(s, records))
	fmt.Println("read back:", beamx.Run(context.Background(), p))
	// Output:
	// data-00000-of-00003.tfrecord.gz
	// data-00001-of-00003.tfrecord.gz
	// data-00002-of-00003.tfrecord.gz
	// read back: <nil>
}

package dataset_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

func ExampleShardName() {
	for i := range 3 {
		fmt.Println(dataset.ShardName("train", i, 3, tfrecord.GZIP))
	}
	// Output:
	// train-00000-of-00003.tfrecord.gz
	// train-00001-of-00003.tfrecord.gz
	// train-00002-of-00003.tfrecord.gz
}

func ExampleReadErrors() {
	doc := `line,key,stage,reason
3,,csv,"bare "" in non-quoted field"
5,train_3,io,open train_3.jpg: no such file or directory
`
	recs, err := dataset.ReadErrors(strings.NewReader(doc))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Printf("line %d %s %q: %s\n", r.Line, r.Stage, r.Key, r.Reason)
	}
	// Output:
	// line 3 csv "": bare " in non-quoted field
	// line 5 io "train_3": open train_3.jpg: no such file or directory
}

func ExampleReadManifest() {
	m, err := dataset.ReadManifest("testdata")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(m.Rows.Read, "=", m.Rows.Written, "+", m.Rows.Rejected)
	for _, sp := range m.Splits {
		fmt.Println(sp.Name, sp.Records, "records in", len(sp.Shards), "shards")
	}
	// Output:
	// 8 = 6 + 2
	// train 5 records in 2 shards
	// validation 1 records in 1 shards
}

package tfrecord_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/tfprep/tfprep/tfrecord"
)

func Example() {
	var file bytes.Buffer
	w, err := tfrecord.NewWriter(&file, &tfrecord.WriterOptions{Compression: tfrecord.GZIP})
	if err != nil {
		log.Fatal(err)
	}
	for _, record := range []string{"first", "second", "third"} {
		if err := w.Write([]byte(record)); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// The Reader detects the gzip compression by itself.
	r, err := tfrecord.NewReader(&file, nil)
	if err != nil {
		log.Fatal(err)
	}
	for {
		record, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\n", record)
	}
	fmt.Println(r.Compression(), r.Index(), "records")
	// Output:
	// first
	// second
	// third
	// gzip 3 records
}

func ExampleReader_Next_errors() {
	var file bytes.Buffer
	w, _ := tfrecord.NewWriter(&file, nil)
	w.Write([]byte("intact"))
	w.Write([]byte("damaged"))
	w.Close()
	data := file.Bytes()
	data[22+12] ^= 0x01 // a byte of the second record's data

	r, _ := tfrecord.NewReader(bytes.NewReader(data), nil)
	for {
		record, err := r.Next()
		if err == io.EOF {
			break
		}
		var rerr *tfrecord.RecordError
		if errors.As(err, &rerr) && errors.Is(err, tfrecord.ErrCorrupt) {
			fmt.Printf("record %d at byte %d is corrupt\n", rerr.Record, rerr.Offset)
			break
		}
		fmt.Printf("read %q\n", record)
	}
	// Output:
	// read "intact"
	// record 1 at byte 22 is corrupt
}

func ExampleReaderOptions_recover() {
	var file bytes.Buffer
	w, _ := tfrecord.NewWriter(&file, nil)
	for _, record := range []string{"one", "two", "three"} {
		w.Write([]byte(record))
	}
	w.Close()
	data := file.Bytes()
	data[19+14] ^= 0xff // inside "two", which starts at byte 19

	r, _ := tfrecord.NewReader(bytes.NewReader(data), &tfrecord.ReaderOptions{Recover: true})
	for {
		record, err := r.Next()
		if err != nil {
			break
		}
		fmt.Printf("read %q\n", record)
	}
	for _, d := range r.Skipped() {
		fmt.Printf("skipped %d bytes at offset %d: %v\n", d.Length, d.Offset, errors.Is(d.Err, tfrecord.ErrCorrupt))
	}
	// Output:
	// read "one"
	// read "three"
	// skipped 19 bytes at offset 19: true
}

func ExampleNewSeekReader() {
	var file, index bytes.Buffer
	w, _ := tfrecord.NewWriter(&file, &tfrecord.WriterOptions{Index: &index})
	for _, record := range []string{"zero", "one", "two"} {
		w.Write([]byte(record))
	}
	w.Close()
	fmt.Print(index.String()) // a DALI index sidecar

	entries, err := tfrecord.ReadIndex(&index)
	if err != nil {
		log.Fatal(err)
	}
	sr := tfrecord.NewSeekReader(bytes.NewReader(file.Bytes()), entries, nil)
	record, err := sr.ReadRecord(2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("record 2 of %d: %s\n", sr.Len(), record)
	// Output:
	// 0 20
	// 20 19
	// 39 19
	// record 2 of 3: two
}

func ExampleReadIndex() {
	_, err := tfrecord.ReadIndex(strings.NewReader("0 20\n20 x\n"))
	fmt.Println(err)
	// Output:
	// tfrecord: index line 2: bad index: length "x" is not an integer of at least 16
}

func ExampleCompressionFromName() {
	for _, name := range []string{"train-00000-of-00004.tfrecord.gz", "val.zz", "test.tfrecord"} {
		c := tfrecord.CompressionFromName(name)
		fmt.Printf("%s: %v (suffix %q)\n", name, c, c.Suffix())
	}
	// Output:
	// train-00000-of-00004.tfrecord.gz: gzip (suffix ".gz")
	// val.zz: zlib (suffix ".zz")
	// test.tfrecord: none (suffix "")
}

package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/tfprep/tfprep/storage"
)

// The same code serves a local folder, gs://bucket/out and s3://bucket/out?endpoint=...: only the
// location changes. mem:// keeps the example self-contained.
func Example() {
	ctx := context.Background()
	out, err := storage.Open(ctx, "mem://example/out")
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()

	// Write a shard as a stream under a temporary name, then the manifest.
	tmp := out.Join(".tfprep-tmp-run1")
	w, err := tmp.NewWriter(ctx, "train-00000-of-00001.tfrecord", nil)
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(w, "records...")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	// The commit: move the temporaries to their final names, in parallel.
	err = out.RenameAll(ctx, []storage.Pair{
		{Src: ".tfprep-tmp-run1/train-00000-of-00001.tfrecord", Dst: "train-00000-of-00001.tfrecord"},
	}, 0)
	if err != nil {
		log.Fatal(err)
	}
	if err := out.WriteFile(ctx, "dataset.json", []byte(`{}`), &storage.WriterOptions{ContentType: "application/json"}); err != nil {
		log.Fatal(err)
	}

	for obj, err := range out.List(ctx, storage.ListOptions{Recursive: true}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(obj.Name, obj.Size)
	}
	_, err = out.ReadFile(ctx, "missing.json")
	fmt.Println(errors.Is(err, storage.ErrNotExist), err != nil)
	// Output:
	// dataset.json 2
	// train-00000-of-00001.tfrecord 10
	// true true
}

// A lease keeps two runs out of one output directory.
func ExampleDir_AcquireLease() {
	ctx := context.Background()
	out, err := storage.Open(ctx, "mem://lease-example/out")
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()

	first, err := out.AcquireLease(ctx, ".tfprep-lock", storage.CurrentHolder("run-1"), 10*time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	_, err = out.AcquireLease(ctx, ".tfprep-lock", storage.CurrentHolder("run-2"), 10*time.Minute)
	var held *storage.LeaseHeldError
	if errors.As(err, &held) {
		fmt.Println("refused: held by", held.Holder.RunID)
	}
	if err := first.Release(ctx); err != nil {
		log.Fatal(err)
	}
	second, err := out.AcquireLease(ctx, ".tfprep-lock", storage.CurrentHolder("run-2"), 10*time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("now held by", second.Holder().RunID)
	// Output:
	// refused: held by run-1
	// now held by run-2
}

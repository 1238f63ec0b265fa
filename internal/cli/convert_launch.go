package cli

import (
	"flag"
	"time"

	"github.com/tfprep/tfprep/pipeline"
)

// launchFlags adds convert's flags for runners whose workers are other
// processes (Dataflow, Flink, Spark, a Prism job server); the returned
// function reads them once the flags are parsed.
func launchFlags(fs *flag.FlagSet) func() pipeline.LaunchOptions {
	approximate := fs.Bool("allow-approximate-pixels", false,
		"accept workers without libjpeg-turbo (pure-Go decoder: pixels within a few levels of PIL's, not identical) "+
			"when no static cgo worker binary can be staged; without it such a job is refused")
	workerTimeout := fs.Duration("worker-timeout", pipeline.DefaultWorkerTimeout,
		"cancel a job on a Prism or universal job server when no worker has reported progress this long after the launch (0: wait forever)")
	storageTimeout := fs.Duration("storage-timeout", pipeline.DefaultStorageTimeout,
		"fail before building the job when the gs:// or s3:// --csv or --out does not answer this fast")
	return func() pipeline.LaunchOptions {
		opts := pipeline.LaunchOptions{
			ApproximatePixels: *approximate,
			WorkerTimeout:     *workerTimeout,
			StorageTimeout:    *storageTimeout,
		}
		if opts.WorkerTimeout == 0 {
			opts.WorkerTimeout = -time.Nanosecond // no watchdog
		}
		return opts
	}
}

// Command tfprep converts CSV + JPEG image datasets into sharded TFRecord
// files of tf.train.Example on Apache Beam, and inspects and reads them back.
//
// Run "tfprep help" for the list of commands.
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	// Every runner (prism, direct, dataflow, flink, spark, universal).
	// Registered here, not in package pipeline, so that a program using the
	// library chooses its runners. Data goes through package storage, not
	// Beam's filesystems.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/tfprep/tfprep/internal/cli"
)

func main() {
	// Beam's flags (--runner, --project, --worker, ...) live on the global
	// flag set. A distributed runner starts this same binary as a worker with
	// flags only and no subcommand, so they are parsed, and beam.Init given
	// the chance to take over, before any subcommand is dispatched.
	flag.Usage = func() { cli.Usage(os.Stderr) }
	flag.Parse()
	beam.Init()
	// SIGINT and SIGTERM cancel the command's context: convert then cancels
	// its job, removes what it wrote (or finishes a commit past its commit
	// point) and exits 130. A second signal kills with the default handler.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, flag.Args(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

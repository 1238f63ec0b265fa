package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
)

func init() { register.Function2x0(blockForTest) }

// unblock ends blockForTest's bundles.
var unblock = make(chan struct{})

// blockForTest holds its bundle, whatever happens to the job, until unblock
// is closed (or a minute): only the job server can end the job.
func blockForTest(context.Context, []byte) {
	select {
	case <-unblock:
	case <-time.After(time.Minute):
	}
}

// TestInterruptCancelsJobServerJob submits a job that does not end by
// itself to a Prism job server of its own on 127.0.0.1 (--runner=universal,
// LOOPBACK workers), then cancels the run's context: run must return at
// once with the job ended unfinished on the job server, not report it as
// possibly running. With LOOPBACK workers (the only ones a test binary can
// serve) the job also fails when its worker, this run, stops, so this
// checks the path end to end, not that the CancelJobRequest alone ends the
// job: TestCancelJob does, with a fake job server.
func TestInterruptCancelsJobServerJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prism job server; skipped with -short")
	}
	endpoint, err := startLoopbackPrism(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const name = "tfprep-interrupt-test"
	setFlags(t, map[string]string{"endpoint": endpoint, "environment_type": "LOOPBACK", "job_name": name})
	l, err := newLaunch(Config{}, "universal")
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo0(s, blockForTest, beam.Impulse(s))

	conn, err := grpcx.Dial(context.Background(), endpoint, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := jobpb.NewJobServiceClient(conn)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.run(ctx, p) }()
	deadline := time.Now().Add(time.Minute)
	for {
		id, state, _ := lookUpJob(context.Background(), client, name)
		if id != "" && state == jobpb.JobState_RUNNING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not start running (%q, %v)", id, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	start := time.Now()
	select {
	case err = <-done:
	case <-time.After(cancelWait + 30*time.Second):
		t.Fatal("run did not return after the interrupt")
	}
	if err == nil || errors.Is(err, ErrJobMayRun) {
		t.Errorf("got %v, want the interrupted run's error, the job confirmed ended", err)
	}
	t.Logf("run returned %v after the interrupt: %v", time.Since(start).Round(time.Millisecond), err)
	if id, state, _ := lookUpJob(context.Background(), client, name); !terminal(state) || state == jobpb.JobState_DONE {
		t.Errorf("job %s is %v on the job server, want it ended unfinished (CANCELLED)", id, state)
	}
	close(unblock)
}

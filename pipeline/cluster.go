package pipeline

// What Convert does around beam.Run when the workers are not this process
// (Dataflow; Flink, Spark or Prism job servers with PROCESS, DOCKER or
// EXTERNAL environments): it bounds the pre-flight storage I/O, picks and
// checks the binary the runner stages on its workers, and watches a job
// server's job until a worker shows up.

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"

	"github.com/tfprep/tfprep/internal/workerbin"
	"github.com/tfprep/tfprep/storage"
)

// Defaults of LaunchOptions.
const (
	// DefaultWorkerTimeout leaves a worker time to be scheduled, fetch the
	// staged binary (tens of MB) and start.
	DefaultWorkerTimeout = 5 * time.Minute
	// DefaultStorageTimeout bounds each pre-flight check of a gs:// or s3://
	// path; a reachable store answers in well under a second.
	DefaultStorageTimeout = 30 * time.Second
)

// Errors of a launch, matched with errors.Is.
var (
	// ErrWorkerBinary: the runner's workers would not produce the pixels the
	// spec promises, or the binary given to them cannot run there. It is
	// also an ErrConfig.
	ErrWorkerBinary = fmt.Errorf("%w: no usable worker binary", ErrConfig)
	// ErrNoWorkers: no worker of the job reported progress in time; the job
	// was cancelled.
	ErrNoWorkers = errors.New("pipeline: no worker started")
	// ErrStorage: a remote input or output did not answer in time.
	ErrStorage = errors.New("pipeline: storage did not answer")
	// ErrJobMayRun: the run was interrupted, and the job submitted to a job
	// server could not be confirmed ended: it may still be running, and may
	// still commit. Its staging directory is left in place and the
	// output's lease is not released.
	ErrJobMayRun = errors.New("pipeline: the job may still be running")
)

// cancelWait bounds how long an interrupted run waits for its job on a job
// server to reach a terminal state after asking for its cancellation.
var cancelWait = 30 * time.Second

// LaunchOptions check and bound a job whose workers are other processes.
type LaunchOptions struct {
	// ApproximatePixels accepts workers built without cgo, whose pure-Go
	// JPEG decoder is within a few levels of PIL's instead of identical.
	// Without it, such a job is refused before it is submitted.
	ApproximatePixels bool
	// WorkerTimeout: a job on a job server (Prism, --runner=universal) is
	// cancelled when no worker has reported progress this long after the
	// launch. 0 means DefaultWorkerTimeout; negative, no watchdog.
	WorkerTimeout time.Duration
	// StorageTimeout bounds each pre-flight check that a remote CSV or
	// output directory answers. 0 means DefaultStorageTimeout.
	StorageTimeout time.Duration
}

// launch is one run of a pipeline on a runner: the flags it set for the run
// (restored by close) and the watchdog's verdict.
type launch struct {
	runner  string
	opts    LaunchOptions
	remote  bool     // the workers are other processes
	worker  string   // the binary staged on the workers; "" when Beam picks it
	restore []func() // flag values to put back
	tripped error    // the watchdog's error, once it cancelled the job
	working bool     // the watchdog saw a worker of the job report progress
}

// prepareLaunch checks, before anything is built or submitted, that the
// remote paths of cfg answer within the storage timeout and that the
// runner's workers will run a usable binary, staging this executable when it
// can serve.
func prepareLaunch(ctx context.Context, cfg Config, runner string) (*launch, error) {
	_, probed := probeStorage(ctx, cfg, runner)
	if err := probed(); err != nil {
		return nil, err
	}
	return newLaunch(cfg, runner)
}

// probeStorage starts the pre-flight probes of the remote paths of cfg, all
// at once (each is a round trip to a bucket), and returns without waiting:
// probed waits for them and returns the first failure. checks is ctx,
// cancelled as soon as a probe fails, for the reads of the inputs that run
// meanwhile (a store that does not answer would hold them until ctx ends);
// probed must be called once they are done.
func probeStorage(ctx context.Context, cfg Config, runner string) (checks context.Context, probed func() error) {
	timeout := cmp.Or(cfg.Launch.StorageTimeout, DefaultStorageTimeout)
	paths := append(slices.Clone(cfg.CSV), cfg.Images, cfg.Out)
	if strings.HasPrefix(strings.ToLower(runner), "dataflow") {
		// The Dataflow runner itself reads the staging bucket's policy.
		for _, name := range []string{"staging_location", "temp_location"} {
			if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
				paths = append(paths, f.Value.String())
			}
		}
	}
	checks, cancel := context.WithCancelCause(ctx)
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Go(func() {
			if errs[i] = reachable(ctx, timeout, path, i >= len(cfg.CSV)); errs[i] != nil {
				cancel(errs[i])
			}
		})
	}
	return checks, sync.OnceValue(func() error {
		wg.Wait()
		cancel(nil)
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// newLaunch prepares a launch on runner: for remote workers, it checks the
// binary they will run.
func newLaunch(cfg Config, runner string) (*launch, error) {
	l := &launch{runner: runner, opts: cfg.Launch, remote: remoteWorkers(runner)}
	if l.remote {
		if err := l.chooseWorker(); err != nil {
			return nil, err
		}
	}
	if l.jobServer() && *jobopts.JobName == "" {
		// The watchdog, and an interrupted run that cancels its job, find
		// the job on the job server by its name.
		l.setFlag(jobopts.JobName, "tfprep-"+randomID())
	}
	return l, nil
}

// jobServer reports whether the job goes to a job server that does not end
// with this run: one at --endpoint (Flink, Spark, a Prism started apart),
// whatever the workers. An in-process Prism (the default) is not one: its
// LOOPBACK workers stop with the run.
func (l *launch) jobServer() bool {
	switch strings.ToLower(l.runner) {
	case "universal", "portable", "portablerunner", "flink", "spark":
		return true
	case "prism", "prismrunner":
		return l.remote
	}
	return false
}

// remoteWorkers reports whether runner runs the pipeline's workers outside
// this process, from a staged binary.
func remoteWorkers(runner string) bool {
	env := strings.ToLower(*jobopts.EnvironmentType)
	switch strings.ToLower(runner) {
	case "dataflow", "dataflowrunner":
		return true
	case "prism", "prismrunner":
		// Without --endpoint Prism runs in this process and, unless an
		// environment is named, with LOOPBACK workers (also this process).
		if env == "" {
			return *jobopts.Endpoint != ""
		}
		return env != "loopback"
	case "universal", "portable", "portablerunner", "flink", "spark":
		return env != "loopback" // "" is DOCKER
	}
	return false
}

// chooseWorker checks --worker_binary, or else stages this executable when
// it can serve, or else refuses unless approximate pixels are accepted (Beam
// then cross-compiles a pure-Go worker, which needs tfprep's source module
// and a Go toolchain).
func (l *launch) chooseWorker() error {
	launcher, err := workerbin.Running()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWorkerBinary, err)
	}
	pil := !l.opts.ApproximatePixels
	if path := *jobopts.WorkerBinary; path != "" {
		b, err := workerbin.Inspect(path)
		if err == nil {
			err = b.Check(launcher, pil)
		}
		if err != nil {
			return fmt.Errorf("%w: --worker_binary: %w", ErrWorkerBinary, err)
		}
		l.worker = path
		return nil
	}
	self, err := workerbin.Self()
	if err == nil {
		err = self.Check(launcher, pil)
	}
	if err == nil {
		l.worker = self.Path
		l.setFlag(jobopts.WorkerBinary, self.Path)
		return nil
	}
	if !pil {
		return nil
	}
	return fmt.Errorf("%w: the %s runner's workers are separate processes that run a staged binary, and this "+
		"tfprep cannot be it (%w). For PIL-identical pixels build a static linux/amd64 worker with libjpeg-turbo "+
		"(make worker) and pass --worker_binary=bin/tfprep-linux-amd64, or use a tfprep built by make build on "+
		"linux/amd64; to accept pure-Go pixels within a few levels of PIL's, pass --allow-approximate-pixels",
		ErrWorkerBinary, l.runner, err)
}

// watched reports whether the job goes to a job server whose progress the
// watchdog can see while the job runs: Prism's. Flink's and Spark's job
// servers report metrics only when a job ends, and fail a job themselves
// when its SDK workers do not connect.
func (l *launch) watched() bool {
	if !l.remote || l.opts.WorkerTimeout < 0 {
		return false
	}
	switch strings.ToLower(l.runner) {
	case "prism", "prismrunner", "universal", "portable", "portablerunner":
		return true
	}
	return false
}

func (l *launch) setFlag(p *string, value string) {
	old := *p
	*p = value
	l.restore = append(l.restore, func() { *p = old })
}

// close puts back the flags the launch set.
func (l *launch) close() {
	for _, f := range l.restore {
		f()
	}
}

// run runs p on the launch's runner. A job server's job is watched: when no
// worker reports progress within the worker timeout, the job is cancelled
// and run returns an ErrNoWorkers error.
//
// When ctx is cancelled (a signal) while a job server runs the job, the
// runner only stops waiting for it: run then asks the job server to cancel
// the job and waits, up to cancelWait, for it to end. A job that cannot be
// confirmed ended makes run return an ErrJobMayRun error (the caller must
// leave its staging directory and lease alone); one that finished (DONE)
// before the cancellation took effect makes run return nil.
func (l *launch) run(ctx context.Context, p *beam.Pipeline) error {
	defer enterPrivateTemp()()
	if !l.jobServer() || *jobopts.Endpoint == "" {
		_, err := beam.Run(ctx, l.runner, p)
		return err
	}
	endpoint, jobName := *jobopts.Endpoint, *jobopts.JobName
	if !l.watched() {
		_, err := beam.Run(ctx, l.runner, p)
		if err != nil && ctx.Err() != nil {
			return cancelJob(context.WithoutCancel(ctx), endpoint, jobName, err)
		}
		return err
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		l.watch(ctx, cancel, endpoint, jobName, cmp.Or(l.opts.WorkerTimeout, DefaultWorkerTimeout))
	}()
	start := time.Now()
	_, err := beam.Run(ctx, l.runner, p)
	cancel(nil)
	<-watching
	if l.tripped != nil {
		return l.tripped
	}
	if err != nil && parent.Err() != nil {
		return cancelJob(context.WithoutCancel(parent), endpoint, jobName, err)
	}
	if err != nil && !l.working && !l.progressed(context.WithoutCancel(ctx), *jobopts.Endpoint, *jobopts.JobName) {
		// The job ended before the watchdog's deadline without a worker at
		// work: most often the worker command or container failed at once.
		return fmt.Errorf("%w: the job failed after %s before any worker reported progress; the job server at %s "+
			"may have started no working SDK worker for job %s (environment %s). Check that the environment can "+
			"start there (the worker command or container, and that it reaches the job server): %w",
			ErrNoWorkers, time.Since(start).Round(time.Millisecond), *jobopts.Endpoint, *jobopts.JobName, environment(), err)
	}
	return err
}

// progressed asks the job server once whether a worker of the job named
// jobName reported progress. It answers false when the server cannot say.
func (l *launch) progressed(ctx context.Context, endpoint, jobName string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := grpcx.Dial(ctx, endpoint, 5*time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	client := jobpb.NewJobServiceClient(conn)
	jobID := findJob(ctx, client, jobName)
	if jobID == "" {
		return false
	}
	_, working := jobStatus(ctx, client, jobID)
	return working
}

// failed is the error Convert returns for a failed run.
func (l *launch) failed(err error) error {
	if errors.Is(err, ErrNoWorkers) {
		return err
	}
	return runnerError(l.runner, err)
}

// watch polls the job server at endpoint until the job named jobName shows
// a worker at work (any metric: Prism reports them from running bundles) or
// ends; when timeout passes first, it cancels the job and then the run.
func (l *launch) watch(ctx context.Context, stop context.CancelCauseFunc, endpoint, jobName string, timeout time.Duration) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	conn, err := grpcx.Dial(ctx, endpoint, timeout)
	if err != nil {
		return // the runner reports an unreachable job server itself
	}
	defer conn.Close()
	client := jobpb.NewJobServiceClient(conn)
	var jobID string
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			if jobID != "" {
				requestCancel(context.WithoutCancel(ctx), client, jobID)
			}
			l.tripped = fmt.Errorf("%w within %s: the job server at %s started no working SDK worker for job %s "+
				"(environment %s); the job was cancelled. Check that the environment can start there (the worker "+
				"command or container, and that it reaches the job server), or raise --worker-timeout",
				ErrNoWorkers, timeout, endpoint, jobName, environment())
			stop(l.tripped)
			return
		case <-tick.C:
			if jobID == "" {
				jobID = findJob(ctx, client, jobName)
			}
			if jobID == "" {
				continue
			}
			ended, working := jobStatus(ctx, client, jobID)
			l.working = working
			if ended || working {
				return
			}
		}
	}
}

// requestCancel asks the job server to cancel the job, waiting at most 10 s
// for the answer.
func requestCancel(ctx context.Context, client jobpb.JobServiceClient, jobID string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := client.Cancel(ctx, &jobpb.CancelJobRequest{JobId: jobID})
	return err
}

// cancelJob is what an interrupted run does about its job on the job server
// at endpoint: find the job named jobName, ask for its cancellation and
// wait, up to cancelWait, for a terminal state. runErr is the runner's
// error (the context's). It returns runErr when the job is confirmed
// ended other than by success, or was never submitted (the job server
// knows no such job); nil when the job finished (DONE) before the
// cancellation took effect; and an ErrJobMayRun error, naming the job, when
// the end cannot be confirmed (the job server does not answer, or the job
// is still running when the wait is over).
func cancelJob(ctx context.Context, endpoint, jobName string, runErr error) error {
	ctx, stop := context.WithTimeout(ctx, cancelWait)
	defer stop()
	mayRun := func(job, why string) error {
		return fmt.Errorf("%w: the cancellation of job %s on the job server at %s could not be confirmed within %s (%s); "+
			"it may still run and commit to the output. Its staging directory is left in place and the output's lease is not "+
			"released (it lapses when no longer refreshed, or once this process has exited for a run on this host); cancel the job "+
			"on the job server if it still runs (%w)", ErrJobMayRun, job, endpoint, cancelWait, why, runErr)
	}
	conn, err := grpcx.Dial(ctx, endpoint, cancelWait)
	if err != nil {
		return mayRun("named "+jobName, fmt.Sprintf("cannot connect: %v", err))
	}
	defer conn.Close()
	client := jobpb.NewJobServiceClient(conn)
	jobID, state, err := lookUpJob(ctx, client, jobName)
	switch {
	case err != nil:
		return mayRun("named "+jobName, fmt.Sprintf("listing its jobs: %v", err))
	case jobID == "":
		return runErr // interrupted before the job was submitted
	}
	if !terminal(state) {
		requestCancel(ctx, client, jobID) // a job that ended meanwhile may refuse it: its state says
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for !terminal(state) {
		select {
		case <-ctx.Done():
			return mayRun(jobID, "its state is "+state.String())
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := client.GetState(rctx, &jobpb.GetJobStateRequest{JobId: jobID})
		cancel()
		if err == nil {
			state = resp.GetState()
		}
	}
	if state == jobpb.JobState_DONE {
		return nil
	}
	return runErr
}

// lookUpJob returns the ID and state of the job named name on the job
// server: of several, one not ended if there is one, else the last listed;
// "" when there is none.
func lookUpJob(ctx context.Context, client jobpb.JobServiceClient, name string) (string, jobpb.JobState_Enum, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := client.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return "", jobpb.JobState_UNSPECIFIED, err
	}
	var id string
	var state jobpb.JobState_Enum
	for _, j := range resp.GetJobInfo() {
		if j.GetJobName() != name {
			continue
		}
		if id == "" || terminal(state) {
			id, state = j.GetJobId(), j.GetState()
		}
	}
	return id, state, nil
}

// terminal reports whether a job in state has ended.
func terminal(state jobpb.JobState_Enum) bool {
	switch state {
	case jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_CANCELLED,
		jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
		return true
	}
	return false
}

// findJob returns the ID of the job named name on the job server (see
// lookUpJob), or "" if there is none or the job server does not answer.
func findJob(ctx context.Context, client jobpb.JobServiceClient, name string) string {
	id, _, err := lookUpJob(ctx, client, name)
	if err != nil {
		return ""
	}
	return id
}

// jobStatus reports whether the job has ended (the runner then says how) and
// whether a worker of the job has reported metrics.
func jobStatus(ctx context.Context, client jobpb.JobServiceClient, jobID string) (ended, working bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	state, err := client.GetState(ctx, &jobpb.GetJobStateRequest{JobId: jobID})
	if err == nil {
		ended = terminal(state.GetState())
	}
	m, err := client.GetJobMetrics(ctx, &jobpb.GetJobMetricsRequest{JobId: jobID})
	if err != nil {
		return ended, false
	}
	return ended, len(m.GetMetrics().GetAttempted())+len(m.GetMetrics().GetCommitted()) > 0
}

// environment describes the workers' environment as the flags give it.
func environment() string {
	env := cmp.Or(*jobopts.EnvironmentType, "DOCKER")
	if *jobopts.EnvironmentConfig != "" {
		env += " " + *jobopts.EnvironmentConfig
	}
	return env
}

// reachable checks that a gs:// or s3:// path answers within timeout: the
// size of the file, or for a directory the size of a name in it that need not
// exist (any answer will do; a listing could be long). Only a timeout is an
// error here: other failures are left to the step that reads or writes the
// path, which names them. Local paths are not checked.
func reachable(ctx context.Context, timeout time.Duration, path string, dir bool) error {
	if !strings.Contains(path, "://") {
		return nil
	}
	probe := path
	if dir {
		probe = storage.JoinPath(path, ".tfprep-reachable")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		// A client that ignores its context is abandoned, not waited for.
		defer close(done)
		d, name, err := openParent(ctx, probe)
		if err != nil {
			return
		}
		defer d.Close()
		d.Stat(ctx, name)
	}()
	select {
	case <-done:
		if ctx.Err() == nil {
			return nil
		}
	case <-ctx.Done():
	}
	return fmt.Errorf("%w: %s did not answer within %s; check the network, the credentials and the bucket (or raise --storage-timeout)", ErrStorage, path, timeout)
}

// privateTemp is the temporary directory of this process's jobs: while any
// runs, TMPDIR points at it, and the last to end removes it and restores
// TMPDIR. Beam's portable runner leaves an empty beamloopbackworker-* file
// in the temporary directory for every LOOPBACK job (runnerlib.Execute,
// apache/beam#27569); without this every in-process conversion would leave
// one in /tmp.
var privateTemp struct {
	sync.Mutex
	jobs       int
	dir, saved string
	wasSet     bool
}

// enterPrivateTemp starts a job's use of privateTemp and returns its end.
// When the directory cannot be made, TMPDIR is left alone.
func enterPrivateTemp() (leave func()) {
	privateTemp.Lock()
	defer privateTemp.Unlock()
	if privateTemp.jobs == 0 {
		dir, err := os.MkdirTemp("", "tfprep-job-")
		if err != nil {
			return func() {}
		}
		privateTemp.saved, privateTemp.wasSet = os.LookupEnv("TMPDIR")
		privateTemp.dir = dir
		os.Setenv("TMPDIR", dir)
	}
	privateTemp.jobs++
	return func() {
		privateTemp.Lock()
		defer privateTemp.Unlock()
		if privateTemp.jobs--; privateTemp.jobs > 0 {
			return
		}
		if privateTemp.wasSet {
			os.Setenv("TMPDIR", privateTemp.saved)
		} else {
			os.Unsetenv("TMPDIR")
		}
		os.RemoveAll(privateTemp.dir)
	}
}

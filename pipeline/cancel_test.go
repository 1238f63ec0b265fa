package pipeline

import (
	"cmp"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"google.golang.org/grpc"
)

// fakeJobServer is a job server on loopback that knows one job, whose state
// a CancelJobRequest sets to onCancel (RUNNING: a job that does not stop).
type fakeJobServer struct {
	jobpb.UnimplementedJobServiceServer
	name, id string
	onCancel jobpb.JobState_Enum

	mu        sync.Mutex
	state     jobpb.JobState_Enum
	cancelled int
}

func (f *fakeJobServer) GetJobs(context.Context, *jobpb.GetJobsRequest) (*jobpb.GetJobsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &jobpb.GetJobsResponse{JobInfo: []*jobpb.JobInfo{
		{JobId: "old", JobName: f.name, State: jobpb.JobState_DONE}, // an earlier job of the same name
		{JobId: f.id, JobName: f.name, State: f.state},
	}}, nil
}

func (f *fakeJobServer) Cancel(context.Context, *jobpb.CancelJobRequest) (*jobpb.CancelJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled++
	f.state = f.onCancel
	return &jobpb.CancelJobResponse{State: f.state}, nil
}

func (f *fakeJobServer) GetState(_ context.Context, req *jobpb.GetJobStateRequest) (*jobpb.JobStateEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.GetJobId() == "old" {
		return &jobpb.JobStateEvent{State: jobpb.JobState_DONE}, nil
	}
	return &jobpb.JobStateEvent{State: f.state}, nil
}

// serve starts f on 127.0.0.1 and returns its endpoint.
func (f *fakeJobServer) serve(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	jobpb.RegisterJobServiceServer(srv, f)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// TestCancelJob: an interrupted run asks the job server to cancel its job
// and waits for a terminal state; a job still running when the wait is
// over, or a job server that does not answer, is an ErrJobMayRun error
// naming the job, and a job that finished is no error.
func TestCancelJob(t *testing.T) {
	old := cancelWait
	cancelWait = time.Second
	t.Cleanup(func() { cancelWait = old })
	runErr := context.Canceled
	tests := []struct {
		name     string
		state    jobpb.JobState_Enum // when interrupted
		onCancel jobpb.JobState_Enum
		jobName  string // asked for; "" the job's
		mayRun   bool
		want     error // when not mayRun
		cancels  int
	}{
		{name: "cancelled", state: jobpb.JobState_RUNNING, onCancel: jobpb.JobState_CANCELLED, want: runErr, cancels: 1},
		{name: "keeps running", state: jobpb.JobState_RUNNING, onCancel: jobpb.JobState_RUNNING, mayRun: true, cancels: 1},
		{name: "failed already", state: jobpb.JobState_FAILED, onCancel: jobpb.JobState_FAILED, want: runErr},
		{name: "done already", state: jobpb.JobState_DONE, onCancel: jobpb.JobState_DONE, want: nil},
		{name: "never submitted", state: jobpb.JobState_RUNNING, onCancel: jobpb.JobState_RUNNING, jobName: "tfprep-other", want: runErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeJobServer{name: "tfprep-test", id: "job-42", state: tt.state, onCancel: tt.onCancel}
			endpoint := f.serve(t)
			start := time.Now()
			err := cancelJob(context.Background(), endpoint, cmp.Or(tt.jobName, f.name), runErr)
			if tt.mayRun {
				if !errors.Is(err, ErrJobMayRun) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "job-42") ||
					!strings.Contains(err.Error(), "lease") {
					t.Errorf("got %v, want ErrJobMayRun naming job-42 and the lease", err)
				}
				if time.Since(start) < cancelWait {
					t.Errorf("gave up after %v, before the wait of %v", time.Since(start), cancelWait)
				}
			} else if err != tt.want {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.cancelled != tt.cancels {
				t.Errorf("%d CancelJobRequests, want %d", f.cancelled, tt.cancels)
			}
		})
	}
	// A job server that cannot be reached cannot confirm anything.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if err := cancelJob(context.Background(), addr, "tfprep-test", runErr); !errors.Is(err, ErrJobMayRun) || !strings.Contains(err.Error(), "tfprep-test") {
		t.Errorf("unreachable job server: got %v, want ErrJobMayRun naming the job", err)
	}
}

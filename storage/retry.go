package storage

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"google.golang.org/api/googleapi"
)

// RetryPolicy bounds the retries of transient errors. The n-th retry (n from 0) waits a random duration in
// [0, min(MaxBackoff, InitialBackoff·2ⁿ)] ("full jitter", so that many workers hitting one overloaded bucket
// spread out); no wait starts that would end past MaxElapsed after the first attempt, and none outlives the
// context.
type RetryPolicy struct {
	MaxAttempts    int           // attempts in all, the first included; 1 disables retries
	InitialBackoff time.Duration // cap of the first wait
	MaxBackoff     time.Duration // cap of any wait
	MaxElapsed     time.Duration // no retry starts after this much time since the first attempt; 0 = no limit
}

// DefaultRetry is the policy of every Dir unless WithRetry says otherwise: up to 6 attempts, waits capped
// at 0.1, 0.2, 0.4, 0.8, 1.6 s (5 s at most), and nothing retried after 30 s. A 503 storm longer than that
// is not transient and the caller should hear of it.
var DefaultRetry = RetryPolicy{MaxAttempts: 6, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, MaxElapsed: 30 * time.Second}

// NoRetry makes one attempt.
var NoRetry = RetryPolicy{MaxAttempts: 1}

// backoff returns the wait before retry n (0-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	limit := p.InitialBackoff
	for i := 0; i < n && limit < p.MaxBackoff; i++ {
		limit *= 2
	}
	if p.MaxBackoff > 0 && limit > p.MaxBackoff {
		limit = p.MaxBackoff
	}
	if limit <= 0 {
		return 0
	}
	return rand.N(limit + 1)
}

// do runs op until it succeeds, fails with an error that is not transient, or the policy or ctx runs out.
// op is told whether it is a retry (an operation whose earlier attempt may have taken effect needs to know).
// The last error is returned.
func (p RetryPolicy) do(ctx context.Context, op func(retry bool) error) error {
	start := time.Now()
	for n := 0; ; n++ {
		err := op(n > 0)
		if err == nil || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		if n+1 >= max(p.MaxAttempts, 1) {
			return err
		}
		wait := p.backoff(n)
		if p.MaxElapsed > 0 && time.Since(start)+wait > p.MaxElapsed {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// IsTransient reports whether err is worth retrying: HTTP 408, 429 or 5xx from GCS or S3 (or an S3 error
// code meaning the same), a connection reset or broken pipe, an unexpected EOF, or a network timeout.
// Cancellation of the caller's context is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return transientStatus(gerr.Code)
	}
	var aerr *awshttp.ResponseError
	if errors.As(err, &aerr) && transientStatus(aerr.HTTPStatusCode()) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed", "Throttling", "ThrottlingException":
			return true
		}
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return true
	}
	return false
}

func transientStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 && code <= 599
}

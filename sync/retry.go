package dbsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"syscall"
	"time"
)

// isTransient reports whether err may go away if the same thing is tried
// again: connection refused, reset or lost, too many connections, lock
// waits, deadlocks, a server shutting down. Authentication, permission,
// syntax, unknown table or column, TLS verification and configuration
// errors are permanent. backend classifies the errors of its own driver
// (a server error number, a broken connection); the rules here are the
// ones every backend shares.
func isTransient(err error, backend func(error) (transient, known bool)) bool {
	if err == nil {
		return false
	}
	var ce *ConfigError
	var se *schemaError
	if errors.As(err, &ce) || errors.As(err, &se) || errors.Is(err, ErrBusy) || errors.Is(err, ErrTooFewRows) {
		return false
	}
	if backend != nil {
		if transient, known := backend(err); known {
			return transient
		}
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false
	}
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &hostErr) || errors.As(err, &authErr) || errors.As(err, &invalid) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return !dnsErr.IsNotFound
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// retryPolicy is how transient errors are retried: exponential back-off
// with jitter, a bounded number of tries, never past the run's deadline.
type retryPolicy struct {
	tries     int
	baseDelay time.Duration
	maxDelay  time.Duration
}

var defaultRetry = retryPolicy{tries: 4, baseDelay: 250 * time.Millisecond, maxDelay: 4 * time.Second}

// do runs fn until it succeeds, fails permanently, runs out of tries or
// the context ends. It returns how many retries it made.
func (p retryPolicy) do(ctx context.Context, log *slog.Logger, what string, backend func(error) (transient, known bool), fn func() error) (int, error) {
	delay := p.baseDelay
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !isTransient(err, backend) || attempt >= p.tries {
			return attempt - 1, err
		}
		wait := delay/2 + rand.N(delay) // jitter: 0.5× to 1.5×
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return attempt - 1, err
		}
		log.Warn("transient error; retrying", "what", what, "attempt", attempt, "retry_in", wait.Round(time.Millisecond).String(), "error", OneLine(err.Error()))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return attempt - 1, err
		}
		delay = min(2*delay, p.maxDelay)
	}
}

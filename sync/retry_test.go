package dbsync

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestRetry_Transient: the errors a retry may cure (the server or the
// network briefly unable) against those it never will (the request or the
// setup is wrong), also when wrapped.
func TestRetry_Transient(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"deadlock", &mysql.MySQLError{Number: 1213}, true},
		{"lock wait timeout, wrapped", fmt.Errorf("load items: %w", &mysql.MySQLError{Number: 1205}), true},
		{"too many connections", &mysql.MySQLError{Number: 1040}, true},
		{"server has gone away", &mysql.MySQLError{Number: 2006}, true},
		{"access denied", &mysql.MySQLError{Number: 1045}, false},
		{"unknown table", &mysql.MySQLError{Number: 1146}, false},
		{"invalid connection", mysql.ErrInvalidConn, true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"connection reset", syscall.ECONNRESET, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"host not found", &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, false},
		{"DNS timeout", &net.DNSError{Err: "timeout", Name: "db.example.com", IsTimeout: true}, true},
		{"certificate for another host", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "db"}, false},
		{"config error", &ConfigError{Key: "source.port", Reason: "want a number"}, false},
		{"busy", ErrBusy, false},
		{"too few rows", fmt.Errorf("%w: table items", ErrTooFewRows), false},
		{"plain error", errors.New("syntax error near SELEC"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := isTransient(tc.err, testMySQL.Transient); got != tc.want {
				t.Errorf("isTransient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestRetry_Do: a transient error is tried again up to the policy's tries
// and the retries are counted; a permanent one is returned at once; an
// ended context stops the retries.
func TestRetry_Do(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	p := retryPolicy{tries: 3, baseDelay: time.Millisecond, maxDelay: 2 * time.Millisecond}
	transient := &mysql.MySQLError{Number: 1213}
	cases := []struct {
		name        string
		fails       []error // what each call returns, then nil
		wantCalls   int
		wantRetries int
		wantErr     error
	}{
		{"succeeds at once", nil, 1, 0, nil},
		{"succeeds on the second try", []error{transient}, 2, 1, nil},
		{"transient every time", []error{transient, transient, transient, transient}, 3, 2, transient},
		{"permanent", []error{ErrBusy, nil}, 1, 0, ErrBusy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			retries, err := p.do(context.Background(), log, "test", testMySQL.Transient, func() error {
				calls++
				if calls <= len(tc.fails) {
					return tc.fails[calls-1]
				}
				return nil
			})
			if calls != tc.wantCalls || retries != tc.wantRetries || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("calls %d, retries %d, err %v; want %d, %d, %v", calls, retries, err, tc.wantCalls, tc.wantRetries, tc.wantErr)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	long := retryPolicy{tries: 5, baseDelay: time.Hour, maxDelay: time.Hour}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = long.do(ctx, log, "test", testMySQL.Transient, func() error { calls++; return transient })
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a bound against a hang, not a timing
		t.Fatal("a cancelled context did not stop the retries")
	}
	if calls != 1 {
		t.Errorf("%d calls after the context ended, want 1", calls)
	}
}

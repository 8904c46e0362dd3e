package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dbsync/dbsync/sync"
	azureid "github.com/dbsync/dbsync/sync/azure"
)

// The handler's connection limits. The host runs on the same machine and
// sends each invocation at once, so ioTimeout (DBSYNC_HTTP_IO_TIMEOUT)
// bounds reading one request, header and body, and writing one answer; a
// client slower than that is cut off. An answer follows its run, which may
// last up to [sync] timeout (the host's functionTimeout cuts it too), while
// http.Server starts WriteTimeout when the request arrives: so
// writeInvocation arms the write limit again just before the answer. (The
// read limit needs no such care: net/http lifts it once the body is in.)
// idleTimeout is longer than the host keeps an idle pooled connection
// (.NET's PooledConnectionIdleTimeout: 1 min, 2 min before .NET 6), so the
// host closes first and never sends on a connection being closed.
const (
	defaultIOTimeout = 30 * time.Second
	idleTimeout      = 5 * time.Minute
)

// server is the custom handler: one per process, so its Runner's
// in-process guard sees every invocation.
type server struct {
	log    *slog.Logger
	runner *dbsync.Runner
	// ioTimeout bounds reading a request and writing an answer.
	ioTimeout time.Duration
	// beforeRun, when set (tests), is called at the start of every run.
	beforeRun func()
	azure     *azureid.Azure
}

func newServer(log *slog.Logger) *server {
	az := azureid.NewAzure(os.Getenv)
	return &server{log: log, runner: newRunner(log, az), ioTimeout: defaultIOTimeout, azure: az}
}

// runServe listens on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT before doing
// anything slow: the host polls GET / and restarts a handler that does not
// answer within 30 s. Config and secrets are loaded per invocation, so a
// config error is reported on every invocation instead of a crash loop.
func runServe(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	port := getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		return &usageError{"FUNCTIONS_CUSTOMHANDLER_PORT is not set: run under the Functions host (func start), or use handler sync\n\n" + mainUsage}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%s: %w", port, err)
	}
	log := newServeLogger(stdout, stderr)
	s := newServer(log)
	if v := getenv("DBSYNC_HTTP_IO_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			s.ioTimeout = d
		}
	}
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: s.ioTimeout,
		ReadTimeout:       s.ioTimeout,
		WriteTimeout:      s.ioTimeout,
		IdleTimeout:       idleTimeout,
	}
	log.Info("custom handler listening", "addr", ln.Addr().String(), "pid", os.Getpid())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
	mux.HandleFunc("POST /SyncTimer", s.handleTimer)
	mux.HandleFunc("POST /SyncHttp", s.handleHTTP)
	mux.HandleFunc("POST /SyncQueue", s.handleQueue)
	mux.HandleFunc("POST /SyncStatus", s.handleStatus)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeInvocation(w, http.StatusNotFound, invocationResponse{
			Outputs: map[string]any{},
			Logs:    []string{fmt.Sprintf("no function at %s %s: this handler serves POST /SyncTimer, POST /SyncHttp, POST /SyncQueue and POST /SyncStatus", r.Method, r.URL.Path)},
		})
	})
	return mux
}

// readInvocation reads and decodes the host's payload, bounded in size
// (and in time, by the server's ReadTimeout).
func (s *server) readInvocation(w http.ResponseWriter, r *http.Request) (*invocationRequest, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 2*maxBodyBytes+64<<10))
	if err != nil {
		// Too slow or too large: answer, then close the connection
		// rather than wait for the rest of the body.
		w.Header().Set("Connection", "close")
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("read invocation payload: not all of it arrived within %s", s.ioTimeout)
		}
		return nil, fmt.Errorf("read invocation payload: %w", err)
	}
	return decodeInvocation(body)
}

func (s *server) invocationLogger(r *http.Request) *slog.Logger {
	return s.log.With(dbsync.LogInvocationID, r.Header.Get("X-Azure-Functions-InvocationId"))
}

// writeInvocation answers the host. It arms the write limit anew: the
// answer may come long after the request (the server armed it then).
func (s *server) writeInvocation(w http.ResponseWriter, status int, resp invocationResponse) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.ioTimeout))
	if resp.Outputs == nil {
		resp.Outputs = map[string]any{}
	}
	if resp.Logs == nil {
		resp.Logs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}

// handleTimer queues the scheduled runs: one message per group of the
// job, each naming its group ("default" for the tables without one), on
// the "msg" output binding (the host writes each element of the array as
// one message); SyncQueue runs them. Each group is its own snapshot and
// swap, so the groups run in parallel on as many instances as the
// platform gives, and each table is loaded once per tick. A bad payload answers 400,
// so the invocation is marked Failed and nothing is queued.
func (s *server) handleTimer(w http.ResponseWriter, r *http.Request) {
	log := s.invocationLogger(r).With("function", "SyncTimer")
	req, err := s.readInvocation(w, r)
	var timer *timerInfo
	if err == nil {
		timer, err = decodeTimer(req)
	}
	if err != nil {
		log.Error("bad timer invocation", "error", err.Error())
		s.writeInvocation(w, http.StatusBadRequest, invocationResponse{Logs: []string{"error: " + err.Error()}})
		return
	}
	// The config says the job's groups (one message each); a broken config
	// fails the timer's invocation, with the error in its Logs and on
	// stderr, rather than queue runs that cannot start.
	cfg, err := loadConfig(r.Context(), "", dbsync.RunOptions{}, log, s.azure)
	var runs []queuedRun
	if err == nil {
		runs, err = planRuns(cfg, dbsync.TriggerTimer, manualRunOptions{})
	}
	if err != nil {
		log.Error("timer: configuration error; no run queued", "error", dbsync.OneLine(err.Error()))
		s.writeInvocation(w, http.StatusInternalServerError, invocationResponse{
			Outputs: map[string]any{"report": dbsync.RefusedReport("", dbsync.TriggerTimer, "", err)},
			Logs:    []string{"error: configuration: " + dbsync.OneLine(err.Error())},
		})
		return
	}
	msgs := messagesOf(runs)
	ids := strings.Join(runIDs(msgs), ", ")
	attrs := []any{"is_past_due", timer.IsPastDue, "run_ids", ids}
	if next, ok := timer.next(); ok {
		attrs = append(attrs, "occurrence", next.Format(time.RFC3339))
	}
	if timer.IsPastDue {
		log.Warn("timer is past due: this is a catch-up run; runs queued", attrs...)
	} else {
		log.Info("timer fired; runs queued", attrs...)
	}
	s.writeInvocation(w, http.StatusOK, invocationResponse{
		Outputs: map[string]any{queueBinding: msgs},
		Logs:    []string{fmt.Sprintf("%d run(s) queued: %s", len(msgs), ids)},
	})
}

// handleHTTP is the manual trigger: POST queues a run (202), GET lists
// recent runs, GET ?run_id= answers one. The host always gets 200 with
// application/json; the caller's status is in Outputs.res.
func (s *server) handleHTTP(w http.ResponseWriter, r *http.Request) {
	log := s.invocationLogger(r).With("function", "SyncHttp")
	answer := func(status int, body any, logs ...string) {
		b, _ := json.Marshal(body)
		s.writeInvocation(w, http.StatusOK, invocationResponse{
			Outputs: map[string]any{"res": httpOutput{StatusCode: status, Body: string(b), Headers: map[string]string{"Content-Type": "application/json"}}},
			Logs:    logs,
		})
	}
	fail := func(status int, msg string) {
		log.Warn("manual sync request refused", "status", status, "error", msg)
		answer(status, map[string]string{"error": msg}, "error: "+msg)
	}
	req, err := s.readInvocation(w, r)
	var hr *httpRequestData
	if err == nil {
		hr, err = decodeHTTPRequest(req)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		fail(http.StatusBadRequest, err.Error())
		return
	}
	opts, err := hr.runOptions()
	if err != nil {
		var br *badRequest
		if errors.As(err, &br) {
			fail(br.status, br.msg)
			return
		}
		fail(http.StatusBadRequest, err.Error())
		return
	}
	switch hr.Method {
	case http.MethodGet:
		if opts.RunID != "" {
			s.runStatus(r.Context(), w, opts, log, fail)
			return
		}
		s.history(r.Context(), opts, log, answer, fail)
	case http.MethodPost:
		s.enqueue(r.Context(), w, hr, opts, log, fail)
	default:
		fail(http.StatusMethodNotAllowed, fmt.Sprintf("method %s: use POST to queue a sync, GET for recent runs or GET ?run_id= for one", hr.Method))
	}
}

// history answers GET /api/sync with the target's recent runs.
func (s *server) history(ctx context.Context, opts manualRunOptions, log *slog.Logger, answer func(int, any, ...string), fail func(int, string)) {
	cfg, err := loadConfig(ctx, "", dbsync.RunOptions{Target: opts.Target}, log, s.azure)
	if err != nil {
		fail(configStatus(err), err.Error())
		return
	}
	runs, err := s.runner.History(ctx, cfg, 20)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	body := map[string]any{"target": cfg.Target, "tables": tableNames(cfg), "runs": runs}
	if names := tableNames(cfg); len(names) == 1 {
		body["table"] = names[0]
	}
	answer(http.StatusOK, body, fmt.Sprintf("%d recent runs", len(runs)))
}

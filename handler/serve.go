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
	"runtime/debug"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
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
	// httpWait is how long a manual run may take before the HTTP answer is
	// 202 with its run_id (the platform cuts HTTP responses at 230 s).
	httpWait time.Duration
	// ioTimeout bounds reading a request and writing an answer.
	ioTimeout time.Duration
	// beforeRun, when set (tests), is called at the start of every run.
	beforeRun func()
	ident     *azureIdentity
}

func newServer(log *slog.Logger) *server {
	s := &server{log: log, runner: dbsync.NewRunner(log), httpWait: 200 * time.Second, ioTimeout: defaultIOTimeout, ident: &azureIdentity{}}
	s.runner.Token = s.ident.token
	return s
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
	if v := getenv("DBSYNC_HTTP_WAIT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			s.httpWait = d
		}
	}
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
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeInvocation(w, http.StatusNotFound, invocationResponse{
			Outputs: map[string]any{},
			Logs:    []string{fmt.Sprintf("no function at %s %s: this handler serves POST /SyncTimer and POST /SyncHttp", r.Method, r.URL.Path)},
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

// handleTimer runs a scheduled sync with the default target. A failed run
// answers 500 so the host marks the invocation Failed; the host then drops
// Logs, so the error is also logged to stderr.
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
	attrs := []any{"is_past_due", timer.IsPastDue}
	if next, ok := timer.next(); ok {
		attrs = append(attrs, "occurrence", next.Format(time.RFC3339))
	}
	if timer.IsPastDue {
		log.Warn("timer is past due: this is a catch-up run", attrs...)
	} else {
		log.Info("timer fired", attrs...)
	}
	rep, err := s.sync(r.Context(), dbsync.TriggerTimer, dbsync.RunOptions{}, log)
	status := http.StatusOK
	if err != nil && !errors.Is(err, dbsync.ErrBusy) {
		status = http.StatusInternalServerError
		log.Error("scheduled sync failed", "run_id", rep.RunID, "error", err.Error())
	}
	s.writeInvocation(w, status, invocationResponse{
		Outputs: map[string]any{"report": rep},
		Logs:    []string{summary(rep)},
	})
}

// handleHTTP is the manual trigger: POST runs, GET lists recent runs. The
// host always gets 200 with application/json; the caller's status is in
// Outputs.res.
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
		s.history(r.Context(), opts, log, answer, fail)
		return
	case http.MethodPost:
	default:
		fail(http.StatusMethodNotAllowed, fmt.Sprintf("method %s: use POST to run a sync, GET for recent runs", hr.Method))
		return
	}

	type outcome struct {
		rep *dbsync.Report
		cfg *dbsync.Config
		err error
	}
	started := make(chan *dbsync.Report, 1)
	done := make(chan outcome, 1)
	// The run may outlive this request (202 below): it gets its own
	// context, bounded by [sync] timeout inside Run.
	runCtx := context.WithoutCancel(r.Context())
	go func() {
		rep, cfg, err := s.syncStarted(runCtx, dbsync.TriggerHTTP, opts.engine(), log, started)
		done <- outcome{rep, cfg, err}
	}()
	var res outcome
	select {
	case res = <-done:
	case <-time.After(s.httpWait):
		rep := <-started
		log.Info("manual sync still running; answering 202", "run_id", rep.RunID)
		answer(http.StatusAccepted, map[string]string{"status": "running", "run_id": rep.RunID,
			"message": "the sync continues; GET /api/sync shows its outcome"}, "sync "+rep.RunID+" still running")
		return
	}
	var ce *dbsync.ConfigError
	switch {
	case res.err == nil:
		answer(http.StatusOK, res.rep, summary(res.rep))
	case errors.As(res.err, &ce):
		answer(http.StatusBadRequest, res.rep, "error: "+res.err.Error())
	case errors.Is(res.err, dbsync.ErrBusy):
		body := map[string]any{"status": dbsync.StatusBusy, "run_id": res.rep.RunID, "error": res.err.Error()}
		if running := s.runner.RunningRunID(r.Context(), res.cfg); running != "" {
			body["running_run_id"] = running
		}
		answer(http.StatusConflict, body, summary(res.rep))
	default:
		answer(http.StatusInternalServerError, res.rep, summary(res.rep), "error: "+res.err.Error())
	}
}

// history answers GET /api/sync with the target's recent runs.
func (s *server) history(ctx context.Context, opts manualRunOptions, log *slog.Logger, answer func(int, any, ...string), fail func(int, string)) {
	cfg, err := loadConfig(ctx, "", dbsync.RunOptions{Target: opts.Target}, log, s.ident)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	runs, err := s.runner.History(ctx, cfg, 20)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	answer(http.StatusOK, map[string]any{"target": cfg.Target, "table": cfg.TargetTable(), "runs": runs}, fmt.Sprintf("%d recent runs", len(runs)))
}

// sync loads the config and runs one sync.
func (s *server) sync(ctx context.Context, trigger string, opts dbsync.RunOptions, log *slog.Logger) (*dbsync.Report, error) {
	rep, _, err := s.syncStarted(ctx, trigger, opts, log, nil)
	return rep, err
}

// syncStarted is sync that also hands out the report as soon as the run
// has an id. A panic inside the run becomes a failed run: the process
// keeps serving.
func (s *server) syncStarted(ctx context.Context, trigger string, opts dbsync.RunOptions, log *slog.Logger, started chan<- *dbsync.Report) (rep *dbsync.Report, cfg *dbsync.Config, err error) {
	rep = &dbsync.Report{Trigger: trigger, Status: dbsync.StatusFailed, Target: dbsync.Target(opts.Target), StartedAt: time.Now().UTC()}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error (a bug in dbsync; the target is unchanged): %v", p)
			rep.Status, rep.Error = dbsync.StatusFailed, err.Error()
			log.Error("panic during run", "run_id", rep.RunID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
		if started != nil {
			select {
			case started <- rep:
			default:
			}
		}
	}()
	if s.beforeRun != nil {
		s.beforeRun()
	}
	cfg, err = loadConfig(ctx, "", opts, log, s.ident)
	if err != nil {
		rep.Error = err.Error()
		return rep, nil, err
	}
	rep = dbsync.NewReport(cfg, trigger)
	if started != nil {
		started <- rep
	}
	err = s.runner.Run(ctx, cfg, rep, log)
	return rep, cfg, err
}

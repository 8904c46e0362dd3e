package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// statusTimeout bounds building the status page: an operator's browser
// waits for it, and an unreachable target must show as such, not hang.
const statusTimeout = 30 * time.Second

// statusRefresh is how often the served page reloads itself (a meta
// refresh: the page has no script).
const statusRefresh = 60

// handleStatus is SyncStatus, GET /api/status: the status page of the
// job's tables (status_page.go). The host always gets 200; the caller's
// status is in Outputs.res: 200 with the page, 503 when the target's
// history cannot be read (the page says why), 500 for a configuration
// error, 405 for anything but GET and 400 for an unknown query parameter.
// Every answer is the same self-contained page, with its CSP.
func (s *server) handleStatus(w http.ResponseWriter, r *http.Request) {
	log := s.invocationLogger(r).With("function", "SyncStatus")
	answer := func(status int, p statusPage, logs ...string) {
		body, err := renderStatusPage(p)
		if err != nil {
			log.Error("status page not rendered", "error", err.Error())
			status, body = http.StatusInternalServerError, []byte("status page not rendered: "+err.Error())
		}
		headers := statusHeaders()
		if status == http.StatusMethodNotAllowed {
			headers["Allow"] = http.MethodGet
		}
		s.writeInvocation(w, http.StatusOK, invocationResponse{
			Outputs: map[string]any{"res": httpOutput{StatusCode: status, Body: string(body), Headers: headers}},
			Logs:    logs,
		})
	}
	now := time.Now()
	refuse := func(status int, target dbsync.Target, msg string) {
		log.Warn("status page request refused", "status", status, "error", msg)
		p := buildStatusPage(target, nil, nil, now)
		p.Problem = msg
		answer(status, p, "error: "+msg)
	}
	req, err := s.readInvocation(w, r)
	var hr *httpRequestData
	if err == nil {
		hr, err = decodeHTTPRequest(req)
	}
	if err != nil {
		refuse(http.StatusBadRequest, "", err.Error())
		return
	}
	if !strings.EqualFold(hr.Method, http.MethodGet) {
		refuse(http.StatusMethodNotAllowed, "", fmt.Sprintf("method %s: the status page answers GET only (POST /api/sync queues a run)", hr.Method))
		return
	}
	target, err := statusTarget(hr)
	if err != nil {
		refuse(http.StatusBadRequest, "", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	cfg, err := loadConfig(ctx, "", dbsync.RunOptions{Target: target}, log, s.azure)
	if err != nil {
		msg := "configuration error: " + dbsync.OneLine(err.Error())
		log.Error("status page: configuration error", "error", msg)
		p := buildStatusPage(target, nil, nil, now)
		p.Problem, p.Refresh = msg, statusRefresh
		answer(http.StatusInternalServerError, p, "error: "+msg)
		return
	}
	p, err := statusPageOf(ctx, s.runner, cfg, now)
	p.Refresh = statusRefresh
	if err != nil {
		log.Error("status page: the run history cannot be read", "error", p.Problem)
		answer(http.StatusServiceUnavailable, p, "error: "+p.Problem)
		return
	}
	answer(http.StatusOK, p, fmt.Sprintf("status page of %d table(s)", len(p.Tables)))
}

// statusPageOf is the status page of cfg's tables, as read by runner;
// SyncStatus and handler history --html share it. When the history cannot
// be read, the page lists the tables without runs, says why, and err is
// not nil.
func statusPageOf(ctx context.Context, runner *dbsync.Runner, cfg *dbsync.Config, now time.Time) (statusPage, error) {
	hist, err := runner.TableHistories(ctx, cfg, statusRuns, statusClip)
	if err != nil {
		hist = nil
		for _, t := range cfg.RunTables() {
			hist = append(hist, dbsync.TableHistory{Table: t.Target})
		}
	}
	return buildStatusPage(cfg.Target, hist, err, now), err
}

// statusKeys are the query parameters the status page takes (besides
// code, the function key).
var statusKeys = []string{"target"}

// statusTarget reads the one option of the status page: target.
func statusTarget(hr *httpRequestData) (dbsync.Target, error) {
	q, err := hr.query()
	if err != nil {
		return "", err
	}
	delete(q, functionKeyParam)
	for k := range q {
		if !slices.Contains(statusKeys, k) {
			return "", fmt.Errorf("unknown query parameter %q: the status page takes only target (azure or sqlite)", k)
		}
	}
	if v := q["target"]; v != "" {
		return dbsync.ParseTarget(v)
	}
	return "", nil
}

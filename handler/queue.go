package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
)

// Manual and scheduled runs go through the dbsync-runs Storage queue
// (docs/azure-functions.md): SyncHttp and SyncTimer only put messages on it through
// their "msg" output binding; SyncQueue, its queue trigger, runs each one
// inside its own invocation, which the host tracks and bounds with
// functionTimeout. No sync runs outside an invocation.

// queueMessage is one message on the queue: one run to do. Its text is a
// JSON object; any other key is refused, so a message this version does
// not understand never runs as something else.
type queueMessage struct {
	RunID   string        `json:"run_id"`
	Trigger string        `json:"trigger,omitempty"`
	Target  dbsync.Target `json:"target,omitempty"`
	DryRun  bool          `json:"dry_run,omitempty"`
	// Group is the part of the job to run ([table.<name>] group); empty
	// (or "default") is the tables without a group.
	Group string `json:"group,omitempty"`
	// Tables names some of the job's tables (the HTTP tables option).
	Tables string `json:"tables,omitempty"`
}

const (
	// queueBinding is the name of the queue output binding of SyncHttp and
	// SyncTimer and of the queue trigger of SyncQueue.
	queueBinding = "msg"
	// runQueue is the Storage queue the bindings name (function.json).
	runQueue = "dbsync-runs"
	// maxRunsPerMessage bounds the runs one message makes: one per
	// delivery, so a delivery whose DequeueCount is above it runs nothing.
	maxRunsPerMessage = 3
	// retryAfter is the Retry-After of a 202 and of a run not yet ended.
	retryAfter = "10"
	// maxRunIDLength leaves room in the history's 64-character run_id
	// for a rerun's "-r<n>".
	maxRunIDLength = 56
)

// runMessages is the messages one trigger queues: one per group of the
// job, with a new run_id each. No groups means the job's one group.
func runMessages(trigger string, opts manualRunOptions, groups []string) []queueMessage {
	if len(groups) == 0 {
		groups = []string{""}
	}
	msgs := make([]queueMessage, len(groups))
	for i, g := range groups {
		msgs[i] = queueMessage{RunID: dbsync.NewRunID(), Trigger: trigger, Target: opts.Target, DryRun: opts.DryRun, Group: g, Tables: opts.Tables}
		if opts.Group != "" {
			msgs[i].Group = opts.Group
		}
	}
	return msgs
}

func runIDs(msgs []queueMessage) []string {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.RunID
	}
	return ids
}

// validRunID: what newRunID makes, and reruns of it: letters, digits,
// dashes.
func validRunID(id string) bool {
	if id == "" || len(id) > maxRunIDLength {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validTarget: a target as ParseTarget reads it, spelled as it writes it.
func validTarget(t dbsync.Target) bool {
	p, err := dbsync.ParseTarget(string(t))
	return err == nil && p == t
}

// validGroup: what a [table.<name>] group may be called, or empty.
func validGroup(g string) bool {
	if len(g) > 64 {
		return false
	}
	for _, c := range g {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// rerunID is the run_id of the run that delivery n of the message for run
// id makes when an earlier delivery's run never ended.
func rerunID(id string, n int) string { return fmt.Sprintf("%s-r%d", id, n) }

// attemptIDs are the run_ids the deliveries of the message for run id
// may have used, up to delivery n.
func attemptIDs(id string, n int) []string {
	ids := []string{id}
	for i := 1; i <= n && i <= maxRunsPerMessage; i++ {
		ids = append(ids, rerunID(id, i))
	}
	return ids
}

// delivery is what the host says about one delivery of a message.
type delivery struct {
	ID           string
	DequeueCount int
}

// decodeQueueInvocation reads the message and its delivery from a
// SyncQueue invocation. The host sends the message text JSON-encoded
// twice (a trigger without dataType binds as a string, and the host
// serializes every string once more), so Data.msg is a JSON string that
// holds a JSON string; a single encoding is taken too. Metadata carries
// the message's top-level fields over DequeueCount and Id if they share a
// name: the message is checked first, so such a message is refused before
// its metadata is read.
func decodeQueueInvocation(req *invocationRequest) (queueMessage, delivery, error) {
	var m queueMessage
	var d delivery
	raw, ok := req.Data[queueBinding]
	if !ok {
		return m, d, errors.New(`queue invocation has no Data.msg (the binding name in SyncQueue/function.json is "msg")`)
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return m, d, fmt.Errorf("Data.msg is not a string (the queue trigger in SyncQueue/function.json must have no dataType): %v", err)
	}
	var inner string
	if err := json.Unmarshal([]byte(text), &inner); err == nil {
		text = inner
	}
	m, err := parseQueueMessage(text)
	if err != nil {
		return m, d, err
	}
	d.ID = metadataString(req.Metadata["Id"])
	d.DequeueCount = 1
	if v := metadataString(req.Metadata["DequeueCount"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return m, d, fmt.Errorf("Metadata.DequeueCount %q is not a positive integer", v)
		}
		d.DequeueCount = n
	}
	return m, d, nil
}

// parseQueueMessage reads and checks a message's text.
func parseQueueMessage(text string) (queueMessage, error) {
	var m queueMessage
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf(`queue message %s is not a run: want a JSON object like {"run_id":"…","trigger":"http","target":"sqlite","dry_run":false}: %v`, quoteShort(text), err)
	}
	if dec.More() {
		return m, fmt.Errorf("queue message %s has more than one JSON value", quoteShort(text))
	}
	switch {
	case !validRunID(m.RunID):
		return m, fmt.Errorf("queue message %s: run_id %q: want letters, digits and dashes, at most %d", quoteShort(text), m.RunID, maxRunIDLength)
	case m.Trigger != "" && m.Trigger != dbsync.TriggerHTTP && m.Trigger != dbsync.TriggerTimer && m.Trigger != dbsync.TriggerQueue:
		return m, fmt.Errorf("queue message for run %s: trigger %q: want http, timer or queue", m.RunID, m.Trigger)
	case !validTarget(m.Target):
		return m, fmt.Errorf("queue message for run %s: target %q: want azure or sqlite", m.RunID, m.Target)
	case !validGroup(m.Group):
		return m, fmt.Errorf("queue message for run %s: group %q: want letters, digits, '_', '-' and '.', at most 64", m.RunID, m.Group)
	}
	if m.Trigger == "" {
		m.Trigger = dbsync.TriggerQueue
	}
	return m, nil
}

// metadataString reads a Metadata value: a string, quoted once more for
// strings the host serialized (Id), or a number.
func metadataString(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return strings.TrimSpace(string(raw))
	}
	var inner string
	if err := json.Unmarshal([]byte(s), &inner); err == nil {
		return inner
	}
	return s
}

// quoteShort quotes a message's text for a log line, cut to 200 bytes.
func quoteShort(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strconv.Quote(s)
}

// ended reports whether a run's status is final: its message must not run
// it again. An abandoned run is final for itself, but its message may run
// anew.
func ended(status string) bool {
	switch status {
	case dbsync.StatusSucceeded, dbsync.StatusFailed, dbsync.StatusBusy, dbsync.StatusSkipped:
		return true
	}
	return false
}

// handleQueue runs one queued run. What it answers the host decides what
// the host does with the message (docs/azure-functions.md, "Queued runs and redelivery"):
//   - 2xx deletes it: the run succeeded, was a dry run, or was busy (the
//     run lock held by another run; the timer runs it again); or the
//     message is a redelivery of a run that already ended.
//   - non-2xx (500) makes the host deliver it again, up to
//     maxDequeueCount times, then move it to dbsync-runs-poison: the run
//     failed (the redelivery is acknowledged without running again, so a
//     failed sync is never retried blindly), the message is malformed, or
//     it has been delivered more than maxRunsPerMessage times. A refused
//     message never runs a sync.
func (s *server) handleQueue(w http.ResponseWriter, r *http.Request) {
	log := s.invocationLogger(r).With("function", "SyncQueue")
	refuse := func(msg string, attrs ...any) {
		log.Error("queue message refused; no sync was run", append(attrs, "error", msg)...)
		s.writeInvocation(w, http.StatusInternalServerError, invocationResponse{Logs: []string{"error: " + msg}})
	}
	req, err := s.readInvocation(w, r)
	var m queueMessage
	var d delivery
	if err == nil {
		m, d, err = decodeQueueInvocation(req)
	}
	if err != nil {
		refuse(err.Error())
		return
	}
	log = log.With("message_id", d.ID, "dequeue_count", d.DequeueCount, "queued_run_id", m.RunID)
	ctx := r.Context()
	// The config refuses a group the job does not have, naming its groups.
	cfg, err := loadConfig(ctx, "", dbsync.RunOptions{Target: m.Target, DryRun: m.DryRun, Group: m.Group, Tables: splitTables(m.Tables)}, log, s.azure)
	if err != nil {
		rep := &dbsync.Report{RunID: m.RunID, Trigger: m.Trigger, Status: dbsync.StatusFailed, Target: m.Target, Error: dbsync.OneLine(err.Error())}
		log.Error("queued run refused: configuration error; no sync was run", dbsync.LogRunID, m.RunID, "error", rep.Error)
		s.writeInvocation(w, http.StatusInternalServerError, invocationResponse{Outputs: map[string]any{"report": rep}, Logs: []string{"error: " + rep.Error}})
		return
	}
	earlier, err := s.runner.LookupRuns(ctx, cfg, log, attemptIDs(m.RunID, d.DequeueCount)...)
	if err != nil {
		msg := fmt.Sprintf("read the history of run %s: %s; the run was not started, the message will be delivered again", m.RunID, dbsync.OneLine(err.Error()))
		log.Error("queued sync not started", "error", msg)
		s.writeInvocation(w, http.StatusInternalServerError, invocationResponse{Logs: []string{"error: " + msg}})
		return
	}
	var unfinished []string
	for _, e := range earlier {
		if ended(e.Status) {
			line := fmt.Sprintf("run %s already ended: %s; this delivery (dequeue count %d) is acknowledged without running again", e.RunID, e.Status, d.DequeueCount)
			log.Info("queued run already ended; message acknowledged", dbsync.LogRunID, e.RunID, "status", e.Status)
			s.writeInvocation(w, http.StatusOK, invocationResponse{Outputs: map[string]any{"report": e}, Logs: []string{line}})
			return
		}
		if e.Status == dbsync.StatusRunning || e.Status == dbsync.StatusAbandoned {
			unfinished = append(unfinished, e.RunID)
		}
	}
	if d.DequeueCount > maxRunsPerMessage {
		refuse(fmt.Sprintf("the message for run %s was delivered %d times and a message makes at most %d runs: each earlier one stopped without an outcome (%s); "+
			"look for the cause in the logs of those runs, then POST /api/sync again", m.RunID, d.DequeueCount, maxRunsPerMessage, strings.Join(unfinished, ", ")))
		return
	}
	rep := &dbsync.Report{RunID: m.RunID, Trigger: m.Trigger, Target: cfg.Target, Table: cfg.TargetTable(), StartedAt: time.Now().UTC(), DryRun: cfg.DryRun}
	var logs []string
	if len(unfinished) > 0 {
		rep.RunID = rerunID(m.RunID, d.DequeueCount)
		line := fmt.Sprintf("run %s did not finish (the process running it stopped); the message, delivered again, runs anew as %s", strings.Join(unfinished, ", "), rep.RunID)
		log.Warn("redelivered message: earlier run did not finish; running anew", dbsync.LogRunID, rep.RunID, "abandoned_run_id", strings.Join(unfinished, ","))
		logs = append(logs, line)
	}
	err = s.runQueued(ctx, cfg, rep, log)
	logs = append(logs, summary(rep))
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, dbsync.ErrBusy):
		if running := s.runner.RunningRunID(ctx, cfg); running != "" {
			logs = append(logs, "the run holding the lock: "+running)
		}
	default:
		status = http.StatusInternalServerError
		log.Error("queued sync failed", dbsync.LogRunID, rep.RunID, "error", dbsync.OneLine(err.Error()))
		logs = append(logs, "error: "+dbsync.OneLine(err.Error()))
	}
	s.writeInvocation(w, status, invocationResponse{Outputs: map[string]any{"report": rep}, Logs: logs})
}

// runQueued runs one queued run inside the invocation. A panic inside the
// run becomes a failed run: the process keeps serving.
func (s *server) runQueued(ctx context.Context, cfg *dbsync.Config, rep *dbsync.Report, log *slog.Logger) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error (a bug in dbsync; the target is unchanged): %v", p)
			rep.Status, rep.Error = dbsync.StatusFailed, err.Error()
			log.Error("panic during run", dbsync.LogRunID, rep.RunID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	if s.beforeRun != nil {
		s.beforeRun()
	}
	return s.runner.RunQueued(ctx, cfg, rep, log)
}

// statusPath is the Location of a queued run: the request's own path
// (the function's route, /api/sync) with ?run_id=. It carries no function
// key: the caller sends its own.
func statusPath(reqURL, runID string) string {
	path := "/api/sync"
	if u, err := url.Parse(reqURL); err == nil && u.Path != "" {
		path = u.Path
	}
	return path + "?run_id=" + url.QueryEscape(runID)
}

// enqueue answers POST /api/sync: the run is recorded as queued and its
// message goes out through the "msg" binding with a 202. The host writes
// the message only after this 2xx, so a run is recorded queued before its
// message exists; a failure to record it queues nothing.
func (s *server) enqueue(ctx context.Context, w http.ResponseWriter, hr *httpRequestData, opts manualRunOptions, log *slog.Logger, fail func(int, string)) {
	cfg, err := loadConfig(ctx, "", opts.engine(), log, s.azure)
	if err != nil {
		fail(configStatus(err), err.Error())
		return
	}
	msg := runMessages(dbsync.TriggerHTTP, opts, nil)[0]
	rep := &dbsync.Report{RunID: msg.RunID, Trigger: dbsync.TriggerHTTP, Status: dbsync.StatusQueued, Target: cfg.Target, Table: cfg.TargetTable(), StartedAt: time.Now().UTC(), DryRun: opts.DryRun}
	if err := s.runner.Enqueue(ctx, cfg, rep, log); err != nil {
		fail(http.StatusInternalServerError, fmt.Sprintf("record the queued run: %s; nothing was queued", dbsync.OneLine(err.Error())))
		return
	}
	location := statusPath(hr.URL, rep.RunID)
	body, _ := json.Marshal(map[string]any{"status": dbsync.StatusQueued, "run_id": rep.RunID, "target": rep.Target, "table": rep.Table, "dry_run": rep.DryRun, "location": location})
	log.Info("manual sync queued", dbsync.LogRunID, rep.RunID, "target", string(rep.Target), "dry_run", rep.DryRun)
	s.writeInvocation(w, http.StatusOK, invocationResponse{
		Outputs: map[string]any{
			"res": httpOutput{StatusCode: http.StatusAccepted, Body: string(body), Headers: map[string]string{
				"Content-Type": "application/json", "Location": location, "Retry-After": retryAfter,
			}},
			queueBinding: msg,
		},
		Logs: []string{"run " + rep.RunID + " queued"},
	})
}

// configStatus is the caller's status for a config that would not load:
// 400 for a mistake in it, 500 for anything else (Key Vault unreachable).
func configStatus(err error) int {
	var ce *dbsync.ConfigError
	if errors.As(err, &ce) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// runStatus answers GET /api/sync?run_id=: that run as the history table
// has it, with the reruns its message made, if any.
func (s *server) runStatus(ctx context.Context, w http.ResponseWriter, opts manualRunOptions, log *slog.Logger, fail func(int, string)) {
	cfg, err := loadConfig(ctx, "", dbsync.RunOptions{Target: opts.Target}, log, s.azure)
	if err != nil {
		fail(configStatus(err), err.Error())
		return
	}
	runs, err := s.runner.LookupRuns(ctx, cfg, log, attemptIDs(opts.RunID, maxRunsPerMessage)...)
	if err != nil {
		fail(http.StatusInternalServerError, dbsync.OneLine(err.Error()))
		return
	}
	if len(runs) == 0 || runs[0].RunID != opts.RunID {
		fail(http.StatusNotFound, fmt.Sprintf("no run %s in the history of %s table %s (GET /api/sync lists recent runs; give target= if the run was for another target)", opts.RunID, cfg.Target, cfg.TargetTable()))
		return
	}
	// A run, and the run_ids of the runs its message made after it did
	// not finish.
	out := struct {
		dbsync.Report
		Reruns []string `json:"reruns,omitempty"`
	}{Report: runs[0]}
	for _, r := range runs[1:] {
		out.Reruns = append(out.Reruns, r.RunID)
	}
	body, _ := json.Marshal(out)
	headers := map[string]string{"Content-Type": "application/json"}
	if !ended(runs[0].Status) && runs[0].Status != dbsync.StatusAbandoned {
		headers["Retry-After"] = retryAfter
	}
	s.writeInvocation(w, http.StatusOK, invocationResponse{
		Outputs: map[string]any{"res": httpOutput{StatusCode: http.StatusOK, Body: string(body), Headers: headers}},
		Logs:    []string{fmt.Sprintf("run %s: %s", opts.RunID, runs[0].Status)},
	})
}

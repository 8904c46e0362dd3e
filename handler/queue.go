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
	"slices"
	"strconv"
	"strings"

	"github.com/dbsync/dbsync/sync"
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
	RunID   string         `json:"run_id"`
	Trigger dbsync.Trigger `json:"trigger,omitempty"`
	Target  dbsync.Target  `json:"target,omitempty"`
	DryRun  bool           `json:"dry_run,omitempty"`
	// Group is the part of the job to run: a [table.<name>] group, or
	// "default" (the tables without a group key). The timer and a POST
	// without a choice queue one message per group, each naming its group.
	// A message with neither group nor tables (written by an older
	// version) runs the default group.
	Group string `json:"group,omitempty"`
	// Tables names some of the job's tables (the HTTP tables option).
	Tables string `json:"tables,omitempty"`
}

// queueMessageKeys are the keys of a message, exactly as spelled: like the
// HTTP options, keys are case-sensitive (encoding/json alone would take
// "Dry_Run" for dry_run).
var queueMessageKeys = []string{"run_id", "trigger", "target", "dry_run", "group", "tables"}

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

// queuedRun is one run a trigger queues: its message and the part of the
// job it covers.
type queuedRun struct {
	msg queueMessage
	cfg *dbsync.Config
}

// planRuns is the runs one trigger queues from the config loaded once: the
// group or tables asked for as one run; without a choice, one run per group
// of the job (DESIGN §2), each naming its group, each with a new run_id.
func planRuns(cfg *dbsync.Config, trigger dbsync.Trigger, opts manualRunOptions) ([]queuedRun, error) {
	groups := []string{opts.Group}
	if opts.Group == "" && opts.Tables == "" {
		groups = cfg.Groups()
	}
	runs := make([]queuedRun, 0, len(groups))
	for _, g := range groups {
		gcfg, err := cfg.Select(g, splitTables(opts.Tables))
		if err != nil {
			return nil, err
		}
		runs = append(runs, queuedRun{
			msg: queueMessage{RunID: dbsync.NewRunID(), Trigger: trigger, Target: opts.Target, DryRun: opts.DryRun, Group: g, Tables: opts.Tables},
			cfg: gcfg,
		})
	}
	return runs, nil
}

func messagesOf(runs []queuedRun) []queueMessage {
	msgs := make([]queueMessage, len(runs))
	for i, r := range runs {
		msgs[i] = r.msg
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
	notRun := func(err any) error {
		return fmt.Errorf(`queue message %s is not a run: want a JSON object like {"run_id":"…","trigger":"http","target":"sqlite","dry_run":false}: %v`, quoteShort(text), err)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return m, notRun(err)
	}
	if dec.More() {
		return m, fmt.Errorf("queue message %s has more than one JSON value", quoteShort(text))
	}
	var unknown []string
	for k := range fields {
		if !slices.Contains(queueMessageKeys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return m, notRun(fmt.Sprintf("unknown field %q (keys are case-sensitive; a message has only %s)", unknown[0], strings.Join(queueMessageKeys, ", ")))
	}
	dec = json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, notRun(err)
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
	if err == nil && m.Group == "" && m.Tables == "" && len(cfg.Groups()) > 1 {
		// An older version's message: its empty group meant the default
		// one (never "every table": a run covers one group).
		cfg, err = cfg.Select(dbsync.DefaultGroup, nil)
	}
	if err != nil {
		rep := dbsync.RefusedReport(m.RunID, m.Trigger, m.Target, err)
		log.Error("queued run refused: configuration error; no sync was run", dbsync.LogRunID, m.RunID, "error", rep.Error)
		s.writeInvocation(w, http.StatusInternalServerError, invocationResponse{Outputs: map[string]any{"report": rep}, Logs: []string{"error: " + rep.Error}})
		return
	}
	attempts := attemptIDs(m.RunID, d.DequeueCount)
	earlier, err := s.runner.LookupRuns(ctx, cfg, log, attempts...)
	if err != nil {
		msg := fmt.Sprintf("read the history of run %s: %s; the run was not started, the message will be delivered again", m.RunID, dbsync.OneLine(err.Error()))
		log.Error("queued sync not started", "error", msg)
		s.writeInvocation(w, http.StatusInternalServerError, invocationResponse{Logs: []string{"error: " + msg}})
		return
	}
	var unfinished []string
	for _, e := range earlier {
		if e.Status.Final() {
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
		why := "none of them recorded an outcome in the history (" + string(cfg.Target) + " " + tablesPhrase(cfg) + ")"
		if len(unfinished) > 0 {
			why = "each earlier one stopped without an outcome (" + strings.Join(unfinished, ", ") + ")"
		}
		refuse(fmt.Sprintf("the message for run %s was delivered %d times and a message makes at most %d runs: %s; "+
			"look for the cause in the logs of those runs, then POST /api/sync again", m.RunID, d.DequeueCount, maxRunsPerMessage, why))
		return
	}
	rep := dbsync.NewQueuedReport(cfg, m.Trigger, m.RunID)
	var logs []string
	if len(unfinished) > 0 {
		// Recorded running: its process died (then its lock is free and
		// this delivery runs anew), or it is still under way elsewhere
		// (then this delivery finds the lock held by it, below).
		rep.RunID = rerunID(m.RunID, d.DequeueCount)
		log.Warn("redelivered message: an earlier run recorded no outcome; running anew unless it is still under way", dbsync.LogRunID, rep.RunID, "abandoned_run_id", strings.Join(unfinished, ","))
	}
	err = s.runQueued(ctx, cfg, rep, log, attempts)
	if errors.Is(err, dbsync.ErrAlreadyRunning) {
		// Another delivery of this message (a visibility timeout ran out
		// while it ran, on this instance or another) holds the run:
		// acknowledged, nothing recorded; that delivery's answer and the
		// history carry the outcome.
		line := fmt.Sprintf("%s; this delivery (dequeue count %d) is acknowledged without running it again", dbsync.OneLine(err.Error()), d.DequeueCount)
		log.Info("queued run already under way in another delivery; message acknowledged", "reason", dbsync.OneLine(err.Error()))
		out := map[string]any{}
		if runs, lerr := s.runner.LookupRuns(ctx, cfg, log, attempts...); lerr == nil {
			for _, run := range runs {
				if run.Status == dbsync.StatusRunning {
					out["report"] = run
				}
			}
		}
		s.writeInvocation(w, http.StatusOK, invocationResponse{Outputs: out, Logs: []string{line}})
		return
	}
	if len(unfinished) > 0 {
		logs = append(logs, fmt.Sprintf("run %s did not finish (the process running it stopped); the message, delivered again, runs anew as %s", strings.Join(unfinished, ", "), rep.RunID))
	}
	logs = append(logs, summary(rep))
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, dbsync.ErrBusy):
		if be := (*dbsync.BusyError)(nil); errors.As(err, &be) {
			logs = append(logs, "the run holding the lock: "+be.Holder)
		}
	default:
		status = http.StatusInternalServerError
		log.Error("queued sync failed", dbsync.LogRunID, rep.RunID, "error", dbsync.OneLine(err.Error()))
		logs = append(logs, "error: "+dbsync.OneLine(err.Error()))
	}
	s.writeInvocation(w, status, invocationResponse{Outputs: map[string]any{"report": rep}, Logs: logs})
}

// tablesPhrase names a run's tables for a message: "table items" or
// "tables a, b".
func tablesPhrase(cfg *dbsync.Config) string {
	names := tableNames(cfg)
	if len(names) == 1 {
		return "table " + names[0]
	}
	return "tables " + strings.Join(names, ", ")
}

// tableNames is the target tables of cfg's run.
func tableNames(cfg *dbsync.Config) []string {
	var names []string
	for _, t := range cfg.RunTables() {
		names = append(names, t.Target)
	}
	return names
}

// runQueued runs one queued run inside the invocation. A panic inside the
// run becomes a failed run: the process keeps serving.
func (s *server) runQueued(ctx context.Context, cfg *dbsync.Config, rep *dbsync.Report, log *slog.Logger, attempts []string) (err error) {
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
	return s.runner.RunQueued(ctx, cfg, rep, log, attempts...)
}

// statusPath is the Location of a queued run: the request's own path
// (the function's route, /api/sync) with ?run_id= and the run's target, so
// that a GET of it as given reads the history the run is in, whatever the
// default target. It carries no function key: the caller sends its own.
func statusPath(reqURL, runID string, target dbsync.Target) string {
	path := "/api/sync"
	if u, err := url.Parse(reqURL); err == nil && u.Path != "" {
		path = u.Path
	}
	return path + "?run_id=" + url.QueryEscape(runID) + "&target=" + url.QueryEscape(string(target))
}

// enqueue answers POST /api/sync: each run is recorded as queued and its
// message goes out through the "msg" binding with a 202; without a group
// or tables, one run per group of the job. The host writes the messages
// only after this 2xx, so a run is recorded queued before its message
// exists; a failure to record one queues nothing.
func (s *server) enqueue(ctx context.Context, w http.ResponseWriter, hr *httpRequestData, opts manualRunOptions, log *slog.Logger, fail func(int, string)) {
	cfg, err := loadConfig(ctx, "", dbsync.RunOptions{Target: opts.Target, DryRun: opts.DryRun}, log, s.azure)
	var runs []queuedRun
	if err == nil {
		runs, err = planRuns(cfg, dbsync.TriggerHTTP, opts)
	}
	if err != nil {
		fail(configStatus(err), err.Error())
		return
	}
	var ids, tables []string
	for i, run := range runs {
		rep := dbsync.NewQueuedReport(run.cfg, dbsync.TriggerHTTP, run.msg.RunID)
		rep.Status = dbsync.StatusQueued
		if err := s.runner.Enqueue(ctx, run.cfg, rep, log); err != nil {
			msg := fmt.Sprintf("record the queued run: %s; nothing was queued", dbsync.OneLine(err.Error()))
			if i > 0 {
				msg += fmt.Sprintf(" (runs %s stay recorded as queued with no message: POST again)", strings.Join(ids, ", "))
			}
			fail(http.StatusInternalServerError, msg)
			return
		}
		ids = append(ids, rep.RunID)
		tables = append(tables, tableNames(run.cfg)...)
	}
	location := statusPath(hr.URL, ids[0], cfg.Target)
	answer := map[string]any{"status": dbsync.StatusQueued, "run_id": ids[0], "target": cfg.Target, "tables": tables, "dry_run": opts.DryRun, "location": location}
	if len(ids) > 1 {
		answer["run_ids"] = ids
	}
	if len(tables) == 1 {
		answer["table"] = tables[0]
	}
	body, _ := json.Marshal(answer)
	log.Info("manual sync queued", dbsync.LogRunID, strings.Join(ids, ","), "target", string(cfg.Target), "dry_run", opts.DryRun)
	var output any = runs[0].msg
	if len(runs) > 1 {
		output = messagesOf(runs)
	}
	s.writeInvocation(w, http.StatusOK, invocationResponse{
		Outputs: map[string]any{
			"res": httpOutput{StatusCode: http.StatusAccepted, Body: string(body), Headers: map[string]string{
				"Content-Type": "application/json", "Location": location, "Retry-After": retryAfter,
			}},
			queueBinding: output,
		},
		Logs: []string{fmt.Sprintf("%d run(s) queued: %s", len(ids), strings.Join(ids, ", "))},
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
		fail(http.StatusNotFound, fmt.Sprintf("no run %s in the history of %s %s (GET /api/sync lists recent runs; give target= if the run was for another target)", opts.RunID, cfg.Target, tablesPhrase(cfg)))
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
	if !runs[0].Status.Final() && runs[0].Status != dbsync.StatusAbandoned {
		headers["Retry-After"] = retryAfter
	}
	s.writeInvocation(w, http.StatusOK, invocationResponse{
		Outputs: map[string]any{"res": httpOutput{StatusCode: http.StatusOK, Body: string(body), Headers: headers}},
		Logs:    []string{fmt.Sprintf("run %s: %s", opts.RunID, runs[0].Status)},
	})
}

package dbsync

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Status is where a run stands (Report.Status, the history table's status column).
type Status string

// Run statuses.
const (
	StatusQueued    Status = "queued"  // only in the history table: asked for, not yet started
	StatusRunning   Status = "running" // only in the history table, while a run is under way
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped" // dry run
	StatusBusy      Status = "busy"
	StatusAbandoned Status = "abandoned" // only in the history table: the process running it died
)

// Final reports whether a run's status is final: a queued run's message
// must not run it again. An abandoned run is final for itself, but its
// message may run anew, so Final is false for it (as for queued and running).
func (s Status) Final() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusBusy, StatusSkipped:
		return true
	}
	return false
}

// Trigger is what started a run.
type Trigger string

// Triggers.
const (
	TriggerCLI   Trigger = "cli"
	TriggerTimer Trigger = "timer"
	TriggerHTTP  Trigger = "http"
	TriggerQueue Trigger = "queue" // a queue message that does not say what queued it
)

const timeLayout = time.RFC3339Nano

// Report is the outcome of one run (docs/cli.md, "The run report"). It is printed by --json,
// returned over HTTP and stored in the history table. It never holds a
// secret: errors are built from messages that carry none.
type Report struct {
	RunID string `json:"run_id"`
	// Version is the build that ran it (Version()), so a history row
	// answers "which build wrote this?".
	Version        string  `json:"version"`
	Trigger        Trigger `json:"trigger"`
	Status         Status  `json:"status"`
	Source         string  `json:"source"`
	FallbackReason string  `json:"fallback_reason"`
	Target         Target  `json:"target"`
	Table          string  `json:"table"`
	Rows           int64   `json:"rows"`
	LoadMethod     string  `json:"load_method"`
	// Mode is how the tables were written: "replace" or "merge", or the
	// tables' modes joined with commas when they differ. A merge table
	// that was replaced instead (first run, merge_max_changes, recreate)
	// counts as "replace"; ModeReason says why.
	Mode string `json:"mode"`
	// ModeReason says why a merge table was replaced instead, or which
	// rule kept it merged (an empty target, merge_max_changes exceeded by
	// a table with triggers or foreign keys); with several tables,
	// "table: reason" joined with "; ". Empty when no table has one.
	ModeReason string `json:"mode_reason"`
	// Inserted, Updated, Deleted and Unchanged are the merge tables'
	// totals (a replaced table counts none of them).
	Inserted   int64     `json:"inserted"`
	Updated    int64     `json:"updated"`
	Deleted    int64     `json:"deleted"`
	Unchanged  int64     `json:"unchanged"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	DurationMS int64     `json:"duration_ms"`
	RowsPerSec float64   `json:"rows_per_sec"`
	Error      string    `json:"error"`
	// Retries counts transient errors (connection refused or lost, too
	// many connections, lock waits) that were retried.
	Retries int `json:"retries"`
	// SwapWaitMS is how long the swap waited for readers to let go of the
	// target table.
	SwapWaitMS int64 `json:"swap_wait_ms"`
	DryRun     bool  `json:"dry_run,omitempty"`
	// Unencrypted lists the MySQL connections of the run that ran without
	// TLS ("primary", "target", comma-separated; empty when none did):
	// ssl_mode = disabled, or preferred with a server that offers no TLS.
	Unencrypted string `json:"unencrypted"`
	// Snapshot says how the tables were read: "single" (every table in one
	// transaction of one source: [sync] parallel = 1) or "per_table" (each
	// table in its own transaction: parallel above 1).
	Snapshot string `json:"snapshot"`
	// Tables is one entry per table of the run, in the run's order. The
	// top-level Rows is their total; Table is set only when there is one.
	Tables []TableReport `json:"tables"`
	// StagePlan is how the staging tables were loaded: "indexed" (with
	// their secondary indexes) or "deferred_indexes" (built after the
	// load); comma-separated when the tables differ (see Tables).
	StagePlan string `json:"stage_plan"`
	// Compare is the tables' compares (TableReport.Compare), joined with
	// commas when they differ.
	Compare string `json:"compare"`
	// RowsRead, CursorFrom, CursorTo, Watermark and Basis hold one
	// table's values (TableReport) in its history row; the report has
	// them under tables only.
	RowsRead   int64  `json:"-"`
	CursorFrom string `json:"-"`
	CursorTo   string `json:"-"`
	Watermark  string `json:"-"`
	Basis      string `json:"-"`
}

// TableReport is one table of a run.
type TableReport struct {
	Table string `json:"table"`
	// Rows is the table's row count after the run (the source's rows).
	Rows       int64  `json:"rows"`
	LoadMethod string `json:"load_method"`
	// StagePlan is how its staging table was loaded (Report.StagePlan).
	StagePlan string `json:"stage_plan"`
	// Mode is what the run did to the table: ModeReplace or ModeMerge.
	// ModeReason says why a table configured as merge was replaced, or
	// which rule kept it merged.
	Mode       Mode   `json:"mode"`
	ModeReason string `json:"mode_reason,omitempty"`
	// Inserted, Updated, Deleted and Unchanged are a merge's row counts;
	// all zero for a replace.
	Inserted  int64 `json:"inserted"`
	Updated   int64 `json:"updated"`
	Deleted   int64 `json:"deleted"`
	Unchanged int64 `json:"unchanged"`
	// Compare is how a merge compared the table with its target: rows or
	// checksums (compare.go); empty for a replace.
	Compare string `json:"compare"`
	// RowsPerSec is over the time the table's rows took to read and
	// stage; with one table, over the run, as the run's.
	RowsPerSec float64 `json:"rows_per_sec"`
	// RowsRead is how many rows the run read from the source for the
	// table (an incremental run: its window); CursorFrom and CursorTo are
	// an incremental read's window: its lower bound and the largest cursor
	// value read (both empty for a full read).
	RowsRead   int64  `json:"rows_read"`
	CursorFrom string `json:"cursor_from"`
	CursorTo   string `json:"cursor_to"`
	// Watermark is the table's new watermark and Basis its
	// IncrementalBasis (mode = incremental only): history columns, not in
	// the report.
	Watermark string `json:"-"`
	Basis     string `json:"-"`
}

// Snapshot values.
const (
	SnapshotSingle   = "single"
	SnapshotPerTable = "per_table"
)

// newRunID returns a random id for a run.
func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// noteUnencrypted records that the connection to side (SourcePrimary or
// "target") ran without TLS; the list keeps the order primary, target.
func (r *Report) noteUnencrypted(side string) {
	var sides []string
	for _, s := range []string{SourcePrimary, "target"} {
		if s == side || strings.Contains(r.Unencrypted, s) {
			sides = append(sides, s)
		}
	}
	r.Unencrypted = strings.Join(sides, ",")
}

// finishNow stamps the end of the run (once) and its outcome.
func (r *Report) finishNow(err error) {
	if r.FinishedAt.IsZero() {
		r.FinishedAt = time.Now().UTC()
	}
	r.DurationMS = r.FinishedAt.Sub(r.StartedAt).Milliseconds()
	r.sumTables()
	if err != nil {
		r.Error = OneLine(err.Error())
		if r.Status == "" || r.Status == StatusRunning {
			r.Status = StatusFailed
		}
	}
}

// sumTables sets the run's totals from its tables: rows, the load method
// (the tables' one method, or theirs joined with commas) and rows/s over
// the run's duration. With one table, that table's figures are the run's.
// History computes them the same way from its rows.
func (r *Report) sumTables() {
	if len(r.Tables) == 0 {
		r.RowsPerSec = perSecond(r.Rows, r.DurationMS)
		return
	}
	r.Rows, r.Inserted, r.Updated, r.Deleted, r.Unchanged = 0, 0, 0, 0, 0
	var methods, modes, reasons, plans, compares []string
	for _, t := range r.Tables {
		r.Rows += t.Rows
		r.Inserted += t.Inserted
		r.Updated += t.Updated
		r.Deleted += t.Deleted
		r.Unchanged += t.Unchanged
		if t.LoadMethod != "" && !slices.Contains(methods, t.LoadMethod) {
			methods = append(methods, t.LoadMethod)
		}
		if t.StagePlan != "" && !slices.Contains(plans, t.StagePlan) {
			plans = append(plans, t.StagePlan)
		}
		if t.Mode != "" && !slices.Contains(modes, string(t.Mode)) {
			modes = append(modes, string(t.Mode))
		}
		if t.Compare != "" && !slices.Contains(compares, t.Compare) {
			compares = append(compares, t.Compare)
		}
		if t.ModeReason != "" {
			reasons = append(reasons, t.Table+": "+t.ModeReason)
		}
	}
	r.LoadMethod = strings.Join(methods, ",")
	r.StagePlan = strings.Join(plans, ",")
	r.Mode = strings.Join(modes, ",")
	r.Compare = strings.Join(compares, ",")
	r.ModeReason = strings.Join(reasons, "; ")
	if len(r.Tables) == 1 {
		r.ModeReason = r.Tables[0].ModeReason
	}
	r.RowsPerSec = perSecond(r.Rows, r.DurationMS)
	if len(r.Tables) == 1 {
		r.Tables[0].RowsPerSec = r.RowsPerSec
	}
}

// perSecond is rows per second, whole, over ms milliseconds.
func perSecond(rows, ms int64) float64 {
	if rows <= 0 || ms <= 0 {
		return 0
	}
	return float64(int64(float64(rows) * 1000 / float64(ms)))
}

// table is the entry of the named table, or nil.
func (r *Report) table(name string) *TableReport {
	for i := range r.Tables {
		if r.Tables[i].Table == name {
			return &r.Tables[i]
		}
	}
	return nil
}

// NewQueuedReport is NewReport for a run whose run_id was handed out before
// it began: a queued run keeps the run_id that its POST or timer answered,
// and its report is built like any other's (snapshot, tables, version).
func NewQueuedReport(cfg *Config, trigger Trigger, runID string) *Report {
	rep := NewReport(cfg, trigger)
	rep.RunID = runID
	return rep
}

// RefusedReport is the report of a run refused before it had a config to
// run with (a configuration error): failed, with the error and no tables.
func RefusedReport(runID string, trigger Trigger, target Target, err error) *Report {
	now := time.Now().UTC()
	return &Report{RunID: runID, Version: Version(), Trigger: trigger, Status: StatusFailed, Target: target,
		StartedAt: now, FinishedAt: now, Error: OneLine(err.Error())}
}

// Load methods (Report.LoadMethod): how a table's rows went in.
const (
	LoadData   = "load_data" // MySQL LOAD DATA LOCAL INFILE streams
	LoadInsert = "insert"    // MySQL multi-row INSERT streams
	LoadSQLite = "sqlite"    // the SQLite target's prepared INSERTs
)

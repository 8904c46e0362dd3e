package sync

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Run statuses.
const (
	StatusRunning   = "running" // only in the history table, while a run is under way
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped" // dry run
	StatusBusy      = "busy"
	StatusAbandoned = "abandoned" // only in the history table: the process running it died
)

// Triggers: what started a run.
const (
	TriggerCLI   = "cli"
	TriggerTimer = "timer"
	TriggerHTTP  = "http"
)

const timeLayout = time.RFC3339Nano

// Report is the outcome of one run (DESIGN §5). It is printed by --json,
// returned over HTTP and stored in the history table. It never holds a
// secret: errors are built from messages that carry none.
type Report struct {
	RunID          string    `json:"run_id"`
	Trigger        string    `json:"trigger"`
	Status         string    `json:"status"`
	Source         string    `json:"source"`
	FallbackReason string    `json:"fallback_reason"`
	Target         Target    `json:"target"`
	Table          string    `json:"table"`
	Rows           int64     `json:"rows"`
	LoadMethod     string    `json:"load_method"`
	StartedAt      time.Time `json:"started_at"`
	FinishedAt     time.Time `json:"finished_at"`
	DurationMS     int64     `json:"duration_ms"`
	RowsPerSec     float64   `json:"rows_per_sec"`
	Error          string    `json:"error"`
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
	// StagePlan is how the staging table was loaded: "indexed" (with its
	// secondary indexes) or "deferred_indexes" (built after the load).
	StagePlan string `json:"stage_plan"`
}

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
	d := r.FinishedAt.Sub(r.StartedAt)
	r.DurationMS = d.Milliseconds()
	if d > 0 && r.Rows > 0 {
		r.RowsPerSec = float64(int64(float64(r.Rows) / d.Seconds()))
	}
	if err != nil {
		r.Error = OneLine(err.Error())
		if r.Status == "" || r.Status == StatusRunning {
			r.Status = StatusFailed
		}
	}
}

package dbsync_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/sqlitedb"
)

// TestQueue_EnqueueThenRun: a queued run is in the history as queued
// before it runs; the run that takes it up under the same run_id turns
// that row into its own outcome; a lookup of an id no
// run used finds nothing. The SQLite target and fallback need no server:
// the primary refuses the connection, so the run reads the fallback.
func TestQueue_EnqueueThenRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := sqlitedb.WriteDemoData(ctx, filepath.Join(dir, "fallback.db"), 5); err != nil {
		t.Fatal(err)
	}
	text := "[sync]\ndefault_target = sqlite\nfallback_enabled = true\n" +
		"[source]\nhost = 127.0.0.1\nport = 1\ndatabase = shop\nuser = reader\nssl_mode = disabled\nconnect_timeout = 2s\nquery = SELECT * FROM items\n" +
		"[fallback]\npath = fallback.db\nquery = SELECT * FROM items\n" +
		"[sqlite]\npath = replica.db\ntable = items\n"
	path := filepath.Join(dir, "config.ini")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	r := newRunner(log)
	id := dbsync.NewRunID()
	queued := dbsync.NewQueuedReport(cfg, dbsync.TriggerHTTP, id)
	queued.Status = dbsync.StatusQueued
	if err := r.Enqueue(ctx, cfg, queued, log); err != nil {
		t.Fatal(err)
	}
	runs, err := r.LookupRuns(ctx, cfg, log, id, "no-such-run")
	if err != nil || len(runs) != 1 || runs[0].RunID != id || runs[0].Status != dbsync.StatusQueued {
		t.Fatalf("after Enqueue: %+v %v; want the one run, queued", runs, err)
	}

	rep := dbsync.NewQueuedReport(cfg, dbsync.TriggerQueue, id)
	if err := r.RunQueued(ctx, cfg, rep, log); err != nil {
		t.Fatal(err)
	}
	runs, err = r.LookupRuns(ctx, cfg, log, id)
	if err != nil || len(runs) != 1 {
		t.Fatalf("after the run: %+v %v; want its one row", runs, err)
	}
	if got := runs[0]; got.Status != dbsync.StatusSucceeded || got.Rows != 5 || got.Source != dbsync.SourceFallback {
		t.Errorf("the queued row became status %s, %d rows from %s; want succeeded, 5 rows from the fallback", got.Status, got.Rows, got.Source)
	}
}

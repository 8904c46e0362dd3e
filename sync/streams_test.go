package sync_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	dbsync "github.com/dbsync/dbsync/sync"
)

// syncLogged runs one sync of e and returns its report, error and log.
func syncLogged(t *testing.T, e *env) (*dbsync.Report, error, string) {
	t.Helper()
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	err = dbsync.NewRunner(log).Run(ctx, cfg, rep, log)
	t.Log(buf.String())
	return rep, err, buf.String()
}

// TestLoadStreams_CopiesExactly: with load_streams = 2 two LOAD DATA
// streams, or two INSERT streams where local_infile is OFF, load the
// staging table, and the target holds exactly the source's rows.
func TestLoadStreams_CopiesExactly(t *testing.T) {
	t.Parallel()
	for _, tc := range loadPaths() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.server())
			e.extra = "load_streams = 2\n"
			src, dst := e.srcDBConn(), e.dstDBConn()
			mustExec(t, src, manyIndexesDDL)
			fillItems(t, src, deferRows, "new")
			rep, err, log := syncLogged(t, e)
			if err != nil || rep.Status != dbsync.StatusSucceeded {
				t.Fatalf("sync: %v (status %s)", err, rep.Status)
			}
			if !strings.Contains(log, "loading with parallel streams") || !strings.Contains(log, "streams=2") {
				t.Errorf("the log does not say two streams loaded the rows:\n%s", log)
			}
			if rep.LoadMethod != tc.name {
				t.Errorf("load method %q, want %q", rep.LoadMethod, tc.name)
			}
			if got, want := tableSum(t, dst, "items"), tableSum(t, src, "items"); got != want || rep.Rows != deferRows {
				t.Errorf("target has %s (report: %d rows), source %s", got, rep.Rows, want)
			}
		})
	}
}

// TestLoadStreams_FailsCleanly: a value the target cannot store, deep in
// the rows, fails the run with the server's message while the other stream
// is loading; the target keeps its rows and no staging table is left.
func TestLoadStreams_FailsCleanly(t *testing.T) {
	t.Parallel()
	for _, tc := range loadPaths() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loadStreamsFailsCleanly(t, tc.server())
		})
	}
}

func loadStreamsFailsCleanly(t *testing.T, target *mariadbtest.Server) {
	e := newEnv(t, target)
	e.extra = "load_streams = 2\n"
	src, dst := e.srcDBConn(), e.dstDBConn()
	mustExec(t, src, manyIndexesDDL)
	fillItems(t, src, deferRows, "new")
	mustExec(t, src, "UPDATE items SET name = 'a name far too long for twenty' WHERE id = 45000")
	mustExec(t, dst, strings.Replace(manyIndexesDDL, "name VARCHAR(100)", "name VARCHAR(20)", 1))
	fillItems(t, dst, 1000, "old")
	before := tableSum(t, dst, "items")
	rep, err, _ := syncLogged(t, e)
	if err == nil {
		t.Fatal("sync succeeded with a value the target cannot store")
	}
	for _, want := range []string{"load_streams", "for column 'name'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if rep.Status != dbsync.StatusFailed {
		t.Errorf("status %q, want failed", rep.Status)
	}
	if got := tableSum(t, dst, "items"); got != before {
		t.Errorf("target changed: %s, was %s", got, before)
	}
	var left int
	if err := dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'items' AND TABLE_NAME LIKE 'items%'").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d staging tables left (%v)", left, err)
	}
}

package mysqldb_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
)

// syncLogged runs one sync of e and returns its report, error and log.
func syncLogged(t *testing.T, e *env) (*dbsync.Report, error, string) {
	t.Helper()
	cfg, err := e.Config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	err = newRunner(log).Run(ctx, cfg, rep, log)
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
			e.Extra = "[azure_mysql]\nload_streams = 2\n"
			src, dst := e.SrcDBConn(), e.DstDBConn()
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
	e.Extra = "[azure_mysql]\nload_streams = 2\n"
	src, dst := e.SrcDBConn(), e.DstDBConn()
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

// TestLoadStreams_ServerWaitsForSparseRows: a merge whose differences come
// far apart in a slow compare keeps its LOAD DATA streams open longer than
// the target's net_read_timeout (here 1 s, on a server of its own; 30 s by
// default) between two batches; the load sessions wait as long as the run
// may last, so the merge succeeds instead of failing with error 1159 or a
// lost connection. The slow source is the SQLite fallback (the primary is
// down), whose rows stream one by one behind a costly subquery.
func TestLoadStreams_ServerWaitsForSparseRows(t *testing.T) {
	t.Parallel()
	target := ownServer(t, mariadbtest.Options{TLS: true, LocalInfile: true, ExtraArgs: []string{"--net-read-timeout=1"}})
	e := newEnv(t, target)
	dst := e.DstDBConn()
	seedItems(t, dst, 300)
	// The same rows (seedItems' generator, in SQLite), but for the first
	// and the last ten: the first difference starts the delta table's
	// load, and the rest come at the end of the compare.
	sqliteExec(t, filepath.Join(e.Dir, "fallback.db"), "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
		`WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300)
		 INSERT INTO items SELECT n, 'item ' || n, CASE WHEN n % 7 = 0 THEN NULL ELSE substr(replace(hex(zeroblob(100)), '00', 'x'), 1, n % 100) END FROM s`,
		"UPDATE items SET name = 'changed ' || id WHERE id = 1 OR id > 290")
	// A correlated subquery over 90,000 pairs for each row: seconds of
	// compare between the first difference and the next.
	e.Extra = "[sync]\nmode = merge\nfallback_enabled = true\n[source]\nport = 1\n" +
		"[fallback]\nquery = SELECT id, name, note FROM items WHERE (SELECT COUNT(*) FROM items AS a, items AS b WHERE a.id + b.id > items.id + 1000) = 0\n"
	start := time.Now()
	rep, err := e.Sync(dbsync.RunOptions{})
	t.Logf("merge took %s", time.Since(start))
	if err != nil {
		t.Fatalf("merge with sparse differences: %v", err)
	}
	if rep.Source != "fallback" || rep.Tables[0].Mode != dbsync.ModeMerge || rep.Updated != 11 || rep.LoadMethod != dbsync.LoadData {
		t.Errorf("report: source %s, mode %s, %d updated, load %s; want a merge from the fallback of 11 updates through LOAD DATA", rep.Source, rep.Tables[0].Mode, rep.Updated, rep.LoadMethod)
	}
	var changed int
	if err := dst.QueryRow("SELECT COUNT(*) FROM items WHERE name LIKE 'changed %'").Scan(&changed); err != nil || changed != 11 {
		t.Errorf("target has %d changed names (%v), want 11", changed, err)
	}
}

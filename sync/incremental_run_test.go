package dbsync_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/sync"
)

// incrementalTable has a server-set cursor (DEFAULT / ON UPDATE
// CURRENT_TIMESTAMP), nullable so that a NULL cursor can be written.
const incrementalTable = "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v VARCHAR(40) NULL, " +
	"updated_at DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), KEY items_updated (updated_at))"

// incEnv runs the table items as mode = incremental on one target.
type incEnv struct {
	*env
	target string // "" (azure) or "sqlite"
	extra  string // settings over the incremental ones
}

func newIncEnv(t *testing.T, target string) *incEnv {
	var srv = azure
	if target == "sqlite" {
		srv = nil
	}
	e := &incEnv{env: newEnv(t, srv), target: target}
	mustExec(t, e.srcDBConn(), incrementalTable)
	return e
}

func (e *incEnv) run() *dbsync.Report {
	e.t.Helper()
	c := *e.env
	c.extra = initest.Merge(initest.Merge(e.env.extra, "[sync]\nmode = incremental\ncursor = updated_at\nkey = id\nlookback = 1s\nmax_delete = 1\nmerge_max_changes = 1\n"), e.extra)
	rep := c.mustSync(dbsync.RunOptions{Target: dbsync.Target(e.target)})
	if len(rep.Tables) != 1 {
		e.t.Fatalf("report has %d tables", len(rep.Tables))
	}
	return rep
}

// assertExact compares the target's rows with the source's: on MySQL
// directly, on SQLite against a replace into another file (the oracle).
func (e *incEnv) assertExact() {
	e.t.Helper()
	if e.target != "sqlite" {
		assertSameRows(e.t, readAll(e.t, e.srcDBConn(), "items"), readAll(e.t, e.dstDBConn(), "items"))
		return
	}
	o := *e.env
	oracle := filepath.Join(e.dir, "oracle.db")
	os.Remove(oracle) // a fresh copy: the source's columns may have changed
	o.extra = "[sqlite]\npath = " + oracle + "\n"
	o.mustSync(dbsync.RunOptions{Target: "sqlite"})
	assertSameRows(e.t, sqliteRows(e.t, oracle, "SELECT * FROM items ORDER BY id"), sqliteRows(e.t, filepath.Join(e.dir, "replica.db"), "SELECT * FROM items ORDER BY id"))
}

// execTarget runs statements on the target table (a hand edit).
func (e *incEnv) execTarget(stmts ...string) {
	e.t.Helper()
	if e.target == "sqlite" {
		sqliteExec(e.t, filepath.Join(e.dir, "replica.db"), stmts...)
		return
	}
	mustExec(e.t, e.dstDBConn(), stmts...)
}

func wantIncremental(t *testing.T, rep *dbsync.Report, full bool, reason string) dbsync.TableReport {
	t.Helper()
	tr := rep.Tables[0]
	if tr.Mode != dbsync.ModeIncremental {
		t.Fatalf("mode %q (%s), want incremental", tr.Mode, tr.ModeReason)
	}
	if full != (tr.CursorFrom == "") {
		t.Fatalf("full read = %v (cursor_from %q, mode_reason %q), want %v", tr.CursorFrom == "", tr.CursorFrom, tr.ModeReason, full)
	}
	if reason != "" && !strings.Contains(tr.ModeReason, reason) {
		t.Fatalf("mode_reason %q, want it to say %q", tr.ModeReason, reason)
	}
	return tr
}

// TestIncremental_Run: the first run replaces, the next merges in full and
// stores a watermark, then incremental runs read only the window and stay
// exact through updates, inserts, deletes, a key change and NULL cursors;
// a row whose cursor did not move is caught by the full run full_every
// forces, which also repairs a hand edit of the replica; a changed query
// reads in full. Both targets.
func TestIncremental_Run(t *testing.T) {
	for _, target := range []string{"", "sqlite"} {
		t.Run("target="+target, func(t *testing.T) {
			t.Parallel()
			e := newIncEnv(t, target)
			src := e.srcDBConn()
			seedIncItems(t, src, 40)
			if tr := e.run().Tables[0]; tr.Mode != dbsync.ModeReplace {
				t.Fatalf("first run: mode %q, want replace", tr.Mode)
			}
			tr := wantIncremental(t, e.run(), true, "last run wrote the table in mode replace")
			if tr.Watermark == "" || tr.RowsRead != 40 {
				t.Fatalf("full read: watermark %q, rows_read %d, want one and 40", tr.Watermark, tr.RowsRead)
			}
			e.assertExact()

			// Nothing changed: the window holds row 1 only (the newest
			// cursor, less lookback).
			tr = wantIncremental(t, e.run(), false, "")
			if tr.RowsRead != 1 || tr.Inserted+tr.Updated+tr.Deleted != 0 || tr.Rows != 40 {
				t.Fatalf("unchanged: %+v", tr)
			}

			mustExec(t, src,
				"UPDATE items SET v = 'changed' WHERE id IN (3, 4)",
				"INSERT INTO items (id, v) VALUES (41, 'new')",
				"INSERT INTO items (id, v, updated_at) VALUES (42, 'null cursor', NULL)",
				"DELETE FROM items WHERE id = 7",
				"UPDATE items SET id = 50 WHERE id = 9") // a key change: delete 9, insert 50
			tr = wantIncremental(t, e.run(), false, "")
			if tr.Inserted != 3 || tr.Updated != 2 || tr.Deleted != 2 || tr.Rows != 41 {
				t.Fatalf("incremental counts: %+v", tr)
			}
			if tr.RowsRead != 6 { // 1, 3, 4, 41, 42 (NULL) and 50
				t.Fatalf("rows_read %d, want 6 (the window and the NULL cursor)", tr.RowsRead)
			}
			if tr.CursorFrom == "" || tr.CursorTo < tr.CursorFrom {
				t.Fatalf("window %q .. %q", tr.CursorFrom, tr.CursorTo)
			}
			e.assertExact()

			// The NULL-cursor row is read every run but changes nothing.
			tr = wantIncremental(t, e.run(), false, "")
			if tr.RowsRead < 1 || tr.Inserted+tr.Updated+tr.Deleted != 0 {
				t.Fatalf("second incremental run: %+v", tr)
			}

			// A cursor that does not move, and a hand edit of the replica:
			// the incremental run misses both, the full run repairs both.
			mustExec(t, src, "UPDATE items SET v = 'sneaky', updated_at = updated_at WHERE id = 1")
			e.execTarget("UPDATE items SET v = 'hand edit' WHERE id = 2")
			wantIncremental(t, e.run(), false, "")
			e.extra = "[sync]\nfull_every = 1s\n"
			time.Sleep(1100 * time.Millisecond)
			tr = wantIncremental(t, e.run(), true, "full_every (1s) passed")
			if tr.Updated != 2 {
				t.Fatalf("full run repaired %d rows, want 2: %+v", tr.Updated, tr)
			}
			e.assertExact()
			e.extra = ""

			// A row deleted on the replica, whose cursor is old: the delete
			// detection finds it missing, and the run reads in full.
			e.execTarget("DELETE FROM items WHERE id = 20")
			tr = wantIncremental(t, e.run(), true, "missing from the target")
			if tr.Inserted != 1 {
				t.Fatalf("the full run after a replica delete: %+v", tr)
			}
			e.assertExact()

			// A changed query (the basis) reads in full.
			e.extra = "[source]\nquery = SELECT id, v, updated_at FROM items\n"
			wantIncremental(t, e.run(), true, "query, key, cursor or source columns changed")
			wantIncremental(t, e.run(), false, "")
			e.assertExact()

			// A schema change (a column added on both sides) reads in full.
			mustExec(t, src, "ALTER TABLE items ADD COLUMN x INT NULL DEFAULT 7")
			if target == "sqlite" {
				e.execTarget("ALTER TABLE items ADD COLUMN x INTEGER DEFAULT 7")
			} else {
				e.execTarget("ALTER TABLE items ADD COLUMN x INT NULL DEFAULT 7")
			}
			e.extra = ""
			wantIncremental(t, e.run(), true, "query, key, cursor or source columns changed")
			wantIncremental(t, e.run(), false, "")
			e.assertExact()

			// The fallback: a run that reads it reads in full, and so does
			// the run after it.
			if target == "sqlite" {
				copyFile(t, filepath.Join(e.dir, "replica.db"), filepath.Join(e.dir, "fallback.db"))
			} else {
				f := *e.env
				f.extra = "[sqlite]\npath = " + filepath.Join(e.dir, "fallback.db") + "\n"
				f.mustSync(dbsync.RunOptions{Target: "sqlite"})
			}
			e.extra = "[sync]\nfallback_enabled = true\n[source]\nport = 1\n"
			rep := e.run()
			if rep.Source != dbsync.SourceFallback {
				t.Fatalf("source %q, want fallback", rep.Source)
			}
			wantIncremental(t, rep, true, "this run reads the fallback")
			e.extra = ""
			wantIncremental(t, e.run(), true, "the last run read the fallback")
			wantIncremental(t, e.run(), false, "")
			e.assertExact()
		})
	}
}

// TestIncremental_LateCommit: with lookback = 1s, a transaction open on
// the primary updates a row (its cursor is the statement's time), another
// row is updated and committed later, a run happens while the first is
// still open, then it commits: the next run has its row, because the
// watermark never passes the open transaction's start.
func TestIncremental_LateCommit(t *testing.T) {
	for _, target := range []string{"", "sqlite"} {
		t.Run("target="+target, func(t *testing.T) {
			t.Parallel()
			e := newIncEnv(t, target)
			src := e.srcDBConn()
			seedIncItems(t, src, 40)
			e.run()
			wantIncremental(t, e.run(), true, "")
			late := lateTx(t, src, "UPDATE items SET v = 'late' WHERE id = 2")
			time.Sleep(2 * time.Second)
			mustExec(t, src, "UPDATE items SET v = 'early' WHERE id = 3")
			time.Sleep(1500 * time.Millisecond)
			tr := wantIncremental(t, e.run(), false, "")
			if tr.Updated != 1 {
				t.Fatalf("run during the open transaction: %+v", tr)
			}
			if err := late.Commit(); err != nil {
				t.Fatal(err)
			}
			tr = wantIncremental(t, e.run(), false, "")
			if tr.Updated < 1 {
				t.Fatalf("the late commit was not read: %+v", tr)
			}
			e.assertExact()
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// seedIncItems inserts rows 1..n with cursors an hour old, 10 s apart:
// the window of the run after a full one holds row 1 only.
func seedIncItems(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	var stmts []string
	for i := 1; i <= n; i++ {
		stmts = append(stmts, "INSERT INTO items (id, v, updated_at) VALUES ("+strconv.Itoa(i)+", 'v"+strconv.Itoa(i)+"', NOW(6) - INTERVAL "+strconv.Itoa(3600+10*i)+" SECOND)")
	}
	mustExec(t, db, stmts...)
}

// lateTx begins a transaction on its own connection and runs stmt in it.
func lateTx(t *testing.T, db *sql.DB, stmt string) *sql.Tx {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(stmt); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestIncremental_Check: check finds the cursor and its type (a missing or
// non-temporal cursor fails, naming the key), counts NULL cursors, warns
// when the window read cannot use an index, and says whether the source
// user sees open transactions (PROCESS) or late commits are guarded by
// lookback only.
func TestIncremental_Check(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src := e.srcDBConn()
	mustExec(t, src, incrementalTable, "CREATE TABLE plain (id INT NOT NULL PRIMARY KEY, v VARCHAR(10), updated_at DATETIME(6) NULL)",
		"INSERT INTO plain (id, v) SELECT seq, 'x' FROM seq_1_to_3000",
		"INSERT INTO items (id, v, updated_at) VALUES (1, 'a', NULL), (2, 'b', NOW(6))")
	check := func(extra string) (primaryLine dbsync.CheckResult) {
		t.Helper()
		c := *e
		c.extra = initest.Merge("[sync]\nmode = incremental\nkey = id\n", extra)
		cfg, err := c.config(dbsync.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range newRunner(testLogger(t)).Check(context.Background(), cfg) {
			if r.Name == "primary" {
				return r
			}
		}
		t.Fatal("check has no primary line")
		return
	}
	if r := check("[sync]\ncursor = updated\n"); r.OK || !strings.Contains(r.Detail, "cursor") || !strings.Contains(r.Detail, "updated_at") {
		t.Errorf("missing cursor: %+v", r)
	}
	if r := check("[sync]\ncursor = v\n"); r.OK || !strings.Contains(r.Detail, "DATETIME or TIMESTAMP") {
		t.Errorf("VARCHAR cursor: %+v", r)
	}
	r := check("[sync]\ncursor = updated_at\n")
	if !r.OK || !strings.Contains(r.Detail, "1 rows with a NULL cursor") || !strings.Contains(r.Detail, "(PROCESS)") {
		t.Errorf("good cursor: %+v", r)
	}
	for _, w := range r.Warnings {
		if strings.Contains(w, "cannot use an index") {
			t.Errorf("indexed cursor warned about: %q", w)
		}
	}
	r = check("[sync]\ncursor = updated_at\n[source]\nquery = SELECT * FROM plain\n[azure_mysql]\ntable = plain\n")
	if !r.OK || !strings.Contains(strings.Join(r.Warnings, "\n"), "cannot use an index") {
		t.Errorf("unindexed cursor: no EXPLAIN warning: %+v", r)
	}

	user := "chk_" + e.srcDB[len(e.srcDB)-6:]
	primary.MustExec(t, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw'", user), fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%%'", e.srcDB, user))
	t.Cleanup(func() { _, _ = primary.Root().Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	r = check("[sync]\ncursor = updated_at\n[source]\nuser = " + user + "\npassword = pw\n")
	if !r.OK || !strings.Contains(strings.Join(r.Warnings, "\n"), "lookback only") || !strings.Contains(strings.Join(r.Warnings, "\n"), "PROCESS") {
		t.Errorf("without PROCESS: %+v", r)
	}
}

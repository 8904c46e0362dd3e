package dbsync_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// victimState is what a write through [source] query would change.
func victimState(t *testing.T, db *sql.DB) string {
	t.Helper()
	var n, sum int64
	if err := db.QueryRow("SELECT COUNT(*), COALESCE(SUM(id * 10 + v), 0) FROM victim").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d rows, checksum %d", n, sum)
}

// TestSource_ReadOnly: every statement that writes is refused by the
// primary itself (the read runs in a READ ONLY transaction), in a run, a
// dry run and check; the victim table keeps its rows, the error names
// [source] query, and a refused write never sends a run to the fallback.
func TestSource_ReadOnly(t *testing.T) {
	queries := []struct {
		name, query string
		// checkRuns: check cannot tell without running it that the query
		// writes (a SELECT calling a function that writes); it must
		// still change nothing.
		checkRuns bool
	}{
		{"update", "UPDATE victim SET v = 1", false},
		{"delete", "DELETE FROM victim", false},
		{"delete returning", "DELETE FROM victim RETURNING *", false},
		{"insert returning", "INSERT INTO victim VALUES (9, 9) RETURNING *", false},
		{"call of a procedure that deletes then selects", "CALL wipe_then_select()", false},
		{"select of a function that deletes", "SELECT id, wipe() AS w FROM items", true},
		// A FLOAT column makes the read a prepared statement (binary protocol).
		{"select of a function that deletes, FLOAT column", "SELECT id, CAST(wipe() AS FLOAT) AS w FROM items", true},
	}
	modes := []string{"run", "dry run", "run with fallback", "check"}
	for _, q := range queries {
		for _, mode := range modes {
			t.Run(q.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, azure)
				src, dst := e.srcDBConn(), e.dstDBConn()
				seedItems(t, src, 5)
				seedItems(t, dst, 2)
				mustExec(t, src,
					"CREATE TABLE victim (id INT PRIMARY KEY, v INT NOT NULL)",
					"INSERT INTO victim VALUES (1, 0), (2, 0), (3, 0)",
					"CREATE PROCEDURE wipe_then_select() BEGIN DELETE FROM victim; SELECT * FROM items; END",
					"CREATE FUNCTION wipe() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM victim; RETURN 1; END")
				before := victimState(t, src)
				e.extra = "[source]\nquery = " + q.query + "\n"
				if mode == "run with fallback" {
					e.extra += "[sync]\nfallback_enabled = true\n"
					sqliteExec(t, filepath.Join(e.dir, "fallback.db"),
						"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
						"INSERT INTO items VALUES (100, 'from fallback', NULL)")
				}
				var msg string
				switch mode {
				case "check":
					cfg, err := e.config(dbsync.RunOptions{})
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range newRunner(testLogger(t)).Check(context.Background(), cfg) {
						if r.Name == "primary" && !q.checkRuns {
							if r.OK {
								t.Errorf("check of %q passed: %s", q.query, r.Detail)
							}
							msg = r.Detail
						}
					}
				default:
					rep, err := e.sync(dbsync.RunOptions{DryRun: mode == "dry run"})
					if err == nil {
						t.Fatalf("%s of %q succeeded (source %s, %d rows)", mode, q.query, rep.Source, rep.Rows)
					}
					if rep.Source == dbsync.SourceFallback {
						t.Errorf("a refused write sent the run to the fallback: %s", rep.FallbackReason)
					}
					msg = err.Error()
				}
				if after := victimState(t, src); after != before {
					t.Errorf("[source] query %q changed the primary in a %s: victim had %s, now %s", q.query, mode, before, after)
				}
				if mode == "check" && q.checkRuns {
					return
				}
				if !strings.Contains(msg, "[source] query") {
					t.Errorf("message does not name [source] query: %s", msg)
				}
				if mode != "check" && !strings.Contains(msg, "read-only") {
					t.Errorf("message does not say the primary is read read-only: %s", msg)
				}
				if n := count(t, dst, "items"); n != 2 {
					t.Errorf("target has %d rows, want the 2 it had", n)
				}
			})
		}
	}
}

// TestSource_FallbackReadOnly: the fallback SQLite file is opened
// read-only, so a [fallback] query that writes is refused and the file
// keeps its rows.
func TestSource_FallbackReadOnly(t *testing.T) {
	for _, query := range []string{"DELETE FROM items RETURNING *", "UPDATE items SET name = 'x' RETURNING *"} {
		t.Run(query, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			seedItems(t, e.dstDBConn(), 2)
			path := filepath.Join(e.dir, "fallback.db")
			sqliteExec(t, path,
				"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
				"INSERT INTO items VALUES (100, 'from fallback', NULL), (101, 'also', 'x')")
			e.extra = "[sync]\nfallback_enabled = true\n[source]\nport = 1\n[fallback]\nquery = " + query + "\n"
			_, err := e.sync(dbsync.RunOptions{})
			if err == nil || !strings.Contains(err.Error(), "[fallback] query") || !strings.Contains(err.Error(), "readonly") {
				t.Fatalf("error %v, want the fallback's refusal naming [fallback] query", err)
			}
			if rows := sqliteRows(t, path, "SELECT id, name FROM items ORDER BY id"); fmt.Sprint(rows) != "[[100 from fallback] [101 also]]" {
				t.Errorf("fallback file changed: %v", rows)
			}
			if n := count(t, e.dstDBConn(), "items"); n != 2 {
				t.Errorf("target has %d rows, want the 2 it had", n)
			}
		})
	}
}

// tableRowsRead is how many rows the primary read from db.table since
// userstat was turned on (MariaDB's per-table statistics).
func tableRowsRead(t *testing.T, db, table string) int64 {
	t.Helper()
	var n sql.NullInt64
	err := primary.Root().QueryRow("SELECT SUM(ROWS_READ) FROM information_schema.TABLE_STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, table).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n.Int64
}

// TestCheck_DoesNotRunTheQuery: check learns the query's columns without
// running it: the primary reads no row of the source table; a dry run,
// which does run it, reads every row (so the counter works).
func TestCheck_DoesNotRunTheQuery(t *testing.T) {
	primary.MustExec(t, "SET GLOBAL userstat = 1")
	e := newEnv(t, azure)
	const rows = 3000
	seedItems(t, e.srcDBConn(), rows)
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	results := newRunner(testLogger(t)).Check(context.Background(), cfg)
	if len(results) == 0 || results[0].Name != "primary" || !results[0].OK || !strings.Contains(results[0].Detail, "query returns 3 columns") {
		t.Fatalf("check results: %+v", results)
	}
	if n := tableRowsRead(t, e.srcDB, "items"); n != 0 {
		t.Errorf("check read %d rows of the source table; want 0 (metadata only)", n)
	}
	rep, err := e.sync(dbsync.RunOptions{DryRun: true})
	if err != nil || rep.Rows != rows {
		t.Fatalf("dry run: %v, %d rows", err, rep.Rows)
	}
	if n := tableRowsRead(t, e.srcDB, "items"); n < rows {
		t.Errorf("after a dry run the primary counted %d rows read; want at least %d (the counter does not work)", n, rows)
	}
}

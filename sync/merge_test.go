package dbsync_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
)

// mergeRun are the settings a merge test varies; zero thresholds are
// the config's.
type mergeRun struct {
	Key        []string // the configured key (key = …)
	MaxChanges float64
	MaxDelete  float64
	Fallback   bool // read the [fallback] SQLite source instead of the primary
}

// mergeResult is what a merge run did, from its report: a table handed
// to a replace has Replaced and the reason.
type mergeResult struct {
	Inserted, Updated, Deleted, Unchanged, Rows int64
	Replaced                                    bool
	Reason                                      string
}

// merge runs one sync of e's one table as a merge table (Target "sqlite"
// for the SQLite file) through Runner.Run, with o's settings over the
// env's config. A run whose merge hands the table to a replace is stopped
// before its swap (its context cancelled), so that, like a merge that
// only says "replace", it leaves the target as it was.
func (e *env) merge(target string, o mergeRun) (mergeResult, error) {
	e.t.Helper()
	set := "[sync]\nmode = merge\n"
	if len(o.Key) > 0 {
		set += "key = " + strings.Join(o.Key, ", ") + "\n"
	}
	if o.Fallback {
		// Nothing listens on port 1: the run reads the fallback.
		set += "fallback_enabled = true\n[source]\nport = 1\n"
	}
	m := *e
	m.extra = initest.Merge(e.extra, set)
	cfg, err := m.config(dbsync.RunOptions{Target: dbsync.Target(target)})
	if err != nil {
		e.t.Fatal(err)
	}
	// Set on the loaded config, as the run reads them: a test lifts a
	// threshold above 1 (more changes than the target has rows), which
	// config.ini does not take.
	if o.MaxChanges != 0 {
		cfg.Sync.MergeMaxChanges = o.MaxChanges
	}
	if o.MaxDelete != 0 {
		cfg.Sync.MaxDelete = o.MaxDelete
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := testLogger(e.t)
	r := newRunner(log)
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	replaced := func() bool { return len(rep.Tables) == 1 && rep.Tables[0].Mode == dbsync.ModeReplace }
	dbsync.SetBeforeSwap(r, func() {
		if replaced() {
			cancel()
		}
	})
	err = r.Run(ctx, cfg, rep, log)
	if o.Fallback && err == nil && rep.Source != dbsync.SourceFallback {
		e.t.Fatalf("merge from the fallback read the %s", rep.Source)
	}
	res := mergeResult{Inserted: rep.Inserted, Updated: rep.Updated, Deleted: rep.Deleted, Unchanged: rep.Unchanged, Rows: rep.Rows}
	if replaced() {
		res.Replaced, res.Reason = true, rep.Tables[0].ModeReason
		return res, nil
	}
	return res, err
}

func (e *env) mustMerge(target string, o mergeRun) mergeResult {
	e.t.Helper()
	res, err := e.merge(target, o)
	if err != nil {
		e.t.Fatalf("merge: %v", err)
	}
	if res.Replaced {
		e.t.Fatalf("merge handed the table to a replace: %s", res.Reason)
	}
	return res
}

type counts struct{ ins, upd, del, same, rows int64 }

func assertCounts(t *testing.T, res mergeResult, want counts) {
	t.Helper()
	got := counts{res.Inserted, res.Updated, res.Deleted, res.Unchanged, res.Rows}
	if got != want {
		t.Errorf("merge counts inserted/updated/deleted/unchanged/rows = %v, want %v", got, want)
	}
}

// dump reads every row of a query through the binary protocol (exact
// FLOATs), strings as bytes.
func dump(t *testing.T, db *sql.DB, query string) [][]any {
	t.Helper()
	stmt, err := db.Prepare(query)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	rows, err := stmt.Query()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	return scanAll(t, rows)
}

// TestMerge_FidelityAfterEachMerge: after each merge every value of the
// target equals the source's (the fidelity type matrix, FLOAT included, so
// the source is read through the binary protocol), with a delete, an
// insert, updates NULL → value and value → NULL, through both load paths;
// a merge with nothing changed writes nothing.
func TestMerge_FidelityAfterEachMerge(t *testing.T) {
	for _, srv := range loadPaths() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv.server())
			src, dst := e.srcDBConn(), e.dstDBConn()
			mustExec(t, src, fidelityTable)
			mustExec(t, src, fidelityRows()...)
			mustExec(t, dst, fidelityTable)
			e.mustSync(dbsync.RunOptions{})
			mustExec(t, src,
				"DELETE FROM items WHERE id = 2",
				"INSERT INTO items SELECT 5, 5, i64, flag, dec38, f, d, dt, dtm, ts, tm, yr, b8, b64, ch, vc, tx, big, bin, vb, bl, en, st, js FROM items WHERE id = 1",
				"UPDATE items SET vc = 'now set', f = 0.1234567, bl = 0x00, js = '{\"x\": 1}' WHERE id = 3", // NULL → value
				"UPDATE items SET vc = NULL, big = CONCAT(big, 'é'), d = NULL WHERE id = 4")                 // value → NULL
			for run := 1; run <= 2; run++ {
				res := e.mustMerge("", mergeRun{MaxChanges: 1})
				if run == 1 {
					assertCounts(t, res, counts{ins: 1, upd: 2, del: 1, same: 1, rows: 4})
				} else {
					assertCounts(t, res, counts{same: 4, rows: 4})
				}
				assertSameRows(t, readAll(t, src, "items"), readAll(t, dst, "items"))
			}
			// A change only FLOAT's exact digits show: 0.1234567 and
			// 0.1234568 print alike through the text protocol.
			mustExec(t, src, "UPDATE items SET f = 0.1234568 WHERE id = 3")
			assertCounts(t, e.mustMerge("", mergeRun{MaxChanges: 1}), counts{upd: 1, same: 3, rows: 4})
			assertSameRows(t, readAll(t, src, "items"), readAll(t, dst, "items"))
			assertNoDelta(t, dst, "items")
		})
	}
}

func assertNoDelta(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?", helperLike(table, "delta")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the merge left its delta table %s__dbsync_delta_… behind", table)
	}
}

// TestMerge_KeyTypes: keys of several types, in the order of their bytes
// or numbers on both sides: an integer, BIGINT UNSIGNED at its maximum, a
// case- and accent-insensitive VARCHAR (whose collation would sort 'a' and
// 'A' either way and call them one key), a two-column key, a NOT NULL
// UNIQUE key without a primary key, and a configured key.
func TestMerge_KeyTypes(t *testing.T) {
	for _, tc := range []struct {
		name, table, seed, change, order string
		key                              []string
		want                             counts
	}{
		{name: "int", table: "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NULL)",
			seed:   "INSERT INTO items VALUES (-5, 'a'), (0, 'b'), (7, 'c'), (10, NULL), (2147483647, 'max')",
			change: "DELETE FROM items WHERE id = 0; UPDATE items SET v = 'C' WHERE id = 7; UPDATE items SET v = '' WHERE id = 10; INSERT INTO items VALUES (-2147483648, 'min'), (9, 'nine')",
			order:  "id", want: counts{ins: 2, upd: 2, del: 1, same: 2, rows: 6}},
		{name: "bigint unsigned", table: "CREATE TABLE items (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, v INT NULL)",
			seed:   "INSERT INTO items VALUES (0, 1), (9, 2), (10, 3), (9223372036854775808, 4), (18446744073709551615, 5)",
			change: "UPDATE items SET v = 50 WHERE id = 18446744073709551615; DELETE FROM items WHERE id = 10; INSERT INTO items VALUES (18446744073709551614, 6), (100, 7)",
			order:  "id", want: counts{ins: 2, upd: 1, del: 1, same: 3, rows: 6}},
		{name: "case-insensitive varchar", table: "CREATE TABLE items (k VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT NULL)",
			seed: "INSERT INTO items VALUES ('a', 1), ('B', 2), ('é', 3), ('z', 4), ('ß', 5), ('Zoo', 6), ('a b', 7)",
			// 'a' becomes 'A' and 'é' becomes 'e': one key to the server,
			// another row to a byte-exact replica.
			change: "UPDATE items SET k = 'A' WHERE k = 'a'; UPDATE items SET k = 'e' WHERE k = 'é'; UPDATE items SET v = 40 WHERE k = 'z'; INSERT INTO items VALUES ('c', 8), ('_', 9)",
			order:  "CAST(k AS BINARY)", want: counts{ins: 4, upd: 1, del: 2, same: 4, rows: 9}},
		{name: "two columns", table: "CREATE TABLE items (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT NULL, PRIMARY KEY (a, b))",
			seed:   "INSERT INTO items VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3), (10, 'a', 4)",
			change: "DELETE FROM items WHERE a = 1 AND b = 'y'; UPDATE items SET v = NULL WHERE a = 2; INSERT INTO items VALUES (1, 'z', 5), (3, '', 6)",
			order:  "a, CAST(b AS BINARY)", want: counts{ins: 2, upd: 1, del: 1, same: 2, rows: 5}},
		{name: "unique not null", table: "CREATE TABLE items (code CHAR(3) NOT NULL, v INT NULL, UNIQUE KEY code_uq (code))",
			seed:   "INSERT INTO items VALUES ('AAA', 1), ('BBB', 2)",
			change: "UPDATE items SET v = 3 WHERE code = 'BBB'; INSERT INTO items VALUES ('CCC', 4)",
			order:  "CAST(code AS BINARY)", want: counts{ins: 1, upd: 1, same: 1, rows: 3}},
		{name: "configured key", table: "CREATE TABLE items (id INT NOT NULL, v INT NULL)",
			seed:   "INSERT INTO items VALUES (1, 1), (2, 2), (3, 3)",
			change: "DELETE FROM items WHERE id = 1; UPDATE items SET v = 20 WHERE id = 2; INSERT INTO items VALUES (4, 4)",
			key:    []string{"id"}, order: "id", want: counts{ins: 1, upd: 1, del: 1, same: 1, rows: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			src, dst := e.srcDBConn(), e.dstDBConn()
			for _, db := range []*sql.DB{src, dst} {
				mustExec(t, db, tc.table, tc.seed)
			}
			mustExec(t, src, strings.Split(tc.change, "; ")...)
			res := e.mustMerge("", mergeRun{Key: tc.key, MaxChanges: 1, MaxDelete: 1})
			assertCounts(t, res, tc.want)
			q := "SELECT * FROM items ORDER BY " + tc.order
			assertSameRows(t, dump(t, src, q), dump(t, dst, q))
			assertCounts(t, e.mustMerge("", mergeRun{Key: tc.key}), counts{same: tc.want.rows, rows: tc.want.rows})
		})
	}
}

// TestMerge_ReadersSeeOldOrNew: a reader polling an aggregate of the
// target while merges run sees the state before a merge or after it, never
// a mix (one transaction, InnoDB MVCC), and is never blocked.
func TestMerge_ReadersSeeOldOrNew(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	for _, db := range []*sql.DB{src, dst} {
		mustExec(t, db, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)",
			"INSERT INTO items SELECT seq, 1 FROM seq_1_to_2000")
	}
	// Two source states, flipped each round: A = 2000 rows of 1; B = rows
	// 1..100 set to 2, 1901..2000 deleted, 2001..2050 inserted with 3.
	state := func(t *testing.T) string {
		var n, s int64
		if err := dst.QueryRow("SELECT COUNT(*), SUM(v) FROM items").Scan(&n, &s); err != nil {
			t.Error(err)
		}
		return fmt.Sprintf("%d/%d", n, s)
	}
	a, b := "2000/2000", "1950/2150"
	if got := state(t); got != a {
		t.Fatalf("start state %s", got)
	}
	var stop atomic.Bool
	seen := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			seen[state(t)]++
		}
	}()
	for round := 0; round < 6; round++ {
		if round%2 == 0 {
			mustExec(t, src, "UPDATE items SET v = 2 WHERE id <= 100", "DELETE FROM items WHERE id > 1900", "INSERT INTO items SELECT seq, 3 FROM seq_2001_to_2050")
		} else {
			mustExec(t, src, "DELETE FROM items WHERE id > 2000", "UPDATE items SET v = 1", "INSERT INTO items SELECT seq, 1 FROM seq_1901_to_2000")
		}
		e.mustMerge("", mergeRun{})
	}
	stop.Store(true)
	<-done
	for s, n := range seen {
		if s != a && s != b {
			t.Errorf("a reader saw %s (%d times); only %s (before) or %s (after) may be seen", s, n, a, b)
		}
	}
	if seen[a] == 0 || seen[b] == 0 {
		t.Logf("states seen: %v", seen)
	}
}

// TestMerge_SQLiteTarget: the SQLite target merges in one transaction to
// exactly what a replace makes (the replace's mapping is tested value by
// value in TestSync_MySQLToSQLiteMapping), with a case-sensitive byte
// order on a NOCASE text key.
func TestMerge_SQLiteTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	src := e.srcDBConn()
	mustExec(t, src, fidelityTable)
	mustExec(t, src, fidelityRows()...)
	mustExec(t, src, "UPDATE items SET u64 = 9223372036854775807, b64 = 0x7FFFFFFFFFFFFFFF WHERE id = 1")
	e.mustSync(dbsync.RunOptions{Target: "sqlite"})
	replica := filepath.Join(e.dir, "replica.db")
	sqliteExec(t, replica, "CREATE UNIQUE INDEX items_id ON items (id)")
	mustExec(t, src,
		"DELETE FROM items WHERE id = 2",
		"INSERT INTO items SELECT 5, 5, i64, flag, dec38, f, d, dt, dtm, ts, tm, yr, b8, b64, ch, vc, tx, big, bin, vb, bl, en, st, js FROM items WHERE id = 1",
		"UPDATE items SET vc = 'now set', f = 0.1234567, bl = 0x00 WHERE id = 3",
		"UPDATE items SET vc = NULL, d = NULL WHERE id = 4")
	// A replace into another file is the oracle.
	oracle := func() [][]any {
		t.Helper()
		o := *e
		o.extra = "[sqlite]\npath = " + filepath.Join(e.dir, "oracle.db") + "\n"
		o.mustSync(dbsync.RunOptions{Target: "sqlite"})
		return sqliteRows(t, filepath.Join(e.dir, "oracle.db"), "SELECT * FROM items ORDER BY id")
	}
	for run := 1; run <= 2; run++ {
		res := e.mustMerge("sqlite", mergeRun{Key: []string{"id"}, MaxChanges: 1})
		if run == 1 {
			assertCounts(t, res, counts{ins: 1, upd: 2, del: 1, same: 1, rows: 4})
		} else {
			assertCounts(t, res, counts{same: 4, rows: 4})
		}
		assertSameRows(t, oracle(), sqliteRows(t, replica, "SELECT * FROM items ORDER BY id"))
	}
	if n := sqliteCount(t, replica, "items__dbsync_delta"); n != -1 {
		t.Errorf("delta table left behind with %d rows", n)
	}

	// A NOCASE text key in SQLite: 'a' → 'A' is a delete and an insert.
	sqliteExec(t, replica, "CREATE TABLE kv (k TEXT COLLATE NOCASE NOT NULL PRIMARY KEY, v INTEGER)", "INSERT INTO kv VALUES ('a', 1), ('b', 2), ('é', 3)")
	mustExec(t, src, "CREATE TABLE kv (k VARCHAR(10) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, v INT)", "INSERT INTO kv VALUES ('A', 1), ('b', 20), ('é', 3), ('_', 4)")
	k := *e
	k.extra = "[source]\nquery = SELECT * FROM kv\n[sqlite]\ntable = kv\n"
	assertCounts(t, k.mustMerge("sqlite", mergeRun{MaxChanges: 2, MaxDelete: 1}), counts{ins: 2, upd: 1, del: 1, same: 1, rows: 4})
	got := sqliteRows(t, replica, "SELECT k, v FROM kv ORDER BY CAST(k AS BLOB)")
	if s := fmt.Sprint(got); s != "[[A 1] [_ 4] [b 20] [é 3]]" {
		t.Errorf("kv after merge: %s", s)
	}
}

// TestMerge_FallbackSource: the SQLite fallback source, ordered by the key,
// merges into a MySQL target like the primary.
func TestMerge_FallbackSource(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azureNoFile)
	fb := filepath.Join(e.dir, "fallback.db")
	sqliteExec(t, fb, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
		"INSERT INTO items VALUES (1, 'a', NULL), (2, 'b', 'x'), (10, 'c', ''), (3, 'B', 'y')")
	dst := e.dstDBConn()
	mustExec(t, dst, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL, note TEXT NULL)",
		"INSERT INTO items VALUES (1, 'a', NULL), (2, 'b', 'old'), (4, 'gone', NULL)")
	assertCounts(t, e.mustMerge("", mergeRun{Fallback: true, MaxChanges: 2, MaxDelete: 1}), counts{ins: 2, upd: 1, del: 1, same: 1, rows: 4})
	got := dump(t, dst, "SELECT * FROM items ORDER BY id")
	if s := fmt.Sprintf("%s", got); s != "[[%!s(int64=1) a <nil>] [%!s(int64=2) b x] [%!s(int64=3) B y] [%!s(int64=10) c ]]" {
		t.Errorf("target after merge: %s", s)
	}
	_ = mariadbtest.Join
}

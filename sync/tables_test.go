package dbsync_test

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// eachTarget runs f as a parallel subtest per target, each with its own
// env and the primary database of it.
func eachTarget(t *testing.T, f func(t *testing.T, target string, e *env, src *sql.DB)) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			f(t, target, e, e.srcDBConn())
		})
	}
}

// tablesJob turns env's one-table config into a job of [table.*]
// sections: the legacy one-table keys are emptied (an empty key is not
// set) and each table gets its section.
func tablesJob(sections ...string) string {
	return "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n" + strings.Join(sections, "")
}

func tableSection(name, query string, extra ...string) string {
	return fmt.Sprintf("[table.%s]\nquery = %s\n%s", name, query, strings.Join(extra, ""))
}

// replica is the env's target database for target (azure or sqlite).
func (e *env) replica(target string) *sql.DB {
	if target == "sqlite" {
		return openSQLiteT(e.t, filepath.Join(e.dir, "replica.db"))
	}
	return e.dstDBConn()
}

// seedAccounts makes two tables whose amounts sum to 100 × 2n.
func seedAccounts(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	for _, table := range []string{"acct_a", "acct_b"} {
		mustExec(t, db, "CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, amount INT NOT NULL)",
			fmt.Sprintf("INSERT INTO %s SELECT seq, 100 FROM seq_1_to_%d", table, n))
	}
}

// TestTables_OneSnapshot: a writer on the primary moves amounts between
// two tables in transactions (their sum stays constant) while syncs run;
// with parallel = 1 both tables are read in one snapshot, so after every
// sync the replica's sum is the constant.
func TestTables_OneSnapshot(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		const n = 20000
		seedAccounts(t, src, n)
		e.extra = tablesJob(tableSection("acct_a", "SELECT * FROM acct_a"), tableSection("acct_b", "SELECT * FROM acct_b"))

		stop := make(chan struct{})
		var moves atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := src.Begin()
				if err != nil {
					t.Error(err)
					return
				}
				k, a, b := rand.IntN(50)+1, rand.IntN(n)+1, rand.IntN(n)+1
				_, err1 := tx.Exec("UPDATE acct_a SET amount = amount - ? WHERE id = ?", k, a)
				_, err2 := tx.Exec("UPDATE acct_b SET amount = amount + ? WHERE id = ?", k, b)
				if err := errors.Join(err1, err2, tx.Commit()); err != nil {
					t.Error(err)
					return
				}
				moves.Add(1)
			}
		}()
		t.Cleanup(func() { close(stop); wg.Wait() })
		dst := e.replica(target)
		for i := range 4 {
			before := moves.Load()
			rep := e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
			if len(rep.Tables) != 2 || rep.Rows != 2*n || rep.Table != "" || rep.Snapshot != dbsync.SnapshotSingle {
				t.Fatalf("report: rows %d table %q snapshot %q tables %+v", rep.Rows, rep.Table, rep.Snapshot, rep.Tables)
			}
			var sum int64
			if err := dst.QueryRow("SELECT (SELECT SUM(amount) FROM acct_a) + (SELECT SUM(amount) FROM acct_b)").Scan(&sum); err != nil {
				t.Fatal(err)
			}
			if sum != 2*100*n {
				t.Fatalf("sync %d: the replica's sum is %d, want %d: the tables were read at different points in time", i, sum, 2*100*n)
			}
			if moves.Load() == before {
				t.Fatalf("sync %d: no transfer ran during the sync; the test proves nothing", i)
			}
		}
	})
}

// TestTables_ReadersNeverSeeAMix: a reader on the target queries both
// tables in one statement during repeated syncs; every answer has both
// tables at the same version.
func TestTables_ReadersNeverSeeAMix(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		const n = 5000
		for _, table := range []string{"orders", "order_lines"} {
			mustExec(t, src, "CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)",
				fmt.Sprintf("INSERT INTO %s SELECT seq, 0 FROM seq_1_to_%d", table, n))
		}
		e.extra = tablesJob(tableSection("orders", "SELECT * FROM orders"), tableSection("order_lines", "SELECT * FROM order_lines"))
		e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
		dst := e.replica(target)
		stop := make(chan struct{})
		var polls atomic.Int64
		var bad []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var a1, a2, b1, b2 sql.NullInt64
				err := dst.QueryRow("SELECT (SELECT MIN(v) FROM orders), (SELECT MAX(v) FROM orders), (SELECT MIN(v) FROM order_lines), (SELECT MAX(v) FROM order_lines)").Scan(&a1, &a2, &b1, &b2)
				polls.Add(1)
				if err != nil || !a1.Valid || a1 != a2 || a1 != b1 || a1 != b2 {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("orders %v..%v lines %v..%v err %v", a1, a2, b1, b2, err))
					mu.Unlock()
				}
			}
		}()
		var once sync.Once
		halt := func() { once.Do(func() { close(stop); wg.Wait() }) }
		t.Cleanup(halt)
		for v := 1; v <= 4; v++ {
			mustExec(t, src, fmt.Sprintf("UPDATE orders SET v = %d", v), fmt.Sprintf("UPDATE order_lines SET v = %d", v))
			e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
		}
		time.Sleep(20 * time.Millisecond)
		halt()
		if len(bad) > 0 {
			t.Fatalf("a reader saw %d mixed answers (of %d), first: %s", len(bad), polls.Load(), bad[0])
		}
		if polls.Load() < 10 {
			t.Fatalf("only %d polls ran; the test proves nothing", polls.Load())
		}
	})
}

// TestTables_OneFailsNoneChange: one table failing verification leaves
// every table as it was, and the error and the report name the table.
func TestTables_OneFailsNoneChange(t *testing.T) {
	cases := []struct {
		name    string
		extra   string
		prepare func(t *testing.T, dst *sql.DB)
		want    []string
	}{
		{name: "too few rows", extra: "min_rows = 1000\n", want: []string{"table zeta", "[table.zeta] min_rows = 1000", "got 10"}},
		{name: "value does not fit", prepare: func(t *testing.T, dst *sql.DB) {
			mustExec(t, dst, "ALTER TABLE zeta MODIFY name VARCHAR(3) NOT NULL")
		}, want: []string{"table zeta", "'name'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			src, dst := e.srcDBConn(), e.dstDBConn()
			for _, table := range []string{"alpha", "zeta"} {
				mustExec(t, src, "CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)",
					"INSERT INTO "+table+" SELECT seq, CONCAT('new ', seq) FROM seq_1_to_10")
				mustExec(t, dst, "CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)",
					"INSERT INTO "+table+" VALUES (1, 'o'), (2, 'o')")
			}
			if tc.prepare != nil {
				tc.prepare(t, dst)
			}
			e.extra = tablesJob(tableSection("alpha", "SELECT * FROM alpha"), tableSection("zeta", "SELECT * FROM zeta", tc.extra))
			before := map[string][][]any{"alpha": readAll(t, dst, "alpha"), "zeta": readAll(t, dst, "zeta")}
			rep, err := e.sync(dbsync.RunOptions{})
			if err == nil {
				t.Fatal("sync succeeded; want a failure")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) || !strings.Contains(rep.Error, w) {
					t.Errorf("error %q (report %q) does not say %q", err, rep.Error, w)
				}
			}
			for table, rows := range before {
				assertSameRows(t, rows, readAll(t, dst, table))
				assertNoLeftovers(t, dst, table)
			}
			var failed int
			if err := dst.QueryRow("SELECT COUNT(*) FROM dbsync_runs WHERE run_id = ? AND status = 'failed'", rep.RunID).Scan(&failed); err != nil || failed != 2 {
				t.Errorf("history has %d failed rows for the run (%v), want one per table", failed, err)
			}
		})
	}
}

// TestTables_Fallback: a job's tables all come from the fallback when the
// primary fails on any of them — also when it failed on the second table
// after the first was staged: never a mix of sources.
func TestTables_Fallback(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		mustExec(t, src, "CREATE TABLE alpha (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)", "INSERT INTO alpha VALUES (1, 'primary')")
		fallback := filepath.Join(e.dir, "fallback.db")
		sqliteExec(t, fallback,
			"CREATE TABLE alpha (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", "INSERT INTO alpha VALUES (7, 'fallback')",
			"CREATE TABLE beta (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", "INSERT INTO beta VALUES (8, 'fallback'), (9, 'fallback')")
		// beta does not exist on the primary: its query fails after
		// alpha was staged from the primary.
		e.extra = "[sync]\nfallback_enabled = true\n" + tablesJob(tableSection("alpha", "SELECT * FROM alpha"), tableSection("beta", "SELECT * FROM beta"))
		rep := e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
		if rep.Source != dbsync.SourceFallback || !strings.Contains(rep.FallbackReason, "table beta") {
			t.Fatalf("source %q reason %q", rep.Source, rep.FallbackReason)
		}
		dst := e.replica(target)
		for table, want := range map[string]string{"alpha": "[[7 fallback]]", "beta": "[[8 fallback] [9 fallback]]"} {
			var got []string
			rows, err := dst.Query("SELECT id, name FROM " + table + " ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int
				var name string
				_ = rows.Scan(&id, &name)
				got = append(got, fmt.Sprint(id, " ", name))
			}
			rows.Close()
			if fmt.Sprint("[[", strings.Join(got, "] ["), "]]") != want {
				t.Errorf("%s holds %v, want %s", table, got, want)
			}
		}
		if rep.Rows != 3 || len(rep.Tables) != 2 || rep.Tables[0].Rows != 1 || rep.Tables[1].Rows != 2 {
			t.Errorf("report rows %d tables %+v", rep.Rows, rep.Tables)
		}
	})
}

// TestTables_History: a run of several tables is one history row per
// table, with one run_id, and reads back as the run's report.
func TestTables_History(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		mustExec(t, src, "CREATE TABLE alpha (id INT NOT NULL PRIMARY KEY)", "INSERT INTO alpha SELECT seq FROM seq_1_to_3",
			"CREATE TABLE beta (id INT NOT NULL PRIMARY KEY)", "INSERT INTO beta SELECT seq FROM seq_1_to_5")
		e.extra = tablesJob(tableSection("alpha", "SELECT * FROM alpha"), tableSection("beta", "SELECT * FROM beta"))
		rep := e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
		var rows int
		if err := e.replica(target).QueryRow("SELECT COUNT(*) FROM dbsync_runs WHERE run_id = ?", rep.RunID).Scan(&rows); err != nil || rows != 2 {
			t.Fatalf("history rows of the run: %d %v", rows, err)
		}
		cfg, err := e.config(dbsync.RunOptions{Target: dbsync.Target(target)})
		if err != nil {
			t.Fatal(err)
		}
		runs, err := newRunner(testLogger(t)).History(t.Context(), cfg, 5)
		if err != nil || len(runs) != 1 {
			t.Fatalf("history: %+v %v", runs, err)
		}
		got := runs[0]
		if got.RunID != rep.RunID || got.Rows != 8 || got.Rows != rep.Rows || got.RowsPerSec != rep.RowsPerSec || got.LoadMethod != rep.LoadMethod ||
			got.Table != "" || fmt.Sprint(got.Tables) != fmt.Sprint(rep.Tables) {
			t.Errorf("history reads back\n%+v\nwant\n%+v", got, *rep)
		}
	})
}

// TestTables_LockOfOneTableHeld: another run holding the lock of one of
// the job's tables makes the run busy before it touches any table.
func TestTables_LockOfOneTableHeld(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	for _, table := range []string{"alpha", "beta"} {
		mustExec(t, src, "CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY)", "INSERT INTO "+table+" VALUES (1), (2)")
		mustExec(t, dst, "CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY)", "INSERT INTO "+table+" VALUES (9)")
	}
	e.extra = tablesJob(tableSection("alpha", "SELECT * FROM alpha"), tableSection("beta", "SELECT * FROM beta"))
	conn, err := dst.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(t.Context(), "SELECT GET_LOCK(CONCAT('dbsync:', DATABASE(), '.beta'), 0)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("take beta's lock: %d %v", got, err)
	}
	rep, err := e.sync(dbsync.RunOptions{})
	if !errors.Is(err, dbsync.ErrBusy) || rep.Status != dbsync.StatusBusy {
		t.Fatalf("err %v status %q; want busy", err, rep.Status)
	}
	for _, table := range []string{"alpha", "beta"} {
		if n := count(t, dst, table); n != 1 {
			t.Errorf("%s has %d rows after a busy run, want its 1", table, n)
		}
	}
	// The run released alpha's lock: once beta's is free, a run goes through.
	_, _ = conn.ExecContext(t.Context(), "DO RELEASE_LOCK(CONCAT('dbsync:', DATABASE(), '.beta'))")
	e.mustSync(dbsync.RunOptions{})
}

// TestTables_HistoryTableKeyedByRunOnly: a history table made before one
// run could record several tables (keyed by run_id alone) is re-keyed by
// (run_id, table), keeping its rows, on both targets.
func TestTables_HistoryTableKeyedByRunOnly(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		mustExec(t, src, "CREATE TABLE alpha (id INT NOT NULL PRIMARY KEY)", "INSERT INTO alpha VALUES (1)",
			"CREATE TABLE beta (id INT NOT NULL PRIMARY KEY)", "INSERT INTO beta VALUES (1)")
		db := e.replica(target)
		mustExec(t, db, "CREATE TABLE dbsync_runs (run_id VARCHAR(64) NOT NULL PRIMARY KEY, status VARCHAR(16), target VARCHAR(16), `table` VARCHAR(64), started_at DATETIME(6))",
			"INSERT INTO dbsync_runs VALUES ('old-run', 'failed', '"+target+"', 'alpha', '2020-01-02 03:04:05')")
		e.extra = tablesJob(tableSection("alpha", "SELECT * FROM alpha"), tableSection("beta", "SELECT * FROM beta"))
		rep := e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
		var rows int
		if err := db.QueryRow("SELECT COUNT(*) FROM dbsync_runs WHERE run_id IN (?, 'old-run')", rep.RunID).Scan(&rows); err != nil || rows != 3 {
			t.Fatalf("history holds %d rows of the two runs (%v), want 3", rows, err)
		}
	})
}

// TestTables_Parallel: parallel = N stages the tables at once, each in a
// snapshot of its own (the report says so), and still swaps them as one.
func TestTables_Parallel(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		var sections []string
		names := []string{"t1", "t2", "t3", "t4"}
		for i, table := range names {
			mustExec(t, src, "CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL)",
				fmt.Sprintf("INSERT INTO %s SELECT seq, CONCAT('%s-', seq) FROM seq_1_to_%d", table, table, 1000*(i+1)))
			sections = append(sections, tableSection(table, "SELECT * FROM "+table))
		}
		e.extra = "[sync]\nparallel = 4\n" + tablesJob(sections...)
		rep := e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
		if rep.Snapshot != dbsync.SnapshotPerTable || rep.Rows != 10000 || len(rep.Tables) != 4 {
			t.Fatalf("report: snapshot %q rows %d tables %+v", rep.Snapshot, rep.Rows, rep.Tables)
		}
		dst := e.replica(target)
		for i, table := range names {
			if n := count(t, dst, table); n != int64(1000*(i+1)) {
				t.Errorf("%s has %d rows, want %d", table, n, 1000*(i+1))
			}
		}
		// One table failing stops the others and changes none.
		mustExec(t, src, "ALTER TABLE t4 MODIFY name VARCHAR(40) NOT NULL", "INSERT INTO t4 VALUES (99999, 'this name is longer than twenty')")
		if target == "azure" {
			mustExec(t, src, "INSERT INTO t1 VALUES (99999, 'new')")
			if _, err := e.sync(dbsync.RunOptions{Target: dbsync.Target(target)}); err == nil || !strings.Contains(err.Error(), "table t4") {
				t.Fatalf("sync with a value t4 cannot hold: %v", err)
			}
			if n := count(t, dst, "t1"); n != 1000 {
				t.Errorf("t1 has %d rows after a failed run, want its 1000", n)
			}
		}
	})
}

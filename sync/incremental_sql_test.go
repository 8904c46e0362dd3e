package dbsync_test

// The incremental mode's SQL on real servers: the late commit caught by the
// watermark cap, the probe without PROCESS, the delete detection and the
// EXPLAIN check. The run does not carry the mode out yet; these tests drive
// the primitives (sync/mysqldb/incremental.go) with the core's policy
// (sync/incremental.go) as the run will.

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/mysqldb"
)

// lateTable is the study's table (§1.1): a server-set cursor with an index.
const lateTable = "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, " +
	"updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), KEY (updated_at))"

// utcConn is one connection in UTC, as dbsync's sessions are.
func utcConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.ExecContext(context.Background(), "SET time_zone = '+00:00'"); err != nil {
		t.Fatal(err)
	}
	return c
}

func connExec(t *testing.T, c *sql.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := c.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	}
}

func toProbe(p mysqldb.CapProbe) dbsync.WatermarkProbe {
	return dbsync.WatermarkProbe{UTCNow: p.UTCNow, SessionNow: p.SessionNow, GlobalNow: p.GlobalNow,
		OldestTrx: p.OldestTrx, OldestStmt: p.OldestStmt, Seen: p.Seen, Note: p.Note}
}

// windowRow is one row of an incremental read of t.
type windowRow struct {
	id, v int
	at    string
}

// readWindow runs the incremental read of t from the bound on q.
func readWindow(t *testing.T, q mysqldb.Queryer, db string, from time.Time) []windowRow {
	t.Helper()
	rows, err := windowRows(q, db, from)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// windowRows is readWindow for a goroutine other than the test's.
func windowRows(q mysqldb.Queryer, db string, from time.Time) ([]windowRow, error) {
	rows, err := q.QueryContext(context.Background(), mysqldb.IncrementalQuery("SELECT * FROM `"+db+"`.t", "updated_at"), dbsync.WatermarkFormat(from))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []windowRow
	for rows.Next() {
		var r windowRow
		if err := rows.Scan(&r.id, &r.v, &r.at); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func hasRow(rows []windowRow, id, v int) bool {
	return slices.ContainsFunc(rows, func(r windowRow) bool { return r.id == id && r.v == v })
}

// lateRun is one incremental run's read of t on its own connection: the
// probe, the snapshot, the window from old − lookback; it returns the new
// watermark by the core's rule (capped or not) and what it read.
func lateRun(t *testing.T, db *sql.DB, dbName string, old time.Time, lookback time.Duration, capped bool) (time.Time, dbsync.WatermarkProbe, []windowRow) {
	t.Helper()
	ctx := context.Background()
	c := utcConn(t, db)
	p, err := mysqldb.ProbeCap(ctx, c, true)
	if err != nil {
		t.Fatal(err)
	}
	connExec(t, c, mysqldb.SnapshotStatement)
	defer connExec(t, c, "COMMIT")
	rows := readWindow(t, c, dbName, dbsync.WatermarkWindow(old, lookback))
	var maxRead time.Time
	for _, r := range rows {
		at, err := dbsync.WatermarkParse(r.at)
		if err != nil {
			t.Fatal(err)
		}
		if at.After(maxRead) {
			maxRead = at
		}
	}
	probe := toProbe(p)
	limit, ok := dbsync.WatermarkCap(probe, true)
	return dbsync.WatermarkNext(old, maxRead, limit, ok && capped), probe, rows
}

// TestIncrementalLateCommit is issue 21's late commit at the SQL level
// (study §1.1, §1.3 order B): with lookback 1 s, a transaction open during
// a run updates a row whose cursor is the statement's time, a later
// autocommit row moves the max read past it, and it commits after the
// run's snapshot. The next window, from the capped watermark − lookback,
// reads it; from the uncapped max read − lookback (what every cursor tool
// stores) it is lost.
func TestIncrementalLateCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbName := primary.NewDatabase(t, "late")
	db := dbOn(t, primary, dbName)
	mustExec(t, db, lateTable,
		"INSERT INTO t (id, v, updated_at) VALUES (1, 10, '2026-01-01 00:00:00'), (2, 20, '2026-01-01 00:00:00'), (3, 30, '2026-01-01 00:00:00')")
	old, _ := dbsync.WatermarkParse("2026-01-01 00:00:00")
	const lookback = time.Second

	a := utcConn(t, db)
	connExec(t, a, "BEGIN", "UPDATE t SET v = 21 WHERE id = 2")
	committed := false
	defer func() {
		if !committed {
			_, _ = a.ExecContext(ctx, "ROLLBACK")
		}
	}()
	// The autocommit row's cursor is more than lookback after A's.
	time.Sleep(2 * time.Second)
	mustExec(t, db, "UPDATE t SET v = 31 WHERE id = 3")

	capped, probe, seen := lateRun(t, db, dbName, old, lookback, true)
	naive, _, _ := lateRun(t, db, dbName, old, lookback, false)
	if !probe.Seen || probe.OldestTrx.IsZero() {
		t.Fatalf("the probe (as root) did not see A's open transaction: %+v", probe)
	}
	if hasRow(seen, 2, 21) || !hasRow(seen, 2, 20) || !hasRow(seen, 3, 31) {
		t.Fatalf("the run's snapshot read %+v, want A's change invisible and row 3 = 31", seen)
	}
	connExec(t, a, "COMMIT")
	committed = true

	if !capped.Before(naive) {
		t.Fatalf("capped watermark %s not before the max read %s", dbsync.WatermarkFormat(capped), dbsync.WatermarkFormat(naive))
	}
	next := readWindow(t, db, dbName, dbsync.WatermarkWindow(capped, lookback))
	if !hasRow(next, 2, 21) {
		t.Errorf("the next window from %s − %s lacks the late commit (2, 21): %+v", dbsync.WatermarkFormat(capped), lookback, next)
	}
	// The control: ignoring the cap loses the row for good.
	lost := readWindow(t, db, dbName, dbsync.WatermarkWindow(naive, lookback))
	if hasRow(lost, 2, 21) {
		t.Errorf("without the cap the window from %s still read row 2: the test cannot tell the cap's effect", dbsync.WatermarkFormat(naive))
	}
}

// TestIncrementalProbeWithoutProcess: a source user without PROCESS gets no
// cap (only S0 − 1 s), a clear note, and no error; so the late commit of
// the test above is guarded by lookback only.
func TestIncrementalProbeWithoutProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbName := primary.NewDatabase(t, "noproc")
	root := dbOn(t, primary, dbName)
	mustExec(t, root, lateTable, "INSERT INTO t (id, v, updated_at) VALUES (1, 10, '2026-01-01 00:00:00')")
	user := "incr_" + dbName[len(dbName)-6:]
	primary.MustExec(t, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw'", user), fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%%'", dbName, user))
	t.Cleanup(func() { _, _ = primary.Root().Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })

	a := utcConn(t, root)
	connExec(t, a, "BEGIN", "UPDATE t SET v = 11 WHERE id = 1")
	defer func() { _, _ = a.ExecContext(ctx, "ROLLBACK") }()

	for _, c := range []struct {
		name string
		db   *sql.DB
		seen bool
	}{{"without PROCESS", tcpDB(t, primary, user, "pw"), false}, {"root", root, true}} {
		conn := utcConn(t, c.db)
		p, err := mysqldb.ProbeCap(ctx, conn, true)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p.Seen != c.seen || p.OldestTrx.IsZero() == c.seen {
			t.Errorf("%s: seen %v, oldest transaction %v; want seen %v", c.name, p.Seen, p.OldestTrx, c.seen)
		}
		if !c.seen {
			if p.Note != mysqldb.NoProcessNote || !strings.Contains(p.Note, "PROCESS") || !strings.Contains(p.Note, "lookback only") {
				t.Errorf("note %q", p.Note)
			}
			limit, ok := dbsync.WatermarkCap(toProbe(p), true)
			if !ok || !limit.Equal(p.SessionNow.Add(-time.Second)) {
				t.Errorf("cap %v %v, want S0 − 1 s = %v", limit, ok, p.SessionNow.Add(-time.Second))
			}
		}
		// The probe leaves the connection fit for the snapshot.
		connExec(t, conn, mysqldb.SnapshotStatement, "COMMIT")
	}
}

// seqCursorRows selects rows (n, n, an old cursor) for n = 1…count, below the
// test servers' max_recursive_iterations (1,000) by a cross join.
func seqCursorRows(count int) string {
	return fmt.Sprintf("WITH RECURSIVE a(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM a WHERE n < 199) "+
		"SELECT x.n * 200 + y.n + 1, x.n * 200 + y.n + 1, '2026-01-01 00:00:00' FROM a AS x, a AS y WHERE x.n * 200 + y.n < %d", count)
}

// sqlSide is a side of the delete detection over the mysqldb primitives,
// as the backend will implement dbsync.BucketSide; it counts its calls.
type sqlSide struct {
	q                    mysqldb.Queryer
	query, key           string
	totals, counts, keys int
}

func (s *sqlSide) BucketTotal(ctx context.Context) (int64, error) {
	s.totals++
	return mysqldb.CountRows(ctx, s.q, s.query)
}

func (s *sqlSide) BucketCounts(ctx context.Context, p dbsync.BucketPlan) ([]int64, error) {
	s.counts++
	if !p.Integer {
		n, err := mysqldb.CountRows(ctx, s.q, s.query)
		return []int64{n}, err
	}
	return mysqldb.BucketCounts(ctx, s.q, s.query, s.key, p.Lo, p.Width, p.Len)
}

func (s *sqlSide) BucketKeys(ctx context.Context, p dbsync.BucketPlan, buckets []int) ([][][]byte, error) {
	s.keys++
	if !p.Integer {
		return mysqldb.AllKeys(ctx, s.q, s.query, []string{s.key})
	}
	return mysqldb.BucketKeys(ctx, s.q, s.query, s.key, p.Lo, p.Width, p.Len, buckets)
}

var _ dbsync.BucketSide = (*sqlSide)(nil)

// TestIncrementalDeletes: the delete detection on real tables (20,000
// rows, the target a copy on the TLS target server): 0.1 % deletes found
// exactly, no delete costing only the two counts, a changed key found as
// a delete plus an insert, a hand-deleted replica row copied back, and a
// string key through the one-bucket plan.
func TestIncrementalDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 20000
	srcName, dstName := primary.NewDatabase(t, "del"), azure.NewDatabase(t, "del")
	src, dst := dbOn(t, primary, srcName), dbOn(t, azure, dstName)
	fill := "INSERT INTO t (id, v, updated_at) " + seqCursorRows(n)
	reset := func(t *testing.T) {
		for _, db := range []*sql.DB{src, dst} {
			mustExec(t, db, "DROP TABLE IF EXISTS t", lateTable, fill)
		}
	}
	// detect runs the incremental read's part of the compare: the window's
	// keys the target lacks, then the delete detection.
	detect := func(t *testing.T, countFirst bool) (dbsync.BucketResult, *sqlSide, *sqlSide) {
		t.Helper()
		from, _ := dbsync.WatermarkParse("2026-06-01 00:00:00")
		window := readWindow(t, src, srcName, from)
		var inserted [][][]byte
		for _, r := range window {
			var one int
			err := dst.QueryRowContext(ctx, "SELECT 1 FROM t WHERE id = ?", r.id).Scan(&one)
			if err == sql.ErrNoRows {
				inserted = append(inserted, [][]byte{[]byte(strconv.Itoa(r.id))})
			} else if err != nil {
				t.Fatal(err)
			}
		}
		lo, hi, ok, err := mysqldb.IntKeyRange(ctx, dst, "SELECT id FROM t", "id")
		if err != nil || !ok {
			t.Fatalf("key range: %v %v", ok, err)
		}
		plan := dbsync.BucketPlanInteger(lo, hi, dbsync.BucketCount(n, 20))
		s := &sqlSide{q: src, query: "SELECT id FROM t", key: "id"}
		d := &sqlSide{q: dst, query: "SELECT id FROM t", key: "id"}
		res, err := dbsync.BucketFindDeletes(ctx, s, d, dbsync.BucketInput{Plan: plan, Inserted: inserted, CountFirst: countFirst})
		if err != nil {
			t.Fatal(err)
		}
		return res, s, d
	}
	keys := func(ks [][][]byte) []int {
		var out []int
		for _, k := range ks {
			v, err := strconv.Atoi(string(k[0]))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		slices.Sort(out)
		return out
	}

	t.Run("0.1 % deleted", func(t *testing.T) {
		reset(t)
		mustExec(t, src, "DELETE FROM t WHERE id % 1000 = 500")
		res, s, d := detect(t, false)
		var want []int
		for k := 500; k <= n; k += 1000 {
			want = append(want, k)
		}
		if got := keys(res.Deleted); !slices.Equal(got, want) {
			t.Errorf("deleted %v, want %v", got, want)
		}
		if len(res.Missing) != 0 || res.SourceRows != n-20 {
			t.Errorf("missing %v, source rows %d", keys(res.Missing), res.SourceRows)
		}
		if s.totals+d.totals != 0 || res.Differing != 20 || res.KeysRead > 2*20*int64(n/dbsync.BucketCount(n, 20)+1) {
			t.Errorf("totals %d, differing buckets %d, keys read %d", s.totals+d.totals, res.Differing, res.KeysRead)
		}
	})
	t.Run("nothing deleted: two counts", func(t *testing.T) {
		reset(t)
		mustExec(t, src, "UPDATE t SET v = v + 1 WHERE id % 100 = 7", "INSERT INTO t (id, v) VALUES (20001, 1), (20002, 2)")
		res, s, d := detect(t, true)
		if !res.CountsOnly || len(res.Deleted) != 0 || s.totals != 1 || d.totals != 1 || s.counts+d.counts+s.keys+d.keys != 0 {
			t.Errorf("result %+v; calls: totals %d+%d, bucket counts %d, key reads %d", res, s.totals, d.totals, s.counts+d.counts, s.keys+d.keys)
		}
	})
	t.Run("a changed key is a delete and an insert", func(t *testing.T) {
		reset(t)
		mustExec(t, src, "UPDATE t SET id = id + 100000 WHERE id = 5")
		res, _, _ := detect(t, true)
		if got := keys(res.Deleted); !slices.Equal(got, []int{5}) || len(res.Missing) != 0 || res.CountsOnly {
			t.Errorf("deleted %v, missing %v, counts only %v; want [5] (100005 is the window's insert)", got, keys(res.Missing), res.CountsOnly)
		}
	})
	t.Run("a hand-deleted replica row is found, with a source delete elsewhere", func(t *testing.T) {
		reset(t)
		mustExec(t, dst, "DELETE FROM t WHERE id = 12345")
		mustExec(t, src, "DELETE FROM t WHERE id = 3")
		res, _, _ := detect(t, false)
		if got, miss := keys(res.Deleted), keys(res.Missing); !slices.Equal(got, []int{3}) || !slices.Equal(miss, []int{12345}) {
			t.Errorf("deleted %v, missing %v; want [3], [12345]", got, miss)
		}
		// The documented hole: starting from the totals, the two cancel
		// (+1 −1); only the next full run repairs them.
		if res, _, _ := detect(t, true); !res.CountsOnly {
			t.Errorf("the totals did not cancel: %+v", res)
		}
	})
	t.Run("a string key: one bucket", func(t *testing.T) {
		for _, db := range []*sql.DB{src, dst} {
			mustExec(t, db, "DROP TABLE IF EXISTS s", "CREATE TABLE s (k VARCHAR(20) PRIMARY KEY)", "INSERT INTO s VALUES ('a'), ('b'), ('c'), ('x y')")
		}
		mustExec(t, src, "DELETE FROM s WHERE k IN ('b', 'x y')")
		s := &sqlSide{q: src, query: "SELECT k FROM s", key: "k"}
		d := &sqlSide{q: dst, query: "SELECT k FROM s", key: "k"}
		res, err := dbsync.BucketFindDeletes(ctx, s, d, dbsync.BucketInput{Plan: dbsync.BucketPlanWhole(), CountFirst: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range res.Deleted {
			got = append(got, string(k[0]))
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"b", "x y"}) {
			t.Errorf("deleted %q", got)
		}
	})
}

// TestIncrementalExplain: the EXPLAIN check finds no scan when the cursor
// has an index, through a view too, and warns on a table without one.
func TestIncrementalExplain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbName := primary.NewDatabase(t, "explain")
	db := dbOn(t, primary, dbName)
	fill := seqCursorRows(20000)
	mustExec(t, db, lateTable, "INSERT INTO t (id, v, updated_at) "+fill,
		"CREATE TABLE u (id INT PRIMARY KEY, v INT NOT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))",
		"INSERT INTO u (id, v, updated_at) "+fill, "CREATE VIEW tv AS SELECT id, v, updated_at FROM t", "ANALYZE TABLE t, u")
	from := dbsync.WatermarkFormat(time.Now().UTC().Add(-10 * time.Minute))
	for _, c := range []struct {
		query string
		scan  bool
	}{{"SELECT * FROM t", false}, {"SELECT * FROM tv", false}, {"SELECT * FROM u", true}} {
		rows, err := mysqldb.Explain(ctx, db, c.query, "updated_at", from)
		if err != nil {
			t.Fatal(err)
		}
		scans := mysqldb.ExplainScans(rows, 10000)
		if (len(scans) > 0) != c.scan {
			t.Errorf("%s: plan %+v, scans %+v; want a scan: %v", c.query, rows, scans, c.scan)
		}
		if w := mysqldb.ExplainWarning("x", "updated_at", scans); c.scan && !strings.Contains(w, "add an index on updated_at to u") {
			t.Errorf("warning %q", w)
		}
	}
}

// TestIncrementalLockWaiter is the study's MDL waiter (§1.4): a writer
// that waits on a metadata lock has no InnoDB transaction yet, but its
// cursor is already its statement's start; only the process list shows
// it. The run's snapshot starts while it waits, the writer commits after,
// and the next window, from the watermark capped by the oldest running
// statement, reads its row.
func TestIncrementalLockWaiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbName := primary.NewDatabase(t, "mdl")
	db := dbOn(t, primary, dbName)
	mustExec(t, db, lateTable,
		"INSERT INTO t (id, v, updated_at) VALUES (1, 10, '2026-01-01 00:00:00'), (2, 20, '2026-01-01 00:00:00'), (3, 30, '2026-01-01 00:00:00')")
	old, _ := dbsync.WatermarkParse("2026-01-01 00:00:00")
	const lookback = time.Second

	h := utcConn(t, db)
	connExec(t, h, "LOCK TABLES t WRITE")
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			connExec(t, h, "UNLOCK TABLES")
		}
	}
	defer unlock()
	w := utcConn(t, db)
	wrote := make(chan error, 1)
	go func() {
		_, err := w.ExecContext(ctx, "UPDATE t SET v = 122 WHERE id = 2") // waits for H's lock
		wrote <- err
	}()
	// The waiter's cursor is more than lookback before the max read.
	time.Sleep(3 * time.Second)
	connExec(t, h, "UPDATE t SET v = 31 WHERE id = 3")

	r := utcConn(t, db)
	p, err := mysqldb.ProbeCap(ctx, r, true)
	if err != nil {
		t.Fatal(err)
	}
	if p.OldestStmt.IsZero() || p.UTCNow.Sub(p.OldestStmt) < 2*time.Second {
		t.Fatalf("the probe did not see the waiting UPDATE as a running statement: %+v", p)
	}
	connExec(t, r, mysqldb.SnapshotStatement)
	var seen []windowRow
	read := make(chan error, 1)
	go func() { // waits for H's lock too
		var err error
		seen, err = windowRows(r, dbName, dbsync.WatermarkWindow(old, lookback))
		read <- err
	}()
	time.Sleep(300 * time.Millisecond)
	unlock()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	connExec(t, r, "COMMIT")
	if hasRow(seen, 2, 122) || !hasRow(seen, 3, 31) {
		t.Fatalf("the snapshot read %+v, want the waiter's row invisible and row 3 = 31", seen)
	}
	var maxRead time.Time
	for _, row := range seen {
		if at, _ := dbsync.WatermarkParse(row.at); at.After(maxRead) {
			maxRead = at
		}
	}
	watermark := func(probe dbsync.WatermarkProbe) time.Time {
		limit, ok := dbsync.WatermarkCap(probe, true)
		return dbsync.WatermarkNext(old, maxRead, limit, ok)
	}
	capped := watermark(toProbe(p))
	if next := readWindow(t, db, dbName, dbsync.WatermarkWindow(capped, lookback)); !hasRow(next, 2, 122) {
		t.Errorf("the next window from %s − %s lacks the waiter's row (2, 122): %+v", dbsync.WatermarkFormat(capped), lookback, next)
	}
	// The control: the same probe without the process list's statement
	// misses it, unless another test's transaction happened to hold the
	// cap back (the primary is shared).
	blind := toProbe(p)
	blind.OldestStmt = time.Time{}
	if p.OldestTrx.IsZero() {
		if lost := readWindow(t, db, dbName, dbsync.WatermarkWindow(watermark(blind), lookback)); hasRow(lost, 2, 122) {
			t.Errorf("without the running statement the window from %s still read the waiter's row: the test cannot tell its effect", dbsync.WatermarkFormat(watermark(blind)))
		}
	}
}

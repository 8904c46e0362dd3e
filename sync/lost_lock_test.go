package dbsync_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/mysqldb"
)

// lockHolder is the connection id that holds the run lock of the target
// table, 0 when it is free.
func lockHolder(t *testing.T, dst *sql.DB, lock string) int64 {
	t.Helper()
	var id sql.NullInt64
	if err := dst.QueryRow("SELECT IS_USED_LOCK(?)", lock).Scan(&id); err != nil {
		t.Errorf("read the holder of %s: %v", lock, err)
	}
	return id.Int64
}

// killLockHolder ends the connection that holds lock, as a server's
// wait_timeout, a proxy or an operator's KILL would, and waits until the
// server has released the lock. It returns the killed connection's id.
func killLockHolder(t *testing.T, dst *sql.DB, lock string) int64 {
	t.Helper()
	id := lockHolder(t, dst, lock)
	if id == 0 {
		t.Errorf("nobody holds %s", lock)
		return 0
	}
	if _, err := dst.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
		t.Errorf("kill connection %d: %v", id, err)
	}
	for deadline := time.Now().Add(10 * time.Second); lockHolder(t, dst, lock) == id && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return id
}

// helperTables lists the target's tables named like dbsync helper tables.
func helperTables(t *testing.T, dst *sql.DB) []string {
	t.Helper()
	rows, err := dst.Query(`SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '%\_\_dbsync\_%' ORDER BY TABLE_NAME`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// content is a table's rows in key order, one string.
func content(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	var s sql.NullString
	var n int64
	if err := db.QueryRow("SELECT COUNT(*), GROUP_CONCAT(CONCAT_WS('|', id, name, COALESCE(note, 'NULL')) ORDER BY id SEPARATOR ';') FROM "+table).Scan(&n, &s); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return fmt.Sprintf("%d rows: %s", n, s.String)
}

// logBuffer keeps a run's log lines and passes them to the test log.
type logBuffer struct {
	t    *testing.T
	mu   sync.Mutex
	text strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t.Log(strings.TrimRight(string(p), "\n"))
	return b.text.Write(p)
}

func (b *logBuffer) has(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Contains(b.text.String(), s)
}

// TestLock_KilledBeforeSwap: the connection holding the run lock is closed
// by the server between the load and the swap (here KILL; a lowered
// wait_timeout or a proxy does the same). Another run could take the lock
// from then on, so the run must fail without swapping or merging: the
// target keeps its rows, the error names the table and the lock, and this
// run's helper tables are gone.
func TestLock_KilledBeforeSwap(t *testing.T) {
	for _, mode := range []string{"replace", "merge"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			src, dst := e.srcDBConn(), e.dstDBConn()
			seedItems(t, src, 20)
			seedItems(t, dst, 20)
			mustExec(t, src, "UPDATE items SET name = 'changed' WHERE id = 3", "INSERT INTO items VALUES (21, 'new', NULL)")
			e.extra = "[sync]\nmode = " + mode + "\n"
			before := content(t, dst, "items")
			cfg, err := e.config(dbsync.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			lock := "dbsync:" + e.targetDB + ".items"
			logs := &logBuffer{t: t}
			runner := newRunner(slog.New(slog.NewTextHandler(logs, nil)))
			// The keep-alive finds the loss first, and says so at once.
			dbsync.SetLockPing(runner, 20*time.Millisecond)
			var keptAlive bool
			dbsync.SetBeforeSwap(runner, func() {
				killLockHolder(t, dst, lock)
				for deadline := time.Now().Add(10 * time.Second); !keptAlive && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					keptAlive = logs.has("run lock lost; this run will not swap")
				}
			})
			rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
			err = runner.Run(context.Background(), cfg, rep, nil)
			if !keptAlive {
				t.Error("the keep-alive never logged the lost lock")
			}
			if err == nil || rep.Status == dbsync.StatusSucceeded {
				t.Fatalf("the run succeeded (status %q) after its lock was lost", rep.Status)
			}
			for _, want := range []string{"`items`", lock, "lost", "did not swap", "unchanged"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if after := content(t, dst, "items"); after != before {
				t.Errorf("the target changed:\nbefore %s\nafter  %s", before, after)
			}
			if left := helperTables(t, dst); len(left) != 0 {
				t.Errorf("helper tables left behind: %v", left)
			}
			var status dbsync.Status
			if err := dst.QueryRow("SELECT status FROM dbsync_runs WHERE run_id = ?", rep.RunID).Scan(&status); err != nil || status != dbsync.StatusFailed {
				t.Errorf("history records %q (%v), want failed", status, err)
			}
			e.mustSync(dbsync.RunOptions{})
			if got, want := content(t, dst, "items"), content(t, src, "items"); got != want {
				t.Errorf("the next run left\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestLock_OutlastsWaitTimeout: the server closes connections idle for
// wait_timeout (here 2 s, as an operator might lower it), and the run lock's
// connection idles from the lock to the swap. Its own session wait_timeout
// outlasts the run, so after 4 s between load and swap the lock is still
// this run's, and the run succeeds.
func TestLock_OutlastsWaitTimeout(t *testing.T) {
	t.Parallel()
	target := ownServer(t, mariadbtest.Options{TLS: true, LocalInfile: true, ExtraArgs: []string{"--wait-timeout=2", "--interactive-timeout=2"}})
	e := newEnv(t, target)
	seedItems(t, e.srcDBConn(), 20)
	dst := e.dstDBConn()
	seedItems(t, dst, 5)
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lock := "dbsync:" + e.targetDB + ".items"
	var before, after int64
	runner := newRunner(testLogger(t))
	dbsync.SetBeforeSwap(runner, func() {
		before = lockHolder(t, dst, lock)
		time.Sleep(4 * time.Second)
		after = lockHolder(t, dst, lock)
	})
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	if err := runner.Run(context.Background(), cfg, rep, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	if before == 0 || after != before {
		t.Errorf("the lock was held by connection %d before 4 s idle and by %d after; want the same", before, after)
	}
	if n := count(t, dst, "items"); n != 20 {
		t.Errorf("target has %d rows, want 20", n)
	}
}

// TestLock_TakenOverWhileStaged: run A loses its lock after loading, and
// run B takes the lock, drops A's staging table as a killed run's and
// starts loading its own. A must neither swap in B's half-loaded staging
// table nor drop it: A fails, B's table is still there, and B then
// succeeds with every row.
func TestLock_TakenOverWhileStaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	seedItems(t, src, 200)
	seedItems(t, dst, 5)
	cfgA, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.01) = 0\n" // B reads for about 2 s
	cfgB, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lock := "dbsync:" + e.targetDB + ".items"
	repB := dbsync.NewReport(cfgB, dbsync.TriggerCLI)
	var errB error
	doneB := make(chan struct{})
	var helpersDuringB []string
	runnerA := newRunner(testLogger(t))
	dbsync.SetSwap(runnerA, time.Second, 1)
	dbsync.SetBeforeSwap(runnerA, func() {
		killed := killLockHolder(t, dst, lock)
		go func() {
			defer close(doneB)
			errB = newRunner(testLogger(t)).Run(context.Background(), cfgB, repB, nil)
		}()
		// Until B holds the lock and has made its staging table (after
		// dropping A's).
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			var n int
			_ = dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_COMMENT LIKE ?", "%staging table of run "+repB.RunID+"%").Scan(&n)
			if h := lockHolder(t, dst, lock); h != 0 && h != killed && n == 1 {
				helpersDuringB = helperTables(t, dst)
				return
			}
		}
		t.Error("run B never took the lock and staged")
	})
	repA := dbsync.NewReport(cfgA, dbsync.TriggerCLI)
	errA := runnerA.Run(context.Background(), cfgA, repA, nil)
	left := helperTables(t, dst)
	<-doneB
	if errA == nil || repA.Status == dbsync.StatusSucceeded {
		t.Errorf("run A succeeded (status %q, %d rows) after losing its lock; the target then held %d rows", repA.Status, repA.Rows, count(t, dst, "items"))
	} else if !strings.Contains(errA.Error(), "lost") {
		t.Errorf("run A: %v; want the lost lock", errA)
	}
	if strings.Join(left, ",") != strings.Join(helpersDuringB, ",") || len(left) == 0 {
		t.Errorf("after run A ended the helper tables were %v; B's were %v", left, helpersDuringB)
	}
	if errB != nil || repB.Status != dbsync.StatusSucceeded {
		t.Fatalf("run B: %v (status %q)", errB, repB.Status)
	}
	if got, want := content(t, dst, "items"), content(t, src, "items"); got != want {
		t.Errorf("after run B the target holds\n%s\nwant\n%s", got, want)
	}
	if left := helperTables(t, dst); len(left) != 0 {
		t.Errorf("helper tables left behind: %v", left)
	}
}

// killedRun records a run of items as running, as a process killed (or a
// run timed out, or an instance scaled in) leaves it.
func killedRun(t *testing.T, e *env, dst *sql.DB, runID string) {
	t.Helper()
	e.mustSync(dbsync.RunOptions{}) // the history table
	mustExec(t, dst, "INSERT INTO dbsync_runs (run_id, `trigger`, status, target, `table`, started_at) VALUES ('"+runID+"', 'timer', 'running', 'azure', 'items', UTC_TIMESTAMP(6))")
}

// TestLock_KilledRunSparesUserTables: while the history holds a killed
// run, the next run cleans up that run's leftovers, and only those: a
// user's own tables named <t>__dbsync_new, _old and _delta, without
// dbsync's mark, survive with their rows.
func TestLock_KilledRunSparesUserTables(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	seedItems(t, src, 5)
	seedItems(t, dst, 2)
	killedRun(t, e, dst, "20261201T000000Z-00000000deadbeef")
	users := []string{"items__dbsync_new", "items__dbsync_old", "items__dbsync_delta"}
	for _, u := range users {
		mustExec(t, dst, "CREATE TABLE "+u+" (precious TEXT) COMMENT 'my own table'", "INSERT INTO "+u+" VALUES ('mine'), ('also mine')")
	}
	for run := 1; run <= 2; run++ {
		e.mustSync(dbsync.RunOptions{})
		for _, u := range users {
			if n := count(t, dst, u); n != 2 {
				t.Fatalf("run %d: the user's table %s has %d rows, want its 2", run, u, n)
			}
		}
		if n := count(t, dst, "items"); n != 5 {
			t.Fatalf("run %d: target has %d rows, want 5", run, n)
		}
	}
	var status dbsync.Status
	if err := dst.QueryRow("SELECT status FROM dbsync_runs WHERE run_id = '20261201T000000Z-00000000deadbeef'").Scan(&status); err != nil || status != dbsync.StatusAbandoned {
		t.Errorf("the killed run is recorded %q (%v), want abandoned", status, err)
	}
}

// TestLock_KilledRunLeftoversByName: a killed run's helper tables carry its
// run in their name, so the next run drops them even when the kill came
// before they were marked (CREATE … LIKE copies the target's comment), and
// puts its previous table back when the target table is missing. Another
// run's helper tables that no killed run and no mark names are left alone.
func TestLock_KilledRunLeftoversByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	seedItems(t, src, 5)
	seedItems(t, dst, 2)
	const killed, other = "20261201T000000Z-00000000deadbeef", "20261201T000001Z-00000000cafebabe"
	killedRun(t, e, dst, killed)
	stage, delta := mysqldb.HelperName("items", "new", killed), mysqldb.HelperName("items", "delta", killed)
	foreign := mysqldb.HelperName("items", "new", other)
	mustExec(t, dst, "CREATE TABLE `"+stage+"` LIKE items", "CREATE TABLE `"+delta+"` (x INT) COMMENT 'dbsync-owned: merge differences of run "+killed+"; dbsync drops it'",
		"CREATE TABLE `"+foreign+"` (x INT) COMMENT 'not a mark'")
	e.mustSync(dbsync.RunOptions{})
	left := helperTables(t, dst)
	if strings.Join(left, ",") != foreign {
		t.Errorf("helper tables after the run: %v, want only the unmarked %s", left, foreign)
	}

	// A killed run's previous table while the target table is missing
	// (dropped by hand after the kill): no rows are ever dropped, so it
	// takes the target's place, then the run goes on.
	mustExec(t, dst, "DROP TABLE `"+foreign+"`")
	killedRun(t, e, dst, killed+"2")
	old := mysqldb.HelperName("items", "old", killed+"2")
	mustExec(t, dst, "RENAME TABLE items TO `"+old+"`")
	rep := e.mustSync(dbsync.RunOptions{})
	if rep.Rows != 5 || count(t, dst, "items") != 5 {
		t.Errorf("run after the restore: %d rows reported, %d in the target", rep.Rows, count(t, dst, "items"))
	}
	if left := helperTables(t, dst); len(left) != 0 {
		t.Errorf("helper tables left behind: %v", left)
	}
}

// TestLock_WaitsForCommittingRun: a run recorded as running whose lock was
// lost may still be committing its merged tables; it holds its history
// rows locked until its COMMIT. The run that took the lock over waits for
// them before it touches anything, here the other run's staging table.
func TestLock_WaitsForCommittingRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	seedItems(t, src, 5)
	seedItems(t, dst, 2)
	const other = "20261201T000000Z-00000000deadbeef"
	killedRun(t, e, dst, other)
	stage := mysqldb.HelperName("items", "new", other)
	mustExec(t, dst, "CREATE TABLE `"+stage+"` (x INT) COMMENT 'dbsync-owned: staging table of run "+other+"; dbsync drops it'")
	tx, err := dst.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var table string
	if err := tx.QueryRow("SELECT `table` FROM dbsync_runs WHERE run_id = ? AND `table` = 'items' FOR UPDATE", other).Scan(&table); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.sync(dbsync.RunOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the run ended (%v) while the other run's history row was locked", err)
	case <-time.After(time.Second):
	}
	if left := helperTables(t, dst); strings.Join(left, ",") != stage {
		t.Fatalf("while waiting the helper tables were %v, want the other run's %s untouched", left, stage)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run after the other run committed: %v", err)
	}
	if left := helperTables(t, dst); len(left) != 0 {
		t.Errorf("helper tables left: %v", left)
	}
	if n := count(t, dst, "items"); n != 5 {
		t.Errorf("target has %d rows, want 5", n)
	}
}

// TestLock_SQLiteLockFileReplaced: the SQLite target's lock is a flock on
// a side file, held as long as the file is open; once that file is
// removed another run could lock a new one by its name, so the run fails
// without committing and the replica is unchanged.
func TestLock_SQLiteLockFileReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seedItems(t, e.srcDBConn(), 5)
	replica := filepath.Join(e.dir, "replica.db")
	sqliteExec(t, replica, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)", "INSERT INTO items VALUES (99, 'old', NULL)")
	cfg, err := e.config(dbsync.RunOptions{Target: dbsync.TargetSQLite})
	if err != nil {
		t.Fatal(err)
	}
	runner := newRunner(testLogger(t))
	dbsync.SetBeforeSwap(runner, func() {
		if err := os.Remove(replica + ".dbsync-lock"); err != nil {
			t.Error(err)
		}
	})
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	err = runner.Run(context.Background(), cfg, rep, nil)
	if err == nil || !strings.Contains(err.Error(), ".dbsync-lock") || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("run with its lock file removed: %v (status %q); want a failure naming the lock file", err, rep.Status)
	}
	if n := sqliteCount(t, replica, "items"); n != 1 {
		t.Fatalf("replica has %d rows, want its 1", n)
	}
	if _, err := e.sync(dbsync.RunOptions{Target: dbsync.TargetSQLite}); err != nil {
		t.Fatalf("next run: %v", err)
	}
	if n := sqliteCount(t, replica, "items"); n != 5 {
		t.Fatalf("next run: replica has %d rows, want 5", n)
	}
}

// TestLock_LostLockSoak: three "processes" (each its own Runner) run the
// same two-table job (items replaced, parts merged) over and over while a
// killer ends the connection holding the run lock at random moments.
// Each process reads rows that name it (note = its name), so the target
// shows whose rows it holds. No run may report succeeded unless right
// after it the target equals what that run read; and a reader never sees
// a table with rows missing or rows of two runs.
func TestLock_LostLockSoak(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	const rows = 60
	seedItems(t, src, rows)
	mustExec(t, src, "CREATE TABLE parts LIKE items", "INSERT INTO parts SELECT * FROM items")
	seedItems(t, dst, rows)
	mustExec(t, dst, "UPDATE items SET note = 'seed'", "CREATE TABLE parts LIKE items", "INSERT INTO parts SELECT * FROM items")
	procs := []string{"p1", "p2", "p3"}
	cfgs := map[string]*dbsync.Config{}
	for _, p := range procs {
		// About 0.3 s of reading per table, so that kills land in loads,
		// compares and swaps alike.
		e.extra = tablesJob(
			tableSection("items", fmt.Sprintf("SELECT id, name, '%s' AS note FROM items WHERE SLEEP(0.005) = 0", p)),
			tableSection("parts", fmt.Sprintf("SELECT id, name, IF(id = 1, '%s', note) AS note FROM parts WHERE SLEEP(0.005) = 0", p), "mode = merge\n"+
				// by rows: a compare by checksums reads the query several
				// times, and SLEEP would make every run outlast the killer.
				"compare = rows\n"),
		)
		cfg, err := e.config(dbsync.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfgs[p] = cfg
	}
	wantItems := func(p string) string {
		return fmt.Sprintf("%d rows, all %s", rows, p)
	}
	itemsState := func() string {
		var n, notes int64
		var note sql.NullString
		if err := dst.QueryRow("SELECT COUNT(*), COUNT(DISTINCT note), MIN(note) FROM items").Scan(&n, &notes, &note); err != nil {
			return "error: " + err.Error()
		}
		if notes != 1 {
			return fmt.Sprintf("%d rows, %d kinds", n, notes)
		}
		return fmt.Sprintf("%d rows, all %s", n, note.String)
	}
	partsState := func() string {
		var n int64
		var note sql.NullString
		if err := dst.QueryRow("SELECT COUNT(*), (SELECT note FROM parts WHERE id = 1) FROM parts").Scan(&n, &note); err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("%d rows, id 1 %s", n, note.String)
	}

	// 15 s of soak, or longer (up to 60 s) until enough happened to prove
	// anything: on a loaded machine runs are slower, and the killer below
	// then lets more of them through.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		mu                             sync.Mutex
		bad                            []string
		succeeded, failed, busy, kills atomic.Int64
		checked, unchecked, statesRead atomic.Int64
	)
	enough := func() bool { return kills.Load() >= 5 && checked.Load() >= 3 && failed.Load() >= 3 }
	go func() {
		start := time.Now()
		for ctx.Err() == nil {
			if time.Since(start) >= 15*time.Second && enough() {
				cancel()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		bad = append(bad, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runner := newRunner(testLogger(t))
			for ctx.Err() == nil {
				rep := dbsync.NewReport(cfgs[p], dbsync.TriggerTimer)
				err := runner.Run(context.Background(), cfgs[p], rep, nil)
				ended := time.Now()
				switch {
				case errors.Is(err, dbsync.ErrBusy):
					busy.Add(1)
					time.Sleep(time.Duration(50+rand.IntN(100)) * time.Millisecond)
					continue
				case err != nil:
					failed.Add(1)
					continue
				}
				succeeded.Add(1)
				items, parts := itemsState(), partsState()
				// Another run needs about 0.6 s of reading before it can
				// swap, so a state read this soon is this run's.
				if time.Since(ended) > 300*time.Millisecond {
					unchecked.Add(1)
					continue
				}
				checked.Add(1)
				if items != wantItems(p) || parts != fmt.Sprintf("%d rows, id 1 %s", rows, p) {
					report("run %s of %s succeeded, but then items held %s and parts %s", rep.RunID, p, items, parts)
				}
			}
		}()
	}
	wg.Add(2)
	go func() { // the killer
		defer wg.Done()
		lock := "dbsync:" + e.targetDB + ".items"
		for ctx.Err() == nil {
			time.Sleep(time.Duration(200+rand.IntN(1500)) * time.Millisecond)
			if kills.Load() >= 5 && checked.Load() < 3 && rand.IntN(3) != 0 {
				continue // enough kills for now: let runs succeed too
			}
			var id sql.NullInt64
			if err := dst.QueryRow("SELECT IS_USED_LOCK(?)", lock).Scan(&id); err == nil && id.Valid {
				if _, err := dst.Exec(fmt.Sprintf("KILL CONNECTION %d", id.Int64)); err == nil {
					kills.Add(1)
				}
			}
		}
	}()
	go func() { // a reader
		defer wg.Done()
		for ctx.Err() == nil {
			s := itemsState()
			statesRead.Add(1)
			if !strings.HasPrefix(s, fmt.Sprintf("%d rows, all ", rows)) {
				report("a reader saw items with %s", s)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	wg.Wait()
	t.Logf("%d runs succeeded (%d checked, %d checked too late), %d failed, %d busy; %d lock connections killed; %d reads",
		succeeded.Load(), checked.Load(), unchecked.Load(), failed.Load(), busy.Load(), kills.Load(), statesRead.Load())
	for i, b := range bad {
		if i == 10 {
			t.Errorf("… and %d more", len(bad)-10)
			break
		}
		t.Error(b)
	}
	if kills.Load() < 5 || checked.Load() < 3 || failed.Load() < 3 {
		t.Fatalf("too little happened to prove anything: %d kills, %d checked successes, %d failures", kills.Load(), checked.Load(), failed.Load())
	}
	if left := helperTables(t, dst); len(left) > 0 {
		// A run killed mid-way leaves its tables for the next run, which
		// drops them: one more run must leave none.
		if _, err := runConfig(t, cfgs["p1"]); err != nil {
			t.Fatalf("run after the soak: %v", err)
		}
		if left := helperTables(t, dst); len(left) > 0 {
			t.Errorf("helper tables left after the soak and one more run: %v", left)
		}
	}
}

package dbsync_test

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/dbsync/dbsync/internal/dbtest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
)

// Each fault test that kills, stops or restarts a server gets servers of
// its own: the shared ones must stay up for the other tests.

func ownServer(t *testing.T, o mariadbtest.Options) *mariadbtest.Server {
	t.Helper()
	return dbtest.OwnServer(t, o)
}

// faultEnv is an env whose primary is a server of its own.
func faultEnv(t *testing.T, target *mariadbtest.Server) (*env, *mariadbtest.Server) {
	t.Helper()
	p := ownServer(t, mariadbtest.Options{})
	e := &env{t: t, dir: t.TempDir(), target: target}
	e.srcDB = p.NewDatabase(t, "src")
	if target != nil {
		e.targetDB = target.NewDatabase(t, "dst")
	}
	return e, p
}

// configFor rewrites the primary's port and credentials in the config.
func (e *env) usePrimary(p *mariadbtest.Server) {
	e.extra += fmt.Sprintf("\n[source]\nport = %d\nuser = %s\npassword = %s\n", p.Port, p.User, p.Password)
}

func seedOn(t *testing.T, s *mariadbtest.Server, db string, n int) {
	t.Helper()
	seedItems(t, dbOn(t, s, db), n)
}

// TestFault_PrimaryKilledMidStream: the primary dies (SIGKILL) while rows
// stream: with fallback the fallback's rows land; without, the run fails
// cleanly and the target keeps its rows.
func TestFault_PrimaryKilledMidStream(t *testing.T) {
	for _, fallback := range []bool{true, false} {
		t.Run(fmt.Sprint("fallback=", fallback), func(t *testing.T) {
			t.Parallel()
			e, p := faultEnv(t, azure)
			seedOn(t, p, e.srcDB, 3000)
			seedItems(t, e.dstDBConn(), 2)
			e.usePrimary(p)
			e.extra += fmt.Sprintf("query = SELECT * FROM items WHERE SLEEP(0.002) = 0\n[sync]\nfallback_enabled = %v\n", fallback)
			sqliteExec(t, filepath.Join(e.dir, "fallback.db"), "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)", "INSERT INTO items VALUES (7, 'fb', NULL)")
			go func() {
				waitForQuery(t, p, e.srcDB, "SLEEP(0.002)")
				time.Sleep(300 * time.Millisecond)
				p.Kill()
			}()
			rep, err := e.sync(dbsync.RunOptions{})
			dst := e.dstDBConn()
			if fallback {
				if err != nil || rep.Source != dbsync.SourceFallback || count(t, dst, "items") != 1 {
					t.Fatalf("err %v source %q rows %d", err, rep.Source, count(t, dst, "items"))
				}
			} else {
				if err == nil || count(t, dst, "items") != 2 {
					t.Fatalf("err %v, %d rows; want a failure and the 2 old rows", err, count(t, dst, "items"))
				}
			}
			assertNoLeftovers(t, dst, "items")
		})
	}
}

// waitForQuery waits until a query containing marker runs on s.
func waitForQuery(t *testing.T, s *mariadbtest.Server, db, marker string) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		_ = s.Root().QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE ? AND INFO NOT LIKE '%PROCESSLIST%'", db, "%"+marker+"%").Scan(&n)
		if n > 0 {
			return
		}
	}
}

// TestFault_PrimaryFrozen: the primary stops answering (SIGSTOP): the read
// timeout ends the wait, the fallback is used, and the run ends within the
// configured bound.
func TestFault_PrimaryFrozen(t *testing.T) {
	t.Parallel()
	e, p := faultEnv(t, azure)
	seedOn(t, p, e.srcDB, 3000)
	e.usePrimary(p)
	e.extra += "query = SELECT * FROM items WHERE SLEEP(0.002) = 0\nread_timeout = 2s\n[sync]\nfallback_enabled = true\n"
	sqliteExec(t, filepath.Join(e.dir, "fallback.db"), "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)", "INSERT INTO items VALUES (7, 'fb', NULL)")
	go func() {
		waitForQuery(t, p, e.srcDB, "SLEEP(0.002)")
		time.Sleep(300 * time.Millisecond)
		_ = p.Signal(syscall.SIGSTOP)
	}()
	t.Cleanup(func() { _ = p.Signal(syscall.SIGCONT) })
	start := time.Now()
	rep, err := e.sync(dbsync.RunOptions{})
	took := time.Since(start)
	_ = p.Signal(syscall.SIGCONT)
	if err != nil || rep.Source != dbsync.SourceFallback {
		t.Fatalf("err %v source %q reason %q", err, rep.Source, rep.FallbackReason)
	}
	if took > 60*time.Second {
		t.Fatalf("the run took %v: read_timeout did not bound the wait", took)
	}
	t.Logf("frozen primary given up after %v: %s", took, rep.FallbackReason)
}

// TestFault_TargetKilledMidLoadAndRestarted: the target dies while loading;
// after it comes back the old rows are intact and the next run succeeds.
func TestFault_TargetKilledMidLoadAndRestarted(t *testing.T) {
	t.Parallel()
	target := ownServer(t, mariadbtest.Options{TLS: true, LocalInfile: true})
	e := newEnv(t, target)
	seedItems(t, e.srcDBConn(), 3000)
	dst := e.dstDBConn()
	seedItems(t, dst, 5)
	e.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
	go func() {
		waitForHelper(t, dst, "items", "new")
		time.Sleep(300 * time.Millisecond)
		target.Kill()
	}()
	if _, err := e.sync(dbsync.RunOptions{}); err == nil {
		t.Fatal("sync succeeded with its target killed")
	}
	if err := target.Restart(); err != nil {
		t.Fatal(err)
	}
	dst = e.dstDBConn()
	if n := count(t, dst, "items"); n != 5 {
		t.Fatalf("after the crash the target has %d rows, want the old 5", n)
	}
	e.extra = ""
	e.mustSync(dbsync.RunOptions{})
	if n := count(t, dst, "items"); n != 3000 {
		t.Fatalf("next run: %d rows", n)
	}
	assertNoLeftovers(t, dst, "items")
	var abandoned int
	_ = dst.QueryRow("SELECT COUNT(*) FROM dbsync_runs WHERE status IN ('abandoned', 'failed')").Scan(&abandoned)
	if abandoned != 1 {
		t.Errorf("%d failed/abandoned history rows; want the killed run's", abandoned)
	}
}

// waitForHelper waits for a helper table of kind (new, old, delta) of table
// of any run.
func waitForHelper(t *testing.T, db *sql.DB, table, kind string) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		_ = db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?", helperLike(table, kind)).Scan(&n)
		if n > 0 {
			return
		}
	}
}

// helperLike is a LIKE pattern for the helper tables of kind (new, old,
// delta) of a short-named table, of every run: <table>__dbsync_<kind>_<token>.
func helperLike(table, kind string) string { return dbtest.HelperLike(table, kind) }

// TestFault_TargetRestartedBeforeSwap: the target restarts between verify
// and swap: the staging table is gone or incomplete, the run fails or
// reconnects, and the target never holds a half-swapped state.
func TestFault_TargetRestartedBeforeSwap(t *testing.T) {
	t.Parallel()
	target := ownServer(t, mariadbtest.Options{TLS: true, LocalInfile: true})
	e := newEnv(t, target)
	seedItems(t, e.srcDBConn(), 500)
	seedItems(t, e.dstDBConn(), 5)
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runner := newRunner(testLogger(t))
	dbsync.SetBeforeSwap(runner, func() {
		target.Kill()
		if err := target.Restart(); err != nil {
			t.Error(err)
		}
	})
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	err = runner.Run(context.Background(), cfg, rep, nil)
	dst := e.dstDBConn()
	n := count(t, dst, "items")
	switch {
	case err == nil && n == 500:
		// The swap reconnected and the staged rows (committed before the
		// restart) were swapped in: also a correct outcome.
	case err != nil && n == 5:
	default:
		t.Fatalf("err %v with %d rows: neither the old 5 nor the new 500", err, n)
	}
	e.mustSync(dbsync.RunOptions{})
	if n := count(t, dst, "items"); n != 500 {
		t.Fatalf("next run: %d rows", n)
	}
	assertNoLeftovers(t, dst, "items")
}

// TestFault_ReaderHoldsTableDuringSwap: a transaction that read the table
// holds its metadata lock. The swap waits in short attempts; when the
// reader finishes it succeeds and reports the wait; when the reader never
// lets go, the run fails cleanly with the target unchanged.
func TestFault_ReaderHoldsTableDuringSwap(t *testing.T) {
	for _, release := range []bool{true, false} {
		t.Run(fmt.Sprint("reader finishes=", release), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			seedItems(t, e.srcDBConn(), 50)
			dst := e.dstDBConn()
			seedItems(t, dst, 5)
			cfg, err := e.config(dbsync.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			reader, err := dst.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer reader.Rollback()
			var n int
			if err := reader.QueryRow("SELECT COUNT(*) FROM items").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if release {
				time.AfterFunc(2500*time.Millisecond, func() { _ = reader.Commit() })
			}
			runner := newRunner(testLogger(t))
			runner.SwapTryWait, runner.SwapTries = time.Second, 4
			rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
			err = runner.Run(context.Background(), cfg, rep, nil)
			if release {
				if err != nil || rep.SwapWaitMS < 1000 || count(t, dst, "items") != 50 {
					t.Fatalf("err %v swap_wait_ms %d rows %d", err, rep.SwapWaitMS, count(t, dst, "items"))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "readers held the table") || rep.SwapWaitMS < 3000 {
				t.Fatalf("err %v swap_wait_ms %d", err, rep.SwapWaitMS)
			}
			_ = reader.Rollback()
			if n := count(t, dst, "items"); n != 5 {
				t.Fatalf("target has %d rows after a failed swap", n)
			}
			assertNoLeftovers(t, dst, "items")
		})
	}
}

// TestFault_TooManyConnections: the target refuses connections (1040)
// until a slot frees; the run retries and succeeds, and counts retries.
func TestFault_TooManyConnections(t *testing.T) {
	t.Parallel()
	target := ownServer(t, mariadbtest.Options{TLS: true, LocalInfile: true, ExtraArgs: []string{"--max-connections=3"}})
	e := newEnv(t, target)
	seedItems(t, e.srcDBConn(), 20)
	// MariaDB keeps one connection beyond max_connections for users with
	// SUPER, as the test account has: sync as a plain user, like Azure's.
	target.MustExec(t, "CREATE USER 'hog'@'%' IDENTIFIED BY 'hog'", "GRANT USAGE ON *.* TO 'hog'@'%'",
		"CREATE USER 'writer'@'%' IDENTIFIED BY 'writer-pw'", fmt.Sprintf("GRANT ALL ON `%s`.* TO 'writer'@'%%'", e.targetDB))
	e.extra = "[azure_mysql]\nuser = writer\npassword = writer-pw\n"
	var hogs []*sql.DB
	for i := 0; i < 10; i++ {
		db := tcpDB(t, target, "hog", "hog")
		if err := db.Ping(); err != nil {
			break
		}
		hogs = append(hogs, db)
	}
	if len(hogs) == 0 {
		t.Fatal("could not open any connection to fill the server")
	}
	time.AfterFunc(700*time.Millisecond, func() {
		for _, h := range hogs {
			h.Close()
		}
	})
	rep, err := e.sync(dbsync.RunOptions{})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if rep.Retries == 0 {
		t.Fatalf("no retries counted; the test did not hit 1040")
	}
	if n := count(t, e.dstDBConn(), "items"); n != 20 {
		t.Fatalf("%d rows", n)
	}
}

// TestFault_PermanentErrorsFailFast: a wrong password is not retried.
func TestFault_PermanentErrorsFailFast(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 3)
	e.extra = "[azure_mysql]\npassword = wrong\n"
	rep, err := e.sync(dbsync.RunOptions{})
	if err == nil || rep.Retries != 0 {
		t.Fatalf("err %v retries %d; want a failure without retries", err, rep.Retries)
	}
}

// TestFault_Deadline: [sync] timeout bounds the whole run; hitting it
// leaves the target unchanged and says so.
func TestFault_Deadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 3000)
	dst := e.dstDBConn()
	seedItems(t, dst, 4)
	e.extra = "[sync]\ntimeout = 1s\n[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
	rep, err := e.sync(dbsync.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "[sync] timeout = 1s") || rep.Status != dbsync.StatusFailed {
		t.Fatalf("err %v status %q", err, rep.Status)
	}
	if n := count(t, dst, "items"); n != 4 {
		t.Fatalf("target has %d rows", n)
	}
	time.Sleep(200 * time.Millisecond) // the server finishes dropping the staging table
	assertNoLeftovers(t, dst, "items")
}

// TestFault_AbandonedRun: a history row left "running" by a killed process
// is marked abandoned by the next run.
func TestFault_AbandonedRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 3)
	e.mustSync(dbsync.RunOptions{})
	dst := e.dstDBConn()
	mustExec(t, dst, "INSERT INTO dbsync_runs (run_id, `trigger`, status, target, `table`, started_at) VALUES ('dead-run', 'timer', 'running', 'azure', 'items', UTC_TIMESTAMP(6) - INTERVAL 90 SECOND)")
	e.mustSync(dbsync.RunOptions{})
	var status, msg string
	var ms int64
	if err := dst.QueryRow("SELECT status, error, duration_ms FROM dbsync_runs WHERE run_id = 'dead-run'").Scan(&status, &msg, &ms); err != nil {
		t.Fatal(err)
	}
	if status != "abandoned" || !strings.Contains(msg, "after 90") || ms < 89000 {
		t.Fatalf("dead run: %q %q %d ms", status, msg, ms)
	}
}

// TestFault_SQLiteFiles: bad SQLite paths fail clearly and keep the
// previous replica.
func TestFault_SQLiteFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the full-disk case mounts a tmpfs, which needs root")
	}
	t.Parallel()
	e := newEnv(t, nil)
	seedItems(t, e.srcDBConn(), 20000) // about 1.5 MB: more than the 256 kB disk
	small := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(small, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(small, 0) })
	e.extra = "[sqlite]\npath = " + filepath.Join(small, "replica.db") + "\n[source]\nquery = SELECT * FROM items WHERE id <= 10\n"
	e.mustSync(dbsync.RunOptions{Target: "sqlite"})
	e.extra = "[sqlite]\npath = " + filepath.Join(small, "replica.db") + "\n"
	_, err := e.sync(dbsync.RunOptions{Target: "sqlite"})
	if err == nil || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("full disk: %v", err)
	}
	if n := sqliteCount(t, filepath.Join(small, "replica.db"), "items"); n != 10 {
		t.Fatalf("after a full disk the replica has %d rows, want the previous 10", n)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(t.TempDir(), "missing", "r.db"), "does not exist"},
		{t.TempDir(), "is a directory"},
	} {
		e.extra = "[sqlite]\npath = " + tc.path + "\n"
		if _, err := e.sync(dbsync.RunOptions{Target: "sqlite"}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.path, err)
		}
	}

	// A read-only filesystem (enforced even for root, unlike file modes).
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", ro, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(ro, 0) })
	e.extra = "[sqlite]\npath = " + filepath.Join(ro, "replica.db") + "\n[source]\nquery = SELECT * FROM items WHERE id <= 10\n"
	e.mustSync(dbsync.RunOptions{Target: "sqlite"})
	if err := syscall.Mount("", ro, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	e.extra = "[sqlite]\npath = " + filepath.Join(ro, "replica.db") + "\n"
	if _, err := e.sync(dbsync.RunOptions{Target: "sqlite"}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("read-only filesystem: %v", err)
	}
	if n := sqliteCount(t, filepath.Join(ro, "replica.db"), "items"); n != 10 {
		t.Fatalf("after a read-only failure the replica has %d rows, want 10", n)
	}

	// The fallback path is a directory: the fallback fails clearly.
	e.extra = "[sync]\nfallback_enabled = true\n[source]\nport = 1\n[fallback]\npath = " + t.TempDir() + "\n"
	if _, err := e.sync(dbsync.RunOptions{Target: "sqlite"}); err == nil || !strings.Contains(err.Error(), "is a directory, not a SQLite file") {
		t.Fatalf("fallback path a directory: %v", err)
	}
}

// TestFault_NoLeaks: 200 runs, good and bad, leave file descriptors,
// goroutines and server connections where they started.
func TestFault_NoLeaks(t *testing.T) {
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 20)
	good, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.extra = "[source]\nquery = SELECT * FROM no_such_table\n"
	bad, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runner := newRunner(testLogger(t))
	run := func(cfg *dbsync.Config) {
		_ = runner.Run(context.Background(), cfg, dbsync.NewReport(cfg, dbsync.TriggerCLI), nil)
	}
	run(good)
	run(bad)
	fds, goroutines, conns := openFDs(t), runtime.NumGoroutine(), serverConns(t, azure)
	for i := 0; i < 200; i++ {
		if i%4 == 3 {
			run(bad)
		} else {
			run(good)
		}
	}
	time.Sleep(300 * time.Millisecond) // let closed connections finish on the server
	if n := openFDs(t); n > fds+2 {
		t.Errorf("file descriptors: %d before, %d after 200 runs", fds, n)
	}
	if n := runtime.NumGoroutine(); n > goroutines+2 {
		t.Errorf("goroutines: %d before, %d after 200 runs", goroutines, n)
	}
	if n := serverConns(t, azure); n > conns+1 {
		t.Errorf("server connections of the test user: %d before, %d after", conns, n)
	}
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

func serverConns(t *testing.T, s *mariadbtest.Server) int {
	var n int
	if err := s.Root().QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", s.User).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

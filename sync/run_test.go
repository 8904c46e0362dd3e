package dbsync_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/dbsync/dbsync/internal/dbtest"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// seedItems makes a simple items table with n rows on db (MySQL).
func seedItems(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	dbtest.SeedItems(t, db, n)
}

func count(t *testing.T, db *sql.DB, table string) int64 {
	t.Helper()
	return dbtest.Count(t, db, table)
}

// TestSync_ReadersNeverSeeHalfDone polls COUNT(*) on the target throughout
// repeated syncs: every answer must be the old total or the new one, never
// an error, zero or anything in between.
func TestSync_ReadersNeverSeeHalfDone(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			src := e.srcDBConn()
			const oldRows, newRows = 20000, 30000
			seedItems(t, src, oldRows)
			e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
			mustExec(t, src, fmt.Sprintf("INSERT INTO items SELECT id + %d, name, note FROM items WHERE id <= %d", oldRows, newRows-oldRows))

			var poll func() (int64, error)
			if target == "azure" {
				dst := e.dstDBConn()
				poll = func() (n int64, err error) { err = dst.QueryRow("SELECT COUNT(*) FROM items").Scan(&n); return }
			} else {
				db := openSQLiteT(t, filepath.Join(e.dir, "replica.db"))
				poll = func() (n int64, err error) { err = db.QueryRow("SELECT COUNT(*) FROM items").Scan(&n); return }
			}
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
					n, err := poll()
					polls.Add(1)
					if err != nil || (n != oldRows && n != newRows) {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("count=%d err=%v", n, err))
						mu.Unlock()
					}
				}
			}()
			e.mustSync(dbsync.RunOptions{Target: dbsync.Target(target)})
			time.Sleep(20 * time.Millisecond)
			close(stop)
			wg.Wait()
			if len(bad) > 0 {
				t.Fatalf("a reader saw %d bad answers (of %d), first: %v", len(bad), polls.Load(), bad[0])
			}
			if polls.Load() < 10 {
				t.Fatalf("only %d polls ran during the sync; the test proves nothing", polls.Load())
			}
			if n, _ := poll(); n != newRows {
				t.Fatalf("after the sync the target has %d rows, want %d", n, newRows)
			}
		})
	}
}

// TestSync_Guards covers the checks that stop a run before the swap: each
// case must fail with a clear error and leave the target exactly as it was.
func TestSync_Guards(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, e *env, src, dst *sql.DB)
		wantErr string
		is      error
	}{
		{
			name:    "zero rows with min_rows=1",
			prepare: func(t *testing.T, e *env, src, dst *sql.DB) { mustExec(t, src, "DELETE FROM items") },
			wantErr: "min_rows = 1", is: dbsync.ErrTooFewRows,
		},
		{
			name: "fewer rows than min_rows",
			prepare: func(t *testing.T, e *env, src, dst *sql.DB) {
				e.extra = "[sync]\nmin_rows = 1000\n"
			},
			wantErr: "got 50, [sync] min_rows = 1000", is: dbsync.ErrTooFewRows,
		},
		{
			name: "source column missing in target",
			prepare: func(t *testing.T, e *env, src, dst *sql.DB) {
				mustExec(t, src, "ALTER TABLE items ADD COLUMN extra INT NULL")
			},
			wantErr: "source column `extra` is not in the target table",
		},
		{
			name: "target NOT NULL column missing in source",
			prepare: func(t *testing.T, e *env, src, dst *sql.DB) {
				mustExec(t, dst, "ALTER TABLE items ADD COLUMN required_col INT NOT NULL")
			},
			wantErr: "target column `required_col` (NOT NULL, no default) is not in the source",
		},
		{
			name:    "source query syntax error, fallback disabled",
			prepare: func(t *testing.T, e *env, src, dst *sql.DB) { e.extra = "[source]\nquery = SELEC * FROM items\n" },
			wantErr: "You have an error in your SQL syntax",
		},
		{
			name: "duplicate column names in the source query",
			prepare: func(t *testing.T, e *env, src, dst *sql.DB) {
				e.extra = "[source]\nquery = SELECT id, name, note, id FROM items\n"
			},
			wantErr: "returns column `id` twice",
		},
		{
			name: "value the target column cannot hold",
			prepare: func(t *testing.T, e *env, src, dst *sql.DB) {
				mustExec(t, dst, "DELETE FROM items WHERE id > 1", "ALTER TABLE items MODIFY name VARCHAR(6) NOT NULL")
			},
			wantErr: "'name'",
		},
		{
			name: "duplicate key in the source rows",
			prepare: func(t *testing.T, e *env, src, dst *sql.DB) {
				e.extra = "[source]\nquery = SELECT * FROM items UNION ALL SELECT * FROM items WHERE id = 1\n"
			},
			wantErr: "Duplicate entry",
		},
	}
	for _, tc := range cases {
		for _, server := range loadPaths() {
			t.Run(tc.name+"/"+server.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, server.server())
				src, dst := e.srcDBConn(), e.dstDBConn()
				seedItems(t, src, 50)
				seedItems(t, dst, 3)
				tc.prepare(t, e, src, dst)
				before := readAll(t, dst, "items")
				rep, err := e.sync(dbsync.RunOptions{})
				if err == nil {
					t.Fatal("sync succeeded; want a failure")
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not say %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v is not %v", err, tc.is)
				}
				if rep.Status != dbsync.StatusFailed || rep.Error == "" {
					t.Errorf("report status %q error %q", rep.Status, rep.Error)
				}
				assertSameRows(t, before, readAll(t, dst, "items"))
				assertNoLeftovers(t, dst, "items")
				var status dbsync.Status
				var msg string
				if err := dst.QueryRow("SELECT status, error FROM dbsync_runs WHERE run_id = ?", rep.RunID).Scan(&status, &msg); err != nil {
					t.Fatalf("history row: %v", err)
				}
				if status != dbsync.StatusFailed || msg != rep.Error {
					t.Errorf("history says %q %q; report %q %q", status, msg, rep.Status, rep.Error)
				}
			})
		}
	}
}

// TestSync_RecreateOnSchemaChange rebuilds the table from the source's
// types when asked to.
func TestSync_RecreateOnSchemaChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	seedItems(t, src, 10)
	mustExec(t, src, "ALTER TABLE items ADD COLUMN price DECIMAL(9,2) NOT NULL DEFAULT 1.50")
	seedItems(t, dst, 3)
	e.extra = "[sync]\non_schema_change = recreate\n"
	e.mustSync(dbsync.RunOptions{})
	if def := showCreate(t, dst, "items"); !strings.Contains(def, "`price` decimal(9,2) NOT NULL") {
		t.Errorf("table not rebuilt from source types:\n%s", def)
	}
	assertSameRows(t, readAll(t, src, "items"), readAll(t, dst, "items"))
}

// TestSync_Fallback covers when the fallback is used and what the report
// says.
func TestSync_Fallback(t *testing.T) {
	cases := []struct {
		name       string
		extra      string
		makeDB     bool
		wantSource string
		wantReason string // in fallback_reason, or in the error when the run fails
		wantFail   bool
	}{
		{"connection refused", "[source]\nport = 1\n", true, dbsync.SourceFallback, "connection refused", false},
		{"wrong password", "[source]\npassword = wrong\n", true, dbsync.SourceFallback, "Access denied", false},
		{"unknown host", "[source]\nhost = no-such-host.invalid\n", true, dbsync.SourceFallback, "no-such-host.invalid", false},
		{"query error", "[source]\nquery = SELECT * FROM no_such_table\n", true, dbsync.SourceFallback, "no_such_table", false},
		{"fallback disabled", "[source]\nport = 1\n[sync]\nfallback_enabled = false\n", true, "", "fallback is disabled", true},
		{"fallback database missing", "[source]\nport = 1\n", false, "", "and so did the fallback", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			seedItems(t, e.srcDBConn(), 5)
			dst := e.dstDBConn()
			seedItems(t, dst, 2)
			e.extra = "[sync]\nfallback_enabled = true\n" + tc.extra
			if tc.makeDB {
				sqliteExec(t, filepath.Join(e.dir, "fallback.db"),
					"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
					"INSERT INTO items VALUES (100, 'from fallback', NULL), (101, 'also', 'x')")
			}
			rep, err := e.sync(dbsync.RunOptions{})
			if tc.wantFail {
				if err == nil || !strings.Contains(err.Error(), tc.wantReason) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantReason)
				}
				if n := count(t, dst, "items"); n != 2 {
					t.Fatalf("target has %d rows, want the 2 it had", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if rep.Source != tc.wantSource || !strings.Contains(rep.FallbackReason, tc.wantReason) {
				t.Errorf("source %q reason %q, want %q and a reason saying %q", rep.Source, rep.FallbackReason, tc.wantSource, tc.wantReason)
			}
			if strings.Contains(rep.FallbackReason, primary.Password) {
				t.Errorf("fallback reason leaks the password: %s", rep.FallbackReason)
			}
			if n := count(t, dst, "items"); n != 2 || rep.Rows != 2 {
				t.Fatalf("target has %d rows (report %d), want the fallback's 2", n, rep.Rows)
			}
		})
	}
}

// TestSync_PrimaryLostMidStream kills the primary's connection while rows
// stream: what was staged is discarded and the fallback's rows land.
func TestSync_PrimaryLostMidStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src := e.srcDBConn()
	seedItems(t, src, 2000)
	// A query that streams slowly: each row sleeps, so the kill lands mid-stream.
	e.extra = "[sync]\nfallback_enabled = true\n[source]\nquery = SELECT id, name, note FROM items WHERE SLEEP(0.002) = 0\n"
	sqliteExec(t, filepath.Join(e.dir, "fallback.db"),
		"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
		"INSERT INTO items VALUES (1, 'fallback row', NULL)")
	go func() {
		// Find the run's query on the primary and kill its connection.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			var id int64
			err := primary.Root().QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(0.002)%' AND DB = ? AND INFO NOT LIKE '%PROCESSLIST%' LIMIT 1", e.srcDB).Scan(&id)
			if err == nil {
				// Well into the ~4 s stream: the first rows have arrived, so
				// this is a loss mid-stream, not at connect (which is retried).
				time.Sleep(1500 * time.Millisecond)
				_, _ = primary.Root().Exec(fmt.Sprintf("KILL %d", id))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	rep, err := e.sync(dbsync.RunOptions{})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if rep.Source != dbsync.SourceFallback || rep.Rows != 1 {
		t.Fatalf("source %q rows %d (reason %q); want the fallback's 1 row", rep.Source, rep.Rows, rep.FallbackReason)
	}
	if n := count(t, e.dstDBConn(), "items"); n != 1 {
		t.Fatalf("target has %d rows; want 1", n)
	}
	assertNoLeftovers(t, e.dstDBConn(), "items")
}

// TestSync_Busy holds the target's run lock from another session: the run
// must report busy and touch nothing.
func TestSync_Busy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 5)
	dst := e.dstDBConn()
	seedItems(t, dst, 2)
	conn, err := dst.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK(?, 0)", "dbsync:"+e.targetDB+".items").Scan(&got); err != nil || got != 1 {
		t.Fatalf("take lock: %v %d", err, got)
	}
	rep, err := e.sync(dbsync.RunOptions{})
	if !errors.Is(err, dbsync.ErrBusy) || rep.Status != dbsync.StatusBusy {
		t.Fatalf("err %v status %q; want busy", err, rep.Status)
	}
	if n := count(t, dst, "items"); n != 2 {
		t.Fatalf("target has %d rows, want 2", n)
	}
	mustExec(t, dst, "DO 1")
	if _, err := conn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", "dbsync:"+e.targetDB+".items"); err != nil {
		t.Fatal(err)
	}
	e.mustSync(dbsync.RunOptions{})
}

// TestSync_SQLiteBusy holds the SQLite target's lock from a concurrent run
// of the same Runner and from another Runner.
func TestSync_InProcessGuard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 3000)
	e.extra = "[source]\nquery = SELECT id, name, note FROM items WHERE SLEEP(0.0005) = 0\n"
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runner := newRunner(testLogger(t))
	first := dbsync.NewReport(cfg, dbsync.TriggerTimer)
	done := make(chan error, 1)
	go func() { done <- runner.Run(context.Background(), cfg, first, nil) }()
	deadline := time.Now().Add(10 * time.Second)
	for runner.ActiveRun(cfg) == "" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if runner.ActiveRun(cfg) != first.RunID {
		t.Fatalf("active run %q, want %q", runner.ActiveRun(cfg), first.RunID)
	}
	second := dbsync.NewReport(cfg, dbsync.TriggerHTTP)
	if err := runner.Run(context.Background(), cfg, second, nil); !errors.Is(err, dbsync.ErrBusy) {
		t.Fatalf("second run: %v, want busy", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("first run: %v", err)
	}
	if n := count(t, e.dstDBConn(), "items"); n != 3000 {
		t.Fatalf("target has %d rows", n)
	}
}

// TestSync_QuotedTableNames uses table names that need quoting: they must
// be quoted, never spliced into SQL.
func TestSync_QuotedTableNames(t *testing.T) {
	for _, name := range []string{"odd `name`", "with space", "semi;colon--", `quote'"s`} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			seedItems(t, e.srcDBConn(), 4)
			e.extra = fmt.Sprintf("[azure_mysql]\ntable = %s\n[sqlite]\ntable = %s\n", name, name)
			e.mustSync(dbsync.RunOptions{})
			if n := count(t, e.dstDBConn(), name); n != 4 {
				t.Fatalf("%q has %d rows", name, n)
			}
			e.mustSync(dbsync.RunOptions{}) // replace an existing table too
			e.mustSync(dbsync.RunOptions{Target: "sqlite"})
			e.mustSync(dbsync.RunOptions{Target: "sqlite"})
			if n := sqliteCount(t, filepath.Join(e.dir, "replica.db"), name); n != 4 {
				t.Fatalf("sqlite %q has %d rows", name, n)
			}
		})
	}
}

// TestSync_DryRun reads and counts the source and touches nothing.
func TestSync_DryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 7)
	dst := e.dstDBConn()
	seedItems(t, dst, 2)
	rep, err := e.sync(dbsync.RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != dbsync.StatusSkipped || rep.Rows != 7 || rep.Source != dbsync.SourcePrimary {
		t.Fatalf("report %+v", rep)
	}
	if n := count(t, dst, "items"); n != 2 {
		t.Fatalf("dry run changed the target: %d rows", n)
	}
	var tables int
	_ = dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'dbsync_runs'").Scan(&tables)
	if tables != 0 {
		t.Fatal("dry run created the history table")
	}
}

// TestSync_TLS checks ssl_mode against the TLS-only target.
func TestSync_TLS(t *testing.T) {
	cases := []struct {
		name, extra, wantErr string
	}{
		{"verify_identity, matching host", "", ""},
		{"verify_identity, certificate for another name", "[azure_mysql]\nhost = 127.0.0.1\n", "doesn't contain any IP SANs"},
		{"verify_ca ignores the name", "[azure_mysql]\nhost = 127.0.0.1\nssl_mode = verify_ca\n", ""},
		{"verify_ca without the CA", "[azure_mysql]\nhost = 127.0.0.1\nssl_mode = verify_ca\nssl_ca =\n", "certificate signed by unknown authority"},
		{"required encrypts without verifying", "[azure_mysql]\nhost = 127.0.0.1\nssl_mode = required\nssl_ca =\n", ""},
		{"plaintext to a TLS-only server", "[azure_mysql]\nssl_mode = disabled\n", "set [azure_mysql] ssl_mode = verify_identity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			seedItems(t, e.srcDBConn(), 3)
			e.extra = tc.extra
			rep, err := e.sync(dbsync.RunOptions{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("sync: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
			if rep.Status != dbsync.StatusFailed {
				t.Fatalf("status %q", rep.Status)
			}
		})
	}
}

// TestSync_ProgressLines: a long load logs rows and rows/s as it goes.
func TestSync_ProgressLines(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 10000)
	e.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.0001) = 0\n"
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	runner := newRunner(log)
	runner.ProgressEvery = 100 * time.Millisecond
	if err := runner.Run(context.Background(), cfg, dbsync.NewReport(cfg, dbsync.TriggerCLI), nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "msg=progress") || !strings.Contains(out, "rows_per_sec=") {
		t.Fatalf("no progress lines:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

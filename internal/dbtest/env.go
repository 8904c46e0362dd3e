package dbtest

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/internal/mariadbtest"
	dbsync "github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/mysqldb"
	"github.com/dbsync/dbsync/sync/sqlitedb"
)

// Env is one test's job on the shared servers: a fresh database on the
// primary, one on the target (when Target is set), and the fallback and
// SQLite target files in Dir; Extra is config.ini settings merged over
// the base (initest.Merge). Run-level tests of every package sync
// through it.
type Env struct {
	T        *testing.T
	Dir      string
	Primary  *mariadbtest.Server
	SrcDB    string
	Target   *mariadbtest.Server
	TargetDB string
	Extra    string
}

// NewEnv makes a test's databases on primary and target (none when
// target is nil) and its folder.
func NewEnv(t *testing.T, primary, target *mariadbtest.Server) *Env {
	t.Helper()
	e := &Env{T: t, Dir: t.TempDir(), Primary: primary, Target: target}
	e.SrcDB = primary.NewDatabase(t, "src")
	if target != nil {
		e.TargetDB = target.NewDatabase(t, "dst")
	}
	return e
}

// ConfigText is a config.ini for this env: primary → azure target (TLS
// verified with the test CA), fallback and SQLite target in the temp dir
// (Job), with at least one row and a short connect timeout.
func (e *Env) ConfigText() string {
	job := Job{Dir: e.Dir, Primary: e.Primary, SrcDB: e.SrcDB, Target: e.Target, TargetDB: e.TargetDB}
	base := "[sync]\nmin_rows = 1\n[source]\nconnect_timeout = 5s\n"
	if e.Target != nil {
		base += "[azure_mysql]\nssl_mode = verify_identity\n"
	}
	return initest.Merge(job.Text(base), e.Extra)
}

// Config writes config.ini and loads it with env overrides, as the CLI does.
func (e *Env) Config(opts dbsync.RunOptions, environ ...string) (*dbsync.Config, error) {
	e.T.Helper()
	path := filepath.Join(e.Dir, "config.ini")
	if err := os.WriteFile(path, []byte(e.ConfigText()), 0o600); err != nil {
		e.T.Fatal(err)
	}
	return dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true, Environ: environ, Options: opts})
}

// Sync runs one sync and returns the report and error.
func (e *Env) Sync(opts dbsync.RunOptions, environ ...string) (*dbsync.Report, error) {
	e.T.Helper()
	cfg, err := e.Config(opts, environ...)
	if err != nil {
		return nil, err
	}
	return RunConfig(e.T, cfg)
}

// MustSync runs one sync and fails the test unless it succeeded.
func (e *Env) MustSync(opts dbsync.RunOptions) *dbsync.Report {
	e.T.Helper()
	rep, err := e.Sync(opts)
	if err != nil {
		e.T.Fatalf("sync: %v", err)
	}
	if rep.Status != dbsync.StatusSucceeded {
		e.T.Fatalf("sync status %q, want succeeded", rep.Status)
	}
	return rep
}

// SrcDBConn and DstDBConn open the env's source and target databases.
func (e *Env) SrcDBConn() *sql.DB { return DB(e.T, e.Primary, e.SrcDB) }
func (e *Env) DstDBConn() *sql.DB { return DB(e.T, e.Target, e.TargetDB) }

// RunConfig runs cfg as the CLI's sync does, with the test's logger.
func RunConfig(t *testing.T, cfg *dbsync.Config) (*dbsync.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := Logger(t)
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	err := NewRunner(log).Run(ctx, cfg, rep, log)
	return rep, err
}

// NewRunner is the Runner a test runs: the engine's, with the MySQL and
// SQLite backends that handler wires in.
func NewRunner(log *slog.Logger) *dbsync.Runner {
	r := dbsync.NewRunner(log)
	r.MySQL, r.SQLite = mysqldb.Backend{}, sqlitedb.Backend{}
	return r
}

// Logger sends engine logs to the test log (shown on failure, -v).
func Logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(TestWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestWriter writes each line to the test's log.
type TestWriter struct{ T *testing.T }

func (w TestWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

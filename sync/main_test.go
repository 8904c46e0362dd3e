package dbsync_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/dbsync/dbsync/internal/dbtest"
	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/mysqldb"
	"github.com/dbsync/dbsync/sync/sqlitedb"
)

// The servers every test in this package shares (internal/dbtest); each
// test makes its own databases on them.
var (
	servers     dbtest.Servers
	primary     *mariadbtest.Server // plain, like an on-premises primary
	azure       *mariadbtest.Server // TLS required, own CA, local_infile=ON
	azureNoFile *mariadbtest.Server // TLS required, local_infile=OFF (MySQL 8's default)
	azureLower  *mariadbtest.Server // TLS required, lower_case_table_names=1 (Azure's only setting)
)

func TestMain(m *testing.M) {
	dbsync.SetTestBackends(mysqldb.Backend{}, sqlitedb.Backend{})
	os.Exit(dbtest.Main(m, &servers, dbtest.Want{AzureNoFile: true, AzureLower: true}, func() error {
		primary, azure, azureNoFile, azureLower = servers.Primary, servers.Azure, servers.AzureNoFile, servers.AzureLower
		return nil
	}))
}

// env is one test's databases and files.
type env struct {
	t        *testing.T
	dir      string
	srcDB    string
	target   *mariadbtest.Server
	targetDB string
	extra    string // config.ini settings merged over the base (initest.Merge)
}

func newEnv(t *testing.T, target *mariadbtest.Server) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), target: target}
	e.srcDB = primary.NewDatabase(t, "src")
	if target != nil {
		e.targetDB = target.NewDatabase(t, "dst")
	}
	return e
}

// configText is a config.ini for this env: primary → azure target (TLS
// verified with the test CA), fallback and SQLite target in the temp dir
// (dbtest.Job), with at least one row and a short connect timeout.
func (e *env) configText() string {
	job := dbtest.Job{Dir: e.dir, Primary: primary, SrcDB: e.srcDB, Target: e.target, TargetDB: e.targetDB}
	base := "[sync]\nmin_rows = 1\n[source]\nconnect_timeout = 5s\n"
	if e.target != nil {
		base += "[azure_mysql]\nssl_mode = verify_identity\n"
	}
	return initest.Merge(job.Text(base), e.extra)
}

// config writes config.ini and loads it with env overrides, as the CLI does.
func (e *env) config(opts dbsync.RunOptions, environ ...string) (*dbsync.Config, error) {
	e.t.Helper()
	path := filepath.Join(e.dir, "config.ini")
	if err := os.WriteFile(path, []byte(e.configText()), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true, Environ: environ, Options: opts})
}

// sync runs one sync and returns the report and error.
func (e *env) sync(opts dbsync.RunOptions, environ ...string) (*dbsync.Report, error) {
	e.t.Helper()
	cfg, err := e.config(opts, environ...)
	if err != nil {
		return nil, err
	}
	return runConfig(e.t, cfg)
}

func runConfig(t *testing.T, cfg *dbsync.Config) (*dbsync.Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := testLogger(t)
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	err := newRunner(log).Run(ctx, cfg, rep, log)
	return rep, err
}

func (e *env) mustSync(opts dbsync.RunOptions) *dbsync.Report {
	e.t.Helper()
	rep, err := e.sync(opts)
	if err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	if rep.Status != dbsync.StatusSucceeded {
		e.t.Fatalf("sync status %q, want succeeded", rep.Status)
	}
	return rep
}

// testLogger sends engine logs to the test log (shown on failure, -v).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}

// dbOn opens a connection to one database of a server over its socket.
func dbOn(t *testing.T, s *mariadbtest.Server, db string) *sql.DB { return dbtest.DB(t, s, db) }

func (e *env) srcDBConn() *sql.DB { return dbOn(e.t, primary, e.srcDB) }
func (e *env) dstDBConn() *sql.DB { return dbOn(e.t, e.target, e.targetDB) }

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	dbtest.MustExec(t, db, stmts...)
}

// tcpDB connects to s over TCP as user (TLS when s requires it).
func tcpDB(t *testing.T, s *mariadbtest.Server, user, password string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, password, "tcp", s.Addr()
	if s.CA != "" {
		cfg.TLSConfig = "skip-verify"
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := sql.OpenDB(c)
	t.Cleanup(func() { d.Close() })
	return d
}

// newRunner is the Runner a test runs: the engine's, with the SQLite
// backend that handler registers.
func newRunner(log *slog.Logger) *dbsync.Runner {
	r := dbsync.NewRunner(log)
	r.MySQL, r.SQLite = mysqldb.Backend{}, sqlitedb.Backend{}
	return r
}

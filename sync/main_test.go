package dbsync_test

import (
	"database/sql"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/dbsync/dbsync/internal/dbtest"
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

// job is the env as internal/dbtest's Env, the one shared test env,
// which the methods below run through.
func (e *env) job() *dbtest.Env {
	return &dbtest.Env{T: e.t, Dir: e.dir, Primary: primary, SrcDB: e.srcDB, Target: e.target, TargetDB: e.targetDB, Extra: e.extra}
}

// configText is a config.ini for this env (dbtest.Env.ConfigText).
func (e *env) configText() string { return e.job().ConfigText() }

// config writes config.ini and loads it with env overrides, as the CLI does.
func (e *env) config(opts dbsync.RunOptions, environ ...string) (*dbsync.Config, error) {
	e.t.Helper()
	return e.job().Config(opts, environ...)
}

// sync runs one sync and returns the report and error.
func (e *env) sync(opts dbsync.RunOptions, environ ...string) (*dbsync.Report, error) {
	e.t.Helper()
	return e.job().Sync(opts, environ...)
}

func runConfig(t *testing.T, cfg *dbsync.Config) (*dbsync.Report, error) {
	t.Helper()
	return dbtest.RunConfig(t, cfg)
}

func (e *env) mustSync(opts dbsync.RunOptions) *dbsync.Report {
	e.t.Helper()
	return e.job().MustSync(opts)
}

// testLogger sends engine logs to the test log (shown on failure, -v).
func testLogger(t *testing.T) *slog.Logger { return dbtest.Logger(t) }

// testWriter writes to the test's log (dbtest.TestWriter) under the name
// and shape this package's tests use (testWriter{t}).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { return dbtest.TestWriter{T: w.t}.Write(p) }

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

// newRunner is the Runner a test runs: the engine's, with the backends
// that handler wires in.
func newRunner(log *slog.Logger) *dbsync.Runner { return dbtest.NewRunner(log) }

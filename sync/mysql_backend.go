package dbsync

import (
	"context"
	"database/sql"
	"time"
)

// MySQLBackend is the MySQL backend: target = azure (Azure Database for
// MySQL, or any MySQL / MariaDB server) and the primary source. A Runner
// uses it through Runner.MySQL.
type MySQLBackend struct{}

// What the MySQL backend implements of the core's interfaces.
var (
	_ Backend    = MySQLBackend{}
	_ TargetDB   = (*mysqlTarget)(nil)
	_ Merger     = (*mysqlTarget)(nil)
	_ KeyIndexer = (*mysqlTarget)(nil)
	_ Session    = (*mysqlSession)(nil)
	_ SourceRows = (*mysqlRows)(nil)
)

// OpenTarget describes cfg's [azure_mysql] target; nothing is connected
// yet.
func (MySQLBackend) OpenTarget(cfg *Config, o TargetOptions) (TargetDB, error) {
	t := newMySQLTarget(cfg.AzureMySQL, cfg.Sync.HistoryTable, o.Password, o.Log)
	t.parallel, t.runTimeout, t.lockPingEvery = cfg.Sync.Parallel, cfg.Sync.Timeout, o.LockPingEvery
	t.swapTryWait, t.swapTries = o.SwapTryWait, o.SwapTries
	if t.swapTryWait <= 0 {
		t.swapTryWait = 2 * time.Second
	}
	if t.swapTries <= 0 {
		t.swapTries = 10
	}
	return t, nil
}

// OpenSource opens the read-only snapshot session on cfg's primary.
func (MySQLBackend) OpenSource(ctx context.Context, cfg *Config) (Session, error) {
	return connectMySQLSource(ctx, cfg.Source)
}

// Transient classifies the MySQL driver's errors (mysqlTransient).
func (MySQLBackend) Transient(err error) (transient, known bool) { return mysqlTransient(err) }

// Transient classifies the MySQL driver's errors (mysqlTransient).
func (t *mysqlTarget) Transient(err error) (transient, known bool) { return mysqlTransient(err) }

// HelperName is the name of table's helper table of kind "new", "old" or
// "delta" for the run runID on a MySQL target (tests and operators look
// for a run's leftovers by it).
func HelperName(table, kind, runID string) string {
	return helperName(table, "__dbsync_"+kind, runToken(runID))
}

// OpenDB opens a pool to the server of c as a run opens one for a side
// (TLS, time zone, timeouts), for tools and tests.
func OpenDB(c MySQLConfig) (*sql.DB, error) { return newMySQLDB(c, mysqlOptions{}) }

package mysqldb

import (
	"context"
	"database/sql"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
)

// Backend is the MySQL backend: target = azure (Azure Database for
// MySQL, or any MySQL / MariaDB server) and the primary source. A Runner
// uses it through Runner.MySQL.
type Backend struct{}

// What the MySQL backend implements of the core's interfaces.
var (
	_ dbsync.Backend    = Backend{}
	_ dbsync.TargetDB   = (*Target)(nil)
	_ dbsync.Merger     = (*Target)(nil)
	_ dbsync.KeyIndexer = (*Target)(nil)
	_ dbsync.Session    = (*Session)(nil)
	_ dbsync.SourceRows = (*sourceRows)(nil)
)

// OpenTarget describes cfg's [azure_mysql] target; nothing is connected
// yet.
func (Backend) OpenTarget(cfg *dbsync.Config, o dbsync.TargetOptions) (dbsync.TargetDB, error) {
	t := newTarget(cfg.AzureMySQL, cfg.Sync.HistoryTable, o.Password, o.Log)
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
func (Backend) OpenSource(ctx context.Context, cfg *dbsync.Config) (dbsync.Session, error) {
	probe := false
	for _, t := range cfg.RunTables() {
		probe = probe || t.Mode == dbsync.ModeIncremental
	}
	return connectSource(ctx, cfg.Source, probe)
}

// Transient classifies the MySQL driver's errors (classify).
func (Backend) Transient(err error) (transient, known bool) { return classify(err) }

// Transient classifies the MySQL driver's errors (classify).
func (t *Target) Transient(err error) (transient, known bool) { return classify(err) }

// HelperName is the name of table's helper table of kind "new", "old" or
// "delta" for the run runID on a MySQL target (tests and operators look
// for a run's leftovers by it).
func HelperName(table, kind, runID string) string {
	return helperName(table, "__dbsync_"+kind, runToken(runID))
}

// OpenDB opens a pool to the server of c as a run opens one for a side
// (TLS, time zone, timeouts), for tools and tests.
func OpenDB(c dbsync.MySQLConfig) (*sql.DB, error) { return newDB(c, connOptions{}) }

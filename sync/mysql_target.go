package sync

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Load methods.
const (
	LoadData   = "load_data"
	LoadInsert = "insert"
	LoadSQLite = "sqlite"
)

// Target session settings: UTC so TIMESTAMP values keep their instant; a
// fixed sql_mode so that backslash escapes work (no NO_BACKSLASH_ESCAPES),
// bad values are errors (strict), a 0 in an AUTO_INCREMENT column stays 0,
// and zero dates the source holds can be stored as they are.
var targetSessionParams = map[string]string{
	"time_zone": "'+00:00'",
	"sql_mode":  "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'",
}

// mysqlTarget writes Azure Database for MySQL (or any MySQL/MariaDB).
type mysqlTarget struct {
	cfg      AzureMySQLConfig
	history  string
	log      *slog.Logger
	db       *sql.DB
	lockConn *sql.Conn
	runID    string
	method   string
	// swapTryWait and swapTries bound the swap's wait for readers.
	swapTryWait time.Duration
	swapTries   int
}

func openMySQLTarget(ctx context.Context, c AzureMySQLConfig, history string, password PasswordFunc, log *slog.Logger) (*mysqlTarget, error) {
	db, err := newMySQLDB(c.MySQLConfig, mysqlOptions{params: targetSessionParams, password: password})
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", c.Host, err)
	}
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to target %s:%d database %s: %w", c.Host, c.Port, c.Database, explainConnectError("azure_mysql", c.MySQLConfig, err))
	}
	return &mysqlTarget{cfg: c, history: history, log: log, db: db}, nil
}

func (t *mysqlTarget) describe() string {
	return fmt.Sprintf("mysql %s:%d database %s table %s", t.cfg.Host, t.cfg.Port, t.cfg.Database, quoteMySQL(t.cfg.Table))
}

func (t *mysqlTarget) loadMethod() string { return t.method }

// lockName is the GET_LOCK name for the target table; MySQL caps lock
// names at 64 characters, so long ones are hashed.
func (t *mysqlTarget) lockName() string {
	name := "dbsync:" + t.cfg.Database + "." + t.cfg.Table
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "dbsync:" + hex.EncodeToString(sum[:])[:57]
}

// lock takes a named lock on a connection held for the whole run; the
// server releases it when that connection ends, even if this process is
// killed.
func (t *mysqlTarget) lock(ctx context.Context) error {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to target for the run lock: %w", err)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", t.lockName()).Scan(&got); err != nil {
		conn.Close()
		return fmt.Errorf("take run lock %q: %w", t.lockName(), err)
	}
	if got.Int64 != 1 {
		conn.Close()
		return ErrBusy
	}
	t.lockConn = conn
	return nil
}

func (t *mysqlTarget) tableExists(ctx context.Context, name string) (bool, error) {
	var n int
	err := t.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name).Scan(&n)
	return n > 0, err
}

// begin repairs what a killed run may have left: an orphaned old table is
// put back if the target table is missing (no data is ever dropped), then
// leftovers are removed. Then the run is recorded as running.
func (t *mysqlTarget) begin(ctx context.Context, r *Report) error {
	t.runID = r.RunID
	table, old, stage := t.cfg.Table, t.cfg.Table+oldSuffix, t.cfg.Table+stageSuffix
	hasTable, err := t.tableExists(ctx, table)
	if err != nil {
		return fmt.Errorf("inspect target database %s: %w", t.cfg.Database, err)
	}
	hasOld, err := t.tableExists(ctx, old)
	if err != nil {
		return fmt.Errorf("inspect target database %s: %w", t.cfg.Database, err)
	}
	if hasOld && !hasTable {
		t.log.Warn("restoring target table from a previous run's leftover", "from", old, "table", table)
		if _, err := t.db.ExecContext(ctx, "RENAME TABLE "+quoteMySQL(old)+" TO "+quoteMySQL(table)); err != nil {
			return fmt.Errorf("restore %s from %s: %w", table, old, err)
		}
	}
	for _, leftover := range []string{stage, old} {
		if _, err := t.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteMySQL(leftover)); err != nil {
			return fmt.Errorf("drop leftover table %s: %w", leftover, err)
		}
	}
	return t.historyStore().start(ctx, r, t.log)
}

// historyStore is the history table in the target database.
func (t *mysqlTarget) historyStore() historyStore {
	return historyStore{db: t.db, name: t.history, where: "database " + t.cfg.Database, dialect: mysqlHistory}
}

func (t *mysqlTarget) finish(ctx context.Context, r *Report) error {
	return t.historyStore().finish(ctx, r)
}

// columns reads a table's columns from information_schema.
func (t *mysqlTarget) columns(ctx context.Context, table string) ([]targetColumn, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT IS NULL, EXTRA, COALESCE(GENERATION_EXPRESSION, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []targetColumn
	for rows.Next() {
		var name, dataType, nullable, extra, genExpr string
		var noDefault bool
		if err := rows.Scan(&name, &dataType, &nullable, &noDefault, &extra, &genExpr); err != nil {
			return nil, err
		}
		extra = strings.ToUpper(extra)
		generated := genExpr != "" || strings.Contains(extra, "GENERATED") || strings.Contains(extra, "VIRTUAL") || strings.Contains(extra, "PERSISTENT") || strings.Contains(extra, "STORED")
		cols = append(cols, targetColumn{
			name: name, dataType: strings.ToLower(dataType), generated: generated,
			required: nullable == "NO" && noDefault && !generated && !strings.Contains(extra, "AUTO_INCREMENT"),
		})
	}
	return cols, rows.Err()
}

// exactTyper is a source that can tell the exact MySQL types of its columns.
type exactTyper interface {
	exactTypes(ctx context.Context) error
}

func (t *mysqlTarget) stage(ctx context.Context, src rowReader, policy string) (int64, error) {
	table, stage := t.cfg.Table, t.cfg.Table+stageSuffix
	if _, err := t.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteMySQL(stage)); err != nil {
		return 0, fmt.Errorf("drop leftover %s: %w", stage, err)
	}
	existing, err := t.columns(ctx, table)
	if err != nil {
		return 0, fmt.Errorf("read columns of target table %s: %w", quoteMySQL(table), err)
	}
	srcCols := src.Columns()
	createFromSource := len(existing) == 0
	if !createFromSource {
		if _, diffs := matchColumns(srcCols, existing); len(diffs) > 0 {
			if policy != SchemaRecreate {
				return 0, &SchemaError{Table: table, Differences: diffs}
			}
			t.log.Warn("on_schema_change = recreate: rebuilding the table from the source's column types", "table", table, "differences", strings.Join(diffs, "; "))
			createFromSource = true
		}
	}
	if createFromSource {
		if p, ok := src.(exactTyper); ok {
			if err := p.exactTypes(ctx); err != nil {
				t.log.Warn("cannot read the source's exact column types (needs CREATE TEMPORARY TABLES on the primary); deriving them from result metadata", "error", err.Error())
			}
		}
		defs := make([]string, len(srcCols))
		for i, c := range srcCols {
			d, err := c.mysqlDefinition()
			if err != nil {
				return 0, err
			}
			defs[i] = quoteMySQL(c.Name) + " " + d
		}
		if _, err := t.db.ExecContext(ctx, "CREATE TABLE "+quoteMySQL(stage)+" (\n  "+strings.Join(defs, ",\n  ")+"\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"); err != nil {
			return 0, fmt.Errorf("create staging table %s from the source's column types: %w", stage, err)
		}
	} else {
		if _, err := t.db.ExecContext(ctx, "CREATE TABLE "+quoteMySQL(stage)+" LIKE "+quoteMySQL(table)); err != nil {
			return 0, fmt.Errorf("create staging table %s like %s: %w", stage, table, err)
		}
	}
	stageCols, err := t.columns(ctx, stage)
	if err != nil {
		return 0, fmt.Errorf("read columns of staging table: %w", err)
	}
	order, _ := matchColumns(srcCols, stageCols)
	plan := loadPlan{table: stage}
	for i, c := range srcCols {
		dst := stageCols[order[i]]
		plan.columns = append(plan.columns, loadColumn{name: dst.name, mode: encodingFor(c.Kind, dst.dataType)})
	}

	conn, err := t.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("connect to target for loading: %w", err)
	}
	defer conn.Close()
	var localInfile sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&localInfile); err != nil {
		return 0, fmt.Errorf("read local_infile on target: %w", err)
	}
	if on := localInfile.String == "1" || strings.EqualFold(localInfile.String, "ON"); on {
		t.method = LoadData
		n, err := loadDataLocal(ctx, conn, plan, src, t.runID)
		if !errors.Is(err, errLocalInfileRefused) {
			return n, err
		}
		// The server said ON but refused (a proxy, or a per-user limit):
		// nothing was read from src yet, so the INSERT path can take over.
		t.log.Warn("target refused LOAD DATA LOCAL; loading with INSERT", "error", err.Error())
	}
	t.method = LoadInsert
	return insertRows(ctx, conn, plan, src)
}

func (t *mysqlTarget) discard(ctx context.Context) {
	if _, err := t.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+quoteMySQL(t.cfg.Table+stageSuffix)); err != nil {
		t.log.Warn("could not drop the staging table; the next run drops it", "table", t.cfg.Table+stageSuffix, "error", err.Error())
	}
}

// swap renames in one statement, which MySQL performs atomically: readers
// see the old table or the new one, never neither. RENAME waits for the
// metadata locks of transactions that read the table, and new readers
// queue behind it; so each attempt waits at most swapTryWait
// (lock_wait_timeout), then steps back to let readers through, up to
// swapTries attempts. It returns the time spent waiting.
func (t *mysqlTarget) swap(ctx context.Context) (time.Duration, error) {
	table, old, stage := quoteMySQL(t.cfg.Table), quoteMySQL(t.cfg.Table+oldSuffix), quoteMySQL(t.cfg.Table+stageSuffix)
	exists, err := t.tableExists(ctx, t.cfg.Table)
	if err != nil {
		return 0, fmt.Errorf("swap %s: %w", table, err)
	}
	rename := "RENAME TABLE " + stage + " TO " + table
	if exists {
		rename = "RENAME TABLE " + table + " TO " + old + ", " + stage + " TO " + table
	}
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("swap %s: %w", table, err)
	}
	defer conn.Close()
	wait := max(1, int(t.swapTryWait.Round(time.Second)/time.Second))
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", wait)); err != nil {
		return 0, fmt.Errorf("swap %s: %w", table, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION lock_wait_timeout = DEFAULT")
	start := time.Now()
	for try := 1; ; try++ {
		_, err = conn.ExecContext(ctx, rename)
		if err == nil {
			break
		}
		if mysqlErrorNumber(err) != 1205 || try >= t.swapTries || ctx.Err() != nil {
			waited := time.Since(start)
			if mysqlErrorNumber(err) == 1205 {
				return waited, fmt.Errorf("swap %s: readers held the table for %.0f s over %d attempts, so the new rows were not swapped in and the table is unchanged (look for long transactions reading it: SHOW PROCESSLIST): %w", table, waited.Seconds(), try, err)
			}
			return waited, fmt.Errorf("swap %s: %w", table, err)
		}
		t.log.Warn("swap waited for readers of the table; stepping back and retrying", "attempt", try, "waited_ms", time.Since(start).Milliseconds())
		select {
		case <-time.After(time.Duration(try) * 200 * time.Millisecond):
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("swap %s: %w", table, ctx.Err())
		}
	}
	waited := time.Since(start)
	if exists {
		if _, err := conn.ExecContext(ctx, "DROP TABLE "+old); err != nil {
			// The new data is in place; the next run drops the leftover.
			t.log.Warn("could not drop the previous table after the swap", "table", t.cfg.Table+oldSuffix, "error", err.Error())
		}
	}
	return waited, nil
}

func (t *mysqlTarget) close() {
	if t.lockConn != nil {
		_, _ = t.lockConn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", t.lockName())
		t.lockConn.Close()
	}
	t.db.Close()
}

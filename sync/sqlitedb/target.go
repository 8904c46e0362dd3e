package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
)

// Target writes a SQLite file. The whole run — staging, verify, swap —
// is one transaction, so a crash leaves the file as it was.
type Target struct {
	path, history string
	// realPath is path with symlinks resolved: the file that is locked
	// and opened, whichever name a config gives it.
	realPath string
	log      *slog.Logger
	db       *sql.DB
	lockFile *os.File
	// conn holds the run's transaction (BEGIN IMMEDIATE … COMMIT), from
	// the first stage to the swap; nil outside it. mu lets one table at a
	// time use it.
	conn    *sql.Conn
	mu      sync.Mutex
	staged  []staged
	readers []*sql.DB // read-only handles of check and history, closed by close
	// runID and watermarks: the incremental tables' new watermarks, written
	// into the run's history rows inside its one transaction
	// (incremental.go).
	runID      string
	watermarks dbsync.WatermarkQueue
}

// staged is one table staged in the run's transaction.
type staged struct {
	table       string
	exists      bool
	recreateSQL []string // the table's indexes and triggers, re-created after the swap
}

// Backend is the SQLite backend: target = sqlite and the fallback
// source. A Runner uses it through Runner.SQLite.
type Backend struct{}

var _ dbsync.Backend = Backend{}

// The target is a whole target of the core's: it stages, merges and
// checks its key's index (keyindex.go).
var (
	_ dbsync.TargetDB   = (*Target)(nil)
	_ dbsync.Merger     = (*Target)(nil)
	_ dbsync.KeyIndexer = (*Target)(nil)
)

// OpenTarget describes cfg's SQLite target.
func (Backend) OpenTarget(cfg *dbsync.Config, o dbsync.TargetOptions) (dbsync.TargetDB, error) {
	return newTarget(cfg.SQLite, cfg.Sync.HistoryTable, o.Log), nil
}

// OpenSource opens cfg's fallback database read-only.
func (Backend) OpenSource(ctx context.Context, cfg *dbsync.Config) (dbsync.Session, error) {
	s, err := openSession(ctx, cfg.Fallback.Path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Transient: no error of the SQLite driver is worth another try (a busy
// database waits for busy_timeout already); the core's shared rules
// classify the rest.
func (Backend) Transient(error) (transient, known bool) { return false, false }

// Transient is Backend.Transient.
func (t *Target) Transient(err error) (transient, known bool) { return Backend{}.Transient(err) }

// newTarget describes the SQLite target of c; connect checks its
// path, and lock opens it.
func newTarget(c dbsync.SQLiteConfig, history string, log *slog.Logger) *Target {
	return &Target{path: c.Path, history: history, log: log}
}

func (t *Target) Connect(context.Context) (bool, error) {
	dir := filepath.Dir(t.path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false, fmt.Errorf("sqlite target [sqlite] path = %s: folder %s does not exist; create it first", t.path, dir)
	}
	if st, err := os.Stat(t.path); err == nil && st.IsDir() {
		return false, fmt.Errorf("sqlite target [sqlite] path = %s: is a directory, not a SQLite file", t.path)
	}
	real, err := resolveSymlinks(t.path)
	if err != nil {
		return false, fmt.Errorf("sqlite target [sqlite] path = %s: resolve symlinks: %w", t.path, err)
	}
	t.realPath = real
	return false, nil
}

// GuardKey is the file, by its absolute path, and the table.
func (t *Target) GuardKey(table string) string {
	p, err := filepath.Abs(t.path)
	if err != nil {
		p = t.path
	}
	return "sqlite:" + p + ":" + table
}

// Probe checks that the target's folder takes new files (the journal, or
// the file itself on the first run).
func (t *Target) Probe(context.Context) (string, error) {
	dir := filepath.Dir(t.path)
	f, err := os.CreateTemp(dir, ".dbsync-check-*")
	if err != nil {
		return "", fmt.Errorf("sqlite target folder %s is not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return fmt.Sprintf("sqlite %s, folder writable", t.path), nil
}

// readOnly opens the file read-only for check and history; nil when it
// does not exist yet.
func (t *Target) readOnly() (*sql.DB, error) {
	if _, err := os.Stat(t.path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	db, err := Open(t.path, true)
	if err != nil {
		return nil, fmt.Errorf("open sqlite target %s: %w", t.path, err)
	}
	return db, nil
}

func (t *Target) TableColumns(ctx context.Context, table string) ([]dbsync.TargetColumn, error) {
	db, err := t.readOnly()
	if db == nil || err != nil {
		return nil, err
	}
	defer db.Close()
	cols, _, err := t.columns(ctx, db, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s in %s: %w", quote(table), t.path, err)
	}
	return cols, nil
}

// OpenHistory reads the history table through a read-only handle that close
// closes; a run's own handle (t.db) is not touched.
func (t *Target) OpenHistory(_ context.Context, write bool) (dbsync.HistoryStore, bool, error) {
	open := t.readOnly
	if write {
		open = func() (*sql.DB, error) {
			db, err := Open(t.path, false)
			if err != nil {
				return nil, fmt.Errorf("open sqlite target %s: %w", t.path, err)
			}
			return db, nil
		}
	}
	db, err := open()
	if db == nil || err != nil {
		return dbsync.HistoryStore{}, false, err
	}
	t.readers = append(t.readers, db)
	return dbsync.HistoryStore{Db: db, Name: t.history, Where: t.path, Dialect: history}, true, nil
}

// resolveSymlinks returns the absolute path of the file path names, with
// every symlink resolved, also when the file does not exist yet (a
// dangling link is followed to where the file will be made). Two runs
// whose configs reach one file by different names so take one lock.
func resolveSymlinks(path string) (string, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for range 40 { // the kernel's own limit on links in a path
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return real, nil
		}
		st, err := os.Lstat(path)
		switch {
		case err == nil && st.Mode()&os.ModeSymlink != 0:
			// A link to a file not made yet: follow it by hand.
			dest, err := os.Readlink(path)
			if err != nil {
				return "", err
			}
			if !filepath.IsAbs(dest) {
				dest = filepath.Join(filepath.Dir(path), dest)
			}
			path = dest
		case err == nil || errors.Is(err, os.ErrNotExist):
			dir, err := filepath.EvalSymlinks(filepath.Dir(path))
			if err != nil {
				return "", err
			}
			return filepath.Join(dir, filepath.Base(path)), nil
		default:
			return "", err
		}
	}
	return "", fmt.Errorf("too many levels of symbolic links in %s", path)
}

func (t *Target) Describe() string {
	return "sqlite " + t.path
}

// Lock takes an exclusive flock on a side file. Not on the database file
// itself: closing any descriptor of that file would drop SQLite's own POSIX
// locks. The side file sits beside the real file, symlinks resolved, so a
// symlinked path and the real one share it. The one lock covers every
// table in the file.
func (t *Target) Lock(ctx context.Context, _ []string) error {
	f, err := os.OpenFile(t.lockPath(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open lock file for %s: %w", t.path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return dbsync.ErrBusy
		}
		return fmt.Errorf("lock %s: %w", t.path, err)
	}
	t.lockFile = f
	db, err := Open(t.realPath, false)
	if err != nil {
		return fmt.Errorf("open sqlite target %s: %w", t.path, err)
	}
	t.db = db
	return nil
}

// lockPath is the side file lock takes its flock on.
func (t *Target) lockPath() string { return t.realPath + ".dbsync-lock" }

// checkLock proves, before the swap, that the run still holds its lock: a
// flock lasts as long as its open file and cannot be taken away, but it
// locks that file only. Once the file at lockPath was removed or replaced
// (by hand, by a clean-up job), another run can lock a new file by that
// name and run beside this one, so this run fails without committing. Its
// one transaction keeps another run from writing at the same time anyway,
// so what remains between this check and the COMMIT cannot mix two runs'
// rows.
func (t *Target) checkLock() error {
	if t.lockFile == nil {
		return nil
	}
	held, err := t.lockFile.Stat()
	if err == nil {
		var now os.FileInfo
		if now, err = os.Stat(t.lockPath()); err == nil && !os.SameFile(held, now) {
			err = errors.New("another file has its name now")
		}
	}
	if err != nil {
		return fmt.Errorf("run lock file %s of %s was removed or replaced during the run (%v), so another run may have taken a lock of its own: this run did not swap, and %s is unchanged. "+
			"If another run is going, nothing needs doing; never remove a .dbsync-lock file while dbsync may run", t.lockPath(), t.path, err, t.path)
	}
	return nil
}

// Begin: a SQLite run stages and swaps in one transaction, so a crashed
// run left nothing behind to clean up.
func (t *Target) Begin(_ context.Context, runID string, _ dbsync.Target, _ []string) error {
	t.runID = runID
	return nil
}

// HistoryStore is the history table in the SQLite file.
func (t *Target) historyStore() dbsync.HistoryStore {
	return dbsync.HistoryStore{Db: t.db, Name: t.history, Where: t.path, Dialect: history}
}

func (t *Target) RunHistory() dbsync.HistoryStore { return t.historyStore() }

// columns reads the target table's columns; exists is false when there is
// no such table.
func (t *Target) columns(ctx context.Context, q dbsync.Queryer, table string) (cols []dbsync.TargetColumn, exists bool, err error) {
	rows, err := q.QueryContext(ctx, `SELECT "name","type","notnull","dflt_value","pk","hidden" FROM pragma_table_xinfo(?)`, table)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		var notNull, pk, hidden int
		var dflt sql.NullString
		if err := rows.Scan(&name, &typ, &notNull, &dflt, &pk, &hidden); err != nil {
			return nil, false, err
		}
		rowidAlias := pk == 1 && strings.EqualFold(typ, "INTEGER")
		cols = append(cols, dbsync.TargetColumn{
			Name: name, DataType: strings.ToLower(typ),
			Generated: hidden == 2 || hidden == 3,
			Required:  notNull == 1 && !dflt.Valid && !rowidAlias && hidden == 0,
		})
	}
	return cols, len(cols) > 0, rows.Err()
}

// Stage loads table in the run's one transaction, which the first table
// begins; tables take turns on it.
func (t *Target) Stage(ctx context.Context, table string, src dbsync.SourceRows, policy string) (int64, string, error) {
	return t.StageKeepingKey(ctx, table, src, policy, nil)
}

func (t *Target) TargetColumns(ctx context.Context, table string) ([]dbsync.TargetColumn, error) {
	cols, _, err := t.columns(ctx, t.reader(), table)
	return cols, err
}

func (t *Target) StageKeepingKey(ctx context.Context, table string, src dbsync.SourceRows, policy string, key []string) (int64, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		tx, err := t.db.Conn(ctx)
		if err != nil {
			return 0, dbsync.LoadSQLite, fmt.Errorf("open %s: %w", t.path, explainError(err))
		}
		if _, err := tx.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			tx.Close()
			return 0, dbsync.LoadSQLite, fmt.Errorf("begin transaction on %s: %w", t.path, explainError(err))
		}
		t.conn = tx
	}
	tx := t.conn
	stage := table + dbsync.StageSuffix
	// The staging table lives only inside this transaction: a crash rolls
	// it back, so one that exists now was not made by dbsync, and dbsync
	// never drops a table it did not make.
	var found int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE "name" = ? COLLATE NOCASE`, stage).Scan(&found); err != nil {
		return 0, dbsync.LoadSQLite, fmt.Errorf("inspect %s: %w", t.path, explainError(err))
	}
	if found > 0 {
		return 0, dbsync.LoadSQLite, fmt.Errorf("table %s exists in %s but was not made by dbsync (dbsync builds the new rows under that name inside its transaction, so it never leaves one behind), and dbsync never drops a table it did not make; rename or drop %s, or sync into another target table",
			quote(stage), t.path, quote(stage))
	}
	dst, exists, err := t.columns(ctx, tx, table)
	if err != nil {
		return 0, dbsync.LoadSQLite, fmt.Errorf("read columns of %s: %w", quote(table), err)
	}
	st := staged{table: table, exists: exists}
	srcCols := src.Columns()
	plan, err := dbsync.PlanStage(table, srcCols, dst, policy, t.log)
	if err != nil {
		return 0, dbsync.LoadSQLite, err
	}
	if plan.FromSource {
		defs := make([]string, len(srcCols))
		for i, c := range srcCols {
			defs[i] = quote(c.Name) + " " + definition(c)
		}
		defs = dbsync.WithPrimaryKey(defs, srcCols, key, quote)
		if _, err := tx.ExecContext(ctx, "CREATE TABLE "+quote(stage)+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return 0, dbsync.LoadSQLite, fmt.Errorf("create staging table %s: %w", stage, err)
		}
	} else {
		if st.recreateSQL, err = copyDefinition(ctx, tx, table, stage); err != nil {
			return 0, dbsync.LoadSQLite, err
		}
	}
	t.staged = append(t.staged, st)
	names := make([]string, len(srcCols))
	for i, c := range srcCols {
		names[i] = quote(c.Name)
		if !plan.FromSource {
			names[i] = quote(dst[plan.Order[i]].Name)
		}
	}
	n, err := insertRows(ctx, tx, stage, names, src)
	if err != nil {
		return 0, dbsync.LoadSQLite, err
	}
	var staged int64
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quote(stage)).Scan(&staged); err != nil {
		return 0, dbsync.LoadSQLite, fmt.Errorf("count staged rows: %w", err)
	}
	if staged != n {
		return 0, dbsync.LoadSQLite, fmt.Errorf("verify %s: staged %d rows but read %d", stage, staged, n)
	}
	return staged, dbsync.LoadSQLite, nil
}

// copyDefinition creates the staging table with the target's own CREATE
// TABLE text, and returns its indexes and triggers for after the swap.
func copyDefinition(ctx context.Context, tx *sql.Conn, table, stage string) ([]string, error) {
	var createSQL string
	if err := tx.QueryRowContext(ctx, `SELECT "sql" FROM sqlite_master WHERE "type"='table' AND "name"=?`, table).Scan(&createSQL); err != nil {
		return nil, fmt.Errorf("read definition of %s: %w", quote(table), err)
	}
	body, err := afterTableName(createSQL)
	if err != nil {
		return nil, fmt.Errorf("read definition of %s: %w", quote(table), err)
	}
	if _, err := tx.ExecContext(ctx, "CREATE TABLE "+quote(stage)+body); err != nil {
		return nil, fmt.Errorf("create staging table %s like %s: %w", stage, table, err)
	}
	recreate, err := dbsync.QueryStrings(ctx, tx, `SELECT "sql" FROM sqlite_master WHERE "tbl_name"=? AND "type" IN ('index','trigger') AND "sql" IS NOT NULL ORDER BY "type"`, table)
	if err != nil {
		return nil, fmt.Errorf("read indexes of %s: %w", quote(table), err)
	}
	return recreate, nil
}

// afterTableName returns what follows the table name in a CREATE TABLE
// statement as sqlite_master stores it ("CREATE TABLE name (…)").
func afterTableName(createSQL string) (string, error) {
	const prefix = "CREATE TABLE "
	if !strings.HasPrefix(strings.ToUpper(createSQL), prefix) {
		return "", fmt.Errorf("unexpected definition %.40q", createSQL)
	}
	s := strings.TrimLeft(createSQL[len(prefix):], " \t\n")
	if s == "" {
		return "", errors.New("empty definition")
	}
	closer := map[byte]byte{'"': '"', '`': '`', '[': ']', '\'': '\''}[s[0]]
	if closer == 0 {
		i := strings.IndexAny(s, " \t\n(")
		if i < 0 {
			return "", fmt.Errorf("unexpected definition %.40q", createSQL)
		}
		return s[i:], nil
	}
	for i := 1; i < len(s); i++ {
		if s[i] == closer {
			if i+1 < len(s) && s[i+1] == closer && closer != ']' {
				i++
				continue
			}
			return s[i+1:], nil
		}
	}
	return "", fmt.Errorf("unterminated table name in %.40q", createSQL)
}

// insertRows loads src into table (a staging table, or a merge's delta
// table) with prepared multi-row INSERTs on the run's connection: the one
// bulk insert of the SQLite target. One goroutine reads and converts the
// next batch of rows while this one executes the current batch, so reading
// the source and writing SQLite overlap on two cores, and memory is two
// batches whatever the row count. The statements run on the driver's
// connection directly: database/sql would check and convert every one of
// the values again, which costs more than the conversion itself.
//
// Each batch takes the connection for its INSERT only (one conn.Raw per
// batch), never for the whole load: a merge's delta comes from a compare
// that reads the target table on this same connection, and database/sql
// locks the connection for each read (Rows.Next) as Raw does for its
// call, so the filler's reads and the INSERTs take turns on it between
// batches, inside the run's one transaction. A Raw held across the load
// would leave the filler waiting on it for ever.
func insertRows(ctx context.Context, conn *sql.Conn, table string, names []string, src dbsync.RowReader) (int64, error) {
	cols := src.Columns()
	perStmt := max(1, min(200, 32766/len(cols)))
	placeholders := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	prefix := "INSERT INTO " + quote(table) + " (" + strings.Join(names, ",") + ") VALUES "
	statement := func(rows int) string {
		return prefix + strings.TrimSuffix(strings.Repeat(placeholders+",", rows), ",")
	}

	var sent int64
	fill := func(args []driver.NamedValue) ([]driver.NamedValue, int, error) {
		args = args[:0]
		added := 0
		for src.Next() {
			for i, cell := range src.Values() {
				v, err := value(cols[i], cell)
				if err != nil {
					return args, added, err
				}
				args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
			}
			added++
			sent++
			if len(args) == cap(args) {
				return args, added, nil
			}
		}
		if err := src.Err(); err != nil {
			return args, added, dbsync.AsSourceError(err)
		}
		return args, added, io.EOF
	}
	pipe := dbsync.NewBatchPipeline(ctx, make([]driver.NamedValue, 0, perStmt*len(cols)), make([]driver.NamedValue, 0, perStmt*len(cols)), fill)

	// The prepared statements by their number of rows: the full batch's,
	// and the last, shorter one's. They belong to the driver's connection,
	// which conn keeps for the run, and are used only inside Raw.
	stmts := map[int]driver.StmtExecContext{}
	closers := []driver.Stmt{}
	exec := func(args []driver.NamedValue) error {
		return conn.Raw(func(dc any) error {
			rows := len(args) / len(cols)
			stmt, ok := stmts[rows]
			if !ok {
				prep, ok := dc.(driver.ConnPrepareContext)
				if !ok {
					return errors.New("sqlite driver cannot prepare statements")
				}
				st, err := prep.PrepareContext(ctx, statement(rows))
				if err != nil {
					return fmt.Errorf("prepare insert into %s: %w", table, err)
				}
				closers = append(closers, st)
				if stmt, ok = st.(driver.StmtExecContext); !ok {
					return errors.New("sqlite driver statement cannot execute with a context")
				}
				stmts[rows] = stmt
			}
			if _, err := stmt.ExecContext(ctx, args); err != nil {
				return fmt.Errorf("insert into %s: %w", table, explainError(err))
			}
			return nil
		})
	}
	var execErr error
	for args, ok := pipe.Next(); ok; args, ok = pipe.Next() {
		if execErr = exec(args); execErr != nil {
			break
		}
		clear(args) // drop references to this batch's values
		pipe.Release(args)
	}
	err := pipe.Wait(execErr)
	_ = conn.Raw(func(any) error {
		for _, st := range closers {
			st.Close()
		}
		return nil
	})
	return sent, err
}

// never a silent change.
func value(c dbsync.Column, cell []byte) (any, error) {
	if cell == nil {
		return nil, nil
	}
	switch c.Kind {
	case dbsync.KindInt, dbsync.KindYear:
		if v, err := strconv.ParseInt(string(cell), 10, 64); err == nil {
			return v, nil
		}
		return string(cell), nil // a SQLite source's text in an INTEGER column stays text
	case dbsync.KindUint:
		v, err := strconv.ParseUint(string(cell), 10, 64)
		if err != nil {
			return string(cell), nil
		}
		if v > math.MaxInt64 {
			return nil, fmt.Errorf("column %s: value %d does not fit SQLite's signed 64-bit INTEGER", quote(c.Name), v)
		}
		return int64(v), nil
	case dbsync.KindBit:
		if len(cell) > 8 {
			return nil, fmt.Errorf("column %s: BIT value of %d bytes does not fit SQLite's INTEGER", quote(c.Name), len(cell))
		}
		var v uint64
		for _, b := range cell {
			v = v<<8 | uint64(b)
		}
		if v > math.MaxInt64 {
			return nil, fmt.Errorf("column %s: BIT value %d does not fit SQLite's signed 64-bit INTEGER", quote(c.Name), v)
		}
		return int64(v), nil
	case dbsync.KindFloat, dbsync.KindDouble:
		if v, err := strconv.ParseFloat(string(cell), 64); err == nil {
			return v, nil
		}
		return string(cell), nil
	case dbsync.KindBinary:
		return append([]byte{}, cell...), nil
	}
	return string(cell), nil
}

// Discard rolls back the run's transaction, and with it every staged
// table.
func (t *Target) Discard(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.staged = nil
	t.watermarks.Reset()
	if t.conn != nil {
		_, _ = t.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		t.conn.Close()
		t.conn = nil
	}
}

// Swap drops each old table and renames its staging table in the
// transaction that loaded them, and commits once: readers see every table
// old or every table new. legacy_alter_table keeps SQLite from rewriting
// views and triggers that name a table: after the rename the name exists
// again, so they keep working.
func (t *Target) Swap(ctx context.Context) (time.Duration, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tx := t.conn
	if tx == nil {
		return 0, nil
	}
	stmts := []string{`PRAGMA legacy_alter_table=ON`}
	var names []string
	for _, st := range t.staged {
		names = append(names, quote(st.table))
		if st.exists {
			stmts = append(stmts, `DROP TABLE `+quote(st.table))
		}
		stmts = append(stmts, `ALTER TABLE `+quote(st.table+dbsync.StageSuffix)+` RENAME TO `+quote(st.table))
		stmts = append(stmts, st.recreateSQL...)
	}
	what := strings.Join(names, ", ")
	if err := t.checkLock(); err != nil {
		return 0, err
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return 0, fmt.Errorf("swap %s: %w", what, err)
		}
	}
	if err := t.watermarks.Write(ctx, tx, t.historyStore(), t.runID, func(err error) error { return fmt.Errorf("in %s: %w", t.path, explainError(err)) }); err != nil {
		return 0, err
	}
	// Readers only delay the commit (busy_timeout), which is measured.
	start := time.Now()
	if _, err := tx.ExecContext(ctx, "COMMIT"); err != nil {
		return time.Since(start), fmt.Errorf("commit swap of %s in %s: %w", what, t.path, explainError(err))
	}
	waited := time.Since(start)
	_, _ = tx.ExecContext(ctx, `PRAGMA legacy_alter_table=OFF`)
	tx.Close()
	t.conn, t.staged = nil, nil
	return waited, nil
}

func (t *Target) Close() {
	t.Discard(context.Background())
	if t.db != nil {
		t.db.Close()
	}
	for _, db := range t.readers {
		db.Close()
	}
	if t.lockFile != nil {
		t.lockFile.Close() // releases the flock
	}
}

// explainError adds what to do to the file errors an operator meets.
func explainError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "SQLITE_FULL"):
		return fmt.Errorf("%w (the disk is full: free space; the previous replica is unchanged)", err)
	case strings.Contains(msg, "readonly database") || strings.Contains(msg, "SQLITE_READONLY"):
		return fmt.Errorf("%w (the file or its folder is read-only: dbsync needs to write the file and a journal beside it)", err)
	case strings.Contains(msg, "unable to open database file") || strings.Contains(msg, "SQLITE_CANTOPEN"):
		return fmt.Errorf("%w (check the path exists and is writable)", err)
	}
	return err
}

// StagePlan: SQLite creates a table's indexes after its rows are in,
// inside the run's transaction.
func (t *Target) StagePlan(table string) string {
	for _, st := range t.staged {
		if st.table != table {
			continue
		}
		for _, s := range st.recreateSQL {
			if u := strings.ToUpper(s); strings.HasPrefix(u, "CREATE INDEX") || strings.HasPrefix(u, "CREATE UNIQUE INDEX") {
				return dbsync.PlanDeferredIndexes
			}
		}
		return dbsync.PlanIndexed
	}
	return ""
}

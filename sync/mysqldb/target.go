package mysqldb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	dbsync "github.com/dbsync/dbsync/sync"
)

// Target session settings: UTC so TIMESTAMP values keep their instant; a
// fixed sql_mode so that backslash escapes work (no NO_BACKSLASH_ESCAPES),
// bad values are errors (strict), a 0 in an AUTO_INCREMENT column stays 0,
// and zero dates the source holds can be stored as they are.
var targetSessionParams = map[string]string{
	"time_zone": "'+00:00'",
	"sql_mode":  "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'",
}

// Target writes Azure Database for MySQL (or any MySQL/MariaDB).
type Target struct {
	cfg      dbsync.AzureMySQLConfig
	history  string
	password passwordFunc // nil: the configured password
	log      *slog.Logger
	db       *sql.DB
	lockConn *sql.Conn
	locks    []string // the GET_LOCK names lockConn holds
	// lockTables are the tables of locks, in the same order.
	lockTables []string
	// lockMu serialises the statements on lockConn (the keep-alive, the
	// checks, the RENAME); lockLost, once set, says why the locks are gone.
	lockMu   sync.Mutex
	lockLost error
	// runTimeout is the run's [sync] timeout: the lock connection's
	// wait_timeout outlasts it. lockPingEvery is how often the keep-alive
	// checks the locks (default 30 s); stopPing ends it.
	runTimeout    time.Duration
	lockPingEvery time.Duration
	stopPing      func()
	runID         string
	// runTables are the run's tables as its history rows name them.
	runTables []string
	// lowerCaseNames: the server runs with lower_case_table_names = 1
	// (Azure Database for MySQL's only setting), so it stores table names
	// in lower case.
	lowerCaseNames bool
	// parallel is how many tables may be staged at once.
	parallel int
	mu       sync.Mutex
	staged   []*stagedTable  // the tables stage was called for
	merges   []*pendingMerge // merged tables waiting for the swap's transaction
	// watermarks are the incremental tables' new watermarks, written in
	// the merges' transaction (incremental_target.go).
	watermarks dbsync.WatermarkQueue
	loads      atomic.Int64 // LOAD DATA statements started
	// swapTryWait and swapTries bound the swap's wait for readers.
	swapTryWait time.Duration
	swapTries   int
}

// stagedTable is one table's staging table.
type stagedTable struct {
	table string
	// made: this run created the staging table (so discard may drop it
	// even before it carries its mark); comment is the comment it must
	// have when it becomes the target table.
	made    bool
	comment string
	// deferred: the staging table is loaded without its secondary indexes
	// (deferred_indexes.go); nil when they are in place. loaded: a load
	// ran, so the plan is known.
	deferred *deferredIndexes
	loaded   bool
}

// newTarget describes the MySQL target of c; connect reaches it.
func newTarget(c dbsync.AzureMySQLConfig, history string, password passwordFunc, log *slog.Logger) *Target {
	return &Target{cfg: c, history: history, password: password, log: log}
}

func (t *Target) Connect(ctx context.Context) (bool, error) {
	c := t.cfg
	if c.Auth == dbsync.AuthEntra && t.password == nil {
		return false, errors.New("[azure_mysql] auth = entra needs an Azure identity, and none is set up in this process")
	}
	t.log.Info("connecting to target", "host", c.Host, "port", c.Port, "database", c.Database, "ssl_mode", string(c.SSLMode), "auth", c.Auth)
	db, err := newDB(c.MySQLConfig, connOptions{params: targetSessionParams, password: t.password})
	if err != nil {
		return false, fmt.Errorf("target %s: %w", c.Host, err)
	}
	// The run lock and the merge transaction, and per table being staged
	// its load streams, a metadata connection and a merge's reader.
	db.SetMaxOpenConns(2 + max(1, t.parallel)*(max(1, c.LoadStreams)+2))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return false, fmt.Errorf("connect to target %s:%d database %s: %w", c.Host, c.Port, c.Database, explainConnectError("azure_mysql", c.MySQLConfig, err))
	}
	var lctn int
	if err := db.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&lctn); err != nil {
		db.Close()
		return false, fmt.Errorf("read lower_case_table_names on target %s: %w", c.Host, err)
	}
	plain, err := unencrypted(ctx, db, c.SSLMode)
	if err != nil {
		db.Close()
		return false, fmt.Errorf("read the TLS state of the target session: %w", err)
	}
	t.db, t.lowerCaseNames = db, lctn == 1
	return plain, nil
}

// GuardKey is the server, database and table, as the config names them.
func (t *Target) GuardKey(table string) string {
	return "azure:" + net.JoinHostPort(t.cfg.Host, strconv.Itoa(t.cfg.Port)) + "/" + t.cfg.Database + "/" + table
}

// stored is a table name as the server stores it. With
// lower_case_table_names = 1, MySQL "converts all table names to lowercase
// on storage and lookup" (https://dev.mysql.com/doc/refman/8.0/en/identifier-case-sensitivity.html),
// so a mixed-case [azure_mysql] table names the lower-case table. Lookups in
// information_schema then compare case-insensitively on MySQL 8
// (https://dev.mysql.com/doc/refman/8.0/en/charset-collation-information-schema.html:
// "a lower_case_table_names setting of 1 or 2" makes TABLE_NAME = 'TEST'
// match 'test'); passing the stored name matches exactly on MySQL 8 and
// MariaDB alike, whatever collation the lookup uses.
func (t *Target) stored(name string) string {
	if t.lowerCaseNames {
		return strings.ToLower(name)
	}
	return name
}

func (t *Target) Describe() string {
	return fmt.Sprintf("mysql %s:%d database %s", t.cfg.Host, t.cfg.Port, t.cfg.Database)
}

// lockName is the GET_LOCK name for a target table; MySQL caps lock
// names at 64 characters, so long ones are hashed.
func (t *Target) lockName(table string) string {
	name := "dbsync:" + t.cfg.Database + "." + t.stored(table)
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "dbsync:" + hex.EncodeToString(sum[:])[:57]
}

// Lock takes a named lock per table, in the order given, on a connection
// held for the whole run; the server releases them when that connection
// ends, even if this process is killed. One lock held elsewhere ends the
// connection, and so releases those already taken.
//
// The connection does nothing else until the swap, so the server's
// wait_timeout would close it, and the locks with it, on a run longer than
// that: its session wait_timeout is raised above the run's timeout first
// (a session starts with the global wait_timeout, or interactive_timeout
// for interactive clients, which this driver is not:
// https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_wait_timeout),
// and a keep-alive checks the locks every lockPingEvery, so that a proxy
// that ends idle connections sees traffic too. A connection that ends for
// any other reason (KILL, a restart, the network) is caught by the check
// before the swap.
func (t *Target) Lock(ctx context.Context, tables []string) error {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to target for the run lock: %w", err)
	}
	drop := func() {
		conn.Raw(func(any) error { return driver.ErrBadConn }) // drop it: the server releases its locks
		conn.Close()
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION wait_timeout = GREATEST(@@SESSION.wait_timeout, ?)", lockSessionTimeout(t.runTimeout)); err != nil {
		drop()
		return fmt.Errorf("raise wait_timeout of the run lock's connection above the run's timeout: %w", err)
	}
	var names []string
	for _, table := range tables {
		name := t.lockName(table)
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
			drop()
			return fmt.Errorf("take run lock %q: %w", name, err)
		}
		if got.Int64 != 1 {
			drop()
			return dbsync.ErrBusy
		}
		names = append(names, name)
	}
	t.lockConn, t.locks, t.lockTables = conn, names, slices.Clone(tables)
	t.stopPing = t.keepLocks()
	return nil
}

// keepLocks checks the run's locks every lockPingEvery until the returned
// stop is called; a lost lock is logged at once (the swap then refuses).
func (t *Target) keepLocks() (stop func()) {
	every := t.lockPingEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	done := make(chan struct{})
	var once sync.Once
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			// A bound to avoid a hang, never a short one: the driver ends
			// the lock's connection when a query's context ends, and with
			// it the locks, so a check cut off on a busy server would lose
			// the very locks it checks.
			ctx, cancel := context.WithTimeout(context.Background(), max(every, 30*time.Second))
			err := t.checkLocks(ctx)
			cancel()
			if err != nil {
				t.log.Error("run lock lost; this run will not swap", "error", err.Error())
				return
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// checkLocks proves that the lock connection still holds every lock of the
// run: IS_USED_LOCK names the connection that holds a lock, and only that
// connection's own end or RELEASE_LOCK frees it. A lock once lost stays
// lost (the connection that held it is gone), so the first failure is
// kept.
func (t *Target) checkLocks(ctx context.Context) error {
	t.lockMu.Lock()
	defer t.lockMu.Unlock()
	return t.checkLocksLocked(ctx)
}

// checkLocksLocked is checkLocks for a caller that holds lockMu.
func (t *Target) checkLocksLocked(ctx context.Context) error {
	if t.lockLost != nil || t.lockConn == nil || len(t.locks) == 0 {
		return t.lockLost
	}
	args := make([]any, len(t.locks))
	dest := make([]any, 1+len(t.locks))
	var self int64
	holders := make([]sql.NullInt64, len(t.locks))
	dest[0] = &self
	for i, name := range t.locks {
		args[i], dest[1+i] = name, &holders[i]
	}
	if err := t.lockConn.QueryRowContext(ctx, lockCheckQuery(len(t.locks)), args...).Scan(dest...); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("check the run locks: %w", err) // this run's deadline, not a lost lock
		}
		t.lockLost = lostLockError(t.lockTables[0], t.locks[0], "the connection holding it ended: "+err.Error())
		return t.lockLost
	}
	for i, h := range holders {
		if h.Valid && h.Int64 == self {
			continue
		}
		why := "it is free"
		if h.Valid {
			why = fmt.Sprintf("connection %d holds it, not this run's %d", h.Int64, self)
		}
		t.lockLost = lostLockError(t.lockTables[i], t.locks[i], why)
		return t.lockLost
	}
	return nil
}

func (t *Target) TableExists(ctx context.Context, name string) (bool, error) {
	exists, _, err := t.tableComment(ctx, name)
	return exists, err
}

// tableComment reads whether a table exists and its comment.
func (t *Target) tableComment(ctx context.Context, name string) (exists bool, comment string, err error) {
	err = t.db.QueryRowContext(ctx, "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", t.stored(name)).Scan(&comment)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	return err == nil, comment, err
}

// Ownership marks. Besides its name (helper_tables.go), each helper table
// carries its run in a mark in its comment. The staging table carries the
// mark from its creation until just before it is swapped in, when it gets
// the target's own comment back (the live table never carries a mark, not
// even after a crash); the previous table is marked only if dropping it
// after the swap fails, with its own comment kept in the mark. A process
// killed in the instant between two of these statements leaves an
// unmarked table whose name still names its run, which the history
// records as running: the next run drops it by that name. A table with
// neither (a user's own, or one an older dbsync left unmarked) is never
// touched.
const (
	ownMark        = "dbsync-owned: "
	ownMarkComment = "; its comment was: "
)

func stageMark(runID string) string {
	return ownMark + "staging table of run " + runID + "; dbsync drops it"
}

// oldMark marks a previous table and keeps its comment, for a restore.
// MySQL allows 2048 characters in a table comment: a longer one is cut,
// and a restore then leaves the comment out.
func oldMark(runID, comment string) string {
	m := ownMark + "previous rows, swapped out by run " + runID + "; dbsync drops it"
	if full := m + ownMarkComment + comment; utf8.RuneCountInString(full) <= 2048 {
		return full
	}
	return m
}

func ownedBy(comment string) bool { return strings.HasPrefix(comment, ownMark) }

// errNotOwned is the message for a table dbsync needs the name of but did
// not make.
func (t *Target) errNotOwned(ctx context.Context, table, name string) error {
	msg := fmt.Sprintf("table %s exists in database %s but was not made by dbsync (its comment has no %q mark), and dbsync uses that name while it replaces %s; "+
		"dbsync never drops or renames a table it did not make. Rename or drop %s, or sync into another target table. "+
		"(If it is the previous copy of %s left by an older dbsync or by a run killed during its swap, check it and drop it",
		dbsync.QuoteMySQL(name), dbsync.QuoteMySQL(t.cfg.Database), strings.TrimSpace(ownMark), dbsync.QuoteMySQL(table), dbsync.QuoteMySQL(name), dbsync.QuoteMySQL(table))
	if refs, err := t.referencingKeys(ctx, name); err == nil && len(refs) > 0 {
		msg += "; first drop the foreign keys that reference it: " + strings.Join(refs, ", ")
	}
	return errors.New(msg + ".)")
}

// dropOwn drops name, a helper table of table named for this run, if it
// exists and this run made it (made: even before it carries its mark), and
// refuses if it exists without this run's mark.
func (t *Target) dropOwn(ctx context.Context, table, name string, made bool) error {
	exists, comment, err := t.tableComment(ctx, name)
	if err != nil {
		return fmt.Errorf("inspect table %s: %w", dbsync.QuoteMySQL(name), err)
	}
	if !exists {
		return nil
	}
	if !made && markRunID(comment) != t.runID {
		return t.errNotOwned(ctx, table, name)
	}
	return t.dropLeftover(ctx, table, name)
}

// dropLeftover drops name, a helper table of table that dbsync made.
func (t *Target) dropLeftover(ctx context.Context, table, name string) error {
	// IF EXISTS: the run that made it may drop it first (one that lost
	// its lock and is ending).
	if _, err := t.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+dbsync.QuoteMySQL(name)); err != nil {
		if errorNumber(err) == 1451 {
			return t.errReferencedLeftover(ctx, table, name, err)
		}
		return fmt.Errorf("drop dbsync's leftover table %s: %w", dbsync.QuoteMySQL(name), err)
	}
	return nil
}

// helper is the name of table's helper table of kind suffix for this run.
func (t *Target) helper(table, suffix string) string {
	return helperName(t.stored(table), suffix, runToken(t.runID))
}

// referencingKeys lists the foreign keys of other tables that reference
// table, as "`constraint` of table `schema`.`table`".
func (t *Target) referencingKeys(ctx context.Context, table string) ([]string, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT DISTINCT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE REFERENCED_TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = ?
		AND NOT (TABLE_SCHEMA = REFERENCED_TABLE_SCHEMA AND TABLE_NAME = REFERENCED_TABLE_NAME)
		ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME`, t.stored(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []string
	for rows.Next() {
		var schema, child, constraint string
		if err := rows.Scan(&schema, &child, &constraint); err != nil {
			return nil, err
		}
		refs = append(refs, fmt.Sprintf("%s of table %s.%s", dbsync.QuoteMySQL(constraint), dbsync.QuoteMySQL(schema), dbsync.QuoteMySQL(child)))
	}
	return refs, rows.Err()
}

// noReplaceWith is why the replace mode refuses foreign keys.
const noReplaceWith = "dbsync replaces the table by swapping in a new one, and MySQL keeps a foreign key on the table it was made for, so the replace mode cannot keep foreign keys that point at the target table; the merge mode keeps them (mode = merge changes the rows in place, and never turns into a replace while such a key exists)"

// checkNotReferenced refuses, before anything is loaded, a target table
// that other tables' foreign keys reference: after the swap they would
// point at the previous copy, which could then never be dropped.
func (t *Target) checkNotReferenced(ctx context.Context, table string) error {
	refs, err := t.referencingKeys(ctx, table)
	if err != nil {
		return fmt.Errorf("read foreign keys that reference %s: %w", dbsync.QuoteMySQL(table), err)
	}
	if len(refs) == 0 {
		return nil
	}
	return fmt.Errorf("target table %s is referenced by foreign key %s; %s. Set mode = merge for this table, drop those foreign keys (ALTER TABLE … DROP FOREIGN KEY …) or sync into a table no foreign key references; the table was left unchanged",
		dbsync.QuoteMySQL(table), strings.Join(refs, ", "), noReplaceWith)
}

// errReferencedLeftover explains a leftover previous table that a foreign
// key keeps from being dropped (error 1451): the foreign key was added
// while a run was loading, and moved with the table at the swap.
func (t *Target) errReferencedLeftover(ctx context.Context, table, name string, err error) error {
	refs, _ := t.referencingKeys(ctx, name)
	which := "a foreign key"
	if len(refs) > 0 {
		which = "foreign key " + strings.Join(refs, ", ")
	}
	return fmt.Errorf("drop dbsync's leftover table %s (the previous rows of %s): %s references it, so MySQL refuses to drop it and every run stops here; %s. "+
		"Drop the foreign key (ALTER TABLE … DROP FOREIGN KEY …); the next run then removes %s: %w",
		dbsync.QuoteMySQL(name), dbsync.QuoteMySQL(table), which, noReplaceWith, dbsync.QuoteMySQL(name), err)
}

// Begin repairs what a killed run may have left: a marked old table is
// put back if the target table is missing (no data is ever dropped), then
// that run's leftovers are removed. Then the run is recorded as running.
//
// A run recorded as running whose lock this run now holds lost it: it was
// killed, or its lock connection was closed while it went on. Such a run
// may be committing its merged tables right now: the swap holds its
// history rows locked from its lock check to its COMMIT (holdHistoryRows),
// so this run first waits for those rows, and so never reads or cleans up
// a table in the middle of another run's commit.
func (t *Target) Begin(ctx context.Context, runID string, runTarget dbsync.Target, tables []string) error {
	t.runID = runID
	t.runTables = tables
	h := t.historyStore() // the run has ensured it
	for _, table := range tables {
		killed, err := h.RunningRuns(ctx, runTarget, table)
		if err != nil {
			return fmt.Errorf("read runs of %s in %s: %w", dbsync.QuoteMySQL(table), h.Table(), err)
		}
		for _, id := range killed {
			var locked string
			if err := t.db.QueryRowContext(ctx, historyLockQuery(h, 1), id, table).Scan(&locked); err != nil && !errors.Is(err, sql.ErrNoRows) {
				if errorNumber(err) == 1205 {
					return fmt.Errorf("run %s of table %s is still committing its changes (its row in %s stays locked); this run touched nothing: run again later: %w", id, dbsync.QuoteMySQL(table), h.Table(), err)
				}
				return fmt.Errorf("wait for run %s of table %s to end: %w", id, dbsync.QuoteMySQL(table), err)
			}
		}
		if err := t.repair(ctx, table, killed); err != nil {
			return err
		}
	}
	return nil
}

// namedTable is a table's name and comment.
type namedTable struct{ name, comment string }

// helperTables lists the tables named like table's helper tables of kind
// suffix, of any run.
func (t *Target) helperTables(ctx context.Context, table, suffix string) ([]namedTable, error) {
	rows, err := t.db.QueryContext(ctx, "SELECT TABLE_NAME, TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ? ORDER BY TABLE_NAME",
		helperPattern(t.stored(table), suffix))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []namedTable
	for rows.Next() {
		var n namedTable
		if err := rows.Scan(&n.name, &n.comment); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// repair puts back or drops what ended runs left of table: the helper
// tables named for a killed run (killed: the runs the history records as
// running, whose lock the caller now holds), marked or not, as that run
// records itself before it makes any table; and the helper tables whose
// mark names the run their name names (a run that ended but could not drop
// them). Tables named like helpers of an older dbsync (<table>__dbsync_new,
// _old, _delta) are dropped only with dbsync's mark. Anything else by such
// names is not dbsync's and stays as it is: no run uses those names.
func (t *Target) repair(ctx context.Context, table string, killed []string) error {
	inspectErr := func(err error) error {
		return fmt.Errorf("inspect target database %s: %w", t.cfg.Database, err)
	}
	killedTokens := map[string]bool{}
	for _, id := range killed {
		killedTokens[runToken(id)] = true
	}
	hasTable, err := t.TableExists(ctx, table)
	if err != nil {
		return inspectErr(err)
	}
	// The previous tables first: one may have to take the target's place.
	for _, suffix := range []string{dbsync.OldSuffix, dbsync.StageSuffix, dbsync.DeltaSuffix} {
		found, err := t.helperTables(ctx, table, suffix)
		if err != nil {
			return inspectErr(err)
		}
		legacy := table + suffix
		exists, comment, err := t.tableComment(ctx, legacy)
		if err != nil {
			return inspectErr(err)
		}
		if exists {
			found = append(found, namedTable{t.stored(legacy), comment})
		}
		for _, h := range found {
			tok := helperToken(h.name)
			owner := markRunID(h.comment)
			ours := h.name != t.stored(legacy) && (killedTokens[tok] || owner != "" && runToken(owner) == tok)
			if h.name == t.stored(legacy) && ownedBy(h.comment) {
				ours = true // an older dbsync's, marked: it never runs on while this run holds the lock
			}
			if !ours {
				t.log.Warn("a table is named like a dbsync helper table of the target table but carries no mark of a dbsync run that ended; dbsync leaves it alone (no run uses that name): if it is a leftover, check it and drop it",
					"helper", h.name, dbsync.LogTable, table)
				continue
			}
			if suffix == dbsync.OldSuffix && !hasTable {
				if err := t.restore(ctx, table, h); err != nil {
					return err
				}
				hasTable = true
				continue
			}
			if err := t.dropLeftover(ctx, table, h.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// restore puts a killed run's previous table back as table. Unmark first,
// then rename: a crash between the two leaves an unmarked leftover whose
// name names the killed run, never a marked target table.
func (t *Target) restore(ctx context.Context, table string, old namedTable) error {
	t.log.Warn("restoring target table from a previous run's leftover", "from", old.name, "table", table)
	if ownedBy(old.comment) {
		_, comment, _ := strings.Cut(old.comment, ownMarkComment)
		if _, err := t.db.ExecContext(ctx, "ALTER TABLE "+dbsync.QuoteMySQL(old.name)+" COMMENT = "+quoteString(comment)); err != nil {
			return fmt.Errorf("restore %s from %s: %w", table, old.name, err)
		}
	}
	if _, err := t.db.ExecContext(ctx, "RENAME TABLE "+dbsync.QuoteMySQL(old.name)+" TO "+dbsync.QuoteMySQL(table)); err != nil {
		return fmt.Errorf("restore %s from %s: %w", table, old.name, err)
	}
	return nil
}

// Probe says where the target is, its TLS and how rows will be loaded.
func (t *Target) Probe(ctx context.Context) (string, error) {
	method := "LOAD DATA LOCAL allowed (load_method load_data)"
	if !t.localInfile(ctx, t.db) {
		method = "local_infile is OFF: rows will be loaded with multi-row INSERTs (load_method insert); set local_infile=ON on the server for the fastest load"
	}
	return fmt.Sprintf("%s, %s, %s", t.Describe(), sessionTLS(ctx, t.db, "azure_mysql", t.cfg.SSLMode), method), nil
}

// localInfile reports whether the server allows LOAD DATA LOCAL.
func (t *Target) localInfile(ctx context.Context, q rowQueryer) bool {
	var v sql.NullString
	_ = q.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&v)
	return v.String == "1" || strings.EqualFold(v.String, "ON")
}

func (t *Target) TableColumns(ctx context.Context, table string) ([]dbsync.TargetColumn, error) {
	cols, err := t.columns(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", dbsync.QuoteMySQL(table), err)
	}
	return cols, nil
}

func (t *Target) OpenHistory(context.Context, bool) (dbsync.HistoryStore, bool, error) {
	return t.historyStore(), true, nil
}

// HistoryStore is the history table in the target database.
func (t *Target) historyStore() dbsync.HistoryStore {
	return dbsync.HistoryStore{Db: t.db, Name: t.history, Where: "database " + t.cfg.Database, Dialect: history}
}

func (t *Target) RunHistory() dbsync.HistoryStore { return t.historyStore() }

// columns reads a table's columns from information_schema.
func (t *Target) columns(ctx context.Context, table string) ([]dbsync.TargetColumn, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT IS NULL, EXTRA, COALESCE(GENERATION_EXPRESSION, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, t.stored(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []dbsync.TargetColumn
	for rows.Next() {
		var name, dataType, columnType, nullable, extra, genExpr string
		var noDefault bool
		if err := rows.Scan(&name, &dataType, &columnType, &nullable, &noDefault, &extra, &genExpr); err != nil {
			return nil, err
		}
		extra = strings.ToUpper(extra)
		generated := genExpr != "" || strings.Contains(extra, "GENERATED") || strings.Contains(extra, "VIRTUAL") || strings.Contains(extra, "PERSISTENT") || strings.Contains(extra, "STORED")
		cols = append(cols, dbsync.TargetColumn{
			Name: name, DataType: strings.ToLower(dataType), ColumnType: columnType, Generated: generated,
			Required: nullable == "NO" && noDefault && !generated && !strings.Contains(extra, "AUTO_INCREMENT"),
		})
	}
	return cols, rows.Err()
}

// stagedTable is table's entry, made on first use.
func (t *Target) stagedTable(table string) *stagedTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, st := range t.staged {
		if st.table == table {
			return st
		}
	}
	st := &stagedTable{table: table}
	t.staged = append(t.staged, st)
	return st
}

func (t *Target) Stage(ctx context.Context, table string, src dbsync.SourceRows, policy string) (int64, string, error) {
	return t.StageKeepingKey(ctx, table, src, policy, nil)
}

func (t *Target) TargetColumns(ctx context.Context, table string) ([]dbsync.TargetColumn, error) {
	return t.columns(ctx, table)
}

func (t *Target) StageKeepingKey(ctx context.Context, table string, src dbsync.SourceRows, policy string, key []string) (int64, string, error) {
	st := t.stagedTable(table)
	stage := t.helper(table, dbsync.StageSuffix)
	if err := t.dropOwn(ctx, table, stage, st.made); err != nil {
		return 0, "", err
	}
	st.made, st.deferred, st.loaded = false, nil, true
	if err := t.checkNotReferenced(ctx, table); err != nil {
		return 0, "", err
	}
	existing, err := t.columns(ctx, table)
	if err != nil {
		return 0, "", fmt.Errorf("read columns of target table %s: %w", dbsync.QuoteMySQL(table), err)
	}
	srcCols := src.Columns()
	schema, err := dbsync.PlanStage(table, srcCols, existing, policy, t.log)
	if err != nil {
		return 0, "", err
	}
	if schema.FromSource {
		if err := src.ExactTypes(ctx); err != nil {
			t.log.Warn("cannot read the source's exact column types (needs CREATE TEMPORARY TABLES on the primary); deriving them from result metadata", dbsync.LogTable, table, "error", err.Error())
		}
		defs := make([]string, len(srcCols))
		for i, c := range srcCols {
			d, err := definition(c)
			if err != nil {
				return 0, "", err
			}
			defs[i] = dbsync.QuoteMySQL(c.Name) + " " + d
		}
		defs = dbsync.WithPrimaryKey(defs, srcCols, key, dbsync.QuoteMySQL)
		// made before the CREATE is sent: a deadline that cuts the
		// statement off on the client can still leave the server to
		// finish it, and the name is this run's own, so Discard may drop
		// it whether or not it exists.
		st.made = true
		if _, err := t.db.ExecContext(ctx, "CREATE TABLE "+dbsync.QuoteMySQL(stage)+" (\n  "+strings.Join(defs, ",\n  ")+"\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT = "+quoteString(stageMark(t.runID))); err != nil {
			if len(key) > 0 {
				return 0, "", fmt.Errorf("create staging table %s from the source's column types with the merge key (%s) as its primary key: %w (a key column of type TEXT or BLOB needs a VARCHAR or VARBINARY type in the query, e.g. CAST(col AS CHAR(100)))", stage, strings.Join(key, ", "), err)
			}
			return 0, "", fmt.Errorf("create staging table %s from the source's column types: %w", stage, err)
		}
		st.made, st.comment = true, ""
	} else {
		st.made = true // as above: the deadline may cut the CREATE off
		if _, err := t.db.ExecContext(ctx, "CREATE TABLE "+dbsync.QuoteMySQL(stage)+" LIKE "+dbsync.QuoteMySQL(table)); err != nil {
			return 0, "", fmt.Errorf("create staging table %s like %s: %w", stage, table, err)
		}
		st.made = true
		_, comment, err := t.tableComment(ctx, stage)
		if err != nil {
			return 0, "", fmt.Errorf("read comment of staging table %s: %w", stage, err)
		}
		st.comment = comment
		// Changing only the comment is a metadata change on InnoDB: no
		// rows are copied, now or when it is restored before the swap.
		if _, err := t.db.ExecContext(ctx, "ALTER TABLE "+dbsync.QuoteMySQL(stage)+" COMMENT = "+quoteString(stageMark(t.runID))); err != nil {
			return 0, "", fmt.Errorf("mark staging table %s as dbsync's: %w", stage, err)
		}
		if st.deferred, err = t.deferIndexes(ctx, table, stage); err != nil {
			return 0, "", err
		}
	}
	stageCols, err := t.columns(ctx, stage)
	if err != nil {
		return 0, "", fmt.Errorf("read columns of staging table: %w", err)
	}
	order, _ := dbsync.MatchColumns(srcCols, stageCols)
	if len(order) != len(srcCols) {
		// Another run dropped it: this run lost its lock (checkLocks).
		return 0, "", fmt.Errorf("staging table %s of %s is gone or changed right after this run made it: another run took the table over; this run stops, and the target table is unchanged", dbsync.QuoteMySQL(stage), dbsync.QuoteMySQL(table))
	}
	plan := loadPlan{table: stage, target: table}
	for i, c := range srcCols {
		dst := stageCols[order[i]]
		col := loadColumn{name: dst.Name, mode: encodingFor(c.Kind, dst.DataType)}
		if dst.DataType == "enum" && !enumListsEmpty(dst.ColumnType) {
			col.enumWithoutEmpty = dst.ColumnType
			plan.checked = append(plan.checked, i)
		}
		plan.columns = append(plan.columns, col)
	}

	n, method, err := t.load(ctx, plan, src)
	if method == "" {
		return n, method, err
	}
	n, err = st.deferred.build(ctx, t, n, err)
	return n, method, err
}

// Discard drops the staging tables this run made.
func (t *Target) Discard(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.discardMerges(ctx)
	for _, st := range t.staged {
		if !st.made {
			continue
		}
		// Its name is this run's own: it can be no other run's table.
		stage := t.helper(st.table, dbsync.StageSuffix)
		if _, err := t.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+dbsync.QuoteMySQL(stage)); err != nil {
			t.log.Warn("could not drop the staging table; the next run drops it", "staging_table", stage, "error", err.Error())
			continue
		}
		st.made = false
	}
}

// Swap renames every staged table in one statement, which MySQL
// performs atomically: readers see all old tables or all new ones, never
// neither and never a mix. RENAME waits for the metadata locks of
// transactions that read the tables, and new readers queue behind it; so
// each attempt waits at most swapTryWait (lock_wait_timeout), then steps
// back to let readers through, up to swapTries attempts. It returns the
// time spent waiting.
//
// The swap happens only while the run provably holds every run lock:
//   - the locks are checked on their own connection (checkLocks) right
//     before, and a lost one fails the run with nothing swapped;
//   - the RENAME runs on that same connection, so it cannot run once the
//     connection, and with it the locks, is gone: no other run can hold a
//     lock of these tables while it runs;
//   - the merged tables' transaction runs on another connection, so from
//     before the check to its COMMIT it holds this run's history rows
//     locked: a run that takes a lock this run lost in between waits for
//     them (begin) before it reads or drops anything.
//
// What remains: a lock lost after the check, during the RENAME or before
// the COMMIT, with the commit still made. The tables are then exactly
// this run's source snapshot (it held the locks while it staged and
// compared, and any other run waits at begin), so the run reports what
// happened. The check after the swap logs such a loss.
func (t *Target) Swap(ctx context.Context) (time.Duration, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	staged := slices.Clone(t.staged)
	slices.SortFunc(staged, func(a, b *stagedTable) int { return strings.Compare(a.table, b.table) })
	merged, err := t.applyMerges(ctx)
	if err != nil {
		return 0, err
	}
	if merged != nil {
		defer merged.Rollback()
		if err := t.holdHistoryRows(ctx, merged); err != nil {
			return 0, err
		}
		if err := t.watermarks.Write(ctx, merged, t.historyStore(), t.runID, nil); err != nil {
			return 0, err
		}
	}
	if err := t.checkLocks(ctx); err != nil {
		return 0, err
	}
	if len(staged) == 0 {
		if err := t.commitMerges(ctx, merged); err != nil {
			return 0, err
		}
		t.recheckLocks(ctx)
		return 0, nil
	}
	var pairs, names []string
	var replaced []*stagedTable
	for _, st := range staged {
		table, old, stage := dbsync.QuoteMySQL(st.table), dbsync.QuoteMySQL(t.helper(st.table, dbsync.OldSuffix)), dbsync.QuoteMySQL(t.helper(st.table, dbsync.StageSuffix))
		names = append(names, table)
		exists, err := t.TableExists(ctx, st.table)
		if err != nil {
			return 0, fmt.Errorf("swap %s: %w", table, err)
		}
		if exists {
			pairs = append(pairs, table+" TO "+old)
			replaced = append(replaced, st)
		}
		pairs = append(pairs, stage+" TO "+table)
	}
	what := strings.Join(names, ", ")
	rename := "RENAME TABLE " + strings.Join(pairs, ", ")
	// Each staging table gets its target's own comment back (its
	// definition is then the target's, byte for byte): a target never
	// carries a mark. Its name still names this run.
	for _, st := range staged {
		stage := dbsync.QuoteMySQL(t.helper(st.table, dbsync.StageSuffix))
		if _, err := t.db.ExecContext(ctx, "ALTER TABLE "+stage+" COMMENT = "+quoteString(st.comment)); err != nil {
			return 0, fmt.Errorf("swap %s: restore the comment of %s: %w", dbsync.QuoteMySQL(st.table), stage, err)
		}
	}
	waited, err := t.renameUnderLock(ctx, rename, what, t.helper(staged[0].table, dbsync.StageSuffix))
	if err != nil {
		return waited, err
	}
	for _, st := range staged {
		st.made = false // it is the target table now
	}
	if err := t.commitMerges(ctx, merged); err != nil {
		return waited, fmt.Errorf("%w (the replaced tables %s were swapped in already)", err, what)
	}
	// The new rows are in place whatever happens next; the run's deadline
	// must not cut the cleanup short between two statements.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	t.recheckLocks(ctx)
	for _, st := range replaced {
		old := t.helper(st.table, dbsync.OldSuffix)
		if _, err := t.db.ExecContext(ctx, "DROP TABLE "+dbsync.QuoteMySQL(old)); err != nil {
			// Mark it, so that the next run may drop it.
			t.log.Warn("could not drop the previous table after the swap; the next run drops it", "previous_table", old, "error", err.Error())
			_, comment, cerr := t.tableComment(ctx, old)
			if cerr == nil {
				_, cerr = t.db.ExecContext(ctx, "ALTER TABLE "+dbsync.QuoteMySQL(old)+" COMMENT = "+quoteString(oldMark(t.runID, comment)))
			}
			if cerr != nil {
				t.log.Warn("could not mark the previous table as dbsync's; the next run will stop until it is dropped by hand", "previous_table", old, "error", cerr.Error())
			}
		}
	}
	return waited, nil
}

// renameUnderLock runs the swap's RENAME on the lock connection, after
// checking the locks there, retrying while readers hold the tables. A
// connection that ends during the RENAME leaves it done or not: stage, the
// first staging table, tells which.
func (t *Target) renameUnderLock(ctx context.Context, rename, what, stage string) (time.Duration, error) {
	t.lockMu.Lock()
	defer t.lockMu.Unlock()
	if err := t.checkLocksLocked(ctx); err != nil {
		return 0, err
	}
	conn := t.lockConn
	wait := max(1, int(t.swapTryWait.Round(time.Second)/time.Second))
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", wait)); err != nil {
		return 0, t.lostDuringSwap(ctx, what, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION lock_wait_timeout = DEFAULT")
	start := time.Now()
	for try := 1; ; try++ {
		_, err := conn.ExecContext(ctx, rename)
		if err == nil {
			return time.Since(start), nil
		}
		waited := time.Since(start)
		if errorNumber(err) == 0 && ctx.Err() == nil {
			// Not the server's answer: the connection ended.
			if exists, xerr := t.TableExists(context.WithoutCancel(ctx), stage); xerr == nil && !exists {
				t.log.Warn("the run lock's connection ended during the swap's RENAME, which the server completed first, under the lock", "error", err.Error())
				return waited, nil
			}
			return waited, t.lostDuringSwap(ctx, what, err)
		}
		if errorNumber(err) != 1205 || try >= t.swapTries || ctx.Err() != nil {
			if errorNumber(err) == 1205 {
				return waited, fmt.Errorf("swap %s: readers held the tables for %.0f s over %d attempts, so the new rows were not swapped in and the tables are unchanged (look for long transactions reading them: SHOW PROCESSLIST): %w", what, waited.Seconds(), try, err)
			}
			return waited, fmt.Errorf("swap %s: %w", what, err)
		}
		t.log.Warn("swap waited for readers of the tables; stepping back and retrying", "attempt", try, "waited_ms", waited.Milliseconds())
		select {
		case <-time.After(time.Duration(try) * 200 * time.Millisecond):
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("swap %s: %w", what, ctx.Err())
		}
	}
}

// lostDuringSwap is the error of a lock connection that ended in the
// swap, before its RENAME ran.
func (t *Target) lostDuringSwap(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("swap %s: %w", what, err)
	}
	if t.lockLost == nil {
		t.lockLost = lostLockError(t.lockTables[0], t.locks[0], "the connection holding it ended: "+err.Error())
	}
	return t.lockLost
}

// recheckLocks logs a lock lost during the swap, after the check that
// preceded it: what the swap did ran under the locks (see swap).
func (t *Target) recheckLocks(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := t.checkLocks(ctx); err != nil {
		t.log.Warn("the run lock was lost right after the swap checked it; the swap ran under the lock, so the tables hold this run's rows", "error", err.Error())
	}
}

// holdHistoryRows locks this run's history rows in tx, the merged tables'
// transaction, until it commits or rolls back (see swap and begin).
func (t *Target) holdHistoryRows(ctx context.Context, tx *sql.Tx) error {
	h := t.historyStore()
	args := []any{t.runID}
	for _, table := range t.runTables {
		args = append(args, table)
	}
	rows, err := tx.QueryContext(ctx, historyLockQuery(h, len(t.runTables)), args...)
	if err != nil {
		return fmt.Errorf("merge: lock this run's rows of history table %s: %w", h.Table(), err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("merge: lock this run's rows of history table %s: %w", h.Table(), err)
	}
	if n < len(t.runTables) {
		t.log.Warn("this run's rows are missing from the history table, so a run that takes a lost lock over would not wait for this commit", "history_table", h.Name, "found", n, "want", len(t.runTables))
	}
	return nil
}

func (t *Target) Close() {
	if t.stopPing != nil {
		t.stopPing()
	}
	t.lockMu.Lock()
	defer t.lockMu.Unlock()
	if t.lockConn != nil {
		for _, name := range t.locks {
			_, _ = t.lockConn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", name)
		}
		t.lockConn.Close()
	}
	if t.db != nil {
		t.db.Close()
	}
}

package mysqldb

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

// mergeColumn is a target column as a merge needs it.
type mergeColumn struct {
	dbsync.TargetColumn
	nullable  bool
	invisible bool
	charset   string // CHARACTER_SET_NAME; empty for non-text types
	collation string
}

// mergeColumns reads the columns of a MySQL table with what a merge needs
// beyond TargetColumn: nullability, invisibility (generated invisible
// primary keys), character set and collation.
func (t *Target) mergeColumns(ctx context.Context, table string) ([]mergeColumn, error) {
	base, err := t.columns(ctx, table)
	if err != nil {
		return nil, err
	}
	rows, err := t.db.QueryContext(ctx, `SELECT IS_NULLABLE, EXTRA, COALESCE(CHARACTER_SET_NAME, ''), COALESCE(COLLATION_NAME, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, t.stored(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []mergeColumn
	for i := 0; rows.Next(); i++ {
		var nullable, extra, charset, collation string
		if err := rows.Scan(&nullable, &extra, &charset, &collation); err != nil {
			return nil, err
		}
		if i >= len(base) {
			return nil, fmt.Errorf("table %s changed while its columns were read", dbsync.QuoteMySQL(table))
		}
		cols = append(cols, mergeColumn{TargetColumn: base[i], nullable: nullable == "YES",
			invisible: strings.Contains(strings.ToUpper(extra), "INVISIBLE"), charset: charset, collation: collation})
	}
	return cols, rows.Err()
}

// keyOrderFor says how a key column of a MySQL DATA_TYPE is ordered, or why
// it cannot be a merge key.
func keyOrderFor(dataType string) (dbsync.KeyOrder, error) {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return dbsync.OrderNumber, nil
	case "float", "double", "real":
		return 0, dbsync.ErrFloatKey
	}
	return dbsync.OrderBytes, nil
}

// MergeKey chooses the merge key of a MySQL target table: its PRIMARY KEY,
// else its first UNIQUE key whose columns are all NOT NULL, else the
// configured columns (key = col1,col2). A key with an invisible column is
// never used: that is the generated invisible primary key (my_row_id)
// Azure Database for MySQL 8 adds to a table made without one, which the
// source does not have. A configured key must name the table's key when it
// has one. setting names the config section, for messages
// ("[table.items]").
func (t *Target) MergeKey(ctx context.Context, table string, configured []string, setting string) ([]dbsync.KeyColumn, error) {
	if setting == "" {
		setting = "[sync]"
	}
	cols, err := t.mergeColumns(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", dbsync.QuoteMySQL(table), err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("choose merge key: target table %s does not exist in database %s (the first run of a table is a replace)", dbsync.QuoteMySQL(table), t.cfg.Database)
	}
	byName := map[string]mergeColumn{}
	for _, c := range cols {
		byName[strings.ToLower(c.Name)] = c
	}
	rows, err := t.db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0
		ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX`, t.stored(table))
	if err != nil {
		return nil, fmt.Errorf("read keys of target table %s: %w", dbsync.QuoteMySQL(table), err)
	}
	type index struct {
		name string
		cols []string
	}
	var indexes []index
	for rows.Next() {
		var name, col string
		if err := rows.Scan(&name, &col); err != nil {
			rows.Close()
			return nil, err
		}
		if len(indexes) == 0 || indexes[len(indexes)-1].name != name {
			indexes = append(indexes, index{name: name})
		}
		last := &indexes[len(indexes)-1]
		last.cols = append(last.cols, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var usable [][]string
	for _, ix := range indexes {
		ok := true
		for _, c := range ix.cols {
			mc := byName[strings.ToLower(c)]
			if mc.invisible || mc.nullable || mc.Generated {
				ok = false
			}
		}
		if ok {
			usable = append(usable, ix.cols)
		}
	}
	candidates := make(map[string]dbsync.KeyCandidate, len(byName))
	for lower, c := range byName {
		order, err := keyOrderFor(c.DataType)
		candidates[lower] = dbsync.KeyCandidate{Name: c.Name, Order: order, NotKey: err}
	}
	noKey := fmt.Sprintf("merge needs a key, and target table %s has no PRIMARY KEY or UNIQUE key of NOT NULL columns (a generated invisible my_row_id does not count: the source has no such column); "+
		"add a primary key to the table or set key = col1,col2 in %s", dbsync.QuoteMySQL(table), setting)
	return dbsync.PickMergeKey(table, dbsync.QuoteMySQL, usable, candidates, configured, setting, noKey)
}

// OpenMerge starts the merge of table (dbsync.TableMerge), which makes
// the target table equal to the source, read ordered by the key
// (orderedQuery), writing only the rows that differ:
//
//  1. read the table ordered by the same key, compare in one pass (deltaReader);
//  2. load the differences into <table>__dbsync_delta_<run> (marked as dbsync's)
//     with the same LOAD DATA / INSERT paths as a replace;
//  3. check max_delete and merge_max_changes;
//  4. in one transaction: DELETE … JOIN delta, UPDATE … JOIN delta (only
//     rows whose stored values differ), INSERT … SELECT delta; any warning
//     fails it;
//  5. drop the delta table.
//
// Readers see the old rows or the new ones (InnoDB MVCC), the table object
// stays (triggers fire for the changed rows only; foreign keys and grants
// stay). A foreign key of another table that references a row the merge
// deletes acts as its rule says: RESTRICT/NO ACTION fails the merge and
// nothing changes; CASCADE/SET NULL apply. With no difference nothing is
// written, not even the delta table.
func (t *Target) OpenMerge(ctx context.Context, table string) (dbsync.TableMerge, error) {
	existing, err := t.mergeColumns(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", dbsync.QuoteMySQL(table), err)
	}
	plain := make([]dbsync.TargetColumn, len(existing))
	for i, c := range existing {
		plain[i] = c.TargetColumn
	}
	// The delta table's name names this run, and fits MySQL's limits
	// (helper_tables.go).
	return &tableMerge{t: t, table: table, delta: t.helper(table, dbsync.DeltaSuffix), existing: existing, plain: plain}, nil
}

// tableMerge is one table's merge on a MySQL target (dbsync.TableMerge).
type tableMerge struct {
	t            *Target
	table, delta string
	existing     []mergeColumn         // the table's columns
	plain        []dbsync.TargetColumn // the same, as the core sees them
	cols         []mergeColumn         // the merge's, in the source's order
	key          []dbsync.KeyColumn
	keyPos       []int
	reader       *tableReader
	equal        func(a, b [][]byte) bool
	made         bool // the delta table exists
	binary       bool // the source was read with the binary protocol; PrepareKeys reads the target alike
}

func (m *tableMerge) Columns() []dbsync.TargetColumn { return m.plain }

func (m *tableMerge) Prepare(ctx context.Context, p dbsync.MergePlan) error {
	m.cols, m.key, m.keyPos = make([]mergeColumn, len(p.Order)), p.Key, p.KeyPos
	for i, o := range p.Order {
		m.cols[i] = m.existing[o]
		if n := strings.ToLower(m.cols[i].Name); n == "dbsync_op" || n == "dbsync_seq" {
			return fmt.Errorf("merge %s: column %s has a name the merge's delta table uses itself; rename it in the query", dbsync.QuoteMySQL(m.table), dbsync.QuoteMySQL(m.cols[i].Name))
		}
	}
	m.binary = p.Binary
	if p.ByKey {
		m.equal = rowsEqual(m.cols)
		return nil // ReadKeys reads the rows (incremental_target.go)
	}
	// Read the target with the protocol the source was read with, so that
	// both print every value alike (session.go: FLOAT needs the binary one).
	r, err := m.t.openTableReader(ctx, m.table, m.cols, p.Key, p.Binary)
	if err != nil {
		return err
	}
	m.reader, m.equal = r, rowsEqual(m.cols)
	return nil
}

func (m *tableMerge) Rows() dbsync.RowReader { return m.reader }

func (m *tableMerge) Equal(a, b [][]byte) bool { return m.equal(a, b) }

func (m *tableMerge) LoadDelta(ctx context.Context, d *dbsync.DeltaReader) (int64, string, error) {
	if err := m.t.dropOwn(ctx, m.table, m.delta, false); err != nil {
		return 0, "", err
	}
	if err := m.t.createDelta(ctx, m.delta, m.cols); err != nil {
		return 0, "", err
	}
	m.made = true
	return m.t.loadDelta(ctx, m.delta, m.cols, d)
}

// Drop drops the delta table; a failure leaves it to the next run, which
// drops it (its name is this run's).
func (m *tableMerge) Drop(ctx context.Context) error {
	if m.made {
		m.t.dropDelta(ctx, m.delta)
		m.made = false
	}
	return nil
}

// Apply queues the table's differences for the run's commit step
// (applyMerges), in one transaction with every other merged table. Until
// then the updates are the rows the compare found different; the UPDATE
// may find fewer whose stored values differ, and applyMerges corrects
// the count (AppliedUpdates). A table without differences waits too
// (without a delta table): the apply checks that no other table's delete
// cascades into it.
func (m *tableMerge) Apply(_ context.Context, d *dbsync.DeltaReader, opts dbsync.MergeOptions, found bool) (int64, error) {
	pm := &pendingMerge{table: m.table, cols: m.cols, key: m.key, keyPos: m.keyPos,
		inserts: d.Inserts, updates: d.Updates, deletes: d.Deletes, rows: opts.RowsAfter(d), links: opts.Links, move: opts.Move, noMove: opts.NoMove, keysOff: opts.MoveKeysOff}
	if found {
		pm.delta = m.delta
	}
	m.t.mu.Lock()
	m.t.merges = append(m.t.merges, pm)
	m.t.mu.Unlock()
	return d.Updates, nil
}

func (m *tableMerge) Close() error {
	if m.reader == nil {
		return nil
	}
	return m.reader.Close()
}

// pendingMerge is a merged table whose differences wait in its delta table
// for the run's commit step.
type pendingMerge struct {
	table, delta              string
	cols                      []mergeColumn
	key                       []dbsync.KeyColumn
	keyPos                    []int
	inserts, updates, deletes int64
	updated                   int64 // what the UPDATE changed, once applied
	applied                   bool
	// rows is the table's row count the merge must end with; links and
	// move are mergeOptions' Links and Move (the apply's order and which
	// updates go as delete + insert); noMove says why none may.
	rows   int64
	links  dbsync.TableLinks
	move   []string
	noMove string
	moved  int64 // updates applied as delete + insert
	// keysOff: the moved rows are deleted with foreign_key_checks = 0
	// (foreign keys reference the table, by its merge key).
	keysOff bool
}

func (t *Target) dropDelta(ctx context.Context, delta string) {
	if delta == "" {
		return
	}
	if _, err := t.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+dbsync.QuoteMySQL(delta)); err != nil {
		t.log.Warn("could not drop the merge's delta table; the next run drops it", "delta_table", delta, "error", err.Error())
	}
}

// applyMerges applies every pending merge in one transaction, which it
// returns uncommitted (nil when there is none): the swap commits it right
// after its RENAME of the replaced tables, so that an error before then
// leaves every table as it was. Foreign keys between the merged tables
// hold at every statement: deletes go child-first, then each table's
// updates and inserts parent-first (parentFirst over the target's own
// foreign keys); a table with foreign keys is counted at the end, so that
// a cascade that removed rows the source still has fails the run. Caller
// holds t.mu.
func (t *Target) applyMerges(ctx context.Context) (*sql.Tx, error) {
	deletes := false
	changed := false
	for _, m := range t.merges {
		changed = changed || m.delta != ""
		deletes = deletes || (m.delta != "" && (m.deletes > 0 || len(m.move) > 0))
	}
	if !changed && !t.watermarks.Pending() {
		return nil, nil
	}
	byName := map[string]*pendingMerge{}
	parents := map[string][]string{}
	var names []string
	for _, m := range t.merges {
		names = append(names, m.table)
		byName[m.table] = m
		for _, fk := range m.links.Parents {
			parents[m.table] = append(parents[m.table], fk.RefTable)
		}
	}
	order := dbsync.ParentFirst(names, parents)
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("merge: begin transaction: %w", err)
	}
	fail := func(err error) (*sql.Tx, error) {
		tx.Rollback()
		return nil, err
	}
	for i := len(order) - 1; i >= 0; i-- {
		if err := t.applyDeletes(ctx, tx, byName[order[i]], byName); err != nil {
			return fail(err)
		}
	}
	for _, name := range order {
		if err := t.applyUpserts(ctx, tx, byName[name]); err != nil {
			return fail(err)
		}
	}
	for _, name := range order {
		m := byName[name]
		if !deletes || !slices.ContainsFunc(m.links.Parents, func(fk dbsync.ForeignKey) bool { return uncheckedCascade(fk, byName) }) {
			continue // no delete of the run can have cascaded into it unseen
		}
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+dbsync.QuoteMySQL(m.table)).Scan(&n); err != nil {
			return fail(fmt.Errorf("merge %s: count rows: %w", dbsync.QuoteMySQL(m.table), err))
		}
		if n != m.rows {
			return fail(fmt.Errorf("merge %s: after the merge the table would hold %d rows, the source has %d: a foreign key's ON DELETE rule removed or kept rows the source does not (are the source's rows consistent with the target's foreign keys %s?); nothing was changed",
				dbsync.QuoteMySQL(m.table), n, m.rows, m.links.Describe()))
		}
	}
	return tx, nil
}

// commitMerges commits what applyMerges did and drops the delta tables.
// Caller holds t.mu.
func (t *Target) commitMerges(ctx context.Context, tx *sql.Tx) error {
	if tx == nil {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("merge: commit: %w", err)
	}
	for _, m := range t.merges {
		m.applied = true
		t.dropDelta(ctx, m.delta)
	}
	return nil
}

// discardMerges drops the delta tables of merges not applied. Caller
// holds t.mu.
func (t *Target) discardMerges(ctx context.Context) {
	for _, m := range t.merges {
		if !m.applied {
			t.dropDelta(ctx, m.delta)
		}
	}
	t.merges = nil
	t.watermarks.Reset()
}

// AppliedUpdates is, per merged table, how many rows the UPDATE changed:
// the run's report replaces the compare's count with it.
func (t *Target) AppliedUpdates() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int64{}
	for _, m := range t.merges {
		if m.applied {
			out[m.table] = m.updated
		}
	}
	return out
}

// rowsEqual compares a source row with a target row byte for byte
// (both sides are read through the same protocol), except FLOAT and DOUBLE
// target columns, compared as the numbers the target stores: a source
// value that is not a FLOAT prints differently from one read from a FLOAT.
func rowsEqual(cols []mergeColumn) func(a, b [][]byte) bool {
	bits := make([]int, len(cols))
	for i, c := range cols {
		switch c.DataType {
		case "float":
			bits[i] = 32
		case "double", "real":
			bits[i] = 64
		}
	}
	return func(a, b [][]byte) bool {
		for i := range a {
			if (a[i] == nil) != (b[i] == nil) {
				return false
			}
			if string(a[i]) == string(b[i]) {
				continue
			}
			if bits[i] == 0 {
				return false
			}
			x, err1 := strconv.ParseFloat(string(a[i]), bits[i])
			y, err2 := strconv.ParseFloat(string(b[i]), bits[i])
			if err1 != nil || err2 != nil || math.Float64bits(x) != math.Float64bits(y) {
				return false
			}
		}
		return true
	}
}

// orderExpr is the ORDER BY expression of a key column of the target:
// strings by their utf8mb4 bytes, which is how the source delivers them.
func orderExpr(k dbsync.KeyColumn, c mergeColumn) string {
	q := dbsync.QuoteMySQL(c.Name)
	switch {
	case k.Order == dbsync.OrderNumber:
		return q
	case c.charset != "" && !strings.HasPrefix(c.charset, "utf8mb4"):
		return "CAST(CONVERT(" + q + " USING utf8mb4) AS BINARY)"
	case c.charset != "":
		return "CAST(" + q + " AS BINARY)"
	}
	// Binary strings are ordered by their bytes already; dates, times and
	// decimals by their text.
	if strings.Contains(c.DataType, "binary") || strings.Contains(c.DataType, "blob") || c.DataType == "bit" {
		return q
	}
	return "CAST(" + q + " AS BINARY)"
}

// tableReader reads a target table ordered by key: the rows the
// compare checks the source against. A FLOAT column is read as a DOUBLE
// through the text protocol, which prints FLOAT rounded to 6 digits.
type tableReader struct {
	conn *sql.Conn
	stmt *sql.Stmt
	rows *sql.Rows
	cols []dbsync.Column
	scan rawScan
}

func (t *Target) openTableReader(ctx context.Context, table string, cols []mergeColumn, key []dbsync.KeyColumn, binary bool) (*tableReader, error) {
	return t.openTableReaderWhere(ctx, table, cols, key, binary, "")
}

// openTableReaderWhere is openTableReader of the rows where holds (all
// when where is empty): a merge by checksums reads only the differences.
func (t *Target) openTableReaderWhere(ctx context.Context, table string, cols []mergeColumn, key []dbsync.KeyColumn, binary bool, where string) (*tableReader, error) {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = dbsync.QuoteMySQL(c.Name)
		if c.DataType == "float" && !binary {
			sel[i] = "CAST(" + dbsync.QuoteMySQL(c.Name) + " AS DOUBLE)"
		}
	}
	by := make([]string, len(key))
	for i, k := range key {
		for _, c := range cols {
			if strings.EqualFold(c.Name, k.Name) {
				by[i] = orderExpr(k, c)
			}
		}
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + dbsync.QuoteMySQL(table)
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY " + strings.Join(by, ", ")
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to target to read %s: %w", dbsync.QuoteMySQL(table), err)
	}
	r := &tableReader{conn: conn}
	if binary {
		if r.stmt, err = conn.PrepareContext(ctx, q); err == nil {
			r.rows, err = r.stmt.QueryContext(ctx)
		}
	} else {
		r.rows, err = conn.QueryContext(ctx, q)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("read target table %s ordered by its key: %w", dbsync.QuoteMySQL(table), err)
	}
	r.scan = newRawScan(len(cols))
	return r, nil
}

func (r *tableReader) Columns() []dbsync.Column { return r.cols }
func (r *tableReader) Values() [][]byte         { return r.scan.cells }
func (r *tableReader) Next() bool               { return r.scan.next(r.rows) }
func (r *tableReader) Err() error               { return r.scan.rowsErr(r.rows) }

func (r *tableReader) Close() error {
	if r.rows != nil {
		r.rows.Close()
	}
	if r.stmt != nil {
		r.stmt.Close()
	}
	return r.conn.Close()
}

// createDelta creates the delta table: the op and a sequence number, then
// the source's columns with the target's own types and collations (so that
// a value is stored exactly as in the target), all NULL-able (a delete row
// holds only its key), no other key: a case-insensitive key may hold 'A'
// to delete and 'a' to insert. It carries dbsync's mark from its creation.
func (t *Target) createDelta(ctx context.Context, delta string, cols []mergeColumn) error {
	defs := []string{"`dbsync_op` CHAR(1) CHARACTER SET ascii NOT NULL", "`dbsync_seq` BIGINT UNSIGNED NOT NULL"}
	for _, c := range cols {
		d := dbsync.QuoteMySQL(c.Name) + " " + c.ColumnType
		if c.charset != "" {
			d += " CHARACTER SET " + c.charset + " COLLATE " + c.collation
		}
		defs = append(defs, d+" NULL")
	}
	defs = append(defs, "PRIMARY KEY (`dbsync_op`, `dbsync_seq`)")
	q := "CREATE TABLE " + dbsync.QuoteMySQL(delta) + " (\n  " + strings.Join(defs, ",\n  ") + "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT = " +
		quoteString(ownMark+"merge differences of run "+t.runID+"; dbsync drops it")
	if _, err := t.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create merge delta table %s: %w", delta, err)
	}
	return nil
}

// loadDelta streams the compare's differences into the delta table the way
// staging tables are loaded (load).
func (t *Target) loadDelta(ctx context.Context, delta string, cols []mergeColumn, d *dbsync.DeltaReader) (int64, string, error) {
	plan := loadPlan{table: delta, target: d.Table,
		columns: []loadColumn{{name: "dbsync_op"}, {name: "dbsync_seq"}}}
	for i, c := range d.Src.Rows.Columns() {
		col := loadColumn{name: cols[i].Name, mode: encodingFor(c.Kind, cols[i].DataType)}
		if cols[i].DataType == "enum" && !enumListsEmpty(cols[i].ColumnType) {
			col.enumWithoutEmpty = cols[i].ColumnType
			plan.checked = append(plan.checked, 2+i)
		}
		plan.columns = append(plan.columns, col)
	}
	return t.load(ctx, plan, d)
}

// applyStatements is the SQL that applies one table's delta table.
type applyStatements struct {
	// mark turns the updates that change a Move column into delete +
	// insert ('U' → 'M'); empty when there are no Move columns.
	mark, remaining, del, delMoved, update, insert string
}

// applySQL builds the statements that apply delta to table: rows are
// matched by the key (and by its bytes for a string key: the index finds
// the row by the column's collation, the bytes pick the one row the
// compare meant, 'a' is not 'A'); the UPDATE writes only rows whose stored
// values differ; the INSERT keeps the compare's order.
func applySQL(table, delta string, cols []mergeColumn, key []dbsync.KeyColumn, keyPos []int, move []string) applyStatements {
	tq, dq := dbsync.QuoteMySQL(table), dbsync.QuoteMySQL(delta)
	isKey := map[int]bool{}
	var on []string
	for i, p := range keyPos {
		n := dbsync.QuoteMySQL(cols[p].Name)
		on = append(on, "t."+n+" = d."+n)
		if key[i].Order == dbsync.OrderBytes {
			on = append(on, "CAST(t."+n+" AS BINARY) = CAST(d."+n+" AS BINARY)")
		}
		isKey[p] = true
	}
	same := func(c mergeColumn) string {
		n := dbsync.QuoteMySQL(c.Name)
		if c.charset != "" || c.DataType == "json" {
			return "CAST(t." + n + " AS BINARY) <=> CAST(d." + n + " AS BINARY)"
		}
		return "t." + n + " <=> d." + n
	}
	var set, unchanged, moved, names []string
	for i, c := range cols {
		n := dbsync.QuoteMySQL(c.Name)
		names = append(names, n)
		if isKey[i] {
			continue
		}
		set = append(set, "t."+n+" = d."+n)
		unchanged = append(unchanged, same(c))
		for _, m := range move {
			if strings.EqualFold(m, c.Name) {
				moved = append(moved, same(c))
			}
		}
	}
	join := " JOIN " + dq + " AS d ON " + strings.Join(on, " AND ")
	var a applyStatements
	if len(moved) > 0 {
		a.mark = "UPDATE " + dq + " AS d JOIN " + tq + " AS t ON " + strings.Join(on, " AND ") +
			" SET d.`dbsync_op` = 'M' WHERE d.`dbsync_op` = 'U' AND NOT (" + strings.Join(moved, " AND ") + ")"
	}
	a.del = "DELETE t FROM " + tq + " AS t" + join + " WHERE d.`dbsync_op` = 'D'"
	a.delMoved = "DELETE t FROM " + tq + " AS t" + join + " WHERE d.`dbsync_op` = 'M'"
	a.remaining = "SELECT COUNT(*) FROM " + tq + " AS t" + join + " WHERE d.`dbsync_op` = 'D'"
	if len(set) > 0 {
		a.update = "UPDATE " + tq + " AS t" + join + " SET " + strings.Join(set, ", ") +
			" WHERE d.`dbsync_op` = 'U' AND NOT (" + strings.Join(unchanged, " AND ") + ")"
	}
	a.insert = "INSERT INTO " + tq + " (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(names, ", ") +
		" FROM " + dq + " WHERE `dbsync_op` IN ('I', 'M') ORDER BY `dbsync_seq`"
	return a
}

// execMerge runs one statement of m's apply in tx: any warning fails it,
// and so does a count other than want (want < 0: not checked).
func execMerge(ctx context.Context, tx *sql.Tx, m *pendingMerge, what, q string, want int64) (int64, error) {
	tq := dbsync.QuoteMySQL(m.table)
	r, err := tx.ExecContext(ctx, q)
	if err != nil {
		moves := ""
		if m.noMove != "" {
			moves = "dbsync applies rows whose unique values change as delete + insert, but not in this table: " + m.noMove + "; "
		}
		switch n := errorNumber(err); {
		case n == 1451 && strings.HasPrefix(what, "update"):
			return 0, fmt.Errorf("merge %s: %s: a foreign key of another table references a value this update changes, and its ON UPDATE rule (RESTRICT / NO ACTION) forbids changing it; %snothing was changed: %w", tq, what, moves, err)
		case n == 1451:
			return 0, fmt.Errorf("merge %s: %s: a foreign key of another table references a row the source no longer has, and its rule (RESTRICT / NO ACTION) forbids deleting it; nothing was changed: %w", tq, what, err)
		case n == 1452:
			return 0, fmt.Errorf("merge %s: %s: a row references a row its foreign key's parent table does not have (is the parent table in this run, and are the source's rows consistent?); nothing was changed: %w", tq, what, err)
		case n == 1062 && moves == "":
			return 0, fmt.Errorf("merge %s: %s: rows take unique values another row still holds, and the source's rows repeat a unique value of the target; nothing was changed: %w", tq, what, err)
		case n == 1062:
			return 0, fmt.Errorf("merge %s: %s: rows take unique values another row still holds; %snothing was changed: %w", tq, what, moves, err)
		}
		return 0, fmt.Errorf("merge %s: %s: %w", tq, what, err)
	}
	if err := txWarnings(ctx, tx, m.table, what); err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, err
	}
	if want >= 0 && n != want {
		return n, fmt.Errorf("merge %s: %s affected %d rows, the compare expected %d (was the table written by something else during the run?); nothing was changed", tq, what, n, want)
	}
	return n, nil
}

// applyDeletes runs m's deletes in tx: the rows the source lacks, and the
// updates that go as delete + insert. A foreign key's ON DELETE CASCADE
// may have deleted some already (a row of the same table, or a child's
// applied before its parent in a cycle): fewer affected rows are fine when
// none of those rows is left.
func (t *Target) applyDeletes(ctx context.Context, tx *sql.Tx, m *pendingMerge, run map[string]*pendingMerge) error {
	if m.delta == "" {
		return nil
	}
	a := applySQL(m.table, m.delta, m.cols, m.key, m.keyPos, m.move)
	m.moved = 0
	if a.mark != "" && m.updates > 0 {
		n, err := execMerge(ctx, tx, m, "find updates that move unique values", a.mark, -1)
		if err != nil {
			return err
		}
		m.moved = n
	}
	if m.moved > 0 {
		if err := deleteMoved(ctx, tx, m, a.delMoved); err != nil {
			return err
		}
	}
	want := m.deletes
	if want == 0 {
		return nil
	}
	if err := checkChildren(ctx, tx, m, run); err != nil {
		return err
	}
	n, err := execMerge(ctx, tx, m, "delete rows", a.del, -1)
	if err != nil || n == want {
		return err
	}
	var left int64
	if err := tx.QueryRowContext(ctx, a.remaining).Scan(&left); err != nil {
		return fmt.Errorf("merge %s: count rows left to delete: %w", dbsync.QuoteMySQL(m.table), err)
	}
	if n > want || left > 0 {
		return fmt.Errorf("merge %s: delete rows affected %d rows, the compare expected %d, and %d of them are still there (was the table written by something else during the run?); nothing was changed", dbsync.QuoteMySQL(m.table), n, want, left)
	}
	return nil
}

// deleteMoved deletes the rows whose updates go as delete + insert. With
// keysOff the foreign keys that reference them (all by the merge key) are
// not checked for this one statement: the rows come back with the same
// keys in this transaction (applyUpserts, before any child is written),
// and a check would cascade the delete into the children or refuse it.
// foreign_key_checks is a session variable any user may set, on MySQL 8
// (Azure) as on MariaDB; while it is 0 "foreign key constraints are
// ignored", cascades included
// (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_foreign_key_checks).
func deleteMoved(ctx context.Context, tx *sql.Tx, m *pendingMerge, q string) error {
	if m.keysOff {
		if _, err := tx.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
			return fmt.Errorf("merge %s: turn foreign key checks off to re-insert moved rows: %w", dbsync.QuoteMySQL(m.table), err)
		}
		defer func() {
			// The transaction's connection goes back to the pool: never
			// with the checks off.
			if _, err := tx.ExecContext(context.WithoutCancel(ctx), "SET SESSION foreign_key_checks = 1"); err != nil {
				tx.Rollback()
			}
		}()
	}
	_, err := execMerge(ctx, tx, m, "delete rows whose unique values move", q, m.moved)
	return err
}

// uncheckedCascade reports whether fk, a foreign key of a merged table,
// may have cascaded a delete of the run into it that checkChildren did not
// rule out: its parent is a merged table of the run with deletes, its rule
// is CASCADE, and it references the table itself or columns other than
// the parent's merge key. Only then is the table counted after the apply
// (a COUNT(*) reads the whole table).
func uncheckedCascade(fk dbsync.ForeignKey, run map[string]*pendingMerge) bool {
	if !strings.EqualFold(fk.OnDelete, "CASCADE") {
		return false
	}
	for name, p := range run {
		if strings.EqualFold(name, fk.RefTable) && p.delta != "" && p.deletes > 0 {
			return strings.EqualFold(fk.Table, fk.RefTable) || !dbsync.SameColumns(fk.RefColumns, dbsync.KeyNames(p.key))
		}
	}
	return false
}

// checkChildren refuses to delete rows of m that rows of the run's other
// merge tables still reference once their own deletes are applied (they
// come first): the source's child rows then reference parents the source
// lacks, and the key's rule would refuse the delete, cascade it into rows
// the source has, or set their columns NULL — the target would no longer
// equal the source. Only keys that reference m's merge key are checked
// this way (a delete row of the delta holds only the key); the row count
// after the apply catches the rest.
func checkChildren(ctx context.Context, tx *sql.Tx, m *pendingMerge, run map[string]*pendingMerge) error {
	if m.deletes == 0 {
		return nil
	}
	keyNames := dbsync.KeyNames(m.key)
	for _, fk := range m.links.Children {
		var child *pendingMerge
		for name, c := range run {
			if strings.EqualFold(name, fk.Table) {
				child = c
			}
		}
		if child == nil || strings.EqualFold(fk.Table, m.table) || !dbsync.SameColumns(fk.RefColumns, keyNames) {
			continue
		}
		var on []string
		for i, c := range fk.Columns {
			on = append(on, "c."+dbsync.QuoteMySQL(c)+" = d."+dbsync.QuoteMySQL(fk.RefColumns[i]))
		}
		var n int64
		q := "SELECT COUNT(*) FROM " + dbsync.QuoteMySQL(child.table) + " AS c JOIN " + dbsync.QuoteMySQL(m.delta) + " AS d ON " + strings.Join(on, " AND ") + " WHERE d.`dbsync_op` = 'D'"
		if err := tx.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return fmt.Errorf("merge %s: count rows of %s that reference deleted rows: %w", dbsync.QuoteMySQL(m.table), dbsync.QuoteMySQL(child.table), err)
		}
		if n > 0 {
			return fmt.Errorf("merge %s: the source lacks rows of %s that %d rows of %s still reference in the source (foreign key %s, ON DELETE %s): the source's rows are inconsistent with the target's foreign key, and applying them would not leave the target equal to the source; nothing was changed",
				dbsync.QuoteMySQL(m.table), dbsync.QuoteMySQL(m.table), n, dbsync.QuoteMySQL(child.table), dbsync.QuoteMySQL(fk.Name), fk.OnDelete)
		}
	}
	return nil
}

// applyUpserts runs m's updates, then its inserts (the re-inserted
// updates with them), in tx; it records how many rows were updated.
func (t *Target) applyUpserts(ctx context.Context, tx *sql.Tx, m *pendingMerge) error {
	if m.delta == "" {
		return nil
	}
	a := applySQL(m.table, m.delta, m.cols, m.key, m.keyPos, m.move)
	m.updated = m.moved
	if m.updates > m.moved && a.update != "" {
		n, err := execMerge(ctx, tx, m, "update rows", a.update, -1)
		if err != nil {
			return err
		}
		m.updated += n
	}
	if want := m.inserts + m.moved; want > 0 {
		if _, err := execMerge(ctx, tx, m, "insert rows", a.insert, want); err != nil {
			return err
		}
	}
	return nil
}

// txWarnings fails a merge statement that raised any warning: each one is a
// value changed or a statement MySQL 8 deprecates.
func txWarnings(ctx context.Context, tx *sql.Tx, table, what string) error {
	var count int64
	if err := tx.QueryRowContext(ctx, "SHOW COUNT(*) WARNINGS").Scan(&count); err != nil {
		return fmt.Errorf("merge %s: read warnings of %s: %w", dbsync.QuoteMySQL(table), what, err)
	}
	if count == 0 {
		return nil
	}
	var level, msg string
	var code int
	if err := tx.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &msg); err != nil {
		return fmt.Errorf("merge %s: read warnings of %s: %w", dbsync.QuoteMySQL(table), what, err)
	}
	return fmt.Errorf("merge %s: %s: the server reported %d warning(s), so nothing was changed; first: %s %d: %s", dbsync.QuoteMySQL(table), what, count, level, code, msg)
}

// Links reads the table's triggers, its foreign keys both ways
// (information_schema.REFERENTIAL_CONSTRAINTS with KEY_COLUMN_USAGE for the
// columns) and its unique keys.
func (t *Target) Links(ctx context.Context, table string) (dbsync.TableLinks, error) {
	l := dbsync.TableLinks{Enforced: true}
	name := t.stored(table)
	fail := func(what string, err error) (dbsync.TableLinks, error) {
		return dbsync.TableLinks{}, fmt.Errorf("read %s of target table %s: %w", what, dbsync.QuoteMySQL(table), err)
	}
	triggers, err := dbsync.QueryStrings(ctx, t.db, `SELECT TRIGGER_NAME FROM information_schema.TRIGGERS
		WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ? ORDER BY TRIGGER_NAME`, name)
	if err != nil {
		return fail("triggers", err)
	}
	l.Triggers = triggers
	// Own keys (the constraint's table is this one) and keys that
	// reference it, from any schema; a schema other than the target's is
	// named with the table.
	rows, err := t.db.QueryContext(ctx, `SELECT rc.CONSTRAINT_SCHEMA, rc.CONSTRAINT_NAME, rc.TABLE_NAME, rc.REFERENCED_TABLE_NAME, rc.UNIQUE_CONSTRAINT_SCHEMA, rc.DELETE_RULE,
			k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME
		FROM information_schema.REFERENTIAL_CONSTRAINTS rc
		JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME
		WHERE (rc.CONSTRAINT_SCHEMA = DATABASE() AND rc.TABLE_NAME = ?) OR (rc.UNIQUE_CONSTRAINT_SCHEMA = DATABASE() AND rc.REFERENCED_TABLE_NAME = ?)
		ORDER BY rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION`, name, name)
	if err != nil {
		return fail("foreign keys", err)
	}
	var db string
	_ = t.db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db)
	var fks []dbsync.ForeignKey
	var schemas []string
	for rows.Next() {
		var schema, cname, child, parent, parentSchema, rule, col string
		var ref sql.NullString
		if err := rows.Scan(&schema, &cname, &child, &parent, &parentSchema, &rule, &col, &ref); err != nil {
			rows.Close()
			return fail("foreign keys", err)
		}
		if n := len(fks); n == 0 || fks[n-1].Name != cname || fks[n-1].Table != child || schemas[n-1] != schema {
			if schema != db {
				child = schema + "." + child
			}
			if parentSchema != db {
				parent = parentSchema + "." + parent
			}
			fks = append(fks, dbsync.ForeignKey{Name: cname, Table: child, RefTable: parent, OnDelete: rule})
			schemas = append(schemas, schema)
		}
		fk := &fks[len(fks)-1]
		fk.Columns = append(fk.Columns, col)
		fk.RefColumns = append(fk.RefColumns, ref.String)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail("foreign keys", err)
	}
	for i, fk := range fks {
		if schemas[i] == db && strings.EqualFold(fk.Table, name) {
			l.Parents = append(l.Parents, fk)
		}
		if strings.EqualFold(fk.RefTable, name) {
			l.Children = append(l.Children, fk)
		}
	}
	rows, err = t.db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`, name)
	if err != nil {
		return fail("unique keys", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ix, col string
		if err := rows.Scan(&ix, &col); err != nil {
			return fail("unique keys", err)
		}
		if n := len(l.Unique); n == 0 || l.Unique[n-1].Name != ix {
			l.Unique = append(l.Unique, dbsync.UniqueIndex{Name: ix})
		}
		u := &l.Unique[len(l.Unique)-1]
		u.Columns = append(u.Columns, col)
	}
	return l, rows.Err()
}

// The MySQL target merges.

func (t *Target) AsMerger() (dbsync.Merger, bool) { return t, true }

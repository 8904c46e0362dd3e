package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// mergeColumn is a target column as a merge needs it.
type mergeColumn struct {
	targetColumn
	nullable  bool
	invisible bool
	charset   string // CHARACTER_SET_NAME; empty for non-text types
	collation string
}

// mergeColumns reads the columns of a MySQL table with what a merge needs
// beyond targetColumn: nullability, invisibility (generated invisible
// primary keys), character set and collation.
func (t *mysqlTarget) mergeColumns(ctx context.Context, table string) ([]mergeColumn, error) {
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
			return nil, fmt.Errorf("table %s changed while its columns were read", quoteMySQL(table))
		}
		cols = append(cols, mergeColumn{targetColumn: base[i], nullable: nullable == "YES",
			invisible: strings.Contains(strings.ToUpper(extra), "INVISIBLE"), charset: charset, collation: collation})
	}
	return cols, rows.Err()
}

// keyOrderFor says how a key column of a MySQL DATA_TYPE is ordered, or why
// it cannot be a merge key.
func keyOrderFor(dataType string) (keyOrder, error) {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return orderNumber, nil
	case "float", "double", "real":
		return 0, errors.New("a floating-point column cannot identify rows exactly")
	}
	return orderBytes, nil
}

// mergeKey chooses the merge key of a MySQL target table: its PRIMARY KEY,
// else its first UNIQUE key whose columns are all NOT NULL, else the
// configured columns (key = col1,col2). A key with an invisible column is
// never used: that is the generated invisible primary key (my_row_id)
// Azure Database for MySQL 8 adds to a table made without one, which the
// source does not have. A configured key must name the table's key when it
// has one. setting names the config section, for messages
// ("[table.items]").
func (t *mysqlTarget) mergeKey(ctx context.Context, table string, configured []string, setting string) ([]keyColumn, error) {
	if setting == "" {
		setting = "[sync]"
	}
	cols, err := t.mergeColumns(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of target table %s: %w", quoteMySQL(table), err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("choose merge key: target table %s does not exist in database %s (the first run of a table is a replace)", quoteMySQL(table), t.cfg.Database)
	}
	byName := map[string]mergeColumn{}
	for _, c := range cols {
		byName[strings.ToLower(c.name)] = c
	}
	rows, err := t.db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0
		ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX`, t.stored(table))
	if err != nil {
		return nil, fmt.Errorf("read keys of target table %s: %w", quoteMySQL(table), err)
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
	var chosen []string
	for _, ix := range indexes {
		usable := true
		for _, c := range ix.cols {
			mc := byName[strings.ToLower(c)]
			if mc.invisible || mc.nullable || mc.generated {
				usable = false
			}
		}
		if usable {
			chosen = ix.cols
			break
		}
	}
	switch {
	case chosen == nil && len(configured) == 0:
		return nil, &ConfigError{Key: setting + " key", Reason: fmt.Sprintf("merge needs a key, and target table %s has no PRIMARY KEY or UNIQUE key of NOT NULL columns (a generated invisible my_row_id does not count: the source has no such column); "+
			"add a primary key to the table or set key = col1,col2 in %s", quoteMySQL(table), setting)}
	case chosen != nil && len(configured) > 0 && !sameColumns(chosen, configured):
		return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("target table %s has the key (%s), which a merge uses; remove key or set it to those columns",
			quoteMySQL(table), strings.Join(chosen, ", "))}
	case chosen == nil:
		chosen = configured
	}
	key := make([]keyColumn, len(chosen))
	for i, name := range chosen {
		c, ok := byName[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("target table %s has no column %s", quoteMySQL(table), quoteMySQL(name))}
		}
		order, err := keyOrderFor(c.dataType)
		if err != nil {
			return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("column %s of table %s cannot be a merge key: %v", quoteMySQL(c.name), quoteMySQL(table), err)}
		}
		key[i] = keyColumn{Name: c.name, Order: order}
	}
	return key, nil
}

func sameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, c := range a {
		seen[strings.ToLower(c)]++
	}
	for _, c := range b {
		seen[strings.ToLower(strings.TrimSpace(c))]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// merge makes the target table equal to src, which must come ordered by
// opts.Key (orderedQuery), writing only the rows that differ:
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
func (t *mysqlTarget) merge(ctx context.Context, src rowReader, opts mergeOptions) (res mergeResult, err error) {
	opts = opts.withDefaults()
	// The delta table's name names this run, and fits MySQL's limits
	// (helper_tables.go).
	table, delta := opts.Table, t.helper(opts.Table, deltaSuffix)
	existing, err := t.mergeColumns(ctx, table)
	if err != nil {
		return res, fmt.Errorf("read columns of target table %s: %w", quoteMySQL(table), err)
	}
	if len(existing) == 0 {
		return mergeResult{Replaced: true, Reason: fmt.Sprintf("target table %s does not exist yet: the first run of a table is a replace", table)}, nil
	}
	plain := make([]targetColumn, len(existing))
	for i, c := range existing {
		plain[i] = c.targetColumn
	}
	srcCols := src.Columns()
	order, keyPos, handBack, err := matchMerge(table, srcCols, plain, opts)
	if handBack != nil {
		return *handBack, err
	}
	if err != nil {
		return res, err
	}
	cols := make([]mergeColumn, len(srcCols))
	for i := range srcCols {
		cols[i] = existing[order[i]]
		if n := strings.ToLower(cols[i].name); n == "dbsync_op" || n == "dbsync_seq" {
			return res, fmt.Errorf("merge %s: column %s has a name the merge's delta table uses itself; rename it in the query", quoteMySQL(table), quoteMySQL(cols[i].name))
		}
	}

	// Read the target with the protocol the source was read with, so that
	// both print every value alike (source.go: FLOAT needs the binary one).
	binary := false
	if b, ok := src.(interface{ binary() bool }); ok && b.binary() {
		binary = true
	}
	dst, err := t.openTableReader(ctx, table, cols, opts.Key, binary)
	if err != nil {
		return res, err
	}
	defer dst.Close()

	d := newDeltaReader(table,
		&keyReader{side: "source", rows: src, key: opts.Key, pos: keyPos},
		&keyReader{side: "target", rows: dst, key: opts.Key, pos: keyPos},
		mysqlRowsEqual(cols))
	found := d.prime()
	if err := d.compareError(table); err != nil {
		return res, err
	}
	res.Rows = d.src.n
	if found {
		if err := t.dropOwn(ctx, table, delta, false); err != nil {
			return res, err
		}
		if err := t.createDelta(ctx, delta, cols); err != nil {
			return res, err
		}
		kept := false
		defer func() {
			if !kept {
				t.dropDelta(ctx, delta)
			}
		}()
		defer func() { kept = err == nil && !res.Replaced }()
		loaded, method, err := t.loadDelta(ctx, delta, cols, d)
		res.LoadMethod = method
		if cerr := d.compareError(table); cerr != nil {
			return res, cerr
		}
		if err != nil {
			return res, err
		}
		if loaded != d.changes() {
			return res, fmt.Errorf("verify %s: the delta table holds %d rows but the compare found %d differences", delta, loaded, d.changes())
		}
	}
	res.Rows = d.src.n
	targetRows := d.dst.n
	if reason, err := checkThresholds(table, targetRows, d.inserts, d.updates, d.deletes, opts); err != nil || reason != "" {
		return mergeResult{Rows: res.Rows, Replaced: reason != "", Reason: reason}, err
	}
	// The differences are applied at the run's commit step (applyMerges),
	// in one transaction with every other merged table. Until then Updated
	// counts the rows the compare found different; the UPDATE may find
	// fewer whose stored values differ, and applyMerges corrects it.
	res.Inserted, res.Deleted, res.Updated, res.Unchanged = d.inserts, d.deletes, d.updates, d.unchanged
	if found {
		t.mu.Lock()
		t.merges = append(t.merges, &pendingMerge{table: table, delta: delta, cols: cols, key: opts.Key, keyPos: keyPos,
			inserts: d.inserts, updates: d.updates, deletes: d.deletes})
		t.mu.Unlock()
	}
	return res, nil
}

// pendingMerge is a merged table whose differences wait in its delta table
// for the run's commit step.
type pendingMerge struct {
	table, delta              string
	cols                      []mergeColumn
	key                       []keyColumn
	keyPos                    []int
	inserts, updates, deletes int64
	updated                   int64 // what the UPDATE changed, once applied
	applied                   bool
}

func (t *mysqlTarget) dropDelta(ctx context.Context, delta string) {
	if _, err := t.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+quoteMySQL(delta)); err != nil {
		t.log.Warn("could not drop the merge's delta table; the next run drops it", "delta_table", delta, "error", err.Error())
	}
}

// applyMerges applies every pending merge in one transaction, which it
// returns uncommitted (nil when there is none): the swap commits it right
// after its RENAME of the replaced tables, so that an error before then
// leaves every table as it was. Caller holds t.mu.
func (t *mysqlTarget) applyMerges(ctx context.Context) (*sql.Tx, error) {
	if len(t.merges) == 0 {
		return nil, nil
	}
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("merge: begin transaction: %w", err)
	}
	for _, m := range t.merges {
		d := &deltaReader{inserts: m.inserts, updates: m.updates, deletes: m.deletes}
		if m.updated, err = t.applyDelta(ctx, tx, m.table, m.delta, m.cols, m.key, m.keyPos, d); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// commitMerges commits what applyMerges did and drops the delta tables.
// Caller holds t.mu.
func (t *mysqlTarget) commitMerges(ctx context.Context, tx *sql.Tx) error {
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
func (t *mysqlTarget) discardMerges(ctx context.Context) {
	for _, m := range t.merges {
		if !m.applied {
			t.dropDelta(ctx, m.delta)
		}
	}
	t.merges = nil
}

// appliedUpdates is, per merged table, how many rows the UPDATE changed:
// the run's report replaces the compare's count with it.
func (t *mysqlTarget) appliedUpdates() map[string]int64 {
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

// compareError is the compare's own failure, or the target read's, as an
// error of the merge: neither is a failure of the source, so neither may
// send a run to the fallback.
func (d *deltaReader) compareError(table string) error {
	if d.err != nil {
		return d.err
	}
	if err := d.dst.rows.Err(); err != nil {
		return fmt.Errorf("read target table %s for the merge: %w", quoteMySQL(table), err)
	}
	if err := d.src.rows.Err(); err != nil {
		return asSourceError(err)
	}
	return nil
}

// keyPositions finds the key's columns among the source's.
func keyPositions(key []keyColumn, srcCols []Column, table string) ([]int, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("merge %s: no key given", quoteMySQL(table))
	}
	pos := make([]int, len(key))
	for i, k := range key {
		pos[i] = -1
		for j, c := range srcCols {
			if strings.EqualFold(c.Name, k.Name) {
				pos[i] = j
			}
		}
		if pos[i] < 0 {
			return nil, fmt.Errorf("merge %s: key column %s is not in the source's columns; the query must return every key column", quoteMySQL(table), quoteMySQL(k.Name))
		}
	}
	return pos, nil
}

// mysqlRowsEqual compares a source row with a target row byte for byte
// (both sides are read through the same protocol), except FLOAT and DOUBLE
// target columns, compared as the numbers the target stores: a source
// value that is not a FLOAT prints differently from one read from a FLOAT.
func mysqlRowsEqual(cols []mergeColumn) func(a, b [][]byte) bool {
	bits := make([]int, len(cols))
	for i, c := range cols {
		switch c.dataType {
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
func orderExpr(k keyColumn, c mergeColumn) string {
	q := quoteMySQL(c.name)
	switch {
	case k.Order == orderNumber:
		return q
	case c.charset != "" && !strings.HasPrefix(c.charset, "utf8mb4"):
		return "CAST(CONVERT(" + q + " USING utf8mb4) AS BINARY)"
	case c.charset != "":
		return "CAST(" + q + " AS BINARY)"
	}
	// Binary strings are ordered by their bytes already; dates, times and
	// decimals by their text.
	if strings.Contains(c.dataType, "binary") || strings.Contains(c.dataType, "blob") || c.dataType == "bit" {
		return q
	}
	return "CAST(" + q + " AS BINARY)"
}

// mysqlTableReader reads a target table ordered by key: the rows the
// compare checks the source against. A FLOAT column is read as a DOUBLE
// through the text protocol, which prints FLOAT rounded to 6 digits.
type mysqlTableReader struct {
	conn *sql.Conn
	stmt *sql.Stmt
	rows *sql.Rows
	cols []Column
	scan rawScan
}

func (t *mysqlTarget) openTableReader(ctx context.Context, table string, cols []mergeColumn, key []keyColumn, binary bool) (*mysqlTableReader, error) {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = quoteMySQL(c.name)
		if c.dataType == "float" && !binary {
			sel[i] = "CAST(" + quoteMySQL(c.name) + " AS DOUBLE)"
		}
	}
	by := make([]string, len(key))
	for i, k := range key {
		for _, c := range cols {
			if strings.EqualFold(c.name, k.Name) {
				by[i] = orderExpr(k, c)
			}
		}
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + quoteMySQL(table) + " ORDER BY " + strings.Join(by, ", ")
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to target to read %s: %w", quoteMySQL(table), err)
	}
	r := &mysqlTableReader{conn: conn}
	if binary {
		if r.stmt, err = conn.PrepareContext(ctx, q); err == nil {
			r.rows, err = r.stmt.QueryContext(ctx)
		}
	} else {
		r.rows, err = conn.QueryContext(ctx, q)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("read target table %s ordered by its key: %w", quoteMySQL(table), err)
	}
	r.scan = newRawScan(len(cols))
	return r, nil
}

func (r *mysqlTableReader) Columns() []Column { return r.cols }
func (r *mysqlTableReader) Values() [][]byte  { return r.scan.cells }
func (r *mysqlTableReader) Next() bool        { return r.scan.next(r.rows) }
func (r *mysqlTableReader) Err() error        { return r.scan.rowsErr(r.rows) }

func (r *mysqlTableReader) Close() error {
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
func (t *mysqlTarget) createDelta(ctx context.Context, delta string, cols []mergeColumn) error {
	defs := []string{"`dbsync_op` CHAR(1) CHARACTER SET ascii NOT NULL", "`dbsync_seq` BIGINT UNSIGNED NOT NULL"}
	for _, c := range cols {
		d := quoteMySQL(c.name) + " " + c.columnType
		if c.charset != "" {
			d += " CHARACTER SET " + c.charset + " COLLATE " + c.collation
		}
		defs = append(defs, d+" NULL")
	}
	defs = append(defs, "PRIMARY KEY (`dbsync_op`, `dbsync_seq`)")
	q := "CREATE TABLE " + quoteMySQL(delta) + " (\n  " + strings.Join(defs, ",\n  ") + "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT = " +
		quoteMySQLString(ownMark+"merge differences of run "+t.runID+"; dbsync drops it")
	if _, err := t.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create merge delta table %s: %w", delta, err)
	}
	return nil
}

// loadDelta streams the compare's differences into the delta table the way
// staging tables are loaded (load).
func (t *mysqlTarget) loadDelta(ctx context.Context, delta string, cols []mergeColumn, d *deltaReader) (int64, string, error) {
	plan := loadPlan{table: delta, target: d.table,
		columns: []loadColumn{{name: "dbsync_op"}, {name: "dbsync_seq"}}}
	for i, c := range d.src.rows.Columns() {
		col := loadColumn{name: cols[i].name, mode: encodingFor(c.Kind, cols[i].dataType)}
		if cols[i].dataType == "enum" && !enumListsEmpty(cols[i].columnType) {
			col.enumWithoutEmpty = cols[i].columnType
			plan.checked = append(plan.checked, 2+i)
		}
		plan.columns = append(plan.columns, col)
	}
	return t.load(ctx, plan, d)
}

// applyDelta applies the delta table to the target in tx, the transaction
// of every merged table of the run, and returns how many rows the UPDATE
// changed. Any warning, or a count that differs from the compare's, fails
// it, and the caller rolls everything back.
func (t *mysqlTarget) applyDelta(ctx context.Context, tx *sql.Tx, table, delta string, cols []mergeColumn, key []keyColumn, keyPos []int, d *deltaReader) (int64, error) {
	tq, dq := quoteMySQL(table), quoteMySQL(delta)
	isKey := map[int]bool{}
	var on []string
	for i, p := range keyPos {
		n := quoteMySQL(cols[p].name)
		on = append(on, "t."+n+" = d."+n)
		if key[i].Order == orderBytes {
			// The index finds the row by the column's collation; the bytes
			// pick the one row the compare meant ('a' is not 'A').
			on = append(on, "CAST(t."+n+" AS BINARY) = CAST(d."+n+" AS BINARY)")
		}
		isKey[p] = true
	}
	var set, same, names []string
	for i, c := range cols {
		n := quoteMySQL(c.name)
		names = append(names, n)
		if isKey[i] {
			continue
		}
		set = append(set, "t."+n+" = d."+n)
		if c.charset != "" || c.dataType == "json" {
			same = append(same, "CAST(t."+n+" AS BINARY) <=> CAST(d."+n+" AS BINARY)")
		} else {
			same = append(same, "t."+n+" <=> d."+n)
		}
	}
	join := " JOIN " + dq + " AS d ON " + strings.Join(on, " AND ")

	exec := func(what, q string, want int64) (int64, error) {
		r, err := tx.ExecContext(ctx, q)
		if err != nil {
			if mysqlErrorNumber(err) == 1451 {
				return 0, fmt.Errorf("merge %s: %s: a foreign key of another table references a row the source no longer has, and its rule (RESTRICT / NO ACTION) forbids deleting it; nothing was changed: %w", tq, what, err)
			}
			return 0, fmt.Errorf("merge %s: %s: %w", tq, what, err)
		}
		if err := txWarnings(ctx, tx, table, what); err != nil {
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
	if d.deletes > 0 {
		if _, err := exec("delete rows", "DELETE t FROM "+tq+" AS t"+join+" WHERE d.`dbsync_op` = 'D'", d.deletes); err != nil {
			return 0, err
		}
	}
	var updated int64
	var err error
	if d.updates > 0 && len(set) > 0 {
		if updated, err = exec("update rows", "UPDATE "+tq+" AS t"+join+" SET "+strings.Join(set, ", ")+
			" WHERE d.`dbsync_op` = 'U' AND NOT ("+strings.Join(same, " AND ")+")", -1); err != nil {
			return 0, err
		}
	}
	if d.inserts > 0 {
		if _, err := exec("insert rows", "INSERT INTO "+tq+" ("+strings.Join(names, ", ")+") SELECT "+strings.Join(names, ", ")+
			" FROM "+dq+" WHERE `dbsync_op` = 'I' ORDER BY `dbsync_seq`", d.inserts); err != nil {
			return 0, err
		}
	}
	return updated, nil
}

// txWarnings fails a merge statement that raised any warning: each one is a
// value changed or a statement MySQL 8 deprecates.
func txWarnings(ctx context.Context, tx *sql.Tx, table, what string) error {
	var count int64
	if err := tx.QueryRowContext(ctx, "SHOW COUNT(*) WARNINGS").Scan(&count); err != nil {
		return fmt.Errorf("merge %s: read warnings of %s: %w", quoteMySQL(table), what, err)
	}
	if count == 0 {
		return nil
	}
	var level, msg string
	var code int
	if err := tx.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &msg); err != nil {
		return fmt.Errorf("merge %s: read warnings of %s: %w", quoteMySQL(table), what, err)
	}
	return fmt.Errorf("merge %s: %s: the server reported %d warning(s), so nothing was changed; first: %s %d: %s", quoteMySQL(table), what, count, level, code, msg)
}

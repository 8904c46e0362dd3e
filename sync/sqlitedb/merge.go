package sqlitedb

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

// MergeKey chooses the merge key of a SQLite target table as the MySQL
// target does: its PRIMARY KEY, else a UNIQUE index of NOT NULL columns,
// else the configured columns.
func (t *Target) MergeKey(ctx context.Context, table string, configured []string, setting string) ([]dbsync.KeyColumn, error) {
	if setting == "" {
		setting = "[sync]"
	}
	if t.conn == nil && t.db == nil {
		// check: no run holds the file; read it through a read-only handle
		// for this call.
		db, err := t.readOnly()
		if err != nil {
			return nil, err
		}
		if db == nil {
			return nil, fmt.Errorf("choose merge key: sqlite target %s does not exist yet (the first run of a table is a replace)", t.path)
		}
		t.db = db
		defer func() { t.db = nil; db.Close() }()
	}
	rows, err := t.reader().QueryContext(ctx, `SELECT "name", "type", "notnull", "pk" FROM pragma_table_xinfo(?) WHERE "hidden" = 0`, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", quote(table), err)
	}
	type col struct {
		name, typ string
		notNull   bool
		pk        int
	}
	byName := map[string]col{}
	var pk []col
	for rows.Next() {
		var c col
		var nn int
		if err := rows.Scan(&c.name, &c.typ, &nn, &c.pk); err != nil {
			rows.Close()
			return nil, err
		}
		c.notNull = nn == 1 || (c.pk > 0 && strings.EqualFold(c.typ, "INTEGER"))
		byName[strings.ToLower(c.name)] = c
		if c.pk > 0 {
			pk = append(pk, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("choose merge key: target table %s does not exist in %s (the first run of a table is a replace)", quote(table), t.path)
	}
	var usable [][]string
	var pkCols []string
	for i := 1; i <= len(pk); i++ {
		for _, c := range pk {
			if c.pk == i {
				pkCols = append(pkCols, c.name)
			}
		}
	}
	if pkCols != nil {
		usable = append(usable, pkCols)
	}
	uniques, err := t.uniqueKeys(ctx, table, func(name string) bool { return byName[strings.ToLower(name)].notNull })
	if err != nil {
		return nil, err
	}
	usable = append(usable, uniques...)
	candidates := make(map[string]dbsync.KeyCandidate, len(byName))
	for lower, c := range byName {
		k := dbsync.KeyCandidate{Name: c.name, Order: dbsync.OrderBytes}
		switch kind(c.typ) {
		case dbsync.KindInt, dbsync.KindUint:
			k.Order = dbsync.OrderNumber
		case dbsync.KindDouble:
			k.NotKey = dbsync.ErrFloatKey
		}
		candidates[lower] = k
	}
	noKey := fmt.Sprintf("merge needs a key, and target table %s in %s has no PRIMARY KEY or UNIQUE index of NOT NULL columns; add one or set key = col1,col2 in %s", quote(table), t.path, setting)
	return dbsync.PickMergeKey(table, quote, usable, candidates, configured, setting, noKey)
}

// reader is the run's transaction when one is open (the handle holds one
// connection, which the transaction keeps), else the database.
func (t *Target) reader() interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
} {
	if t.conn != nil {
		return t.conn
	}
	return t.db
}

// TableExists reports whether the target table exists, as the run's
// transaction sees it.
func (t *Target) TableExists(ctx context.Context, table string) (bool, error) {
	rows, err := t.reader().QueryContext(ctx, `SELECT 1 FROM sqlite_master WHERE "type" = 'table' AND "name" = ? COLLATE NOCASE`, table)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", t.path, explainError(err))
	}
	defer rows.Close()
	return rows.Next(), rows.Err()
}

// uniqueKeys returns the columns of each UNIQUE, non-partial index of
// table whose columns are all NOT NULL, in index name order.
func (t *Target) uniqueKeys(ctx context.Context, table string, notNull func(string) bool) ([][]string, error) {
	rows, err := t.reader().QueryContext(ctx, `SELECT "name" FROM pragma_index_list(?) WHERE "unique" = 1 AND "partial" = 0 ORDER BY "name"`, table)
	if err != nil {
		return nil, fmt.Errorf("read indexes of %s: %w", quote(table), err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	var keys [][]string
	for _, ix := range names {
		cr, err := t.reader().QueryContext(ctx, `SELECT "name" FROM pragma_index_info(?) ORDER BY "seqno"`, ix)
		if err != nil {
			return nil, err
		}
		var cols []string
		ok := true
		for cr.Next() {
			var c sql.NullString
			if err := cr.Scan(&c); err != nil {
				cr.Close()
				return nil, err
			}
			if !c.Valid || !notNull(c.String) { // an expression, or a NULL-able column
				ok = false
			}
			cols = append(cols, c.String)
		}
		cr.Close()
		if ok && len(cols) > 0 {
			keys = append(keys, cols)
		}
	}
	return keys, nil
}

// OpenMerge starts the merge of table inside the run's transaction, which
// it begins if no other table did: the differences go into
// <table>__dbsync_delta, then one DELETE, one UPDATE … FROM and one
// INSERT … SELECT apply them and the delta table is dropped. It does not
// commit: the run's commit (Swap) does.
func (t *Target) OpenMerge(ctx context.Context, table string) (dbsync.TableMerge, error) {
	if t.conn == nil {
		conn, err := t.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", t.path, explainError(err))
		}
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			conn.Close()
			return nil, fmt.Errorf("begin transaction on %s: %w", t.path, explainError(err))
		}
		t.conn = conn
	}
	dst, _, err := t.columns(ctx, t.conn, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", quote(table), err)
	}
	return &tableMerge{t: t, table: table, delta: table + dbsync.DeltaSuffix, dst: dst}, nil
}

// tableMerge is one table's merge on a SQLite target (dbsync.TableMerge).
type tableMerge struct {
	t            *Target
	table, delta string
	dst          []dbsync.TargetColumn // the table's columns
	src          []dbsync.Column       // the source's columns
	cols         []dbsync.TargetColumn // the merge's, in the source's order
	keyPos       []int
	reader       *tableReader
	made         bool // the delta table exists
	// sel and by are the reader's select list and ORDER BY; key the
	// merge's key (ReadKeys).
	sel, by string
	key     []dbsync.KeyColumn
}

func (m *tableMerge) Columns() []dbsync.TargetColumn { return m.dst }

func (m *tableMerge) Prepare(ctx context.Context, p dbsync.MergePlan) error {
	tx := m.t.conn
	m.src, m.cols, m.keyPos, m.key = p.Source, make([]dbsync.TargetColumn, len(p.Order)), p.KeyPos, p.Key
	key, keyPos := p.Key, p.KeyPos
	for i, o := range p.Order {
		m.cols[i] = m.dst[o]
	}
	var found int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE "name" = ? COLLATE NOCASE`, m.delta).Scan(&found); err != nil {
		return fmt.Errorf("inspect %s: %w", m.t.path, explainError(err))
	}
	if found > 0 {
		return fmt.Errorf("table %s exists in %s but was not made by dbsync (a merge builds its differences under that name inside its transaction, so it never leaves one behind); rename or drop it", quote(m.delta), m.t.path)
	}
	sel := make([]string, len(m.cols))
	for i, c := range m.cols {
		// Unary + keeps the value and hides the declared type, so that the
		// driver hands DATE/DATETIME text over as it is stored.
		sel[i] = "+" + quote(c.Name)
	}
	by := make([]string, len(key))
	for i, k := range key {
		by[i] = quote(m.cols[keyPos[i]].Name)
		if k.Order == dbsync.OrderBytes {
			by[i] = "CAST(" + by[i] + " AS BLOB)"
		}
	}
	m.sel, m.by = strings.Join(sel, ", "), strings.Join(by, ", ")
	if p.ByKey {
		return nil // ReadKeys reads the rows (incremental.go)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+m.sel+" FROM "+quote(m.table)+" ORDER BY "+m.by)
	if err != nil {
		return fmt.Errorf("read %s ordered by its key: %w", quote(m.table), explainError(err))
	}
	m.reader = newTableReader(rows, len(m.cols))
	return nil
}

func (m *tableMerge) Rows() dbsync.RowReader { return m.reader }

// Equal compares the source row, stored as this target would store it,
// with the values read from the target.
func (m *tableMerge) Equal(src, _ [][]byte) bool { return rowEqual(m.src, src, m.reader.vals) }

func (m *tableMerge) LoadDelta(ctx context.Context, d *dbsync.DeltaReader) (int64, string, error) {
	defs := []string{`"dbsync_op" TEXT NOT NULL`, `"dbsync_seq" INTEGER NOT NULL`}
	names := make([]string, len(m.cols))
	for i, c := range m.cols {
		names[i] = quote(c.Name)
		defs = append(defs, names[i]+" "+c.DataType)
	}
	defs = append(defs, `PRIMARY KEY ("dbsync_op", "dbsync_seq")`)
	if _, err := m.t.conn.ExecContext(ctx, "CREATE TABLE "+quote(m.delta)+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return 0, dbsync.LoadSQLite, fmt.Errorf("create merge delta table %s: %w", m.delta, explainError(err))
	}
	m.made = true
	// The staging tables' bulk insert: the compare it reads from reads
	// the target table on the same connection between its batches.
	n, err := insertRows(ctx, m.t.conn, m.delta, append([]string{`"dbsync_op"`, `"dbsync_seq"`}, names...), d)
	return n, dbsync.LoadSQLite, err
}

// Drop drops the delta table: the run's transaction goes on with the
// table replaced, or is rolled back.
func (m *tableMerge) Drop(ctx context.Context) error {
	if !m.made {
		return nil
	}
	if _, err := m.t.conn.ExecContext(ctx, "DROP TABLE "+quote(m.delta)); err != nil {
		return fmt.Errorf("drop merge delta table %s: %w", m.delta, explainError(err))
	}
	m.made = false
	return nil
}

// Apply applies the delta now, in the run's transaction, which swap
// commits; applying drops the delta table.
func (m *tableMerge) Apply(ctx context.Context, d *dbsync.DeltaReader, opts dbsync.MergeOptions, found bool) (int64, error) {
	if !found {
		return 0, nil
	}
	n, err := m.t.applyDelta(ctx, m.table, m.delta, m.cols, m.keyPos, opts.Move, d)
	if err == nil {
		m.made = false
	}
	return n, err
}

func (m *tableMerge) Close() error {
	if m.reader == nil {
		return nil
	}
	return m.reader.Close()
}

// AppliedUpdates: SQLite applies a merge with the compare's counts.
func (t *Target) AppliedUpdates() map[string]int64 { return nil }

// applyStatements is the SQL that applies one table's delta table.
type applyStatements struct {
	index, mark, del, update, insert, drop string
}

// applySQL builds the statements that apply delta to table, as
// mysqlApplySQL does. The delta's column is on the left of each key match:
// its BINARY collation compares bytes ('a' is not 'A' even if the table's
// key is NOCASE).
func applySQL(table, delta string, cols []dbsync.TargetColumn, keyPos []int, move []string) applyStatements {
	tq, dq := quote(table), quote(delta)
	isKey := map[int]bool{}
	var match, idx []string
	for _, p := range keyPos {
		n := quote(cols[p].Name)
		match = append(match, "d."+n+" = "+tq+"."+n)
		idx = append(idx, n)
		isKey[p] = true
	}
	differs := func(n string) string {
		return "(d." + n + " IS NOT " + tq + "." + n + " COLLATE BINARY OR typeof(d." + n + ") <> typeof(" + tq + "." + n + "))"
	}
	var set, changed, moved, names []string
	for i, c := range cols {
		n := quote(c.Name)
		names = append(names, n)
		if isKey[i] {
			continue
		}
		set = append(set, n+" = d."+n)
		changed = append(changed, differs(n))
		for _, m := range move {
			if strings.EqualFold(m, c.Name) {
				moved = append(moved, differs(n))
			}
		}
	}
	a := applyStatements{
		index: "CREATE INDEX " + quote(delta+"_key") + " ON " + dq + ` ("dbsync_op", ` + strings.Join(idx, ", ") + ")",
		del:   "DELETE FROM " + tq + " WHERE EXISTS (SELECT 1 FROM " + dq + " AS d WHERE d.\"dbsync_op\" IN ('D', 'M') AND " + strings.Join(match, " AND ") + ")",
		insert: "INSERT INTO " + tq + " (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(names, ", ") + " FROM " + dq +
			" WHERE \"dbsync_op\" IN ('I', 'M') ORDER BY \"dbsync_seq\"",
		drop: "DROP TABLE " + dq,
	}
	if len(moved) > 0 {
		a.mark = "UPDATE " + dq + " AS d SET \"dbsync_op\" = 'M' WHERE d.\"dbsync_op\" = 'U' AND EXISTS (SELECT 1 FROM " + tq +
			" WHERE " + strings.Join(match, " AND ") + " AND (" + strings.Join(moved, " OR ") + "))"
	}
	if len(set) > 0 {
		a.update = "UPDATE " + tq + " SET " + strings.Join(set, ", ") + " FROM " + dq + " AS d WHERE d.\"dbsync_op\" = 'U' AND " +
			strings.Join(match, " AND ") + " AND (" + strings.Join(changed, " OR ") + ")"
	}
	return a
}

// applyDelta applies the delta table to the target table and drops it, in
// the run's transaction; it returns how many rows were updated. Updates
// that change a move column go as delete + insert (see tableLinks.
// moveColumns): SQLite checks a UNIQUE key row by row, so two rows that
// swap a value would fail an UPDATE.
func (t *Target) applyDelta(ctx context.Context, table, delta string, cols []dbsync.TargetColumn, keyPos []int, move []string, d *dbsync.DeltaReader) (int64, error) {
	tq := quote(table)
	a := applySQL(table, delta, cols, keyPos, move)
	exec := func(what, q string, want int64) (int64, error) {
		r, err := t.conn.ExecContext(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("merge %s: %s: %w", tq, what, explainError(err))
		}
		n, _ := r.RowsAffected()
		if want >= 0 && n != want {
			return 0, fmt.Errorf("merge %s: %s affected %d rows, the compare expected %d; nothing was changed", tq, what, n, want)
		}
		return n, nil
	}
	if _, err := t.conn.ExecContext(ctx, a.index); err != nil {
		return 0, fmt.Errorf("merge %s: index the delta: %w", tq, explainError(err))
	}
	var moved, updated int64
	var err error
	if a.mark != "" && d.Updates > 0 {
		if moved, err = exec("find updates that move unique values", a.mark, -1); err != nil {
			return 0, err
		}
	}
	if d.Deletes+moved > 0 {
		if _, err := exec("delete rows", a.del, d.Deletes+moved); err != nil {
			return 0, err
		}
	}
	if d.Updates > moved && a.update != "" {
		if updated, err = exec("update rows", a.update, -1); err != nil {
			return 0, err
		}
	}
	if d.Inserts+moved > 0 {
		if _, err := exec("insert rows", a.insert, d.Inserts+moved); err != nil {
			return 0, err
		}
	}
	if _, err := t.conn.ExecContext(ctx, a.drop); err != nil {
		return 0, fmt.Errorf("merge %s: drop the delta: %w", tq, explainError(err))
	}
	return updated + moved, nil
}

// rowEqual compares a source row, stored as the SQLite target would
// store it (value), with the values read from the target.
func rowEqual(cols []dbsync.Column, src [][]byte, dst []any) bool {
	for i, cell := range src {
		v, err := value(cols[i], cell)
		if err != nil {
			return false // the delta's INSERT reports it
		}
		switch a := v.(type) {
		case nil:
			if dst[i] != nil {
				return false
			}
		case int64:
			if b, ok := dst[i].(int64); !ok || a != b {
				return false
			}
		case float64:
			if b, ok := dst[i].(float64); !ok || math.Float64bits(a) != math.Float64bits(b) {
				return false
			}
		case string:
			if b, ok := dst[i].(string); !ok || a != b {
				return false
			}
		case []byte:
			if b, ok := dst[i].([]byte); !ok || !bytes.Equal(a, b) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// tableReader reads the SQLite target table: its values as they are
// stored (vals), and as text cells for the key compare.
type tableReader struct{ scanRows }

func newTableReader(rows *sql.Rows, n int) *tableReader {
	return &tableReader{newScanRows(rows, n)}
}

func (r *tableReader) Columns() []dbsync.Column { return nil }
func (r *tableReader) Values() [][]byte         { return r.cells }
func (r *tableReader) Close() error             { return r.rows.Close() }

func (r *tableReader) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

func (r *tableReader) Next() bool { return r.next(r.cell) }

// cell is a stored value as text. The query hides declared types (unary
// +), so the driver parses no DATE/DATETIME into time.Time; anything else
// still compares by its printed form.
func (r *tableReader) cell(i int, b []byte, v any) ([]byte, error) {
	if raw, ok := v.([]byte); ok {
		r.vals[i] = append([]byte(nil), raw...) // Scan into any already copies; keep it safe
	}
	if b, ok := appendValue(b, v); ok {
		return b, nil
	}
	return fmt.Append(b, v), nil
}

// Links reads the table's triggers (sqlite_master), its foreign keys both
// ways (PRAGMA foreign_key_list of it and of every table) and its unique
// keys (PRAGMA index_list, and the primary key). SQLite checks foreign
// keys only on a connection that turned PRAGMA foreign_keys on; dbsync's
// does not, so Enforced is false.
func (t *Target) Links(ctx context.Context, table string) (dbsync.TableLinks, error) {
	var l dbsync.TableLinks
	q := t.reader()
	fail := func(what string, err error) (dbsync.TableLinks, error) {
		return dbsync.TableLinks{}, fmt.Errorf("read %s of %s in %s: %w", what, quote(table), t.path, explainError(err))
	}
	triggers, err := dbsync.QueryStrings(ctx, q, `SELECT "name" FROM sqlite_master WHERE "type" = 'trigger' AND "tbl_name" = ? COLLATE NOCASE ORDER BY "name"`, table)
	if err != nil {
		return fail("triggers", err)
	}
	l.Triggers = triggers
	rows, err := q.QueryContext(ctx, `SELECT m."name", f."id", f."table", f."from", COALESCE(f."to", ''), f."on_delete"
		FROM sqlite_master AS m JOIN pragma_foreign_key_list(m."name") AS f
		WHERE m."type" = 'table' AND (m."name" = ?1 COLLATE NOCASE OR f."table" = ?1 COLLATE NOCASE)
		ORDER BY m."name", f."id", f."seq"`, table)
	if err != nil {
		return fail("foreign keys", err)
	}
	var fks []dbsync.ForeignKey
	var ids []int
	for rows.Next() {
		var child, parent, from, to, rule string
		var id int
		if err := rows.Scan(&child, &id, &parent, &from, &to, &rule); err != nil {
			rows.Close()
			return fail("foreign keys", err)
		}
		if n := len(fks); n == 0 || fks[n-1].Table != child || ids[n-1] != id {
			fks = append(fks, dbsync.ForeignKey{Name: fmt.Sprintf("%s(%d)", child, id), Table: child, RefTable: parent, OnDelete: rule})
			ids = append(ids, id)
		}
		fk := &fks[len(fks)-1]
		fk.Columns = append(fk.Columns, from)
		fk.RefColumns = append(fk.RefColumns, to)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail("foreign keys", err)
	}
	for i, fk := range fks {
		// SQLite's foreign keys have no names: name one by its columns.
		fk.Name = fk.Table + "(" + strings.Join(fk.Columns, ", ") + ")"
		fks[i] = fk
		if strings.EqualFold(fk.Table, table) {
			l.Parents = append(l.Parents, fk)
		}
		if strings.EqualFold(fk.RefTable, table) {
			l.Children = append(l.Children, fk)
		}
	}
	rows, err = q.QueryContext(ctx, `SELECT i."name", c."name" FROM pragma_index_list(?) AS i JOIN pragma_index_info(i."name") AS c
		WHERE i."unique" = 1 AND i."partial" = 0 AND c."name" IS NOT NULL ORDER BY i."name", c."seqno"`, table)
	if err != nil {
		return fail("unique keys", err)
	}
	for rows.Next() {
		var ix, col string
		if err := rows.Scan(&ix, &col); err != nil {
			rows.Close()
			return fail("unique keys", err)
		}
		if n := len(l.Unique); n == 0 || l.Unique[n-1].Name != ix {
			l.Unique = append(l.Unique, dbsync.UniqueIndex{Name: ix})
		}
		u := &l.Unique[len(l.Unique)-1]
		u.Columns = append(u.Columns, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail("unique keys", err)
	}
	// An INTEGER PRIMARY KEY is the rowid and has no index of its own.
	rows, err = q.QueryContext(ctx, `SELECT "name" FROM pragma_table_xinfo(?) WHERE "pk" > 0 ORDER BY "pk"`, table)
	if err != nil {
		return fail("primary key", err)
	}
	defer rows.Close()
	pk := dbsync.UniqueIndex{Name: "PRIMARY"}
	for rows.Next() {
		var col string
		if err := rows.Scan(&col); err != nil {
			return fail("primary key", err)
		}
		pk.Columns = append(pk.Columns, col)
	}
	if len(pk.Columns) > 0 {
		l.Unique = append(l.Unique, pk)
	}
	return l, rows.Err()
}

func (t *Target) AsMerger() (dbsync.Merger, bool) { return t, true }

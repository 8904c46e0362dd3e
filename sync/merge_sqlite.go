package sync

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
)

// mergeKey chooses the merge key of a SQLite target table as the MySQL
// target does: its PRIMARY KEY, else a UNIQUE index of NOT NULL columns,
// else the configured columns.
func (t *sqliteTarget) mergeKey(ctx context.Context, table string, configured []string, setting string) ([]keyColumn, error) {
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
		return nil, fmt.Errorf("read columns of %s: %w", quoteSQLite(table), err)
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
		return nil, fmt.Errorf("choose merge key: target table %s does not exist in %s (the first run of a table is a replace)", quoteSQLite(table), t.path)
	}
	var chosen []string
	for i := 1; i <= len(pk); i++ {
		for _, c := range pk {
			if c.pk == i {
				chosen = append(chosen, c.name)
			}
		}
	}
	if chosen == nil {
		chosen, err = t.uniqueKey(ctx, table, func(name string) bool { return byName[strings.ToLower(name)].notNull })
		if err != nil {
			return nil, err
		}
	}
	switch {
	case chosen == nil && len(configured) == 0:
		return nil, &ConfigError{Key: setting + " key", Reason: fmt.Sprintf("merge needs a key, and target table %s in %s has no PRIMARY KEY or UNIQUE index of NOT NULL columns; add one or set key = col1,col2 in %s", quoteSQLite(table), t.path, setting)}
	case chosen != nil && len(configured) > 0 && !sameColumns(chosen, configured):
		return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("target table %s has the key (%s), which a merge uses; remove key or set it to those columns", quoteSQLite(table), strings.Join(chosen, ", "))}
	case chosen == nil:
		chosen = configured
	}
	key := make([]keyColumn, len(chosen))
	for i, name := range chosen {
		c, ok := byName[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("target table %s has no column %s", quoteSQLite(table), quoteSQLite(name))}
		}
		switch sqliteKind(c.typ) {
		case kindInt, kindUint:
			key[i] = keyColumn{Name: c.name, Order: orderNumber}
		case kindDouble:
			return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("column %s of table %s cannot be a merge key: a floating-point column cannot identify rows exactly", quoteSQLite(c.name), quoteSQLite(table))}
		default:
			key[i] = keyColumn{Name: c.name, Order: orderBytes}
		}
	}
	return key, nil
}

// reader is the run's transaction when one is open (the handle holds one
// connection, which the transaction keeps), else the database.
func (t *sqliteTarget) reader() interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
} {
	if t.conn != nil {
		return t.conn
	}
	return t.db
}

// tableExists reports whether the target table exists, as the run's
// transaction sees it.
func (t *sqliteTarget) tableExists(ctx context.Context, table string) (bool, error) {
	rows, err := t.reader().QueryContext(ctx, `SELECT 1 FROM sqlite_master WHERE "type" = 'table' AND "name" = ? COLLATE NOCASE`, table)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", t.path, explainSQLiteError(err))
	}
	defer rows.Close()
	return rows.Next(), rows.Err()
}

// uniqueKey returns the columns of the first UNIQUE, non-partial index of
// table whose columns are all NOT NULL, or nil.
func (t *sqliteTarget) uniqueKey(ctx context.Context, table string, notNull func(string) bool) ([]string, error) {
	rows, err := t.reader().QueryContext(ctx, `SELECT "name" FROM pragma_index_list(?) WHERE "unique" = 1 AND "partial" = 0 ORDER BY "name"`, table)
	if err != nil {
		return nil, fmt.Errorf("read indexes of %s: %w", quoteSQLite(table), err)
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
			return cols, nil
		}
	}
	return nil, nil
}

// merge makes the SQLite target table equal to src (ordered by opts.Key)
// inside the run's transaction, which it begins if no other table did:
// the differences go into <table>__dbsync_delta, then one DELETE, one
// UPDATE … FROM and one INSERT … SELECT apply them and the delta table is
// dropped. It does not commit: commitMerge (or the run's commit) does.
func (t *sqliteTarget) merge(ctx context.Context, src rowReader, opts mergeOptions) (res mergeResult, err error) {
	opts = opts.withDefaults()
	table, delta := opts.Table, opts.Table+deltaSuffix
	if t.conn == nil {
		conn, err := t.db.Conn(ctx)
		if err != nil {
			return res, fmt.Errorf("open %s: %w", t.path, explainSQLiteError(err))
		}
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			conn.Close()
			return res, fmt.Errorf("begin transaction on %s: %w", t.path, explainSQLiteError(err))
		}
		t.conn = conn
	}
	tx := t.conn
	dst, exists, err := t.columns(ctx, tx, table)
	if err != nil {
		return res, fmt.Errorf("read columns of %s: %w", quoteSQLite(table), err)
	}
	if !exists {
		return mergeResult{Replaced: true, Reason: fmt.Sprintf("target table %s does not exist yet: the first run of a table is a replace", table)}, nil
	}
	srcCols := src.Columns()
	order, keyPos, handBack, err := matchMerge(table, srcCols, dst, opts)
	if handBack != nil {
		return *handBack, err
	}
	if err != nil {
		return res, err
	}
	cols := make([]targetColumn, len(srcCols))
	for i := range srcCols {
		cols[i] = dst[order[i]]
	}
	var found int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE "name" = ? COLLATE NOCASE`, delta).Scan(&found); err != nil {
		return res, fmt.Errorf("inspect %s: %w", t.path, explainSQLiteError(err))
	}
	if found > 0 {
		return res, fmt.Errorf("table %s exists in %s but was not made by dbsync (a merge builds its differences under that name inside its transaction, so it never leaves one behind); rename or drop it", quoteSQLite(delta), t.path)
	}

	sel := make([]string, len(cols))
	for i, c := range cols {
		// Unary + keeps the value and hides the declared type, so that the
		// driver hands DATE/DATETIME text over as it is stored.
		sel[i] = "+" + quoteSQLite(c.name)
	}
	by := make([]string, len(opts.Key))
	for i, k := range opts.Key {
		by[i] = quoteSQLite(cols[keyPos[i]].name)
		if k.Order == orderBytes {
			by[i] = "CAST(" + by[i] + " AS BLOB)"
		}
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+quoteSQLite(table)+" ORDER BY "+strings.Join(by, ", "))
	if err != nil {
		return res, fmt.Errorf("read %s ordered by its key: %w", quoteSQLite(table), explainSQLiteError(err))
	}
	reader := newSQLiteTableReader(rows, len(cols))
	defer reader.Close()
	d := newDeltaReader(table,
		&keyReader{side: "source", rows: src, key: opts.Key, pos: keyPos},
		&keyReader{side: "target", rows: reader, key: opts.Key, pos: keyPos},
		func(a, _ [][]byte) bool { return sqliteRowEqual(srcCols, a, reader.vals) })

	if d.prime() {
		defs := []string{`"dbsync_op" TEXT NOT NULL`, `"dbsync_seq" INTEGER NOT NULL`}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = quoteSQLite(c.name)
			defs = append(defs, names[i]+" "+c.dataType)
		}
		defs = append(defs, `PRIMARY KEY ("dbsync_op", "dbsync_seq")`)
		if _, err := tx.ExecContext(ctx, "CREATE TABLE "+quoteSQLite(delta)+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return res, fmt.Errorf("create merge delta table %s: %w", delta, explainSQLiteError(err))
		}
		if err := insertDelta(ctx, tx, delta, names, d); err != nil {
			return res, err
		}
	}
	if err := d.compareError(table); err != nil {
		return res, err
	}
	res.Rows = d.src.n
	if reason, err := checkThresholds(table, d.dst.n, d.inserts, d.updates, d.deletes, opts); err != nil || reason != "" {
		if err == nil && d.changes() > 0 {
			// The run replaces the table in this same transaction: the
			// delta goes, what other tables staged stays.
			if _, err := tx.ExecContext(ctx, "DROP TABLE "+quoteSQLite(delta)); err != nil {
				return res, fmt.Errorf("drop merge delta table %s: %w", delta, explainSQLiteError(err))
			}
		}
		return mergeResult{Rows: res.Rows, Replaced: reason != "", Reason: reason}, err
	}
	res.Inserted, res.Deleted, res.LoadMethod = d.inserts, d.deletes, LoadSQLite
	if d.changes() > 0 {
		if res.Updated, err = t.applyDelta(ctx, table, delta, cols, keyPos, d); err != nil {
			return res, err
		}
	}
	res.Unchanged = d.unchanged + d.updates - res.Updated
	return res, nil
}

// commitMerge commits the transaction a merge ran in.
func (t *sqliteTarget) commitMerge(ctx context.Context) error {
	if t.conn == nil {
		return nil
	}
	if _, err := t.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit merge in %s: %w", t.path, explainSQLiteError(err))
	}
	t.conn.Close()
	t.conn = nil
	return nil
}

// insertDelta writes the compare's differences into the delta table with
// prepared multi-row INSERTs on the transaction's connection, which also
// reads the target table: SQLite lets one connection write a table while
// it reads another.
func insertDelta(ctx context.Context, tx *sql.Conn, delta string, names []string, d *deltaReader) error {
	cols := d.Columns()
	perStmt := max(1, min(200, 32766/len(cols)))
	prefix := "INSERT INTO " + quoteSQLite(delta) + ` ("dbsync_op", "dbsync_seq", ` + strings.Join(names, ", ") + ") VALUES "
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, s := range stmts {
			s.Close()
		}
	}()
	args := make([]any, 0, perStmt*len(cols))
	flush := func() error {
		n := len(args) / len(cols)
		if n == 0 {
			return nil
		}
		st, ok := stmts[n]
		if !ok {
			var err error
			if st, err = tx.PrepareContext(ctx, prefix+strings.TrimSuffix(strings.Repeat(one+",", n), ",")); err != nil {
				return fmt.Errorf("prepare insert into %s: %w", delta, err)
			}
			stmts[n] = st
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", delta, explainSQLiteError(err))
		}
		args = args[:0]
		return nil
	}
	for d.Next() {
		for i, cell := range d.Values() {
			v, err := sqliteValue(cols[i], cell)
			if err != nil {
				return err
			}
			args = append(args, v)
		}
		if len(args) == cap(args) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if d.err != nil {
		return d.err
	}
	return flush()
}

// applyDelta applies the delta table to the target table and drops it, in
// the run's transaction; it returns how many rows the UPDATE changed.
func (t *sqliteTarget) applyDelta(ctx context.Context, table, delta string, cols []targetColumn, keyPos []int, d *deltaReader) (int64, error) {
	tq, dq := quoteSQLite(table), quoteSQLite(delta)
	isKey := map[int]bool{}
	var match, idx []string
	for _, p := range keyPos {
		n := quoteSQLite(cols[p].name)
		// The delta's column on the left: its BINARY collation compares
		// bytes ('a' is not 'A' even if the table's key is NOCASE).
		match = append(match, "d."+n+" = "+tq+"."+n)
		idx = append(idx, n)
		isKey[p] = true
	}
	var set, differs, names []string
	for i, c := range cols {
		n := quoteSQLite(c.name)
		names = append(names, n)
		if isKey[i] {
			continue
		}
		set = append(set, n+" = d."+n)
		differs = append(differs, "(d."+n+" IS NOT "+tq+"."+n+" COLLATE BINARY OR typeof(d."+n+") <> typeof("+tq+"."+n+"))")
	}
	stmts := []struct {
		what, q string
		want    int64
	}{
		{"index the delta", "CREATE INDEX " + quoteSQLite(delta+"_key") + " ON " + dq + ` ("dbsync_op", ` + strings.Join(idx, ", ") + ")", -2},
	}
	if d.deletes > 0 {
		stmts = append(stmts, struct {
			what, q string
			want    int64
		}{"delete rows", "DELETE FROM " + tq + " WHERE EXISTS (SELECT 1 FROM " + dq + " AS d WHERE d.\"dbsync_op\" = 'D' AND " + strings.Join(match, " AND ") + ")", d.deletes})
	}
	if d.updates > 0 && len(set) > 0 {
		stmts = append(stmts, struct {
			what, q string
			want    int64
		}{"update rows", "UPDATE " + tq + " SET " + strings.Join(set, ", ") + " FROM " + dq + " AS d WHERE d.\"dbsync_op\" = 'U' AND " + strings.Join(match, " AND ") + " AND (" + strings.Join(differs, " OR ") + ")", -1})
	}
	if d.inserts > 0 {
		stmts = append(stmts, struct {
			what, q string
			want    int64
		}{"insert rows", "INSERT INTO " + tq + " (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(names, ", ") + " FROM " + dq + " WHERE \"dbsync_op\" = 'I' ORDER BY \"dbsync_seq\"", d.inserts})
	}
	stmts = append(stmts, struct {
		what, q string
		want    int64
	}{"drop the delta", "DROP TABLE " + dq, -2})
	var updated int64
	for _, s := range stmts {
		r, err := t.conn.ExecContext(ctx, s.q)
		if err != nil {
			return 0, fmt.Errorf("merge %s: %s: %w", tq, s.what, explainSQLiteError(err))
		}
		if s.want == -2 {
			continue
		}
		n, _ := r.RowsAffected()
		if s.want >= 0 && n != s.want {
			return 0, fmt.Errorf("merge %s: %s affected %d rows, the compare expected %d; nothing was changed", tq, s.what, n, s.want)
		}
		if s.want == -1 {
			updated = n
		}
	}
	return updated, nil
}

// sqliteRowEqual compares a source row, stored as the SQLite target would
// store it (sqliteValue), with the values read from the target.
func sqliteRowEqual(cols []Column, src [][]byte, dst []any) bool {
	for i, cell := range src {
		v, err := sqliteValue(cols[i], cell)
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

// sqliteTableReader reads the SQLite target table: its values as they are
// stored (vals), and as text cells for the key compare.
type sqliteTableReader struct {
	rows  *sql.Rows
	vals  []any
	dest  []any
	bufs  [][]byte
	cells [][]byte
	err   error
}

func newSQLiteTableReader(rows *sql.Rows, n int) *sqliteTableReader {
	r := &sqliteTableReader{rows: rows, vals: make([]any, n), dest: make([]any, n), bufs: make([][]byte, n), cells: make([][]byte, n)}
	for i := range r.vals {
		r.dest[i] = &r.vals[i]
	}
	return r
}

func (r *sqliteTableReader) Columns() []Column { return nil }
func (r *sqliteTableReader) Values() [][]byte  { return r.cells }
func (r *sqliteTableReader) Close() error      { return r.rows.Close() }

func (r *sqliteTableReader) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

func (r *sqliteTableReader) Next() bool {
	if r.err != nil || !r.rows.Next() {
		return false
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		r.err = err
		return false
	}
	for i, v := range r.vals {
		b := r.bufs[i][:0]
		if v == nil {
			r.cells[i] = nil
			continue
		}
		if raw, ok := v.([]byte); ok {
			r.vals[i] = append([]byte(nil), raw...) // Scan into any already copies; keep it safe
		}
		var ok bool
		if b, ok = appendSQLiteValue(b, v); !ok {
			// The query hides declared types (unary +), so the driver
			// parses no DATE/DATETIME into time.Time; anything else
			// still compares by its printed form.
			b = fmt.Append(b, v)
		}
		r.bufs[i] = b
		r.cells[i] = b
	}
	return true
}

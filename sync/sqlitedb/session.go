package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
)

// The fallback is a source of the core's.
var (
	_ dbsync.Session    = (*Session)(nil)
	_ dbsync.SourceRows = (*sourceRows)(nil)
)

// Session is the fallback SQLite database, opened read-only, with
// every query of the run on one connection in one read transaction.
type Session struct {
	path string
	db   *sql.DB
	conn *sql.Conn
}

// sourceRows is one query's result on a Session.
type sourceRows struct {
	scanRows
	what string
	cols []dbsync.Column
}

// scanRows reads SQLite rows: each row's values as the driver scanned
// them (vals), and a text cell of each (cells, written into bufs, which
// the rows reuse) made by the reader's own rule. The fallback source and
// the SQLite target's merge reader share it.
type scanRows struct {
	rows  *sql.Rows
	vals  []any
	dest  []any
	bufs  [][]byte
	cells [][]byte
	err   error
}

func newScanRows(rows *sql.Rows, n int) scanRows {
	r := scanRows{rows: rows, vals: make([]any, n), dest: make([]any, n), bufs: make([][]byte, n), cells: make([][]byte, n)}
	for i := range r.vals {
		r.dest[i] = &r.vals[i]
		r.bufs[i] = make([]byte, 0, 64)
	}
	return r
}

// next scans the next row; cell appends value i (never NULL: a NULL's
// cell is nil) to b as its text, or fails the rows.
func (r *scanRows) next(cell func(i int, b []byte, v any) ([]byte, error)) bool {
	if r.err != nil || !r.rows.Next() {
		return false
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		r.err = err
		return false
	}
	for i, v := range r.vals {
		if v == nil {
			r.cells[i] = nil
			continue
		}
		b, err := cell(i, r.bufs[i][:0], v)
		if err != nil {
			r.err = err
			return false
		}
		r.bufs[i], r.cells[i] = b, b
	}
	return true
}

// openSession opens the fallback database read-only and begins its
// read transaction. A missing file is an error: sync never invents source
// data.
func openSession(ctx context.Context, path string) (*Session, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open fallback database [fallback] path = %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("open fallback database [fallback] path = %s: is a directory, not a SQLite file", path)
	}
	db, err := Open(path, true)
	if err != nil {
		return nil, fmt.Errorf("open fallback database %s: %w", path, err)
	}
	s := &Session{path: path, db: db}
	if s.conn, err = db.Conn(ctx); err == nil {
		// A deferred BEGIN: the first SELECT takes the snapshot, which
		// holds until the session ends.
		_, err = s.conn.ExecContext(ctx, "BEGIN")
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("begin a read transaction on fallback database %s: %w", path, err)
	}
	return s, nil
}

func (s *Session) OrderedQuery(q string, key []dbsync.KeyColumn) string {
	return orderedQuery(q, key)
}

func (s *Session) Query(ctx context.Context, q, what string) (dbsync.SourceRows, error) {
	rows, err := s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("run %s on %s: %w", what, s.path, err)
	}
	r := &sourceRows{scanRows: scanRows{rows: rows}, what: what}
	types, err := rows.ColumnTypes()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("read fallback result columns of %s: %w", what, err)
	}
	for _, ct := range types {
		decl := ct.DatabaseTypeName()
		col := dbsync.Column{Name: ct.Name(), TypeName: decl, Kind: kind(decl), Nullable: true, Scale: -1}
		if col.Kind == dbsync.KindDecimal {
			if m := dbsync.DecimalArgs.FindStringSubmatch(decl); m != nil {
				col.Precision, _ = strconv.ParseInt(m[1], 10, 64)
				col.Scale, _ = strconv.ParseInt(m[2], 10, 64)
			}
		}
		r.cols = append(r.cols, col)
	}
	if err := dbsync.CheckColumnNames(r.cols, what); err != nil {
		r.Close()
		return nil, err
	}
	r.scanRows = newScanRows(rows, len(r.cols))
	return r, nil
}

func (s *Session) Columns(ctx context.Context, q, what string) ([]dbsync.Column, error) {
	r, err := s.Query(ctx, "SELECT * FROM (\n"+dbsync.TrimQuery(q)+"\n) LIMIT 0", what)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Columns(), nil
}

// Close ends the read transaction and the session.
func (s *Session) Close() error {
	if s.conn != nil {
		_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
		s.conn.Close()
	}
	return s.db.Close()
}

func (s *sourceRows) Columns() []dbsync.Column { return s.cols }

func (s *sourceRows) Next() bool { return s.next(s.cell) }

// cell is a fallback value in MySQL's text form.
func (s *sourceRows) cell(i int, b []byte, v any) ([]byte, error) {
	if t, ok := v.(time.Time); ok {
		// The driver parses DATE/DATETIME/TIMESTAMP columns; print the
		// wall clock back in MySQL's form.
		switch s.cols[i].Kind {
		case dbsync.KindDate:
			return t.AppendFormat(b, "2006-01-02"), nil
		case dbsync.KindTime:
			return t.AppendFormat(b, "15:04:05.999999"), nil
		}
		return t.AppendFormat(b, "2006-01-02 15:04:05.999999"), nil
	}
	b, ok := appendValue(b, v)
	if !ok {
		return b, fmt.Errorf("fallback column %s: unexpected value type %T", s.cols[i].Name, v)
	}
	return b, nil
}

// appendValue appends a value the SQLite driver scanned as the text
// the targets take (MySQL's text form); false for a type it does not know.
// The fallback source and the SQLite target's merge reader share it.
func appendValue(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64), true
	case string:
		return append(b, v...), true
	case []byte:
		return append(b, v...), true
	case bool:
		if v {
			return append(b, '1'), true
		}
		return append(b, '0'), true
	}
	return b, false
}

func (s *sourceRows) Values() [][]byte { return s.cells }

// Binary: SQLite has one protocol; its rows print as the text one does.
func (s *sourceRows) Binary() bool { return false }

// ExactTypes: a SQLite result's declared types are all there is to know.
func (s *sourceRows) ExactTypes(context.Context) error { return nil }

func (s *sourceRows) Err() error {
	if s.err != nil {
		return fmt.Errorf("read fallback rows of %s: %w", s.what, s.err)
	}
	if err := s.rows.Err(); err != nil {
		return fmt.Errorf("read fallback rows of %s: %w", s.what, err)
	}
	return nil
}

func (s *sourceRows) Close() error { return s.rows.Close() }

// orderedQuery wraps a source query so that its rows come ordered by
// Key, the same order the target is read in: numbers numerically,
// everything else by its bytes (CAST … AS BLOB), never by a collation. The
// newline keeps a trailing "-- comment" in the query from eating the
// closing parenthesis.
func orderedQuery(query string, key []dbsync.KeyColumn) string {
	query = strings.TrimRight(strings.TrimSpace(query), ";")
	by := make([]string, len(key))
	for i, k := range key {
		if k.Order == dbsync.OrderBytes {
			by[i] = "CAST(" + quote(k.Name) + " AS BLOB)"
		} else {
			by[i] = quote(k.Name)
		}
	}
	return "SELECT * FROM (\n" + query + "\n) ORDER BY " + strings.Join(by, ", ")
}

// CheckColumns is what check reports of the fallback query: the columns
// of its result (SQLite tells them only by running it; no row is read).
func (s *Session) CheckColumns(ctx context.Context, q, what string) ([]dbsync.Column, error) {
	rows, err := s.Query(ctx, q, what)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns(), nil
}

// Describe is the fallback for check: its file.
func (s *Session) Describe(context.Context) string { return s.path }

// Unencrypted is false: the fallback is a local file.
func (s *Session) Unencrypted() bool { return false }

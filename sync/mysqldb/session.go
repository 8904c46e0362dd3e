package mysqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

// Session is the primary MySQL server: one connection, in one
// read-only transaction WITH CONSISTENT SNAPSHOT, so that every query of
// the run reads the same point in time and the primary refuses any write a
// query might make (docs/guarantees.md: a target's problem is never a reason for the fallback).
type Session struct {
	db   *sql.DB
	conn *sql.Conn // the read-only session; every statement of the read runs on it
	// unencrypted: the session runs without TLS (ssl_mode = disabled, or
	// preferred with a server that offers no TLS).
	unencrypted bool
	cfg         dbsync.SourceConfig // for check's description
	// probe is what ProbeCap saw right before the snapshot (probed: a run
	// with an incremental table asked for it).
	capProbe CapProbe
	probed   bool
}

// sourceRows is one query's result on a Session.
type sourceRows struct {
	s     *Session
	query string
	what  string
	stmt  *sql.Stmt
	rows  *sql.Rows
	cols  []dbsync.Column
	scan  rawScan
}

// rawScan reads a MySQL result's rows into reused byte slices, as the
// server sent them: a row's cells are valid until the next row. The source
// and the merge's reader of the target table read with it.
type rawScan struct {
	raw   []sql.RawBytes
	dest  []any
	cells [][]byte
	err   error // a failed Scan: it ends the rows, and rowsErr reports it
}

func newRawScan(n int) rawScan {
	s := rawScan{raw: make([]sql.RawBytes, n), dest: make([]any, n), cells: make([][]byte, n)}
	for i := range s.raw {
		s.dest[i] = &s.raw[i]
	}
	return s
}

// next reads the next row of rows into cells.
func (s *rawScan) next(rows *sql.Rows) bool {
	if s.err != nil || !rows.Next() {
		return false
	}
	if err := rows.Scan(s.dest...); err != nil {
		s.err = err
		return false
	}
	for i, c := range s.raw {
		s.cells[i] = c
	}
	return true
}

// rowsErr says why the rows ended early: a failed Scan, or rows' error.
func (s *rawScan) rowsErr(rows *sql.Rows) error {
	if s.err != nil {
		return s.err
	}
	return rows.Err()
}

// explainQueryError says what a failure of [source] query means.
func explainQueryError(err error) error {
	// 1792: ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION.
	if errorNumber(err) == 1792 {
		return fmt.Errorf("%w: %w", dbsync.ErrSourceWrites, err)
	}
	return err
}

// connectSource opens the read-only session on the primary: the
// session's transactions are READ ONLY (SET SESSION TRANSACTION READ
// ONLY), and everything that follows runs inside one START TRANSACTION
// WITH CONSISTENT SNAPSHOT, READ ONLY on that one connection. The server
// then refuses any write — UPDATE, DELETE … RETURNING, a procedure or
// function that writes — whatever the query says.
func connectSource(ctx context.Context, c dbsync.SourceConfig, probe bool) (*Session, error) {
	db, err := newDB(c.MySQLConfig, connOptions{params: map[string]string{
		// Same zone on both sides, so TIMESTAMP values keep their instant.
		"time_zone": "'+00:00'",
	}})
	if err != nil {
		return nil, fmt.Errorf("primary %s: %w", c.Host, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to primary %s:%d: %w", c.Host, c.Port, explainConnectError("source", c.MySQLConfig, err))
	}
	s := &Session{db: db, conn: conn, cfg: c}
	for _, stmt := range []string{"SET SESSION TRANSACTION READ ONLY", SnapshotStatement} {
		if stmt == SnapshotStatement && probe {
			// The watermark's cap is read right before the snapshot, on
			// its connection (incremental_run.go).
			if err := s.probeCap(ctx); err != nil {
				s.Close()
				return nil, fmt.Errorf("primary %s:%d: %w", c.Host, c.Port, err)
			}
		}
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			s.Close()
			return nil, fmt.Errorf("start a read-only transaction on primary %s:%d: %w", c.Host, c.Port, err)
		}
	}
	if s.unencrypted, err = unencrypted(ctx, conn, c.SSLMode); err != nil {
		s.Close()
		return nil, fmt.Errorf("read the TLS state of the primary session: %w", err)
	}
	return s, nil
}

// query starts q. FLOAT columns need the binary protocol (a prepared
// statement): the text protocol prints a FLOAT rounded to 6 digits
// (MariaDB sends 0.1234567 as "0.123457"), which would change values.
// Every other type arrives exactly as text, which costs the source server
// and dbsync less, so a LIMIT 0 probe of the result's column types picks
// the protocol; if the query cannot be probed, the binary protocol is used.
// Probe, prepare and read all run in the read-only transaction.
func (s *Session) OrderedQuery(q string, key []dbsync.KeyColumn) string {
	return orderedQuery(q, key)
}

func (s *Session) Query(ctx context.Context, q, what string) (dbsync.SourceRows, error) {
	r := &sourceRows{s: s, query: dbsync.TrimQuery(q), what: what}
	var err error
	if s.hasFloatColumns(ctx, r.query) {
		r.stmt, err = s.conn.PrepareContext(ctx, r.query)
		if err == nil {
			r.rows, err = r.stmt.QueryContext(ctx)
		}
	} else {
		r.rows, err = s.conn.QueryContext(ctx, r.query)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("run %s on primary: %w", what, explainQueryError(err))
	}
	types, err := r.rows.ColumnTypes()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("read primary result columns of %s: %w", what, err)
	}
	r.cols = sourceColumns(types)
	if err := dbsync.CheckColumnNames(r.cols, what); err != nil {
		r.Close()
		return nil, err
	}
	r.scan = newRawScan(len(r.cols))
	return r, nil
}

// sourceColumns describes a MySQL result's columns.
func sourceColumns(types []*sql.ColumnType) []dbsync.Column {
	cols := make([]dbsync.Column, 0, len(types))
	for _, ct := range types {
		col := dbsync.Column{Name: ct.Name(), TypeName: ct.DatabaseTypeName()}
		col.Kind = kind(col.TypeName)
		col.Nullable, _ = ct.Nullable()
		if p, sc, ok := ct.DecimalSize(); ok {
			col.Precision, col.Scale = p, sc
		}
		cols = append(cols, col)
	}
	return cols
}

// probe asks for the query's result columns without reading a row: the
// query wrapped as a derived table with LIMIT 0, in the read-only
// transaction. The newline keeps a trailing "-- comment" in the query from
// eating the closing parenthesis.
func (s *Session) probe(ctx context.Context, query string) ([]*sql.ColumnType, error) {
	rows, err := s.conn.QueryContext(ctx, "SELECT * FROM (\n"+dbsync.TrimQuery(query)+"\n) AS `dbsync_probe` LIMIT 0")
	if err != nil {
		return nil, explainQueryError(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	return types, rows.Err()
}

// CheckColumns is what check reports of the query: its columns, from the
// probe alone (the query itself is never run).
func (s *Session) CheckColumns(ctx context.Context, query, what string) ([]dbsync.Column, error) {
	types, err := s.probe(ctx, query)
	if errorNumber(err) == 1064 {
		// ER_PARSE_ERROR: not a SELECT (CALL, a write), or not valid SQL.
		return nil, fmt.Errorf("%s cannot be checked without running it: check asks the primary for its columns as SELECT * FROM (%s) LIMIT 0, which is not valid SQL for this statement; a run reads it in a read-only transaction, where a statement that writes is refused: %w", what, what, err)
	}
	if err != nil {
		return nil, fmt.Errorf("run %s on primary (as a LIMIT 0 probe): %w", what, err)
	}
	cols := sourceColumns(types)
	return cols, dbsync.CheckColumnNames(cols, what)
}

func (s *Session) Columns(ctx context.Context, q, what string) ([]dbsync.Column, error) {
	types, err := s.probe(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("run %s on primary (as a LIMIT 0 probe): %w", what, err)
	}
	return sourceColumns(types), nil
}

// hasFloatColumns reports whether the query's result has a FLOAT column,
// or whether that cannot be told (then the exact binary protocol is used).
func (s *Session) hasFloatColumns(ctx context.Context, query string) bool {
	types, err := s.probe(ctx, query)
	if err != nil {
		return true
	}
	for _, t := range types {
		if strings.EqualFold(t.DatabaseTypeName(), "FLOAT") {
			return true
		}
	}
	return false
}

func (s *sourceRows) Columns() []dbsync.Column { return s.cols }

func (s *sourceRows) Next() bool { return s.scan.next(s.rows) }

func (s *sourceRows) Values() [][]byte { return s.scan.cells }

func (s *sourceRows) Err() error {
	if err := s.scan.rowsErr(s.rows); err != nil {
		return fmt.Errorf("read primary rows of %s: %w", s.what, explainQueryError(err))
	}
	return nil
}

// Binary reports whether the rows come in the binary protocol (the query
// has FLOAT columns), which prints values as a prepared statement does.
func (s *sourceRows) Binary() bool { return s.stmt != nil }

// Close ends one query's read; the session's transaction goes on.
func (s *sourceRows) Close() error {
	if s.rows != nil {
		s.rows.Close()
	}
	if s.stmt != nil {
		s.stmt.Close()
	}
	return nil
}

// Close ends the session. The read-only transaction has nothing to commit:
// it ends with its connection.
func (s *Session) Close() error {
	s.conn.Close()
	return s.db.Close()
}

// ExactTypes asks the primary for the exact column types of the query's
// result (ENUM values, lengths, collations) by creating an empty temporary
// table from it: the driver's result metadata lacks them. It needs the
// CREATE TEMPORARY TABLES privilege; without it the caller falls back to
// types derived from the metadata.
//
// MariaDB refuses even a temporary table in a READ ONLY transaction, so
// this runs on a second connection, in a transaction that is rolled back:
// a function in the query that writes to a transactional table leaves
// nothing behind. The read itself (Session.query) already ran the query
// in the read-only transaction, where any such write was refused. The
// shape is read now, outside the snapshot; only the types come from it.
func (s *sourceRows) ExactTypes(ctx context.Context) error {
	conn, err := s.s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "START TRANSACTION"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	// The newline keeps a trailing "-- comment" in the query from eating
	// the closing parenthesis.
	if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE `dbsync_shape` AS SELECT * FROM (\n"+s.query+"\n) AS `dbsync_q` LIMIT 0"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TEMPORARY TABLE IF EXISTS `dbsync_shape`")
	rows, err := conn.QueryContext(ctx, "SHOW FULL COLUMNS FROM `dbsync_shape`")
	if err != nil {
		return err
	}
	defer rows.Close()
	defs := map[string]string{}
	for rows.Next() {
		var field, typ, null, key, extra, privileges, comment string
		var collation, def sql.NullString
		if err := rows.Scan(&field, &typ, &collation, &null, &key, &def, &extra, &privileges, &comment); err != nil {
			return err
		}
		d := typ
		if collation.Valid && collation.String != "" {
			d += " COLLATE " + collation.String
		}
		if null == "NO" {
			d += " NOT NULL"
		} else {
			d += " NULL"
		}
		defs[strings.ToLower(field)] = d
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range s.cols {
		if d, ok := defs[strings.ToLower(s.cols[i].Name)]; ok {
			s.cols[i].MySQLType = d
		}
	}
	return nil
}

// orderedQuery wraps a source query so that its rows come ordered by key,
// the same order the target is read in: numbers numerically, everything
// else by its bytes (CAST … AS BINARY), never by a collation. The newline
// keeps a trailing "-- comment" in the query from eating the closing
// parenthesis.
func orderedQuery(query string, key []dbsync.KeyColumn) string {
	query = strings.TrimRight(strings.TrimSpace(query), ";")
	by := make([]string, len(key))
	for i, k := range key {
		switch {
		case k.Order == dbsync.OrderBytes:
			by[i] = "CAST(`dbsync_q`." + dbsync.QuoteMySQL(k.Name) + " AS BINARY)"
		default:
			by[i] = "`dbsync_q`." + dbsync.QuoteMySQL(k.Name)
		}
	}
	return "SELECT * FROM (\n" + query + "\n) AS `dbsync_q` ORDER BY " + strings.Join(by, ", ")
}

// sessionTLS describes the TLS of a session, as the server sees it, and
// says plainly when there is none.
func sessionTLS(ctx context.Context, q rowQueryer, section string, mode dbsync.SSLMode) string {
	var name, version, cipher string
	if err := q.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_version'").Scan(&name, &version); err != nil {
		return "TLS unknown"
	}
	_ = q.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher)
	if version == "" {
		if mode == dbsync.SSLPreferred {
			return fmt.Sprintf("UNENCRYPTED, no TLS (plaintext): [%s] ssl_mode = preferred and the server offers no TLS; set ssl_mode = verify_identity (or required) to refuse plaintext", section)
		}
		return fmt.Sprintf("UNENCRYPTED, no TLS (plaintext): [%s] ssl_mode = %s", section, mode)
	}
	return "TLS " + version + " " + cipher
}

// Describe is the primary for check: where, and the session's TLS.
func (s *Session) Describe(ctx context.Context) string {
	c := s.cfg
	return fmt.Sprintf("%s:%d database %s, %s", c.Host, c.Port, c.Database, sessionTLS(ctx, s.conn, "source", c.SSLMode))
}

// Unencrypted reports whether the session runs without TLS.
func (s *Session) Unencrypted() bool { return s.unencrypted }

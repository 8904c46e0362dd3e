package dbsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// RowReader streams a query's result one row at a time. Values returns the
// current row: a nil cell is NULL, any other cell (even empty) is a value in
// MySQL text form, or raw bytes for binary columns. Cells are only valid
// until the next call to Next.
type RowReader interface {
	Columns() []Column
	Next() bool
	Values() [][]byte
	Err() error
	Close() error
}

// SourceRows are the rows of a source's query: a rowReader, and what a
// target needs to know of the source that read them.
type SourceRows interface {
	RowReader
	// Binary reports whether the rows were read with the binary protocol:
	// a merge reads the target the same way, so that both sides print
	// every value alike (FLOAT needs the binary one).
	Binary() bool
	// ExactTypes refines Columns with the source's exact column types,
	// for a target table built from them; a source whose result metadata
	// is exact already does nothing.
	ExactTypes(ctx context.Context) error
}

// Which source a run read.
const (
	SourcePrimary  = "primary"
	SourceFallback = "fallback"
)

// Session is an open source: the run reads its tables' queries on it one
// after another, all in one transaction, so that they see one point in
// time of the source.
type Session interface {
	// Query starts one table's query; what names its key in messages
	// ("[source] query", "[table.orders] query"). Its rows must be closed
	// before the next query starts.
	Query(ctx context.Context, q, what string) (SourceRows, error)
	// OrderedQuery is q ordered by key, in the source's SQL: a merge reads
	// both sides in the key's order.
	OrderedQuery(q string, key []KeyColumn) string
	// Columns are q's result columns, asked for without reading a row
	// (a LIMIT 0 probe in the same snapshot): a merge checks its key
	// against them before it reads.
	Columns(ctx context.Context, q, what string) ([]Column, error)
	// CheckColumns is what check reports of q: its columns, without
	// reading its rows where the source can tell them without running it
	// (the primary: a LIMIT 0 probe), checked for names a target cannot
	// take.
	CheckColumns(ctx context.Context, q, what string) ([]Column, error)
	// Describe says for check where the source is and how it is reached
	// (the primary: host, port, database and the session's TLS).
	Describe(ctx context.Context) string
	// Unencrypted reports whether the session runs without TLS (the run
	// records it in its report).
	Unencrypted() bool
	// QueryKeys reads the rows of q whose key is one of keys (given in key
	// order), ordered like OrderedQuery and delivered as Query delivers
	// them: a merge by checksums reads only the differences. A source that
	// cannot returns an error wrapping ErrRangeNotPushable.
	QueryKeys(ctx context.Context, q, what string, key []KeyColumn, keys []RangeKey) (SourceRows, error)
	// Incremental is the session's incremental read (mode = incremental);
	// ok false when it has none (the SQLite fallback: such tables read in
	// full).
	Incremental() (s IncrementalSession, ok bool)
	Close() error
}

// ErrSourceWrites marks a [source] query that the primary refused because it
// writes. It is a mistake in the configuration, not a failure of the
// primary, so it never sends a run to the fallback.
var ErrSourceWrites = errors.New("[source] query tried to write to the primary, which dbsync reads in a read-only transaction, so the server refused it; make [source] query a SELECT that only reads")

// TrimQuery drops the spaces and semicolons a query may end with, so that
// it can be wrapped as a derived table.
func TrimQuery(q string) string { return strings.TrimRight(strings.TrimSpace(q), ";") }

// CheckColumnNames refuses results that cannot be loaded by name.
func CheckColumnNames(cols []Column, what string) error {
	if len(cols) == 0 {
		return fmt.Errorf("%s returns no columns", what)
	}
	seen := map[string]bool{}
	for _, c := range cols {
		k := strings.ToLower(c.Name)
		if c.Name == "" {
			return fmt.Errorf("%s returns a column with an empty name; give it an alias", what)
		}
		if seen[k] {
			return fmt.Errorf("%s returns column %s twice; give one of them an alias (columns are matched to the target by name)", what, QuoteMySQL(c.Name))
		}
		seen[k] = true
		if c.Kind == KindUnsupported {
			return fmt.Errorf("%s column %s has type %s, which dbsync cannot carry without changing values; convert it in the query (e.g. ST_AsText() for geometry)", what, QuoteMySQL(c.Name), c.TypeName)
		}
	}
	return nil
}

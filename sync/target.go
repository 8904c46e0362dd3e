package dbsync

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// TargetDB is where a run writes: a staging table next to the target table,
// loaded, verified, then swapped in atomically. Everything that differs
// between the backends lives behind it, so the run, check and history never
// ask which backend they have; newTarget is the one place that picks one.
type TargetDB interface {
	KeyIndexer
	// Describe names the target for messages: kind and place.
	Describe() string
	// GuardKey names a target table for the in-process guard: the same
	// key for every config that reaches the same table.
	GuardKey(table string) string
	// Connect reaches the target, and says whether the connection runs
	// without TLS (the run records it in its report).
	Connect(ctx context.Context) (unencrypted bool, err error)
	// Transient classifies an error of the target's driver as
	// Backend.Transient does: the run retries a transient Connect.
	Transient(err error) (transient, known bool)
	// Lock takes the run locks of the tables, in the order given, or
	// returns ErrBusy holding none.
	Lock(ctx context.Context, tables []string) error
	// Begin starts run runID of tables (the run holds their locks and has
	// ensured runHistory): it cleans up what a crashed run of tables on
	// this target left behind; the run then records itself as running in
	// runHistory.
	Begin(ctx context.Context, runID string, runTarget Target, tables []string) error
	// sink: stage creates a table's staging table and loads every row of
	// src into it, returning the number of rows the target confirms it
	// stored and how it loaded them (load_data, insert or sqlite); several
	// tables may be staged at once. discard drops everything stage made.
	Sink
	// Swap replaces every staged table's target table with it, all at
	// once, returning how long it waited for readers.
	Swap(ctx context.Context) (time.Duration, error)
	// AppliedUpdates is, after swap, per merged table, how many rows the
	// merge's UPDATE changed when that can be fewer than the compare
	// counted (MySQL: a value the target stores alike); none when the
	// compare's count is what was applied (SQLite).
	AppliedUpdates() map[string]int64
	// RunHistory is the history table on the run's own connection, where
	// the run records itself as running and then its outcome.
	RunHistory() HistoryStore
	// Probe says what check reports of the target, without writing to it:
	// where it is, TLS, how rows would be loaded, whether it is writable.
	Probe(ctx context.Context) (string, error)
	// TableColumns reads a target table's columns, without writing; none
	// when there is no such table yet.
	TableColumns(ctx context.Context, table string) ([]TargetColumn, error)
	// MergeKey chooses a merge table's key on its existing target table,
	// without writing: the configured columns, else the table's own key;
	// an error names setting's key when there is none.
	MergeKey(ctx context.Context, table string, configured []string, setting string) ([]KeyColumn, error)
	// OpenHistory opens the history table; for reading (write false)
	// without creating anything, found false when the target has no
	// history yet.
	OpenHistory(ctx context.Context, write bool) (h HistoryStore, found bool, err error)
	// BeginRead prepares a connected target for verify, which reads it
	// and writes nothing: SQLite reads in one read transaction of a
	// read-only handle; MySQL needs nothing.
	BeginRead(ctx context.Context) error
	// RunLocked says whether a run holds the run lock of any of tables,
	// without taking it (MySQL IS_USED_LOCK; SQLite a shared flock tried
	// and let go at once).
	RunLocked(ctx context.Context, tables []string) (bool, error)
	Close()
}

// targetNames are the target table names of tables.
func targetNames(tables []TableConfig) []string {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Target
	}
	return names
}

// TargetColumn is what the engine needs to know of a target column.
type TargetColumn struct {
	Name     string
	DataType string // lower-case type name (MySQL DATA_TYPE, SQLite declared type)
	// columnType is MySQL's COLUMN_TYPE ("enum('a','b')"); empty on SQLite.
	ColumnType string
	Required   bool // NOT NULL without a default, not generated, not auto-filled
	Generated  bool
}

// MatchColumns pairs source columns with the target's by name
// (case-insensitively, as MySQL does) and lists every difference.
func MatchColumns(src []Column, dst []TargetColumn) (order []int, differences []string) {
	byName := map[string]int{}
	for i, c := range dst {
		byName[strings.ToLower(c.Name)] = i
	}
	inSource := map[string]bool{}
	for _, c := range src {
		key := strings.ToLower(c.Name)
		inSource[key] = true
		i, ok := byName[key]
		switch {
		case !ok:
			differences = append(differences, fmt.Sprintf("source column %s is not in the target table", QuoteMySQL(c.Name)))
		case dst[i].Generated:
			differences = append(differences, fmt.Sprintf("source column %s is a generated column in the target table", QuoteMySQL(c.Name)))
		default:
			order = append(order, i)
		}
	}
	for _, c := range dst {
		if c.Required && !inSource[strings.ToLower(c.Name)] {
			differences = append(differences, fmt.Sprintf("target column %s (NOT NULL, no default) is not in the source", QuoteMySQL(c.Name)))
		}
	}
	return order, differences
}

// Queryer runs a query: a pool, one of its connections or a transaction.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// QueryStrings is the one column of every row query returns, in order; a
// NULL is "" (an index's expression column).
func QueryStrings(ctx context.Context, q Queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v.String)
	}
	return out, rows.Err()
}

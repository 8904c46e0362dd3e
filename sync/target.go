package dbsync

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// target is where a run writes: a staging table next to the target table,
// loaded, verified, then swapped in atomically. Everything that differs
// between the backends lives behind it, so the run, check and history never
// ask which backend they have; newTarget is the one place that picks one.
type target interface {
	// describe names the target for messages: kind and place.
	describe() string
	// guardKey names a target table for the in-process guard: the same
	// key for every config that reaches the same table.
	guardKey(table string) string
	// connect reaches the target; rep, when not nil, records that the
	// connection runs without TLS.
	connect(ctx context.Context, rep *Report) error
	// lock takes the run locks of the tables, in the order given, or
	// returns ErrBusy holding none.
	lock(ctx context.Context, tables []string) error
	// begin cleans up what a crashed run left of r's tables and records
	// the run as running.
	begin(ctx context.Context, r *Report) error
	// stage creates a table's staging table and loads every row of src
	// into it, returning the number of rows the target confirms it stored
	// and how it loaded them (load_data, insert or sqlite). Several tables
	// may be staged at once.
	stage(ctx context.Context, table string, src rowReader, policy string) (rows int64, method string, err error)
	// discard drops everything stage made.
	discard(ctx context.Context)
	// swap replaces every staged table's target table with it, all at
	// once, returning how long it waited for readers.
	swap(ctx context.Context) (time.Duration, error)
	// finish records the run's outcome in the history table.
	finish(ctx context.Context, r *Report) error
	// probe says what check reports of the target, without writing to it:
	// where it is, TLS, how rows would be loaded, whether it is writable.
	probe(ctx context.Context) (string, error)
	// tableColumns reads a target table's columns, without writing; none
	// when there is no such table yet.
	tableColumns(ctx context.Context, table string) ([]targetColumn, error)
	// mergeKey chooses a merge table's key on its existing target table,
	// without writing: the configured columns, else the table's own key;
	// an error names setting's key when there is none.
	mergeKey(ctx context.Context, table string, configured []string, setting string) ([]keyColumn, error)
	// openHistory opens the history table; for reading (write false)
	// without creating anything, nil when the target has no history yet.
	openHistory(ctx context.Context, write bool) (*historyStore, error)
	close()
}

// targetNames are the target table names of tables.
func targetNames(tables []TableConfig) []string {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Target
	}
	return names
}

// targetColumn is what the engine needs to know of a target column.
type targetColumn struct {
	name     string
	dataType string // lower-case type name (MySQL DATA_TYPE, SQLite declared type)
	// columnType is MySQL's COLUMN_TYPE ("enum('a','b')"); empty on SQLite.
	columnType string
	required   bool // NOT NULL without a default, not generated, not auto-filled
	generated  bool
}

// matchColumns pairs source columns with the target's by name
// (case-insensitively, as MySQL does) and lists every difference.
func matchColumns(src []Column, dst []targetColumn) (order []int, differences []string) {
	byName := map[string]int{}
	for i, c := range dst {
		byName[strings.ToLower(c.name)] = i
	}
	inSource := map[string]bool{}
	for _, c := range src {
		key := strings.ToLower(c.Name)
		inSource[key] = true
		i, ok := byName[key]
		switch {
		case !ok:
			differences = append(differences, fmt.Sprintf("source column %s is not in the target table", quoteMySQL(c.Name)))
		case dst[i].generated:
			differences = append(differences, fmt.Sprintf("source column %s is a generated column in the target table", quoteMySQL(c.Name)))
		default:
			order = append(order, i)
		}
	}
	for _, c := range dst {
		if c.required && !inSource[strings.ToLower(c.name)] {
			differences = append(differences, fmt.Sprintf("target column %s (NOT NULL, no default) is not in the source", quoteMySQL(c.name)))
		}
	}
	return order, differences
}

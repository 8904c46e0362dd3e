package sync

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
	// describe names the target for messages: kind, place and table.
	describe() string
	// guardKey names the target table for the in-process guard: the same
	// key for every config that reaches the same table.
	guardKey() string
	// connect reaches the target; rep, when not nil, records that the
	// connection runs without TLS.
	connect(ctx context.Context, rep *Report) error
	// lock takes the run lock for the target table, or returns ErrBusy.
	lock(ctx context.Context) error
	// begin cleans up what a crashed run left and records the run as running.
	begin(ctx context.Context, r *Report) error
	// stage creates the staging table and loads every row of src into it,
	// returning the number of rows the target confirms it stored.
	stage(ctx context.Context, src rowReader, policy string) (rows int64, err error)
	// discard drops what stage made.
	discard(ctx context.Context)
	// swap replaces the target table with the staging table atomically,
	// returning how long it waited for readers.
	swap(ctx context.Context) (time.Duration, error)
	// finish records the run's outcome in the history table.
	finish(ctx context.Context, r *Report) error
	// loadMethod is how stage loaded rows: load_data, insert or sqlite.
	loadMethod() string
	// probe says what check reports of the target, without writing to it:
	// where it is, TLS, how rows would be loaded, whether it is writable.
	probe(ctx context.Context) (string, error)
	// tableColumns reads the target table's columns, without writing;
	// none when there is no such table yet.
	tableColumns(ctx context.Context) ([]targetColumn, error)
	// openHistory opens the history table for reading, without creating
	// anything; nil when the target has no history yet.
	openHistory(ctx context.Context) (*historyStore, error)
	close()
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

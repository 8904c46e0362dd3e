package dbsync

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// WatermarkQueue holds a run's new incremental watermarks until the
// target writes them inside the transaction that applies the tables'
// changes (MySQL: the merges' transaction; SQLite: the run's one
// transaction), so that a kill can never advance a watermark past rows
// not applied. Both backends keep one; its zero value is empty.
type WatermarkQueue struct {
	mu   sync.Mutex
	rows []watermarkRow
}

type watermarkRow struct{ table, watermark, basis string }

// Set queues table's new watermark and basis.
func (q *WatermarkQueue) Set(table, watermark, basis string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rows = append(q.rows, watermarkRow{table, watermark, basis})
}

// Pending says whether a watermark waits to be written.
func (q *WatermarkQueue) Pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.rows) > 0
}

// Reset forgets the queued watermarks (a discarded run writes none).
func (q *WatermarkQueue) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rows = nil
}

// SQLExecer runs a statement: the transaction or connection that applies
// a run's changes.
type SQLExecer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Write writes the queued watermarks into run runID's history rows of h
// on x, the transaction that applies the tables' changes, and empties the
// queue. explain, when set, adds the backend's advice to an error.
func (q *WatermarkQueue) Write(ctx context.Context, x SQLExecer, h HistoryStore, runID string, explain func(error) error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	stmt := watermarkUpdate(h)
	for _, w := range q.rows {
		if _, err := x.ExecContext(ctx, stmt, w.watermark, w.basis, runID, w.table); err != nil {
			if explain != nil {
				err = explain(err)
			}
			return fmt.Errorf("write the watermark of %s into history table %s: %w", QuoteMySQL(w.table), h.Table(), err)
		}
	}
	q.rows = nil
	return nil
}

// watermarkUpdate is the statement that stores one table's watermark and
// basis in its history row of a run (arguments: watermark, basis, run_id,
// table).
func watermarkUpdate(h HistoryStore) string {
	q := h.Dialect.Quote
	return "UPDATE " + h.Table() + " SET " + q("watermark") + " = ?, " + q("basis") + " = ? WHERE " + q("run_id") + " = ? AND " + q("table") + " = ?"
}

package sqlitedb

import (
	"context"
	"strings"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
)

var history = dbsync.HistoryDialect{
	Quote: quote,
	Types: map[dbsync.HistoryType]string{
		dbsync.HistoryKey: "TEXT NOT NULL", dbsync.HistoryWord: "TEXT", dbsync.HistoryName: "TEXT NOT NULL DEFAULT ''",
		dbsync.HistoryText: "TEXT", dbsync.HistoryInt: "INTEGER", dbsync.HistoryFloat: "REAL", dbsync.HistoryTime: "TEXT", dbsync.HistoryBool: "INTEGER",
	},
	// Fixed width, so that text order is time order.
	Time:         func(v time.Time) any { return v.UTC().Format(historyTime) },
	TableOptions: `, PRIMARY KEY ("run_id", "table"))`,
	ColumnsSQL:   `SELECT "name" FROM pragma_table_info(?)`,
	KeySQL:       `SELECT "name" FROM pragma_table_info(?) WHERE "pk" > 0`,
	Rekey:        rebuildHistory,
}

// rebuildHistory gives a SQLite history table the key (run_id, table):
// SQLite cannot change a table's key, so the rows move to a new table, in
// one transaction.
func rebuildHistory(ctx context.Context, h dbsync.HistoryStore) error {
	have, err := h.Columns(ctx)
	if err != nil {
		return err
	}
	q := h.Dialect.Quote
	next := q(h.Name + "__dbsync_rekey")
	var defs, names, values []string
	for _, c := range dbsync.HistoryColumns {
		defs = append(defs, q(c.Name)+" "+h.Dialect.Types[c.Typ])
		if have[c.Name] {
			names = append(names, q(c.Name))
			v := q(c.Name)
			if c.Typ == dbsync.HistoryName {
				v = "COALESCE(" + v + ", '')"
			}
			values = append(values, v)
		}
	}
	tx, err := h.Db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range []string{
		"CREATE TABLE " + next + " (" + strings.Join(defs, ", ") + h.Dialect.TableOptions,
		"INSERT INTO " + next + " (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(values, ", ") + " FROM " + h.Table(),
		"DROP TABLE " + h.Table(),
		"ALTER TABLE " + next + " RENAME TO " + h.Table(),
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// historyTime is RFC 3339 with exactly six fractional digits.
const historyTime = "2006-01-02T15:04:05.000000Z"

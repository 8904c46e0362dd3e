package dbsync

import (
	"context"
	"strings"
	"time"
)

var sqliteHistory = HistoryDialect{
	Quote: quoteSQLite,
	Types: map[HistoryType]string{
		HistoryKey: "TEXT NOT NULL", HistoryWord: "TEXT", HistoryName: "TEXT NOT NULL DEFAULT ''",
		HistoryText: "TEXT", HistoryInt: "INTEGER", HistoryFloat: "REAL", HistoryTime: "TEXT", HistoryBool: "INTEGER",
	},
	// Fixed width, so that text order is time order.
	Time:         func(v time.Time) any { return v.UTC().Format(sqliteHistoryTime) },
	TableOptions: `, PRIMARY KEY ("run_id", "table"))`,
	ColumnsSQL:   `SELECT "name" FROM pragma_table_info(?)`,
	KeySQL:       `SELECT "name" FROM pragma_table_info(?) WHERE "pk" > 0`,
	Rekey:        rebuildHistory,
}

// rebuildHistory gives a SQLite history table the key (run_id, table):
// SQLite cannot change a table's key, so the rows move to a new table, in
// one transaction.
func rebuildHistory(ctx context.Context, h HistoryStore) error {
	have, err := h.Columns(ctx)
	if err != nil {
		return err
	}
	q := h.Dialect.Quote
	next := q(h.Name + "__dbsync_rekey")
	var defs, names, values []string
	for _, c := range HistoryColumns {
		defs = append(defs, q(c.Name)+" "+h.Dialect.Types[c.Typ])
		if have[c.Name] {
			names = append(names, q(c.Name))
			v := q(c.Name)
			if c.Typ == HistoryName {
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

// sqliteHistoryTime is RFC 3339 with exactly six fractional digits.
const sqliteHistoryTime = "2006-01-02T15:04:05.000000Z"

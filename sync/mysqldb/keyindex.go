package mysqldb

import (
	"context"
	"fmt"

	dbsync "github.com/dbsync/dbsync/sync"
)

func (t *Target) QuoteName(name string) string { return dbsync.QuoteMySQL(name) }

func (t *Target) KeyIndexed(ctx context.Context, table string, key []dbsync.KeyColumn) (bool, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`, t.stored(table))
	if err != nil {
		return false, fmt.Errorf("read indexes of target table %s: %w", dbsync.QuoteMySQL(table), err)
	}
	defer rows.Close()
	indexes := map[string][]string{}
	var names []string
	for rows.Next() {
		var name, col string
		if err := rows.Scan(&name, &col); err != nil {
			return false, err
		}
		if _, ok := indexes[name]; !ok {
			names = append(names, name)
		}
		indexes[name] = append(indexes[name], col)
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	for _, n := range names {
		if dbsync.IndexCovers(indexes[n], key) {
			return true, nil
		}
	}
	return false, nil
}

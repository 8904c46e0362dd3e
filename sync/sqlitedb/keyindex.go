package sqlitedb

import (
	"context"
	"fmt"

	dbsync "github.com/dbsync/dbsync/sync"
)

func (t *Target) QuoteName(name string) string { return quote(name) }

func (t *Target) KeyIndexed(ctx context.Context, table string, key []dbsync.KeyColumn) (bool, error) {
	if t.conn == nil && t.db == nil {
		// check: read the file through a read-only handle, as mergeKey does.
		db, err := t.readOnly()
		if err != nil || db == nil {
			return false, err
		}
		t.db = db
		defer func() { t.db = nil; db.Close() }()
	}
	// The PRIMARY KEY: an INTEGER PRIMARY KEY is the rowid, which no
	// index lists.
	pk, err := dbsync.QueryStrings(ctx, t.reader(), `SELECT "name" FROM pragma_table_xinfo(?) WHERE "pk" > 0 ORDER BY "pk"`, table)
	if err != nil {
		return false, fmt.Errorf("read the primary key of %s: %w", quote(table), err)
	}
	if len(pk) > 0 && dbsync.IndexCovers(pk, key) {
		return true, nil
	}
	names, err := dbsync.QueryStrings(ctx, t.reader(), `SELECT "name" FROM pragma_index_list(?) WHERE "partial" = 0`, table)
	if err != nil {
		return false, fmt.Errorf("read indexes of %s: %w", quote(table), err)
	}
	for _, n := range names {
		// A NULL column name is an expression: "" covers no key column.
		cols, err := dbsync.QueryStrings(ctx, t.reader(), `SELECT "name" FROM pragma_index_info(?) ORDER BY "seqno"`, n)
		if err != nil {
			return false, fmt.Errorf("read index %s of %s: %w", quote(n), quote(table), err)
		}
		if dbsync.IndexCovers(cols, key) {
			return true, nil
		}
	}
	return false, nil
}

package sqlitedb

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

// TestTarget_QueryStrings: one column of every row, in order, NULL as "";
// a failing query is an error, not an empty list.
func TestTarget_QueryStrings(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "q.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n TEXT); INSERT INTO t VALUES ('b'), (NULL), ('a')`); err != nil {
		t.Fatal(err)
	}
	got, err := dbsync.QueryStrings(ctx, db, `SELECT n FROM t ORDER BY n IS NULL, n`)
	if err != nil || !slices.Equal(got, []string{"a", "b", ""}) {
		t.Errorf("got %q, %v", got, err)
	}
	if got, err := dbsync.QueryStrings(ctx, db, `SELECT n FROM missing`); err == nil {
		t.Errorf("a query of a missing table gave %q and no error", got)
	}
}

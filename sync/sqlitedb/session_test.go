package sqlitedb_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/sqlitedb"
)

// TestSession_FallbackSource: the fallback file is opened read-only (a
// query that writes fails and changes nothing), a merge's reads come
// ordered by the key's bytes (not SQLite's NOCASE collation), check gets
// the query's columns and the file's path, and a missing file is an error
// naming [fallback] path.
func TestSession_FallbackSource(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fallback.db")
	db, err := sqlitedb.Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE items (k TEXT COLLATE NOCASE PRIMARY KEY, n INTEGER); INSERT INTO items VALUES ('c', 3), ('a', 1), ('B', 2)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg := &dbsync.Config{Fallback: dbsync.FallbackConfig{Path: path}}
	s, err := sqlitedb.Backend{}.OpenSource(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	rows, err := s.Query(ctx, s.OrderedQuery("SELECT * FROM items -- all", []dbsync.KeyColumn{{Name: "k", Order: dbsync.OrderBytes}}), "[fallback] query")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		keys = append(keys, string(rows.Values()[0]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if !slices.Equal(keys, []string{"B", "a", "c"}) {
		t.Errorf("ordered by the key's bytes: %q, want [B a c]", keys)
	}
	cols, err := s.CheckColumns(ctx, "SELECT k, n FROM items", "[fallback] query")
	if err != nil || len(cols) != 2 || cols[1].Name != "n" {
		t.Errorf("check's columns: %+v %v", cols, err)
	}
	if s.Describe(ctx) != path || s.Unencrypted() {
		t.Errorf("check's description %q (unencrypted %v), want the file's path", s.Describe(ctx), s.Unencrypted())
	}
	if rows, err := s.Query(ctx, "INSERT INTO items VALUES ('z', 9) RETURNING k", "[fallback] query"); err == nil {
		for rows.Next() {
		}
		if err = rows.Err(); err == nil {
			t.Error("a query that writes ran on the read-only fallback")
		}
		rows.Close()
	}

	_, err = sqlitedb.Backend{}.OpenSource(ctx, &dbsync.Config{Fallback: dbsync.FallbackConfig{Path: path + ".missing"}})
	if err == nil || !strings.Contains(err.Error(), "[fallback] path") {
		t.Errorf("a missing fallback file: %v; want an error naming [fallback] path", err)
	}
}

package mysqldb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/dbtest"
	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/mysqldb"
)

// openSource opens the primary of a one-table job on database db through
// the backend, as a run does.
func openSource(t *testing.T, db string) dbsync.Session {
	t.Helper()
	dir := t.TempDir()
	job := dbtest.Job{Dir: dir, Primary: servers.Primary, SrcDB: db}
	path := filepath.Join(dir, "config.ini")
	if err := os.WriteFile(path, []byte(job.Text("[sync]\ndefault_target = sqlite\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := mysqldb.Backend{}.OpenSource(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readKeys reads the first column of every row of q on s.
func readKeys(t *testing.T, s dbsync.Session, q string) []string {
	t.Helper()
	rows, err := s.Query(context.Background(), q, "[source] query")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		keys = append(keys, string(rows.Values()[0]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestSession_SnapshotOrderAndCheck: the primary's session reads one
// point in time (a row committed after it opened is not seen), orders a
// merge's reads by the key's bytes, not by the collation, tells check the
// columns without reading a row, says it runs without TLS when ssl_mode =
// disabled, and refuses a query that writes.
func TestSession_SnapshotOrderAndCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := servers.Primary.NewDatabase(t, "src")
	conn := dbtest.DB(t, servers.Primary, db)
	dbtest.MustExec(t, conn, "CREATE TABLE items (k VARCHAR(5) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, n INT, f FLOAT)",
		"INSERT INTO items VALUES ('c', 3, 0.5), ('a', 1, NULL), ('B', 2, 1.25)")
	s := openSource(t, db)
	dbtest.MustExec(t, conn, "INSERT INTO items VALUES ('d', 4, 0)")

	q := s.OrderedQuery("SELECT * FROM items -- all of it", []dbsync.KeyColumn{{Name: "k", Order: dbsync.OrderBytes}})
	if got := readKeys(t, s, q); !slices.Equal(got, []string{"B", "a", "c"}) {
		t.Errorf("ordered by the key's bytes, in the snapshot: %q, want [B a c]", got)
	}
	cols, err := s.CheckColumns(ctx, "SELECT k, n, f FROM items", "[source] query")
	if err != nil || len(cols) != 3 || cols[0].Name != "k" || cols[2].Name != "f" {
		t.Errorf("check's columns: %+v %v", cols, err)
	}
	if !s.Unencrypted() {
		t.Error("ssl_mode = disabled, but the session says it runs with TLS")
	}
	if d := s.Describe(ctx); !strings.Contains(d, "database "+db) || !strings.Contains(d, "UNENCRYPTED") {
		t.Errorf("check's description %q names neither the database nor the missing TLS", d)
	}
	rows, err := s.Query(ctx, "INSERT INTO items VALUES ('e', 5, 0)", "[source] query")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if !errors.Is(err, dbsync.ErrSourceWrites) {
		t.Errorf("a query that writes: %v; want ErrSourceWrites", err)
	}
	var n int
	if err := conn.QueryRow("SELECT COUNT(*) FROM items WHERE k = 'e'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the refused write left %d rows (%v)", n, err)
	}
}

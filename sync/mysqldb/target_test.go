package mysqldb_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestSync_UserTablesNamedLikeLeftovers: a user's own table named like
// dbsync's staging or previous table is never dropped; where dbsync needs
// the name (SQLite's staging table), the run stops and names the table.
// On MySQL helper tables carry their run in the name, so no run needs a
// user's name: the runs go on and leave the table alone.
func TestSync_UserTablesNamedLikeLeftovers(t *testing.T) {
	for _, tc := range []struct {
		target, table string
		stops         bool // the run needs the name (else it runs and leaves the table alone)
	}{
		{"azure", "items__dbsync_new", false},
		{"azure", "items__dbsync_old", false},
		{"azure", "items__dbsync_delta", false},
		{"sqlite", "items__dbsync_new", true},
		{"sqlite", "items__dbsync_old", false}, // the SQLite swap never uses it
	} {
		t.Run(tc.target+"/"+tc.table, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			seedItems(t, e.SrcDBConn(), 5)
			replica := filepath.Join(e.Dir, "replica.db")
			userRows := func() int64 {
				if tc.target == "sqlite" {
					return sqliteCount(t, replica, tc.table)
				}
				return count(t, e.DstDBConn(), tc.table)
			}
			if tc.target == "sqlite" {
				sqliteExec(t, replica, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)", "INSERT INTO items VALUES (99, 'old', NULL)",
					`CREATE TABLE "`+tc.table+`" (precious TEXT)`, `INSERT INTO "`+tc.table+`" VALUES ('mine'), ('also mine')`)
			} else {
				seedItems(t, e.DstDBConn(), 1)
				mustExec(t, e.DstDBConn(), "CREATE TABLE `"+tc.table+"` (precious TEXT) COMMENT 'my own table'", "INSERT INTO `"+tc.table+"` VALUES ('mine'), ('also mine')")
			}
			for run := 1; run <= 2; run++ {
				rep, err := e.Sync(dbsync.RunOptions{Target: dbsync.Target(tc.target)})
				if !tc.stops {
					if err != nil || rep.Status != dbsync.StatusSucceeded {
						t.Fatalf("run %d: %v", run, err)
					}
				} else {
					if err == nil {
						t.Fatalf("run %d succeeded; want it to stop at the user's table %s", run, tc.table)
					}
					for _, want := range []string{tc.table, "not made by dbsync", "rename or drop"} {
						if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
							t.Errorf("run %d: error lacks %q:\n%v", run, want, err)
						}
					}
				}
				if n := userRows(); n != 2 {
					t.Fatalf("run %d: the user's table %s has %d rows, want its 2", run, tc.table, n)
				}
			}
		})
	}
}

// TestSync_TargetCommentKept: the target table's own comment survives the
// swap byte for byte, on both load paths and through a failed run: dbsync's
// ownership mark never shows on the target table.
func TestSync_TargetCommentKept(t *testing.T) {
	for _, srv := range loadPaths() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv.server())
			seedItems(t, e.SrcDBConn(), 5)
			dst := e.DstDBConn()
			seedItems(t, dst, 1)
			mustExec(t, dst, `ALTER TABLE items COMMENT = 'it''s a \\ "ü" comment; dbsync-owned: not really'`)
			before := showCreate(t, dst, "items")
			e.MustSync(dbsync.RunOptions{})
			if after := showCreate(t, dst, "items"); after != before {
				t.Errorf("definition changed:\nbefore: %s\nafter:  %s", before, after)
			}
			e.Extra = "[sync]\nmin_rows = 100\n"
			if _, err := e.Sync(dbsync.RunOptions{}); err == nil {
				t.Fatal("run with min_rows = 100 succeeded")
			}
			if after := showCreate(t, dst, "items"); after != before {
				t.Errorf("definition changed by a failed run:\nbefore: %s\nafter:  %s", before, after)
			}
			assertNoLeftovers(t, dst, "items")
		})
	}
}

package dbsync_test

import (
	"context"
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
			seedItems(t, e.srcDBConn(), 5)
			replica := filepath.Join(e.dir, "replica.db")
			userRows := func() int64 {
				if tc.target == "sqlite" {
					return sqliteCount(t, replica, tc.table)
				}
				return count(t, e.dstDBConn(), tc.table)
			}
			if tc.target == "sqlite" {
				sqliteExec(t, replica, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)", "INSERT INTO items VALUES (99, 'old', NULL)",
					`CREATE TABLE "`+tc.table+`" (precious TEXT)`, `INSERT INTO "`+tc.table+`" VALUES ('mine'), ('also mine')`)
			} else {
				seedItems(t, e.dstDBConn(), 1)
				mustExec(t, e.dstDBConn(), "CREATE TABLE `"+tc.table+"` (precious TEXT) COMMENT 'my own table'", "INSERT INTO `"+tc.table+"` VALUES ('mine'), ('also mine')")
			}
			for run := 1; run <= 2; run++ {
				rep, err := e.sync(dbsync.RunOptions{Target: dbsync.Target(tc.target)})
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
			seedItems(t, e.srcDBConn(), 5)
			dst := e.dstDBConn()
			seedItems(t, dst, 1)
			mustExec(t, dst, `ALTER TABLE items COMMENT = 'it''s a \\ "ü" comment; dbsync-owned: not really'`)
			before := showCreate(t, dst, "items")
			e.mustSync(dbsync.RunOptions{})
			if after := showCreate(t, dst, "items"); after != before {
				t.Errorf("definition changed:\nbefore: %s\nafter:  %s", before, after)
			}
			e.extra = "[sync]\nmin_rows = 100\n"
			if _, err := e.sync(dbsync.RunOptions{}); err == nil {
				t.Fatal("run with min_rows = 100 succeeded")
			}
			if after := showCreate(t, dst, "items"); after != before {
				t.Errorf("definition changed by a failed run:\nbefore: %s\nafter:  %s", before, after)
			}
			assertNoLeftovers(t, dst, "items")
		})
	}
}

// TestSync_ForeignKeyReferencingTarget: a foreign key that references the
// target table would be moved to the previous copy by the swap. The run
// refuses before loading, naming the key, and so does the run after; once
// the key is gone the runs work. A key added while a run loads (the state
// older versions left for good) gives a clear message until it is dropped,
// and then the next run cleans up.
func TestSync_ForeignKeyReferencingTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 5)
	dst := e.dstDBConn()
	seedItems(t, dst, 3)
	mustExec(t, dst, "CREATE TABLE orders (id INT PRIMARY KEY, item_id INT, CONSTRAINT fk_orders_item FOREIGN KEY (item_id) REFERENCES items (id))",
		"INSERT INTO orders VALUES (1, 2)")
	for run := 1; run <= 2; run++ {
		_, err := e.sync(dbsync.RunOptions{})
		if err == nil {
			t.Fatalf("run %d succeeded with a foreign key referencing the target", run)
		}
		for _, want := range []string{"`fk_orders_item`", "`orders`", "`items`", "foreign key", "merge mode", "DROP FOREIGN KEY"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("run %d: error lacks %q:\n%v", run, want, err)
			}
		}
		if n := count(t, dst, "items"); n != 3 {
			t.Fatalf("run %d: target has %d rows, want its 3", run, n)
		}
		assertNoLeftovers(t, dst, "items")
	}
	mustExec(t, dst, "ALTER TABLE orders DROP FOREIGN KEY fk_orders_item")
	e.mustSync(dbsync.RunOptions{})

	// A foreign key made while a run loads: the swap succeeds, the old
	// copy keeps the key and cannot be dropped.
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runner := newRunner(testLogger(t))
	dbsync.SetBeforeSwap(runner, func() {
		mustExec(t, dst, "ALTER TABLE orders ADD CONSTRAINT fk_late FOREIGN KEY (item_id) REFERENCES items (id)")
	})
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	if err := runner.Run(context.Background(), cfg, rep, nil); err != nil {
		t.Fatalf("run with a foreign key made during the load: %v", err)
	}
	for run := 1; run <= 2; run++ {
		_, err := e.sync(dbsync.RunOptions{})
		if err == nil {
			t.Fatalf("run %d after the stuck swap succeeded; want a clear refusal", run)
		}
		for _, want := range []string{"`items__dbsync_old_", "`fk_late`", "`orders`", "DROP FOREIGN KEY", "next run"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("run %d after the stuck swap: error lacks %q:\n%v", run, want, err)
			}
		}
	}
	mustExec(t, dst, "ALTER TABLE orders DROP FOREIGN KEY fk_late")
	e.mustSync(dbsync.RunOptions{})
	assertNoLeftovers(t, dst, "items")
	if n := count(t, dst, "items"); n != 5 {
		t.Fatalf("target has %d rows, want 5", n)
	}

	// An older dbsync's leftover (no mark) that a foreign key references:
	// no run uses that name any more, so the runs leave it and its key.
	mustExec(t, dst, "CREATE TABLE items__dbsync_old LIKE items", "INSERT INTO items__dbsync_old SELECT * FROM items",
		"ALTER TABLE orders ADD CONSTRAINT fk_legacy FOREIGN KEY (item_id) REFERENCES items__dbsync_old (id)")
	e.mustSync(dbsync.RunOptions{})
	if n := count(t, dst, "items__dbsync_old"); n != 5 {
		t.Fatalf("the unmarked items__dbsync_old has %d rows, want its 5", n)
	}
}

package dbsync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// This run-level test of the MySQL target stays with the core's tests:
// it acts between verify and swap through the core's test hook
// (SetBeforeSwap, export_test.go), which only package dbsync's own test
// build has. The target's other tests sit beside it in
// sync/mysqldb/target_test.go.

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

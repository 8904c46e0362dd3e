package dbsync_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestMerge_TriggersAndForeignKeys: the table object stays, so an AFTER
// INSERT/UPDATE/DELETE trigger fires exactly once per changed row (none for
// the unchanged ones), and a child table's foreign key to the target keeps
// pointing at it. Deleting a row a child still references fails the merge
// under RESTRICT, and nothing changes.
func TestMerge_TriggersAndForeignKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	const table = "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v INT NOT NULL, note VARCHAR(20) NULL) ENGINE=InnoDB"
	mustExec(t, src, table)
	mustExec(t, dst, table,
		"CREATE TABLE trig_log (op VARCHAR(6) NOT NULL, id INT NOT NULL)",
		"CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW INSERT INTO trig_log VALUES ('insert', NEW.id)",
		"CREATE TRIGGER items_au AFTER UPDATE ON items FOR EACH ROW INSERT INTO trig_log VALUES ('update', NEW.id)",
		"CREATE TRIGGER items_ad AFTER DELETE ON items FOR EACH ROW INSERT INTO trig_log VALUES ('delete', OLD.id)")
	for _, db := range []*sql.DB{src, dst} {
		mustExec(t, db, "INSERT INTO items (id, v) SELECT seq, seq FROM seq_1_to_100")
	}
	mustExec(t, dst, "CREATE TABLE child (id INT NOT NULL PRIMARY KEY, item_id INT NOT NULL, FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE RESTRICT) ENGINE=InnoDB",
		"INSERT INTO child SELECT seq, seq FROM seq_1_to_10", "DELETE FROM trig_log")
	mustExec(t, src, "UPDATE items SET v = v + 1000 WHERE id BETWEEN 11 AND 15", "UPDATE items SET note = '' WHERE id = 16",
		"DELETE FROM items WHERE id BETWEEN 20 AND 22", "INSERT INTO items VALUES (101, 1, NULL), (102, 2, 'x')")
	assertCounts(t, e.mustMerge("", mergeRun{}), counts{ins: 2, upd: 6, del: 3, same: 91, rows: 99})
	logged := func() string {
		var ops []string
		for _, r := range dump(t, dst, "SELECT op, COUNT(*), MIN(id), MAX(id) FROM trig_log GROUP BY op ORDER BY op") {
			ops = append(ops, fmt.Sprintf("%s×%d(%d..%d)", r[0], r[1], r[2], r[3]))
		}
		return strings.Join(ops, " ")
	}
	if got, want := logged(), "delete×3(20..22) insert×2(101..102) update×6(11..16)"; got != want {
		t.Errorf("triggers logged %s, want %s", got, want)
	}
	assertSameRows(t, dump(t, src, "SELECT * FROM items ORDER BY id"), dump(t, dst, "SELECT * FROM items ORDER BY id"))
	var orphans int
	if err := dst.QueryRow("SELECT COUNT(*) FROM child LEFT JOIN items ON items.id = child.item_id WHERE items.id IS NULL").Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d child rows lost their parent", orphans)
	}
	// The foreign key still names items (a replace would leave it on
	// the swapped-out copy).
	var parent string
	if err := dst.QueryRow("SELECT REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'child'").Scan(&parent); err != nil || parent != "items" {
		t.Errorf("child's foreign key references %q (%v), want items", parent, err)
	}

	// Row 1 is referenced: deleting it is refused, and the whole merge
	// (an update too) is rolled back.
	before := dump(t, dst, "SELECT * FROM items ORDER BY id")
	mustExec(t, dst, "DELETE FROM trig_log")
	mustExec(t, src, "DELETE FROM items WHERE id = 1", "UPDATE items SET v = -1 WHERE id = 50")
	_, err := e.merge("", mergeRun{})
	if err == nil || !strings.Contains(err.Error(), "foreign key") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("merge deleting a referenced row: %v; want the foreign key named and nothing changed", err)
	}
	assertSameRows(t, before, dump(t, dst, "SELECT * FROM items ORDER BY id"))
	if n := count(t, dst, "trig_log"); n != 0 {
		t.Errorf("a failed merge left %d trigger rows", n)
	}
	assertNoDelta(t, dst, "items")
}

// TestMerge_Thresholds: above merge_max_changes the merge writes nothing
// and says to replace; above max_delete it fails naming max_delete (even
// where merge_max_changes would replace: a replace deletes the same rows);
// a missing target table is a replace; no key is a configuration error
// naming the table, and the generated invisible my_row_id is no key.
func TestMerge_Thresholds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	seedItems(t, src, 100)
	res, err := e.merge("", mergeRun{})
	if err != nil || !res.Replaced || !strings.Contains(res.Reason, "does not exist") {
		t.Fatalf("merge into a missing table: %+v %v; want Replaced: the first run", res, err)
	}
	seedItems(t, dst, 100)
	before := dump(t, dst, "SELECT * FROM items ORDER BY id")

	mustExec(t, src, "UPDATE items SET note = 'changed' WHERE id <= 40")
	res, err = e.merge("", mergeRun{})
	if err != nil || !res.Replaced || !strings.Contains(res.Reason, "merge_max_changes = 0.3") || !strings.Contains(res.Reason, "40 of 100") {
		t.Fatalf("40 %% changed: %+v %v; want Replaced naming merge_max_changes", res, err)
	}
	assertSameRows(t, before, dump(t, dst, "SELECT * FROM items ORDER BY id"))
	assertCounts(t, e.mustMerge("", mergeRun{MaxChanges: 0.5}), counts{upd: 40, same: 60, rows: 100})

	mustExec(t, src, "DELETE FROM items WHERE id > 40")
	before = dump(t, dst, "SELECT * FROM items ORDER BY id")
	_, err = e.merge("", mergeRun{MaxChanges: 1})
	if !errors.Is(err, dbsync.ErrTooManyDeletes) || !strings.Contains(err.Error(), "max_delete = 0.5") || !strings.Contains(err.Error(), "60 of the 100") {
		t.Fatalf("60 %% deleted: %v; want an error naming max_delete", err)
	}
	assertSameRows(t, before, dump(t, dst, "SELECT * FROM items ORDER BY id"))
	assertCounts(t, e.mustMerge("", mergeRun{MaxChanges: 1, MaxDelete: 0.6}), counts{del: 60, same: 40, rows: 40})

	// No key.
	mustExec(t, dst, "DROP TABLE items", "CREATE TABLE items (id INT NOT NULL, name VARCHAR(50) NOT NULL, note TEXT NULL)")
	_, err = e.merge("", mergeRun{})
	var ce *dbsync.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "`items`") || !strings.Contains(err.Error(), "[sync] key") {
		t.Fatalf("no key: %v; want a ConfigError naming the table and the key setting ([sync] key in a one-table job)", err)
	}
	// Azure MySQL 8's generated invisible primary key is no merge key.
	mustExec(t, dst, "DROP TABLE items", "CREATE TABLE items (my_row_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT INVISIBLE PRIMARY KEY, id INT NOT NULL, name VARCHAR(50) NOT NULL, note TEXT NULL)",
		"INSERT INTO items (id, name) VALUES (1, 'stale'), (99, 'gone')")
	if _, err = e.merge("", mergeRun{}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "my_row_id") {
		t.Fatalf("GIPK only: %v; want a ConfigError saying my_row_id does not count", err)
	}
	assertCounts(t, e.mustMerge("", mergeRun{Key: []string{"id"}, MaxChanges: 100, MaxDelete: 1}), counts{ins: 39, upd: 1, del: 1, rows: 40})
	assertSameRows(t, dump(t, src, "SELECT * FROM items ORDER BY id"), dump(t, dst, "SELECT * FROM items ORDER BY id"))
	if _, err = e.merge("", mergeRun{Key: []string{"name"}}); err != nil {
		// name is not unique in the target's sense but unique in data: fine.
		t.Fatalf("configured key name: %v", err)
	}
}

package dbsync_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// targetExec runs statements on e's target database of target: the MySQL
// database, or the SQLite replica file.
func (e *env) targetExec(target string, stmts ...string) {
	e.t.Helper()
	if target == "sqlite" {
		sqliteExec(e.t, filepath.Join(e.dir, "replica.db"), stmts...)
		return
	}
	mustExec(e.t, e.dstDBConn(), stmts...)
}

// canon is every row of query as text, one line per row, the same for a
// MySQL and a SQLite database holding the same values.
func canon(t *testing.T, db *sql.DB, query string) string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var b strings.Builder
	for _, r := range scanAll(t, rows) {
		for i, v := range r {
			if i > 0 {
				b.WriteString("|")
			}
			switch x := v.(type) {
			case nil:
				b.WriteString("NULL")
			case []byte:
				b.Write(x)
			default:
				fmt.Fprint(&b, x)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (e *env) syncTarget(target string) (*dbsync.Report, error) {
	e.t.Helper()
	return e.sync(dbsync.RunOptions{Target: dbsync.Target(target)})
}

func (e *env) mustSyncTarget(target string) *dbsync.Report {
	e.t.Helper()
	rep, err := e.syncTarget(target)
	if err != nil {
		e.t.Fatalf("sync --target %s: %v", target, err)
	}
	return rep
}

func tableEntry(rep *dbsync.Report, table string) dbsync.TableReport {
	for _, t := range rep.Tables {
		if t.Table == table {
			return t
		}
	}
	return dbsync.TableReport{}
}

func entryCounts(tr dbsync.TableReport) string {
	return fmt.Sprintf("%s %d +%d ~%d -%d =%d", tr.Mode, tr.Rows, tr.Inserted, tr.Updated, tr.Deleted, tr.Unchanged)
}

// triggers lists the target table's triggers.
func triggers(t *testing.T, db *sql.DB, target, table string) string {
	t.Helper()
	q := "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = '" + table + "' ORDER BY 1"
	if target == "sqlite" {
		q = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '" + table + "' ORDER BY 1"
	}
	return strings.TrimSpace(canon(t, db, q))
}

// TestMerge_LinkedTableNeverReplaced (issue 18 items 3, 4): a merge table
// whose target has a trigger and a foreign key referencing it is merged,
// never replaced: an empty target is merged as inserts (the trigger fires
// for each row), and changes far above merge_max_changes are merged too;
// the report says which rule applied; trigger and foreign key stay. A
// table with neither is still replaced above merge_max_changes, and says
// so.
func TestMerge_LinkedTableNeverReplaced(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		mustExec(t, src, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)", "INSERT INTO items SELECT seq, seq FROM seq_1_to_50",
			"CREATE TABLE plain (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)", "INSERT INTO plain SELECT seq, seq FROM seq_1_to_50")
		if target == "sqlite" {
			e.targetExec(target,
				"CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, v INTEGER NOT NULL)",
				"CREATE TABLE plain (id INTEGER NOT NULL PRIMARY KEY, v INTEGER NOT NULL)",
				"CREATE TABLE trig_log (op TEXT NOT NULL, id INTEGER NOT NULL)",
				"CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN INSERT INTO trig_log VALUES ('insert', NEW.id); END",
				"CREATE TABLE child (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id))")
		} else {
			e.targetExec(target,
				"CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)",
				"CREATE TABLE plain (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)",
				"CREATE TABLE trig_log (op VARCHAR(6) NOT NULL, id INT NOT NULL)",
				"CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW INSERT INTO trig_log VALUES ('insert', NEW.id)",
				"CREATE TABLE child (id INT PRIMARY KEY, item_id INT NOT NULL, CONSTRAINT child_item FOREIGN KEY (item_id) REFERENCES items (id))")
		}
		e.extra = tablesJob(tableSection("items", "SELECT * FROM items"), tableSection("plain", "SELECT * FROM plain")) +
			"[sync]\nmode = merge\nmerge_max_changes = 0.1\n"
		dst := e.replica(target)

		rep := e.mustSyncTarget(target)
		items := tableEntry(rep, "items")
		if got := entryCounts(items); got != "merge 50 +50 ~0 -0 =0" || !strings.Contains(items.ModeReason, "was empty: merged as 50 inserts") {
			t.Errorf("empty target: items is %q (%q); want merged as inserts", got, items.ModeReason)
		}
		if n := count(t, dst, "trig_log"); n != 50 {
			t.Errorf("the insert trigger fired %d times for 50 new rows", n)
		}
		e.targetExec(target, "INSERT INTO child VALUES (1, 7)", "DELETE FROM trig_log")

		// 30 of 50 rows change: far above merge_max_changes = 0.1.
		mustExec(t, src, "UPDATE items SET v = -v WHERE id <= 20", "DELETE FROM items WHERE id BETWEEN 41 AND 45", "INSERT INTO items SELECT seq, seq FROM seq_51_to_55",
			"UPDATE plain SET v = -v WHERE id <= 20")
		rep = e.mustSyncTarget(target)
		items = tableEntry(rep, "items")
		if got := entryCounts(items); got != "merge 50 +5 ~20 -5 =25" ||
			!strings.Contains(items.ModeReason, "more than merge_max_changes = 0.1, but the table has trigger `items_ai`") ||
			!strings.Contains(items.ModeReason, "referencing it: merged, since a replace rebuilds the table") {
			t.Errorf("30 of 50 changed: items is %q (%q); want merged naming the trigger and the foreign key", got, items.ModeReason)
		}
		plain := tableEntry(rep, "plain")
		if plain.Mode != dbsync.ModeReplace || !strings.Contains(plain.ModeReason, "replaced instead of merged (the table has no triggers, foreign keys or columns the source lacks)") {
			t.Errorf("plain table: %s (%q); want replaced, saying why", plain.Mode, plain.ModeReason)
		}
		if !strings.Contains(rep.ModeReason, "items: 30 of 50 rows changed") || !strings.Contains(rep.ModeReason, "plain: 20 of 50 rows changed") {
			t.Errorf("run mode_reason %q does not name each table's rule", rep.ModeReason)
		}
		for _, table := range []string{"items", "plain"} {
			if got, want := canon(t, dst, "SELECT * FROM "+table+" ORDER BY id"), canon(t, src, "SELECT * FROM "+table+" ORDER BY id"); got != want {
				t.Errorf("%s differs from the source", table)
			}
		}
		if got := triggers(t, dst, target, "items"); got != "items_ai" {
			t.Errorf("items has triggers %q after the runs, want items_ai", got)
		}
		if n := count(t, dst, "trig_log"); n != 5 {
			t.Errorf("the insert trigger fired %d times for 5 new rows", n)
		}
		if target == "azure" {
			var parent string
			if err := dst.QueryRow("SELECT REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'child'").Scan(&parent); err != nil || parent != "items" {
				t.Errorf("child's foreign key references %q (%v), want items", parent, err)
			}
		}
	})
}

// ordersJob is README's example job's orders and order_lines tables, both
// merged, with order_lines' foreign key to orders on the target (rule
// onDelete): the source has a draft status the query filters out and a
// view over the lines.
func ordersJob(e *env, target, onDelete string) {
	e.t.Helper()
	src := e.srcDBConn()
	mustExec(e.t, src,
		"CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2) NOT NULL, created_at DATETIME NOT NULL, status VARCHAR(10) NOT NULL)",
		"CREATE TABLE order_lines (id INT NOT NULL PRIMARY KEY, order_id INT NOT NULL, product VARCHAR(20) NOT NULL, qty INT NOT NULL)",
		"CREATE VIEW order_lines_v AS SELECT l.* FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.status <> 'draft'")
	if target == "sqlite" {
		e.targetExec(target,
			"CREATE TABLE orders (id INTEGER NOT NULL PRIMARY KEY, customer_id INTEGER NOT NULL, total TEXT NOT NULL, created_at TEXT NOT NULL)",
			"CREATE TABLE order_lines (id INTEGER NOT NULL PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE "+onDelete+", product TEXT NOT NULL, qty INTEGER NOT NULL)")
	} else {
		e.targetExec(target,
			"CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2) NOT NULL, created_at DATETIME NOT NULL) ENGINE=InnoDB",
			"CREATE TABLE order_lines (id INT NOT NULL PRIMARY KEY, order_id INT NOT NULL, product VARCHAR(20) NOT NULL, qty INT NOT NULL, "+
				"CONSTRAINT lines_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE "+onDelete+") ENGINE=InnoDB")
	}
	// README's job, as written there (the query continues on an indented line).
	e.extra = "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n" +
		"[sync]\nmode = merge\nmerge_max_changes = 0.1\nmax_delete = 0.9\n" +
		"[table.orders]\nquery = SELECT id, customer_id, total, created_at FROM orders\n  WHERE status <> 'draft'\n\n" +
		"[table.order_lines]\nquery = SELECT * FROM order_lines_v\nfallback_query = SELECT * FROM order_lines\nmin_rows = 0\n"
}

// assertOrdersExact: both tables equal the source's, and no line lacks its
// order.
func assertOrdersExact(t *testing.T, dst, src *sql.DB, when string) {
	t.Helper()
	for table, q := range map[string][2]string{
		"orders":      {"SELECT id, customer_id, total, created_at FROM orders ORDER BY id", "SELECT id, customer_id, total, created_at FROM orders WHERE status <> 'draft' ORDER BY id"},
		"order_lines": {"SELECT id, order_id, product, qty FROM order_lines ORDER BY id", "SELECT id, order_id, product, qty FROM order_lines_v ORDER BY id"},
	} {
		if got, want := canon(t, dst, q[0]), canon(t, src, q[1]); got != want {
			t.Errorf("%s: %s differs from the source:\n%s\nwant\n%s", when, table, got, want)
		}
	}
	if orphans := canon(t, dst, "SELECT l.id FROM order_lines l LEFT JOIN orders o ON o.id = l.order_id WHERE o.id IS NULL"); orphans != "" {
		t.Errorf("%s: lines without their order: %s", when, orphans)
	}
}

// TestMerge_ForeignKeysAcrossTables (issue 18 item 5): README's
// orders/order_lines job, merged on both targets with the target's foreign
// key from order_lines to orders under RESTRICT and under CASCADE: an order
// inserted with its lines, an order deleted with its lines, a line moved
// from an order the run deletes to one it inserts, and a draft that
// becomes an order. Every run succeeds and leaves both tables exactly the
// source's.
func TestMerge_ForeignKeysAcrossTables(t *testing.T) {
	for _, start := range []string{"empty", "seeded"} {
		for _, rule := range []string{"RESTRICT", "CASCADE"} {
			t.Run(start+"/"+rule, func(t *testing.T) { testOrdersMerge(t, start, rule) })
		}
	}
}

func testOrdersMerge(t *testing.T, start, rule string) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		ordersJob(e, target, rule)
		dst := e.replica(target)
		mustExec(t, src,
			"INSERT INTO orders SELECT seq, seq % 7, seq * 1.5, '2026-11-01 10:00:00', IF(seq = 20, 'draft', 'open') FROM seq_1_to_20",
			"INSERT INTO order_lines SELECT seq, 1 + (seq - 1) DIV 3, CONCAT('p', seq), seq FROM seq_1_to_60")
		first := "orders merge 19 +19 ~0 -0 =0, order_lines merge 57 +57 ~0 -0 =0"
		if start == "seeded" {
			// The target holds the source's rows already, so every
			// step is a merge of a few changes, also before the
			// rules for empty targets and merge_max_changes.
			first = "orders merge 19 +0 ~0 -0 =19, order_lines merge 57 +0 ~0 -0 =57"
			if target == "sqlite" {
				e.targetExec(target, "WITH RECURSIVE s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < 19) INSERT INTO orders SELECT seq, seq % 7, printf('%.2f', seq * 1.5), '2026-11-01 10:00:00' FROM s",
					"WITH RECURSIVE s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < 57) INSERT INTO order_lines SELECT seq, 1 + (seq - 1) / 3, 'p' || seq, seq FROM s")
			} else {
				e.targetExec(target, "INSERT INTO orders SELECT seq, seq % 7, seq * 1.5, '2026-11-01 10:00:00' FROM seq_1_to_19",
					"INSERT INTO order_lines SELECT seq, 1 + (seq - 1) DIV 3, CONCAT('p', seq), seq FROM seq_1_to_57")
			}
		}
		steps := []struct{ name, want string }{
			{"first run", first},
			{"new order with lines", "orders merge 20 +1 ~0 -0 =19, order_lines merge 59 +2 ~0 -0 =57"},
			{"order deleted with its lines", "orders merge 19 +0 ~0 -1 =19, order_lines merge 56 +0 ~0 -3 =56"},
			{"lines moved to a new order from one deleted", "orders merge 19 +1 ~1 -1 =17, order_lines merge 56 +0 ~3 -0 =53"},
			{"a draft becomes an order", "orders merge 20 +1 ~0 -0 =19, order_lines merge 59 +3 ~0 -0 =56"},
		}
		changes := [][]string{
			nil,
			{"INSERT INTO orders VALUES (21, 3, 9.99, '2026-11-02 08:00:00', 'open')", "INSERT INTO order_lines VALUES (61, 21, 'p61', 1), (62, 21, 'p62', 2)"},
			{"DELETE FROM order_lines WHERE order_id = 2", "DELETE FROM orders WHERE id = 2"},
			{"INSERT INTO orders VALUES (22, 4, 1.00, '2026-11-03 08:00:00', 'open')", "UPDATE orders SET total = 0.5 WHERE id = 5",
				"UPDATE order_lines SET order_id = 22 WHERE id IN (7, 8)", "UPDATE order_lines SET order_id = 4 WHERE id = 9",
				"DELETE FROM order_lines WHERE order_id = 3", "DELETE FROM orders WHERE id = 3"},
			{"UPDATE orders SET status = 'open' WHERE id = 20"},
		}
		for i, step := range steps {
			mustExec(t, src, changes[i]...)
			rep, err := e.syncTarget(target)
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			got := "orders " + entryCounts(tableEntry(rep, "orders")) + ", order_lines " + entryCounts(tableEntry(rep, "order_lines"))
			if got != step.want {
				t.Errorf("%s: %s, want %s", step.name, got, step.want)
			}
			assertOrdersExact(t, dst, src, step.name)
		}
		if target == "sqlite" {
			if bad := canon(t, dst, "PRAGMA foreign_key_check"); bad != "" {
				t.Errorf("foreign_key_check: %s", bad)
			}
		}
	})
}

// TestMerge_CascadeRemovingSourceRowsFails: a source whose lines reference
// an order it no longer has, under ON DELETE CASCADE, would lose those
// lines in the target: the run fails, naming the foreign key, and changes
// nothing.
func TestMerge_CascadeRemovingSourceRowsFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	ordersJob(e, "azure", "CASCADE")
	src, dst := e.srcDBConn(), e.dstDBConn()
	mustExec(t, src, "INSERT INTO orders SELECT seq, 1, 1, '2026-11-01', 'open' FROM seq_1_to_10", "INSERT INTO order_lines SELECT seq, seq, 'p', 1 FROM seq_1_to_10")
	e.mustSyncTarget("azure")
	// The view hides lines of drafts only, so line 4 stays while order 4
	// goes: the source is inconsistent.
	mustExec(t, src, "DROP VIEW order_lines_v", "CREATE VIEW order_lines_v AS SELECT * FROM order_lines", "DELETE FROM orders WHERE id = 4")
	before := canon(t, dst, "SELECT * FROM order_lines ORDER BY id")
	_, err := e.syncTarget("azure")
	if err == nil || !strings.Contains(err.Error(), "foreign key `lines_order`, ON DELETE CASCADE") || !strings.Contains(err.Error(), "inconsistent") {
		t.Fatalf("merge whose cascade removes rows the source has: %v; want a failure naming the foreign key", err)
	}
	if canon(t, dst, "SELECT * FROM order_lines ORDER BY id") != before || count(t, dst, "orders") != 10 {
		t.Errorf("the failed run changed the target")
	}
}

// TestMerge_UniqueValuesMove (issue 18 item 6): two rows swap their values
// of a secondary UNIQUE key, and a chain passes one on; an UPDATE checks
// the key row by row and would fail (1062, SQLite's UNIQUE constraint), so
// such rows go as delete + insert in the run's transaction. Where foreign
// keys reference the table by its key the delete runs with the checks off
// (nothing cascades: the row comes back with its key); where one references
// the moving column itself the run fails saying why, with nothing changed.
func TestMerge_UniqueValuesMove(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		mustExec(t, src, "CREATE TABLE users (id INT NOT NULL PRIMARY KEY, email VARCHAR(50) NOT NULL, name VARCHAR(20) NOT NULL, UNIQUE KEY users_email (email))",
			"INSERT INTO users SELECT seq, CONCAT('u', seq, '@x'), CONCAT('n', seq) FROM seq_1_to_20")
		if target == "sqlite" {
			e.targetExec(target, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL)")
		} else {
			e.targetExec(target, "CREATE TABLE users (id INT NOT NULL PRIMARY KEY, email VARCHAR(50) NOT NULL, name VARCHAR(20) NOT NULL, UNIQUE KEY users_email (email))")
		}
		e.extra = tablesJob(tableSection("users", "SELECT * FROM users")) + "[sync]\nmode = merge\n"
		dst := e.replica(target)
		e.mustSyncTarget(target)
		// The source itself needs temporary values to do this (its UPDATE
		// checks the key row by row too).
		changes := [][]string{
			// Swap 1 ↔ 2, and 3 takes 4's while 4 takes a new one.
			{"UPDATE users SET email = CONCAT('tmp', id) WHERE id <= 4",
				"UPDATE users SET email = CASE id WHEN 1 THEN 'u2@x' WHEN 2 THEN 'u1@x' WHEN 3 THEN 'u4@x' WHEN 4 THEN 'new4@x' END, name = CONCAT(name, '!') WHERE id <= 4",
				"UPDATE users SET name = 'plain' WHERE id = 10"},
			// Swap back 1 ↔ 2, and swap 3 ↔ 4.
			{"UPDATE users SET email = CONCAT('tmp', id) WHERE id <= 4",
				"UPDATE users SET email = CASE id WHEN 1 THEN 'u1@x' WHEN 2 THEN 'u2@x' WHEN 3 THEN 'new4@x' WHEN 4 THEN 'u4@x' END WHERE id <= 4"},
		}
		for run := 1; run <= 2; run++ {
			mustExec(t, src, changes[run-1]...)
			rep, err := e.syncTarget(target)
			if err != nil {
				t.Fatalf("run %d with unique values moving between rows: %v", run, err)
			}
			want := "merge 20 +0 ~5 -0 =15"
			if run == 2 {
				want = "merge 20 +0 ~4 -0 =16"
			}
			if got := entryCounts(tableEntry(rep, "users")); got != want {
				t.Errorf("run %d: users is %s, want %s", run, got, want)
			}
			if got, want := canon(t, dst, "SELECT * FROM users ORDER BY id"), canon(t, src, "SELECT * FROM users ORDER BY id"); got != want {
				t.Errorf("run %d: users differs from the source:\n%s\nwant\n%s", run, got, want)
			}
		}
		if target == "sqlite" {
			return
		}
		// Foreign keys reference users by its key, one with ON DELETE
		// CASCADE: the moved rows are deleted with the checks off (they come
		// back with the same id), so nothing cascades.
		e.targetExec(target, "CREATE TABLE sessions (id INT PRIMARY KEY, user_id INT NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)",
			"CREATE TABLE audits (id INT PRIMARY KEY, user_id INT NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id))",
			"INSERT INTO sessions VALUES (1, 5), (2, 6)", "INSERT INTO audits VALUES (1, 6)")
		mustExec(t, src, "UPDATE users SET email = CONCAT('tmp', id) WHERE id IN (5, 6)", "UPDATE users SET email = IF(id = 5, 'u6@x', 'u5@x') WHERE id IN (5, 6)")
		rep, err := e.syncTarget(target)
		if err != nil {
			t.Fatalf("swap in a table foreign keys reference by its key: %v", err)
		}
		if got := entryCounts(tableEntry(rep, "users")); got != "merge 20 +0 ~2 -0 =18" {
			t.Errorf("swap in a referenced table: users is %s", got)
		}
		if got, want := canon(t, dst, "SELECT * FROM users ORDER BY id"), canon(t, src, "SELECT * FROM users ORDER BY id"); got != want {
			t.Errorf("referenced users differs from the source")
		}
		if got := canon(t, dst, "SELECT s.id, s.user_id FROM sessions s JOIN users u ON u.id = s.user_id ORDER BY s.id"); got != "1|5\n2|6\n" {
			t.Errorf("sessions after the swap: %q, want both rows kept (nothing cascaded)", got)
		}
		var checks int
		if err := dst.QueryRow("SELECT @@foreign_key_checks").Scan(&checks); err != nil || checks != 1 {
			t.Errorf("foreign_key_checks = %d (%v) on a pooled connection", checks, err)
		}

		// A foreign key references the unique column itself: a moved row
		// cannot come back as the same parent, so the swap is refused.
		e.targetExec(target, "DROP TABLE sessions", "DROP TABLE audits",
			"CREATE TABLE mail (id INT PRIMARY KEY, email VARCHAR(50) NOT NULL, FOREIGN KEY (email) REFERENCES users (email) ON DELETE CASCADE)", "INSERT INTO mail VALUES (1, 'u7@x')")
		mustExec(t, src, "UPDATE users SET email = CONCAT('tmp', id) WHERE id IN (7, 8)", "UPDATE users SET email = IF(id = 7, 'u8@x', 'u7@x') WHERE id IN (7, 8)")
		before := canon(t, dst, "SELECT * FROM users ORDER BY id")
		_, err = e.syncTarget(target)
		if err == nil || !strings.Contains(err.Error(), "as delete + insert, but not in this table: foreign key `mail_ibfk_1` of `mail` references its columns (email), not the merge key (id)") {
			t.Fatalf("swap in a table referenced by its unique column: %v; want an error saying why it cannot be applied", err)
		}
		if canon(t, dst, "SELECT * FROM users ORDER BY id") != before || count(t, dst, "mail") != 1 {
			t.Errorf("the failed run changed the target")
		}
	})
}

// TestMerge_RecreateKeepsKey (issue 18 item 7): a merge table with
// on_schema_change = recreate, after the source gains a column, is rebuilt
// with its merge key as primary key, so the next runs merge it again. A
// table with a trigger is not rebuilt (the trigger would go): the run
// fails saying so, with the table unchanged.
func TestMerge_RecreateKeepsKey(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		mustExec(t, src, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)", "INSERT INTO items SELECT seq, CONCAT('i', seq) FROM seq_1_to_30")
		e.extra = tablesJob(tableSection("items", "SELECT * FROM items")) + "[sync]\nmode = merge\non_schema_change = recreate\n"
		dst := e.replica(target)
		e.mustSyncTarget(target) // first run: creates it
		if target == "sqlite" {
			e.targetExec(target, "DROP TABLE items", "CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL)")
		} else {
			e.targetExec(target, "DROP TABLE items", "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)")
		}
		e.mustSyncTarget(target)
		mustExec(t, src, "ALTER TABLE items ADD COLUMN note VARCHAR(20) NULL", "UPDATE items SET note = 'n' WHERE id <= 3")
		rep := e.mustSyncTarget(target)
		if tr := tableEntry(rep, "items"); tr.Mode != dbsync.ModeReplace || !strings.Contains(tr.ModeReason, "on_schema_change = recreate") {
			t.Errorf("after the added column: %s (%q), want a replace for recreate", tr.Mode, tr.ModeReason)
		}
		for run := 1; run <= 2; run++ {
			mustExec(t, src, fmt.Sprintf("UPDATE items SET name = 'changed %d' WHERE id = %d", run, run), fmt.Sprintf("INSERT INTO items VALUES (%d, 'new', NULL)", 100+run))
			rep, err := e.syncTarget(target)
			if err != nil {
				t.Fatalf("merge %d after the recreate: %v", run, err)
			}
			if got := entryCounts(tableEntry(rep, "items")); got != fmt.Sprintf("merge %d +1 ~1 -0 =%d", 30+run, 29+run-1) {
				t.Errorf("merge %d after the recreate: %s", run, got)
			}
			if got, want := canon(t, dst, "SELECT id, name, note FROM items ORDER BY id"), canon(t, src, "SELECT id, name, note FROM items ORDER BY id"); got != want {
				t.Errorf("merge %d: items differs from the source", run)
			}
		}
		if target == "sqlite" {
			e.targetExec(target, "CREATE TABLE trig_log (id INTEGER)", "CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN INSERT INTO trig_log VALUES (NEW.id); END")
		} else {
			e.targetExec(target, "CREATE TABLE trig_log (id INT)", "CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW INSERT INTO trig_log VALUES (NEW.id)")
		}
		mustExec(t, src, "ALTER TABLE items ADD COLUMN extra INT NULL")
		before := canon(t, dst, "SELECT * FROM items ORDER BY id")
		_, err := e.syncTarget(target)
		if err == nil || !strings.Contains(err.Error(), "a replace would drop the table's trigger `items_ai`") {
			t.Fatalf("recreate of a table with a trigger: %v; want it refused, naming the trigger", err)
		}
		if canon(t, dst, "SELECT * FROM items ORDER BY id") != before || triggers(t, dst, target, "items") != "items_ai" {
			t.Errorf("the refused recreate changed the table")
		}
	})
}

// TestMerge_TargetKeyProblemIsConfigError (issue 18 item 8): a target with
// a surrogate AUTO_INCREMENT id as primary key and a UNIQUE natural key
// from the source. Merged by the id, which the source lacks, the run is a
// configuration error naming the table, the key and the source's columns
// — never a primary failure sent to the fallback. With key = email (any
// NOT NULL unique key of the target may be named) it merges, and the
// columns the source lacks keep their values (inserted rows get their
// defaults).
func TestMerge_TargetKeyProblemIsConfigError(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		mustExec(t, src, "CREATE TABLE users (email VARCHAR(50) NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL)",
			"INSERT INTO users VALUES ('a@x', 'A'), ('b@x', 'B'), ('c@x', 'C')")
		sqliteExec(t, filepath.Join(e.dir, "fallback.db"), "CREATE TABLE users (email TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL)", "INSERT INTO users VALUES ('a@x', 'fallback')")
		if target == "sqlite" {
			e.targetExec(target, "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, note TEXT NOT NULL DEFAULT 'kept')",
				"INSERT INTO users (id, email, name, note) VALUES (10, 'a@x', 'old', 'mine'), (11, 'gone@x', 'G', 'mine')")
		} else {
			e.targetExec(target, "CREATE TABLE users (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(50) NOT NULL, name VARCHAR(20) NOT NULL, note VARCHAR(10) NOT NULL DEFAULT 'kept', UNIQUE KEY users_email (email))",
				"INSERT INTO users (id, email, name, note) VALUES (10, 'a@x', 'old', 'mine'), (11, 'gone@x', 'G', 'mine')")
		}
		job := tablesJob(tableSection("users", "SELECT email, name FROM users")) + "[sync]\nmode = merge\nfallback_enabled = true\nmerge_max_changes = 1\nmax_delete = 1\n"
		e.extra = job
		dst := e.replica(target)
		rep, err := e.syncTarget(target)
		var ce *dbsync.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "[table.users] key") || !strings.Contains(err.Error(), "`users`") ||
			!strings.Contains(err.Error(), "(id)") || !strings.Contains(err.Error(), "email, name") || !strings.Contains(err.Error(), "key = email") {
			t.Fatalf("merge by a key the source lacks: %v; want a configuration error naming table, key, columns and key = email", err)
		}
		if rep.Source != "primary" || rep.FallbackReason != "" {
			t.Errorf("a target-side key problem went to the fallback: source %q, fallback_reason %q", rep.Source, rep.FallbackReason)
		}

		e.extra = job + "[table.users]\nkey = email\n"
		rep = e.mustSyncTarget(target)
		if got := entryCounts(tableEntry(rep, "users")); got != "merge 3 +2 ~1 -1 =0" {
			t.Errorf("merge by key = email: %s", got)
		}
		got := canon(t, dst, "SELECT id, email, name, note FROM users ORDER BY email")
		if want := "10|a@x|A|mine\n12|b@x|B|kept\n13|c@x|C|kept\n"; got != want {
			t.Errorf("users after the merge:\n%s\nwant (id and note kept, new rows with their defaults)\n%s", got, want)
		}
	})
}

// TestMerge_CascadedDeletesCounted (issue 18 item 5): deleting a row and
// the rows that reference it through ON DELETE CASCADE in one merge —
// here a tree whose nodes reference their parent node — lets the cascade
// delete some of the rows the merge deletes itself: they count as
// deleted, and the run succeeds exact.
func TestMerge_CascadedDeletesCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	mustExec(t, src, "CREATE TABLE nodes (id INT NOT NULL PRIMARY KEY, parent_id INT NULL, name VARCHAR(10) NOT NULL)",
		"INSERT INTO nodes VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 2, 'b'), (4, 3, 'c'), (5, 1, 'd'), (6, NULL, 'other')")
	mustExec(t, dst, "CREATE TABLE nodes (id INT NOT NULL PRIMARY KEY, parent_id INT NULL, name VARCHAR(10) NOT NULL, FOREIGN KEY (parent_id) REFERENCES nodes (id) ON DELETE CASCADE) ENGINE=InnoDB")
	e.extra = tablesJob(tableSection("nodes", "SELECT * FROM nodes")) + "[sync]\nmode = merge\nmax_delete = 0.9\nmerge_max_changes = 1\n"
	e.mustSyncTarget("azure")
	mustExec(t, src, "DELETE FROM nodes WHERE id IN (4, 3)", "DELETE FROM nodes WHERE id = 2")
	rep, err := e.syncTarget("azure")
	if err != nil {
		t.Fatalf("merge deleting a subtree: %v", err)
	}
	if got := entryCounts(tableEntry(rep, "nodes")); got != "merge 3 +0 ~0 -3 =3" {
		t.Errorf("nodes: %s", got)
	}
	if got, want := canon(t, dst, "SELECT * FROM nodes ORDER BY id"), canon(t, src, "SELECT * FROM nodes ORDER BY id"); got != want {
		t.Errorf("nodes differs from the source:\n%s\nwant\n%s", got, want)
	}
	// The source drops the root but keeps node 5 under it: the cascade
	// would take node 5 too, so the run fails and changes nothing.
	mustExec(t, src, "DELETE FROM nodes WHERE id = 1")
	before := canon(t, dst, "SELECT * FROM nodes ORDER BY id")
	if _, err := e.syncTarget("azure"); err == nil || !strings.Contains(err.Error(), "would hold 1 rows, the source has 2") || !strings.Contains(err.Error(), "ON DELETE rule") {
		t.Fatalf("a cascade removing a row the source keeps: %v; want the run to fail on the row count", err)
	}
	if canon(t, dst, "SELECT * FROM nodes ORDER BY id") != before {
		t.Errorf("the failed run changed nodes")
	}
}

// TestMerge_ParentSortsFirst (issue 18 item 5): a parent whose name sorts
// before its child's (accounts, entries): deleting an account with its
// entries must delete the entries first — under RESTRICT the parent's
// delete would be refused (1451), under CASCADE it would take the entries
// along and the child's own delete would find none of them.
//
// On a server with lower_case_table_names = 1 (Azure's only setting) the
// job names the tables in mixed case (Accounts, Entries), which the server
// stores and reports in lower case.
func TestMerge_ParentSortsFirst(t *testing.T) {
	for _, tc := range []struct {
		rule, accounts, entries string
		lower                   bool
	}{{"RESTRICT", "accounts", "entries", false}, {"CASCADE", "accounts", "entries", false}, {"CASCADE", "Accounts", "Entries", true}} {
		rule := tc.rule
		name := rule
		if tc.lower {
			name += "/lower_case_table_names"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			server := azure
			if tc.lower {
				server = azureLower
			}
			e := newEnv(t, server)
			src, dst := e.srcDBConn(), e.dstDBConn()
			mustExec(t, src, "CREATE TABLE accounts (id INT NOT NULL PRIMARY KEY, name VARCHAR(10) NOT NULL)", "CREATE TABLE entries (id INT NOT NULL PRIMARY KEY, account_id INT NOT NULL, amount INT NOT NULL)",
				"INSERT INTO accounts SELECT seq, CONCAT('a', seq) FROM seq_1_to_20", "INSERT INTO entries SELECT seq, 1 + seq % 20, seq FROM seq_1_to_100")
			mustExec(t, dst, "CREATE TABLE accounts (id INT NOT NULL PRIMARY KEY, name VARCHAR(10) NOT NULL) ENGINE=InnoDB",
				"CREATE TABLE entries (id INT NOT NULL PRIMARY KEY, account_id INT NOT NULL, amount INT NOT NULL, FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE "+rule+") ENGINE=InnoDB",
				"INSERT INTO accounts SELECT seq, CONCAT('a', seq) FROM seq_1_to_20", "INSERT INTO entries SELECT seq, 1 + seq % 20, seq FROM seq_1_to_100")
			e.extra = tablesJob(tableSection(tc.accounts, "SELECT * FROM accounts"), tableSection(tc.entries, "SELECT * FROM entries")) + "[sync]\nmode = merge\nmerge_max_changes = 1\n"
			mustExec(t, src, "DELETE FROM entries WHERE account_id = 3", "DELETE FROM accounts WHERE id = 3")
			rep, err := e.syncTarget("azure")
			if err != nil {
				t.Fatalf("delete of an account with its entries: %v", err)
			}
			if got := entryCounts(tableEntry(rep, tc.accounts)) + ", " + entryCounts(tableEntry(rep, tc.entries)); got != "merge 19 +0 ~0 -1 =19, merge 95 +0 ~0 -5 =95" {
				t.Errorf("counts: %s", got)
			}
			for _, table := range []string{"accounts", "entries"} {
				if got, want := canon(t, dst, "SELECT * FROM "+table+" ORDER BY id"), canon(t, src, "SELECT * FROM "+table+" ORDER BY id"); got != want {
					t.Errorf("%s differs from the source", table)
				}
			}
			// A new account with entries: the parent goes in first.
			mustExec(t, src, "INSERT INTO accounts VALUES (30, 'new')", "INSERT INTO entries VALUES (200, 30, 1), (201, 30, 2)")
			if _, err := e.syncTarget("azure"); err != nil {
				t.Fatalf("insert of an account with its entries: %v", err)
			}
			if got, want := canon(t, dst, "SELECT * FROM entries ORDER BY id"), canon(t, src, "SELECT * FROM entries ORDER BY id"); got != want {
				t.Errorf("entries differs from the source after the insert")
			}
		})
	}
}

// TestMerge_FirstRunCreatesTheKey: a merge table whose target does not
// exist yet is created on its first run from the source's columns with
// the configured key as its PRIMARY KEY, so the later merges find their
// rows by an index (a merge by an unindexed key reads the whole table per
// difference) and a replace-then-merge never leaves a keyless table.
func TestMerge_FirstRunCreatesTheKey(t *testing.T) {
	eachTarget(t, func(t *testing.T, target string, e *env, src *sql.DB) {
		mustExec(t, src, "CREATE TABLE items (id INT NOT NULL, name VARCHAR(50) NOT NULL)", "INSERT INTO items SELECT seq, CONCAT('i', seq) FROM seq_1_to_30")
		e.extra = tablesJob(tableSection("items", "SELECT * FROM items", "mode = merge\nkey = id\n"))
		dst := e.replica(target)
		rep := e.mustSyncTarget(target)
		if tr := tableEntry(rep, "items"); tr.Mode != dbsync.ModeReplace || tr.Rows != 30 {
			t.Errorf("first run: %s, want the table created and loaded (replace, 30 rows)", entryCounts(tr))
		}
		var pk string
		if target == "sqlite" {
			if err := dst.QueryRow("SELECT group_concat(name) FROM pragma_table_info('items') WHERE pk > 0").Scan(&pk); err != nil {
				t.Fatal(err)
			}
		} else if err := dst.QueryRow("SELECT GROUP_CONCAT(COLUMN_NAME) FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items' AND CONSTRAINT_NAME = 'PRIMARY'").Scan(&pk); err != nil {
			t.Fatal(err)
		}
		if pk != "id" {
			t.Errorf("the created table's primary key is %q, want the merge key id", pk)
		}
		mustExec(t, src, "UPDATE items SET name = 'changed' WHERE id = 3", "DELETE FROM items WHERE id = 4", "INSERT INTO items VALUES (31, 'new')")
		rep = e.mustSyncTarget(target)
		if got := entryCounts(tableEntry(rep, "items")); got != "merge 30 +1 ~1 -1 =28" {
			t.Errorf("second run: %s, want merge 30 +1 ~1 -1 =28", got)
		}
		if got, want := canon(t, dst, "SELECT id, name FROM items ORDER BY id"), canon(t, src, "SELECT id, name FROM items ORDER BY id"); got != want {
			t.Errorf("items differs from the source after the merge")
		}
	})
}

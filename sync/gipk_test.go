package dbsync_test

import (
	"regexp"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestSync_InvisiblePrimaryKey: Azure Database for MySQL 8 gives a table
// made without a primary key an invisible `my_row_id` BIGINT UNSIGNED
// AUTO_INCREMENT PRIMARY KEY (sql_generate_invisible_primary_key). dbsync
// loads such a table through both load paths without asking the source for
// my_row_id, which the server numbers, and keeps its definition. MariaDB
// has INVISIBLE columns, so the test builds the same table by hand.
func TestSync_InvisiblePrimaryKey(t *testing.T) {
	for _, srv := range loadPaths() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv.server())
			seedItems(t, e.srcDBConn(), 5)
			dst := e.dstDBConn()
			mustExec(t, dst, "CREATE TABLE items (my_row_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT INVISIBLE PRIMARY KEY,"+
				" id INT NOT NULL, name VARCHAR(50) NOT NULL, note TEXT NULL)", "INSERT INTO items (id, name) VALUES (99, 'old')")
			// The table's AUTO_INCREMENT counter is the one thing that may
			// differ: each run's new table numbers its rows from 1.
			counter := regexp.MustCompile(` AUTO_INCREMENT=\d+`)
			before := counter.ReplaceAllString(showCreate(t, dst, "items"), "")
			for run := 1; run <= 2; run++ {
				rep := e.mustSync(dbsync.RunOptions{})
				if rep.Rows != 5 {
					t.Fatalf("run %d: %d rows, want 5", run, rep.Rows)
				}
				if after := counter.ReplaceAllString(showCreate(t, dst, "items"), ""); after != before {
					t.Fatalf("run %d changed the definition:\nbefore: %s\nafter:  %s", run, before, after)
				}
				var n, numbered int
				if err := dst.QueryRow("SELECT COUNT(*), COUNT(DISTINCT my_row_id) FROM items WHERE id BETWEEN 1 AND 5 AND my_row_id BETWEEN 1 AND 5").Scan(&n, &numbered); err != nil {
					t.Fatal(err)
				}
				if n != 5 || numbered != 5 || count(t, dst, "items") != 5 {
					t.Fatalf("run %d: %d rows with %d distinct my_row_id; want the 5 source rows, each numbered", run, n, numbered)
				}
			}
			assertNoLeftovers(t, dst, "items")
		})
	}
}

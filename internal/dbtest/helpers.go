package dbtest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the tests' own handle on SQLite files

	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// SeedItems creates the tests' items table in db with n rows.
func SeedItems(t testing.TB, db *sql.DB, n int) {
	t.Helper()
	MustExec(t, db, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT NULL, KEY name_idx (name))")
	if n == 0 {
		return
	}
	// MariaDB's SEQUENCE engine makes n rows in one statement.
	MustExec(t, db, fmt.Sprintf(`INSERT INTO items SELECT seq, CONCAT('item ', seq), IF(seq %% 7 = 0, NULL, REPEAT('x', seq %% 100)) FROM seq_1_to_%d`, n))
}

// Count is the number of rows of table in db.
func Count(t testing.TB, db *sql.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow("SELECT COUNT(*) FROM " + mariadbtest.Join(table)).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// ShowCreate is table's SHOW CREATE TABLE text.
func ShowCreate(t testing.TB, db *sql.DB, table string) string {
	t.Helper()
	var name, def string
	if err := db.QueryRow("SHOW CREATE TABLE "+mariadbtest.Join(table)).Scan(&name, &def); err != nil {
		t.Fatal(err)
	}
	return def
}

// HelperLike is the LIKE pattern of table's helper tables of kind ("new",
// "old", …), which carry their run in the name.
func HelperLike(table, kind string) string {
	return strings.ReplaceAll(table+"__dbsync_"+kind+"_", "_", `\_`) + "%"
}

// AssertNoLeftovers fails the test when db holds a staging or previous
// table of table.
func AssertNoLeftovers(t testing.TB, db *sql.DB, table string) {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND (TABLE_NAME IN (?, ?) OR TABLE_NAME LIKE ? OR TABLE_NAME LIKE ?)",
		table+"__dbsync_new", table+"__dbsync_old", HelperLike(table, "new"), HelperLike(table, "old")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d staging/old tables left behind", n)
	}
}

// OwnServer starts a server of the test's own, stopped when it ends.
func OwnServer(t testing.TB, o mariadbtest.Options) *mariadbtest.Server {
	t.Helper()
	s, err := mariadbtest.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// OpenSQLite opens the SQLite file at path, closed when the test ends.
func OpenSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SQLiteExec runs each statement on the SQLite file at path.
func SQLiteExec(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db := OpenSQLite(t, path)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("sqlite %q: %v", q, err)
		}
	}
	db.Close()
}

// SQLiteCount is the number of rows of table in the SQLite file at path;
// -1 when there is no such table.
func SQLiteCount(t testing.TB, path, table string) int64 {
	t.Helper()
	db := OpenSQLite(t, path)
	var exists int
	if err := db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name=?", table).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists == 0 {
		return -1
	}
	var n int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM "` + strings.ReplaceAll(table, `"`, `""`) + `"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

package dbsync_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestSync_LowerCaseTableNames runs a mixed-case [azure_mysql] table
// against a TLS target with lower_case_table_names = 1, as Azure Database
// for MySQL runs: the table is created, synced and swapped, history is
// kept, a marked leftover is cleaned up, a user's table of a leftover's
// name (in any case) is left alone, foreign keys are found, and the run
// lock is the same whatever case the config spells the table in.
func TestSync_LowerCaseTableNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azureLower)
	seedItems(t, e.srcDBConn(), 5)
	dst := e.dstDBConn()
	sync := func() (*dbsync.Report, error) {
		t.Helper()
		return e.sync(dbsync.RunOptions{}, "DBSYNC_AZURE_MYSQL_TABLE=Items")
	}
	mustSync := func(what string) {
		t.Helper()
		rep, err := sync()
		if err != nil || rep.Status != dbsync.StatusSucceeded {
			t.Fatalf("%s: %v", what, err)
		}
		if n := count(t, dst, "Items"); n != 5 {
			t.Fatalf("%s: target has %d rows, want 5", what, n)
		}
		assertNoLeftovers(t, dst, "items")
	}

	mustSync("first run, table created")
	before := showCreate(t, dst, "items")
	mustSync("second run, table swapped")
	if after := showCreate(t, dst, "items"); after != before {
		t.Errorf("definition changed:\nbefore: %s\nafter:  %s", before, after)
	}

	// A staging table a killed run left, marked as dbsync's.
	mustExec(t, dst, "CREATE TABLE ITEMS__DBSYNC_NEW (x INT) COMMENT 'dbsync-owned: staging table of run x; dbsync drops it'")
	mustSync("run after a killed one")

	var left int
	if err := dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items__dbsync_new'").Scan(&left); err != nil || left != 0 {
		t.Fatalf("the marked leftover ITEMS__DBSYNC_NEW is still there (%d, %v)", left, err)
	}

	// A user's table by the previous table's old name, in another case:
	// no run uses that name, so it is left alone.
	mustExec(t, dst, "CREATE TABLE Items__Dbsync_Old (x INT)", "INSERT INTO Items__Dbsync_Old VALUES (1)")
	if rep, err := sync(); err != nil || rep.Status != dbsync.StatusSucceeded {
		t.Fatalf("run with the user's items__dbsync_old: %v", err)
	}
	if n := count(t, dst, "items__dbsync_old"); n != 1 {
		t.Fatalf("the user's table has %d rows, want 1", n)
	}
	mustExec(t, dst, "DROP TABLE items__dbsync_old")

	// A foreign key that references the table.
	mustExec(t, dst, "ALTER TABLE Items ADD PRIMARY KEY (id)", "CREATE TABLE Orders (id INT PRIMARY KEY, item_id INT, CONSTRAINT Fk_Item FOREIGN KEY (item_id) REFERENCES Items (id))")
	if _, err := sync(); err == nil || !strings.Contains(err.Error(), "foreign key") {
		t.Fatalf("run with a foreign key referencing Items: %v; want a refusal", err)
	}
	mustExec(t, dst, "DROP TABLE Orders")

	// The run lock is the table's, whatever case the config uses.
	conn, err := dst.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK(?, 0)", "dbsync:"+e.targetDB+".items").Scan(&got); err != nil || got != 1 {
		t.Fatalf("take lock: %v %d", err, got)
	}
	if rep, err := sync(); !errors.Is(err, dbsync.ErrBusy) || rep.Status != dbsync.StatusBusy {
		t.Fatalf("run of Items while items is locked: %v; want busy", err)
	}
	if _, err := conn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", "dbsync:"+e.targetDB+".items"); err != nil {
		t.Fatal(err)
	}

	var succeeded int
	if err := dst.QueryRow("SELECT COUNT(*) FROM dbsync_runs WHERE status = 'succeeded'").Scan(&succeeded); err != nil {
		t.Fatal(err)
	}
	if succeeded != 4 {
		t.Errorf("history has %d succeeded runs, want 4", succeeded)
	}
}

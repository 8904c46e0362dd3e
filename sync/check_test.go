package dbsync_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestCheck_SourceColumnsAgainstTarget: check matches the primary's and
// the fallback's columns against the existing target table by the run's
// own rule, and fails a source that cannot fill it, naming the column; a
// run with the same config fails the same way.
func TestCheck_SourceColumnsAgainstTarget(t *testing.T) {
	cases := []struct {
		name          string
		target        string
		sourceQuery   string // [source] query; default SELECT * FROM items
		fallbackQuery string
		extra         string
		wantFail      string // the check that fails ("" none)
		wantDetail    string
	}{
		{"fallback lacks a NOT NULL column, MySQL target", "azure", "", "SELECT id, note FROM items", "", "fallback", "target column `name` (NOT NULL, no default) is not in the source"},
		{"fallback lacks a NOT NULL column, SQLite target", "sqlite", "", "SELECT id, note FROM items", "", "fallback", "target column `name` (NOT NULL, no default) is not in the source"},
		{"fallback has a column the target lacks", "azure", "", "SELECT id, name, note, 1 AS extra FROM items", "", "fallback", "source column `extra` is not in the target table"},
		{"primary lacks a NOT NULL column", "azure", "SELECT id, note FROM items", "SELECT * FROM items", "", "primary", "target column `name` (NOT NULL, no default) is not in the source"},
		{"recreate rebuilds the table", "azure", "", "SELECT id, note FROM items", "[sync]\non_schema_change = recreate\n", "", "on_schema_change = recreate rebuilds"},
		{"both fit", "sqlite", "", "SELECT * FROM items", "", "", "columns fit the target table"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			seedItems(t, e.srcDBConn(), 3)
			fallback := filepath.Join(e.dir, "fallback.db")
			sqliteExec(t, fallback,
				"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
				"INSERT INTO items VALUES (100, 'from fallback', NULL)")
			if tc.target == "azure" {
				seedItems(t, e.dstDBConn(), 2)
			} else {
				sqliteExec(t, filepath.Join(e.dir, "replica.db"),
					"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
					"INSERT INTO items VALUES (1, 'a', NULL), (2, 'b', NULL)")
			}
			e.extra = "[sync]\nfallback_enabled = true\n[fallback]\nquery = " + tc.fallbackQuery + "\n" + tc.extra
			if tc.sourceQuery != "" {
				e.extra += "[source]\nquery = " + tc.sourceQuery + "\n"
			}
			cfg, err := e.config(dbsync.RunOptions{Target: dbsync.Target(tc.target)})
			if err != nil {
				t.Fatal(err)
			}
			detail := map[string]string{}
			for _, r := range newRunner(testLogger(t)).Check(context.Background(), cfg) {
				detail[r.Name] = r.Detail
				if failed := !r.OK; failed != (r.Name == tc.wantFail) {
					t.Errorf("check %s: ok = %v: %s", r.Name, r.OK, r.Detail)
				}
			}
			where := tc.wantFail
			if where == "" {
				where = "fallback"
			}
			if !strings.Contains(detail[where], tc.wantDetail) {
				t.Errorf("check %s says %q; want it to say %q", where, detail[where], tc.wantDetail)
			}
			if tc.wantFail == "" {
				return
			}
			// The run agrees: the same source fails it, naming the same column.
			if tc.wantFail == "fallback" {
				e.extra += "[source]\nport = 1\n"
			}
			_, err = e.sync(dbsync.RunOptions{Target: dbsync.Target(tc.target)})
			if err == nil || !strings.Contains(err.Error(), tc.wantDetail) {
				t.Errorf("a run from the %s: %v; want it to fail saying %q", tc.wantFail, err, tc.wantDetail)
			}
		})
	}
}

// TestCheck_MergeKey: check finds the key a merge table would be merged by,
// and fails, as the run would, naming the setting when there is none; a
// one-table job sets it with [sync] key, and the run merges by it.
func TestCheck_MergeKey(t *testing.T) {
	const noKey = "CREATE TABLE items (id INT NOT NULL, name VARCHAR(50) NOT NULL, note TEXT NULL)"
	cases := []struct {
		name, target, table, key string
		wantKey                  string // the key check names; "" when check must fail
	}{
		{"primary key, MySQL", "azure", "", "", "id"},
		{"no key, MySQL", "azure", noKey, "", ""},
		{"[sync] key, MySQL", "azure", noKey, "id", "id"},
		{"[sync] key naming no column, MySQL", "azure", noKey, "nope", ""},
		{"primary key, SQLite", "sqlite", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)", "", "id"},
		{"no key, SQLite", "sqlite", "CREATE TABLE items (id INTEGER NOT NULL, name TEXT NOT NULL, note TEXT)", "", ""},
		{"[sync] key, SQLite", "sqlite", "CREATE TABLE items (id INTEGER NOT NULL, name TEXT NOT NULL, note TEXT)", "id", "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			src := e.srcDBConn()
			seedItems(t, src, 20)
			// Twenty stale rows: every one is updated, within merge_max_changes = 1.
			switch {
			case tc.target == "sqlite":
				sqliteExec(t, filepath.Join(e.dir, "replica.db"), tc.table,
					"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 20) INSERT INTO items SELECT n, 'stale', NULL FROM s")
			case tc.table != "":
				mustExec(t, e.dstDBConn(), tc.table, "INSERT INTO items SELECT seq, 'stale', NULL FROM seq_1_to_20")
			default:
				seedItems(t, e.dstDBConn(), 0)
				mustExec(t, e.dstDBConn(), "INSERT INTO items SELECT seq, 'stale', NULL FROM seq_1_to_20")
			}
			e.extra = "[sync]\nmode = merge\nmin_rows = 0\nmerge_max_changes = 1\nmax_delete = 1\n"
			if tc.key != "" {
				e.extra += "key = " + tc.key + "\n"
			}
			cfg, err := e.config(dbsync.RunOptions{Target: dbsync.Target(tc.target)})
			if err != nil {
				t.Fatal(err)
			}
			var target dbsync.CheckResult
			for _, r := range newRunner(testLogger(t)).Check(context.Background(), cfg) {
				if r.Name == "target" {
					target = r
				}
			}
			rep, err := e.sync(dbsync.RunOptions{Target: dbsync.Target(tc.target)})
			if tc.wantKey == "" {
				if target.OK || !strings.Contains(target.Detail, "[sync] key") {
					t.Errorf("check target: ok = %v: %s; want a failure naming [sync] key", target.OK, target.Detail)
				}
				if err == nil || !strings.Contains(err.Error(), "[sync] key") {
					t.Errorf("the run: %v; want it to fail naming [sync] key, as check did", err)
				}
				return
			}
			if !target.OK || !strings.Contains(target.Detail, "merged by key ("+tc.wantKey+")") {
				t.Errorf("check target: ok = %v: %s; want it to name the key %s", target.OK, target.Detail, tc.wantKey)
			}
			if err != nil || rep.Tables[0].Mode != dbsync.ModeMerge || rep.Updated != 20 || rep.Rows != 20 {
				t.Fatalf("the run: %v (report %+v); want a merge updating 20 rows", err, rep)
			}
		})
	}
}

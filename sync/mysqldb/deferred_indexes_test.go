package mysqldb_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
)

// deferRows is above the row estimate from which the deferred plan is
// chosen (deferIndexesMinRows).
const deferRows = 60000

// manyIndexesDDL is a table with every kind of index the deferred plan must
// put back exactly: multi-column, prefix lengths, UNIQUE (also over a prefix
// and nullable), FULLTEXT, IGNORED, comments, USING BTREE, a quoted name.
const manyIndexesDDL = "CREATE TABLE items (" +
	"id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, " +
	"email VARCHAR(255) NOT NULL, " +
	"name VARCHAR(100) NOT NULL, " +
	"city VARCHAR(60) NULL, " +
	"notes TEXT NULL, " +
	"code CHAR(8) NULL, " +
	"score INT NOT NULL, " +
	"PRIMARY KEY (id), " +
	"KEY name_city (name, city(10)) COMMENT 'two columns, one a prefix', " +
	"UNIQUE KEY u_email (email), " +
	"KEY notes_prefix (notes(20)), " +
	"FULLTEXT KEY ft_notes (notes), " +
	"KEY score_ignored (score) IGNORED, " +
	"UNIQUE KEY u_code (code) USING BTREE COMMENT 'nullable unique', " +
	"KEY `odd``name` (city DESC, score)" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='the items'"

// fillItems inserts rows 1..n into items (manyIndexesDDL), emails unique.
func fillItems(t *testing.T, db *sql.DB, n int, salt string) {
	t.Helper()
	mustExec(t, db, fmt.Sprintf(`INSERT INTO items (id, email, name, city, notes, code, score)
		SELECT seq, CONCAT('user', seq, '%s@example.com'), CONCAT('Name ', seq %% 977), IF(seq %% 7 = 0, NULL, CONCAT('City ', seq %% 131)),
		IF(seq %% 5 = 0, NULL, CONCAT('note ', seq, ' about ', seq %% 13)), IF(seq %% 3 = 0, NULL, LPAD(HEX(seq), 8, '0')), seq %% 1000
		FROM seq_1_to_%d`, salt, n))
}

// definitionOf is SHOW CREATE TABLE without the AUTO_INCREMENT counter (the
// next id, which follows the rows).
func definitionOf(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	var name, create string
	if err := db.QueryRow("SHOW CREATE TABLE "+table).Scan(&name, &create); err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(` AUTO_INCREMENT=\d+`).ReplaceAllString(create, "")
}

// tableSum is a row count and an order-independent checksum of every value.
func tableSum(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	var n, sum int64
	if err := db.QueryRow("SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', id, email, name, COALESCE(city, '\\N'), COALESCE(notes, '\\N'), COALESCE(code, '\\N'), score))), 0) FROM "+table).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d rows, checksum %d", n, sum)
}

// prepareMany makes items (manyIndexesDDL) on both sides: the source with
// rows salted srcSalt, the target with deferRows earlier rows, analyzed so
// that its row estimate is current.
func prepareMany(t *testing.T, e *env, srcSalt string) (src, dst *sql.DB) {
	t.Helper()
	src, dst = e.SrcDBConn(), e.DstDBConn()
	mustExec(t, src, manyIndexesDDL)
	mustExec(t, dst, manyIndexesDDL)
	fillItems(t, src, deferRows+123, srcSalt)
	fillItems(t, dst, deferRows, "old")
	mustExec(t, dst, "ANALYZE TABLE items")
	return src, dst
}

// TestDeferredIndexes_KeepDefinition: a large target is loaded with the
// deferred plan, and the swapped-in table's SHOW CREATE TABLE is the
// target's byte for byte, with every row of the source, on both load paths.
func TestDeferredIndexes_KeepDefinition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target *mariadbtest.Server
		method string
	}{
		{"load_data", azure, dbsync.LoadData},
		{"insert", azureNoFile, dbsync.LoadInsert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.target)
			src, dst := prepareMany(t, e, "new")
			before := definitionOf(t, dst, "items")
			rep := e.MustSync(dbsync.RunOptions{})
			if rep.StagePlan != dbsync.PlanDeferredIndexes || rep.LoadMethod != tc.method {
				t.Fatalf("stage plan %q, load method %q; want %q, %q", rep.StagePlan, rep.LoadMethod, dbsync.PlanDeferredIndexes, tc.method)
			}
			if after := definitionOf(t, dst, "items"); after != before {
				t.Errorf("SHOW CREATE TABLE changed by the sync:\n%s\nwant:\n%s", after, before)
			}
			if got, want := tableSum(t, dst, "items"), tableSum(t, src, "items"); got != want {
				t.Errorf("target has %s, source %s", got, want)
			}
		})
	}
}

// TestDeferredIndexes_SmallTableIndexed: below the threshold the staging
// table keeps its indexes, and the report says so.
func TestDeferredIndexes_SmallTableIndexed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.SrcDBConn(), e.DstDBConn()
	mustExec(t, src, manyIndexesDDL)
	mustExec(t, dst, manyIndexesDDL)
	fillItems(t, src, 500, "new")
	before := definitionOf(t, dst, "items")
	rep := e.MustSync(dbsync.RunOptions{})
	if rep.StagePlan != dbsync.PlanIndexed {
		t.Fatalf("stage plan %q, want %q", rep.StagePlan, dbsync.PlanIndexed)
	}
	if after := definitionOf(t, dst, "items"); after != before {
		t.Errorf("SHOW CREATE TABLE changed by the sync:\n%s\nwant:\n%s", after, before)
	}
}

// TestDeferredIndexes_DuplicateInUniqueFails: a value twice in a deferred
// UNIQUE index fails the run before the swap, naming the index and the
// value; the target keeps its rows and no staging table is left.
func TestDeferredIndexes_DuplicateInUniqueFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target *mariadbtest.Server
	}{
		{"load_data", azure},
		{"insert", azureNoFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.target)
			src, dst := prepareMany(t, e, "new")
			mustExec(t, src, "ALTER TABLE items DROP INDEX u_email", "UPDATE items SET email = 'twice@example.com' WHERE id IN (40000, 50001)")
			before, beforeDef := tableSum(t, dst, "items"), definitionOf(t, dst, "items")
			rep, err := e.Sync(dbsync.RunOptions{})
			if err == nil {
				t.Fatal("sync succeeded with a duplicate in a UNIQUE index")
			}
			if rep.StagePlan != dbsync.PlanDeferredIndexes {
				t.Errorf("stage plan %q, want %q", rep.StagePlan, dbsync.PlanDeferredIndexes)
			}
			for _, want := range []string{"u_email", "twice@example.com", "UNIQUE", "left unchanged"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not name %q: %v", want, err)
				}
			}
			if got := tableSum(t, dst, "items"); got != before {
				t.Errorf("target changed: %s, was %s", got, before)
			}
			if got := definitionOf(t, dst, "items"); got != beforeDef {
				t.Errorf("target definition changed:\n%s", got)
			}
			var left int
			if err := dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'items' AND TABLE_NAME LIKE 'items%'").Scan(&left); err != nil || left != 0 {
				t.Errorf("%d staging tables left (%v)", left, err)
			}
		})
	}
}

// TestDeferredIndexes_SQLiteKeepsSchema: the SQLite target builds its
// indexes after the load inside the run's transaction, says so in the
// report, and the file's schema (tables, indexes, triggers) is unchanged.
func TestDeferredIndexes_SQLiteKeepsSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	src := e.SrcDBConn()
	mustExec(t, src, manyIndexesDDL)
	fillItems(t, src, 3000, "new")
	replica := filepath.Join(e.Dir, "replica.db")
	db, err := sql.Open("sqlite", replica)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db,
		`CREATE TABLE "items" (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, city TEXT, notes TEXT, code TEXT, score INTEGER NOT NULL)`,
		`CREATE INDEX name_city ON items (name, city COLLATE NOCASE)`,
		`CREATE UNIQUE INDEX u_code ON items (code)`,
		`CREATE INDEX high_scores ON items (score DESC) WHERE score > 900`,
		`CREATE INDEX lower_email ON items (lower(email))`,
		`CREATE TABLE audit (n INTEGER)`,
		`CREATE TRIGGER items_ins AFTER INSERT ON items BEGIN INSERT INTO audit VALUES (new.id); END`,
		`INSERT INTO items VALUES (1, 'old@example.com', 'Old', NULL, NULL, NULL, 1)`)
	schema := func() string {
		rows, err := db.Query(`SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master WHERE tbl_name NOT LIKE 'dbsync%' ORDER BY type, name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var typ, name, tbl, def string
			if err := rows.Scan(&typ, &name, &tbl, &def); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %s on %s: %s\n", typ, name, tbl, def)
		}
		return b.String()
	}
	before := schema()
	rep := e.MustSync(dbsync.RunOptions{Target: "sqlite"})
	if rep.StagePlan != dbsync.PlanDeferredIndexes {
		t.Errorf("stage plan %q, want %q", rep.StagePlan, dbsync.PlanDeferredIndexes)
	}
	if after := schema(); after != before {
		t.Errorf("schema changed by the sync:\n%s\nwant:\n%s", after, before)
	}
	var n int64
	var ok string
	if err := db.QueryRow(`SELECT COUNT(*) FROM items`).Scan(&n); err != nil || n != 3000 {
		t.Errorf("replica has %d rows (%v), want 3000", n, err)
	}
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check: %q %v", ok, err)
	}
}

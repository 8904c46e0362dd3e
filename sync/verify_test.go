package dbsync_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
)

// verify runs Runner.Verify on e's config with the given settings merged in.
func (e *env) verify(opts dbsync.RunOptions, settings string) (*dbsync.VerifyReport, error) {
	e.t.Helper()
	saved := e.extra
	e.extra += "\n" + settings
	defer func() { e.extra = saved }()
	cfg, err := e.config(opts)
	if err != nil {
		e.t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := testLogger(e.t)
	return newRunner(log).Verify(ctx, cfg, log)
}

func (e *env) mustVerify(opts dbsync.RunOptions, settings string) *dbsync.VerifyReport {
	e.t.Helper()
	rep, err := e.verify(opts, settings)
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	return rep
}

// outcome is a table's verify outcome as "compare m/e/d [examples]".
func outcome(rep *dbsync.VerifyReport, table string) string {
	for _, t := range rep.Tables {
		if t.Table == table {
			return fmt.Sprintf("%s %d/%d/%d %v", t.Compare, t.Missing, t.Extra, t.Different, t.Examples)
		}
	}
	return "no table " + table
}

// TestVerify_FidelityReplicaIdentical: the type matrix copied by a run is
// identical by checksums with no differing bucket (the canonical form is
// stable), and by rows, on the MySQL target; and by rows on SQLite.
func TestVerify_FidelityReplicaIdentical(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src := e.srcDBConn()
	mustExec(t, src, fidelityTable)
	mustExec(t, src, fidelityRows()...)
	mustExec(t, e.dstDBConn(), fidelityTable)
	e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure})
	for _, compare := range []string{"auto", "checksums", "rows"} {
		rep := e.mustVerify(dbsync.RunOptions{Target: dbsync.TargetAzure}, "[sync]\ncompare = "+compare)
		want := "checksums 0/0/0 []"
		if compare == "rows" {
			want = "rows 0/0/0 []"
		}
		if !rep.Identical || outcome(rep, "items") != want || rep.Tables[0].BucketsDiffering != 0 {
			t.Errorf("compare = %s: %+v, want identical %s with 0 differing buckets", compare, rep, want)
		}
	}
}

// TestVerify_ByteExact: every byte-exact difference of the issue, made on
// the target or on the source, is found by checksums and by rows, with
// its key.
func TestVerify_ByteExact(t *testing.T) {
	for _, tc := range []struct {
		name, change string
		// counts when the change is made on the target: missing, extra,
		// different, and the example keys
		m, x, d  int
		examples []string
	}{
		{"trailing space under PAD SPACE", "UPDATE items SET vc = CONCAT(vc, ' ') WHERE id = 1", 0, 0, 1, []string{"1"}},
		{"case under _ci", "UPDATE items SET vc = REPLACE(vc, 'café', 'Café') WHERE id = 1", 0, 0, 1, []string{"1"}},
		{"NULL vs empty string", "UPDATE items SET vc = '' WHERE id = 3", 0, 0, 1, []string{"3"}},
		{"last byte of a 1 MB TEXT", "UPDATE items SET big = CONCAT(LEFT(big, CHAR_LENGTH(big) - 1), 'E') WHERE id = 4", 0, 0, 1, []string{"4"}},
		{"last byte of a 1 MB BLOB", "UPDATE items SET mb = CONCAT(LEFT(mb, LENGTH(mb) - 1), 0x00) WHERE id = 4", 0, 0, 1, []string{"4"}},
		{"last digit of a DOUBLE", "UPDATE items SET d = 0.10000000000000002 WHERE id = 2", 0, 0, 1, []string{"2"}},
		{"last bit of a FLOAT", "UPDATE items SET f = 0.12345671 WHERE id = 2", 0, 0, 1, []string{"2"}},
		{"a microsecond", "UPDATE items SET dtm = dtm + INTERVAL 1 MICROSECOND WHERE id = 4", 0, 0, 1, []string{"4"}},
		{"the same change on two rows", "UPDATE items SET i64 = 7 WHERE id IN (1, 4)", 0, 0, 2, []string{"1", "4"}},
		{"a row deleted", "DELETE FROM items WHERE id = 2", 1, 0, 0, []string{"2"}},
		{"a key changed", "UPDATE items SET id = 5 WHERE id = 3", 1, 1, 0, []string{"3", "5"}},
	} {
		for _, onSource := range []bool{false, true} {
			side := "target"
			if onSource {
				side = "source"
			}
			t.Run(tc.name+"/"+side, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, azure)
				src, dst := e.srcDBConn(), e.dstDBConn()
				for _, db := range []*sql.DB{src, dst} {
					mustExec(t, db, fidelityTable)
					mustExec(t, db, fidelityRows()...)
					mustExec(t, db, "ALTER TABLE items ADD COLUMN mb MEDIUMBLOB NULL", "UPDATE items SET mb = CAST(big AS BINARY) WHERE id = 4")
				}
				changed, m, x := dst, tc.m, tc.x
				if onSource {
					changed, m, x = src, tc.x, tc.m
				}
				mustExec(t, changed, tc.change)
				for _, compare := range []string{"checksums", "rows"} {
					rep := e.mustVerify(dbsync.RunOptions{Target: dbsync.TargetAzure}, "[sync]\ncompare = "+compare)
					want := fmt.Sprintf("%s %d/%d/%d %v", compare, m, x, tc.d, tc.examples)
					if got := outcome(rep, "items"); got != want || rep.Identical {
						t.Errorf("compare = %s: %s (identical %v), want %s", compare, got, rep.Identical, want)
					}
				}
			})
		}
	}
}

// targetState is everything verify must leave alone on the target: the
// table list, each table's definition and checksum, and the history rows.
func targetState(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	rows, err := db.Query("SHOW TABLES")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	slices.Sort(tables)
	for _, table := range tables {
		var name string
		var sum sql.NullInt64
		if err := db.QueryRow("CHECKSUM TABLE "+mariadbtest.Join(table)).Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d\n%s\n", table, sum.Int64, showCreate(t, db, table))
	}
	return b.String()
}

// TestVerify_WritesNothing: verify of a replica that differs changes
// nothing on the target (tables, definitions, contents, history rows), by
// checksums and by rows; it reports busy while a run holds the lock.
func TestVerify_WritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	for _, db := range []*sql.DB{src, dst} {
		mustExec(t, db, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	}
	seqRows(t, src, "items", 1, 500)
	e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure})
	mustExec(t, src, "UPDATE items SET v = 'changed' WHERE id % 50 = 0", "DELETE FROM items WHERE id = 7")
	mustExec(t, dst, "DELETE FROM items WHERE id = 9")
	before := targetState(t, dst)
	for _, compare := range []string{"checksums", "rows"} {
		rep := e.mustVerify(dbsync.RunOptions{Target: dbsync.TargetAzure}, "[sync]\ncompare = "+compare)
		if got, want := outcome(rep, "items"), compare+" 1/1/10 [7 9 50 100 150 200 250 300 350 400]"; got != want {
			t.Errorf("compare = %s: %s, want %s", compare, got, want)
		}
		if after := targetState(t, dst); after != before {
			t.Errorf("compare = %s: verify changed the target:\nbefore %s\nafter %s", compare, before, after)
		}
	}

	// A run holds the lock: busy, and nothing read.
	conn, err := dst.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "DO GET_LOCK(?, 0)", "dbsync:"+e.targetDB+".items"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(dbsync.RunOptions{Target: dbsync.TargetAzure}, ""); !errors.Is(err, dbsync.ErrBusy) {
		t.Errorf("verify while a run holds the lock: %v, want busy", err)
	}
}

// TestVerify_Keyless: a table without a key is compared by count and a
// checksum of all its rows; a duplicated row is a difference.
func TestVerify_Keyless(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	for _, db := range []*sql.DB{src, dst} {
		mustExec(t, db, "CREATE TABLE items (id INT NOT NULL, v VARCHAR(20) NULL)", "INSERT INTO items VALUES (1, 'a'), (2, NULL), (2, NULL)")
	}
	if got := outcome(e.mustVerify(dbsync.RunOptions{Target: dbsync.TargetAzure}, ""), "items"); got != "count 0/0/0 []" {
		t.Errorf("identical keyless table: %s", got)
	}
	mustExec(t, dst, "UPDATE items SET v = 'b' WHERE id = 1")
	if got := outcome(e.mustVerify(dbsync.RunOptions{Target: dbsync.TargetAzure}, ""), "items"); got != "count 0/0/1 []" {
		t.Errorf("one row changed: %s", got)
	}
	mustExec(t, dst, "UPDATE items SET v = 'a' WHERE id = 1", "INSERT INTO items VALUES (2, NULL)")
	if got := outcome(e.mustVerify(dbsync.RunOptions{Target: dbsync.TargetAzure}, ""), "items"); got != "count 0/1/0 []" {
		t.Errorf("a row duplicated on the target: %s", got)
	}
}

// TestVerify_ViewFallsBackToRows: a source view the range predicate cannot
// reach (a computed key) is compared by rows, says so, and is exact.
func TestVerify_ViewFallsBackToRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	mustExec(t, src, "CREATE TABLE base (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	seqRows(t, src, "base", 1, 30000)
	mustExec(t, src, "CREATE VIEW items AS SELECT id + 0 AS id, v FROM base")
	mustExec(t, dst, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure})
	mustExec(t, src, "UPDATE base SET v = 'x' WHERE id = 2000")
	rep := e.mustVerify(dbsync.RunOptions{Target: dbsync.TargetAzure}, "")
	if got := outcome(rep, "items"); got != "rows 0/0/1 [2000]" || !strings.Contains(rep.Tables[0].Note, "compared by rows") {
		t.Errorf("view with LIMIT: %s (note %q), want rows 0/0/1 [2000] and a note", got, rep.Tables[0].Note)
	}
}

// TestMergeChecksums_Exact: a merge by checksums after inserts, updates,
// deletes and key changes leaves the target equal to the source and
// reports compare = checksums; a second merge at 0 % writes nothing (no
// trigger fires); composite string keys and key gaps merge exactly.
func TestMergeChecksums_Exact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, create, fill, change, order string
	}{
		{"integer key", "CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL, f FLOAT NULL)",
			"INSERT INTO items SELECT seq, CONCAT('v', seq), seq / 7 FROM seq_1_to_3000",
			"UPDATE items SET v = 'changed' WHERE id % 97 = 0; DELETE FROM items WHERE id % 101 = 0; UPDATE items SET id = id + 100000 WHERE id % 103 = 0; INSERT INTO items VALUES (5000, 'new', NULL)",
			"id"},
		{"key gaps", "CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL, f FLOAT NULL)",
			"INSERT INTO items SELECT seq, 'a', NULL FROM seq_1_to_1000; INSERT INTO items SELECT seq, 'b', NULL FROM seq_1000000000000_to_1000000001000",
			"UPDATE items SET v = 'c' WHERE id IN (500, 1000000000500); DELETE FROM items WHERE id = 1000000001000; INSERT INTO items VALUES (5000000000000, 'far', 1.5)",
			"id"},
		{"composite string key", "CREATE TABLE items (a VARCHAR(20) NOT NULL, b INT NOT NULL, v VARCHAR(40) NULL, PRIMARY KEY (a, b)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
			"INSERT INTO items SELECT CONCAT('k', seq % 50), seq, CONCAT('v', seq) FROM seq_1_to_2000",
			"UPDATE items SET v = NULL WHERE b % 89 = 0; DELETE FROM items WHERE b % 83 = 0; UPDATE items SET a = 'K1' WHERE a = 'k1' AND b < 200; INSERT INTO items VALUES ('zz', 1, 'new')",
			"a, b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			e.extra = "[sync]\nmode = merge\nmerge_max_changes = 1\nmax_delete = 1\n"
			src, dst := e.srcDBConn(), e.dstDBConn()
			mustExec(t, src, tc.create)
			mustExec(t, dst, tc.create)
			mustExec(t, src, strings.Split(tc.fill, "; ")...)
			e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure}) // an empty target: merged as inserts
			mustExec(t, src, strings.Split(tc.change, "; ")...)
			rep := e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure})
			if rep.Tables[0].Compare != "checksums" || rep.Tables[0].Mode != dbsync.ModeMerge {
				t.Fatalf("report %+v, want a merge by checksums", rep.Tables[0])
			}
			if rep.Inserted+rep.Updated+rep.Deleted == 0 {
				t.Errorf("no differences merged: %+v", rep.Tables[0])
			}
			read := func(db *sql.DB) string {
				rows, err := db.Query("SELECT CONCAT_WS('|', " + strings.ReplaceAll(tc.order, ", ", ", '|', ") + ", HEX(CAST(items.v AS BINARY))) FROM items ORDER BY " + strings.ReplaceAll(tc.order, "a", "CAST(a AS BINARY)"))
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var b strings.Builder
				for rows.Next() {
					var s sql.NullString
					if err := rows.Scan(&s); err != nil {
						t.Fatal(err)
					}
					b.WriteString(s.String + "\n")
				}
				return b.String()
			}
			if s, d := read(src), read(dst); s != d {
				t.Errorf("target differs from source after a merge by checksums:\nsource %d bytes, target %d bytes", len(s), len(d))
			}
			if vr := e.mustVerify(dbsync.RunOptions{Target: dbsync.TargetAzure}, "[sync]\ncompare = rows"); !vr.Identical {
				t.Errorf("verify by rows after the merge: %+v", vr.Tables)
			}
			// 0 %: nothing is written (a trigger would log any row written).
			mustExec(t, dst, "CREATE TABLE wlog (n INT)", "CREATE TRIGGER wi AFTER INSERT ON items FOR EACH ROW INSERT INTO wlog VALUES (1)",
				"CREATE TRIGGER wu AFTER UPDATE ON items FOR EACH ROW INSERT INTO wlog VALUES (2)", "CREATE TRIGGER wd AFTER DELETE ON items FOR EACH ROW INSERT INTO wlog VALUES (3)")
			rep = e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure})
			var n int
			if err := dst.QueryRow("SELECT COUNT(*) FROM wlog").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 || rep.Inserted+rep.Updated+rep.Deleted != 0 || rep.Tables[0].Compare != "checksums" {
				t.Errorf("merge at 0 %%: %d rows written, report %+v", n, rep.Tables[0])
			}
		})
	}
}

// TestVerify_RunMeanwhile: a run that writes the target while verify reads
// makes verify fail (could not verify), never answer from a mix.
func TestVerify_RunMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	for _, db := range []*sql.DB{src, dst} {
		mustExec(t, db, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	}
	seqRows(t, src, "items", 1, 100)
	e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure})
	mustExec(t, src, "UPDATE items SET v = 'x' WHERE id = 5")
	cfg, err := e.config(dbsync.RunOptions{Target: dbsync.TargetAzure})
	if err != nil {
		t.Fatal(err)
	}
	log := testLogger(t)
	r := newRunner(log)
	dbsync.SetVerifyRead(r, func() { e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure}) })
	rep, err := r.Verify(t.Context(), cfg, log)
	if !errors.Is(err, dbsync.ErrRunDuringVerify) {
		t.Fatalf("verify with a run meanwhile: %v (report %+v), want could not verify", err, rep)
	}
}

// TestVerify_RunHoldsLockAtTheEnd: a run that takes a table's run lock
// while verify reads, and still holds it when verify checks at the end,
// makes verify "could not verify" (exit 1), not busy (exit 3): verify did
// read, and what it read may mix the tables before and after that run.
func TestVerify_RunHoldsLockAtTheEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	for _, db := range []*sql.DB{src, dst} {
		mustExec(t, db, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	}
	seqRows(t, src, "items", 1, 100)
	e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure})
	cfg, err := e.config(dbsync.RunOptions{Target: dbsync.TargetAzure})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := dst.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	log := testLogger(t)
	r := newRunner(log)
	dbsync.SetVerifyRead(r, func() {
		var got sql.NullInt64
		if err := holder.QueryRowContext(t.Context(), "SELECT GET_LOCK(?, 5)", "dbsync:"+e.targetDB+".items").Scan(&got); err != nil || got.Int64 != 1 {
			t.Errorf("take the run lock as a run does: %v (%v)", got, err)
		}
	})
	rep, err := r.Verify(t.Context(), cfg, log)
	if !errors.Is(err, dbsync.ErrRunDuringVerify) || errors.Is(err, dbsync.ErrBusy) {
		t.Fatalf("verify with a run holding the lock at its end: %v (report %+v), want could not verify, not busy", err, rep)
	}
}

// TestMerge_GuardsByEitherCompare: max_delete stops a merge by rows and a
// merge by checksums alike, and the target keeps its rows.
func TestMerge_GuardsByEitherCompare(t *testing.T) {
	t.Parallel()
	for _, compare := range []string{"rows", "checksums"} {
		t.Run(compare, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, azure)
			e.extra = "[sync]\nmode = merge\ncompare = " + compare + "\n"
			src, dst := e.srcDBConn(), e.dstDBConn()
			for _, db := range []*sql.DB{src, dst} {
				mustExec(t, db, "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)")
			}
			seqRows(t, src, "items", 1, 100)
			e.mustSync(dbsync.RunOptions{Target: dbsync.TargetAzure})
			mustExec(t, src, "DELETE FROM items WHERE id > 40")
			rep, err := e.sync(dbsync.RunOptions{Target: dbsync.TargetAzure})
			if !errors.Is(err, dbsync.ErrTooManyDeletes) || rep.Status != dbsync.StatusFailed {
				t.Fatalf("60 %% deleted by compare = %s: %v (status %s), want max_delete to stop it", compare, err, rep.Status)
			}
			var n int
			if err := dst.QueryRow("SELECT COUNT(*) FROM items").Scan(&n); err != nil || n != 100 {
				t.Errorf("target holds %d rows (%v), want its 100", n, err)
			}
		})
	}
}

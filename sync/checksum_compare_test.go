package dbsync_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/mysqldb"
)

// ckInput is one side of a checksum compare in a test: a table, or a source
// query, in one database of one server.
type ckInput struct {
	db    *sql.DB
	table string
	query string
}

// checksumCompare compares src (read inside one consistent read-only
// snapshot, as a run reads the primary) with the target table dst by range
// checksums.
func checksumCompare(t *testing.T, src, dst ckInput, key []string, opt dbsync.RangeOptions) (*dbsync.RangeDiff, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sconn, err := src.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sconn.Close()
	if _, err := sconn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = sconn.ExecContext(context.Background(), "ROLLBACK") }()
	dconn, err := dst.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dconn.Close()
	s, d := newSides(t, ctx, sconn, src, dconn, dst, key)
	return dbsync.ChecksumCompare(ctx, s, d, opt)
}

func newSides(t *testing.T, ctx context.Context, sq mysqldb.Queryer, src ckInput, dq mysqldb.Queryer, dst ckInput, key []string) (*mysqldb.ChecksumSide, *mysqldb.ChecksumSide) {
	t.Helper()
	var scols []mysqldb.ChecksumColumn
	var err error
	if src.query != "" {
		scols, err = mysqldb.DescribeQuery(ctx, sq, src.query)
	} else {
		scols, err = mysqldb.DescribeTable(ctx, sq, src.table)
	}
	if err != nil {
		t.Fatal(err)
	}
	dcols, err := mysqldb.DescribeTable(ctx, dq, dst.table)
	if err != nil {
		t.Fatal(err)
	}
	scols, dcols, err = mysqldb.AlignChecksumColumns(scols, dcols)
	if err != nil {
		t.Fatal(err)
	}
	s, err := mysqldb.NewChecksumSide(sq, src.table, src.query, scols, key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := mysqldb.NewChecksumSide(dq, dst.table, "", dcols, key)
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

func mustChecksumCompare(t *testing.T, src, dst ckInput, key []string, opt dbsync.RangeOptions) *dbsync.RangeDiff {
	t.Helper()
	d, err := checksumCompare(t, src, dst, key, opt)
	if err != nil {
		t.Fatalf("compare by checksums: %v", err)
	}
	t.Logf("stats %+v", d.Stats)
	return d
}

// keyText prints keys as a user reads them: "1", "a|7".
func keyText(keys []dbsync.RangeKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		parts := make([]string, len(k))
		for j, v := range k {
			parts[j] = v.String()
		}
		out[i] = strings.Join(parts, "|")
	}
	return out
}

func assertDiff(t *testing.T, d *dbsync.RangeDiff, missing, extra, different []string) {
	t.Helper()
	for _, c := range []struct {
		what      string
		got, want []string
	}{{"missing", keyText(d.Missing), missing}, {"extra", keyText(d.Extra), extra}, {"different", keyText(d.Different), different}} {
		if c.want == nil {
			c.want = []string{}
		}
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s keys %q, want %q", c.what, c.got, c.want)
		}
	}
}

// TestChecksumCompare_FidelityCopyIsIdentical: the type matrix copied by
// the engine (replace) is found identical by checksums alone: no bucket
// differs, no row is read, both with and without the top-range checksum.
func TestChecksumCompare_FidelityCopyIsIdentical(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	src, dst := e.srcDBConn(), e.dstDBConn()
	mustExec(t, src, fidelityTable)
	mustExec(t, src, fidelityRows()...)
	mustExec(t, dst, fidelityTable)
	e.mustSync(dbsync.RunOptions{})
	for _, first := range []bool{false, true} {
		d := mustChecksumCompare(t, ckInput{db: src, table: "items"}, ckInput{db: dst, table: "items"}, []string{"id"}, dbsync.RangeOptions{ChecksumFirst: first})
		assertDiff(t, d, nil, nil, nil)
		if !d.Identical() || d.Stats.BucketsDiffering != 0 || d.Stats.KeysHashed != 0 || d.Stats.RowsRead != 0 {
			t.Errorf("checksum first %v: an exact copy cost reads: %+v", first, d.Stats)
		}
		if first && d.Stats.RangesSkipped == 0 {
			t.Errorf("checksum first: no range skipped: %+v", d.Stats)
		}
	}
	// A source query over the same table agrees too (its TEXT columns are
	// digested on both sides).
	d := mustChecksumCompare(t, ckInput{db: src, table: "items", query: "SELECT * FROM items"}, ckInput{db: dst, table: "items"}, []string{"id"}, dbsync.RangeOptions{})
	assertDiff(t, d, nil, nil, nil)
	if d.Stats.BucketsDiffering != 0 {
		t.Errorf("source query: %+v", d.Stats)
	}
}

// TestChecksumCompare_ByteExact: every byte-exact difference of the issue is
// found, made on either side; equal values are never reported.
func TestChecksumCompare_ByteExact(t *testing.T) {
	for _, tc := range []struct {
		name      string
		change    string
		different []string
		// missing/extra when the change is made on the target (swapped when
		// it is made on the source)
		missing, extra []string
	}{
		{"trailing space under PAD SPACE", "UPDATE items SET vc = CONCAT(vc, ' ') WHERE id = 1", []string{"1"}, nil, nil},
		{"case under _ci", "UPDATE items SET vc = REPLACE(vc, 'café', 'Café') WHERE id = 1", []string{"1"}, nil, nil},
		{"NULL vs empty string", "UPDATE items SET vc = '' WHERE id = 3", []string{"3"}, nil, nil},
		{"empty string vs NULL in TEXT", "UPDATE items SET tx = NULL WHERE id = 2", []string{"2"}, nil, nil},
		{"last byte of a 1 MB MEDIUMTEXT", "UPDATE items SET big = CONCAT(LEFT(big, CHAR_LENGTH(big) - 1), 'E') WHERE id = 4", []string{"4"}, nil, nil},
		{"last byte of a 1 MB BLOB", "UPDATE items SET mb = CONCAT(LEFT(mb, LENGTH(mb) - 1), 0x00) WHERE id = 4", []string{"4"}, nil, nil},
		{"last digit of a DOUBLE", "UPDATE items SET d = 0.10000000000000002 WHERE id = 2", []string{"2"}, nil, nil},
		{"last bit of a FLOAT", "UPDATE items SET f = 0.12345671 WHERE id = 2", []string{"2"}, nil, nil},
		{"a microsecond of DATETIME(6)", "UPDATE items SET dtm = dtm + INTERVAL 1 MICROSECOND WHERE id = 4", []string{"4"}, nil, nil},
		{"a microsecond of TIMESTAMP(6)", "UPDATE items SET ts = ts + INTERVAL 1 MICROSECOND WHERE id = 2", []string{"2"}, nil, nil},
		{"BIT(64) minus one", "UPDATE items SET b64 = 0xFFFFFFFFFFFFFFFE WHERE id = 1", []string{"1"}, nil, nil},
		{"JSON whitespace", `UPDATE items SET js = '{"a":[1, "🚀"], "b": null}' WHERE id = 1`, []string{"1"}, nil, nil},
		{"the same change on two rows (XOR would cancel)", "UPDATE items SET i64 = 7 WHERE id IN (1, 4)", []string{"1", "4"}, nil, nil},
		{"two rows swap a value", "UPDATE items a JOIN items b ON a.id = 1 AND b.id = 2 SET a.vc = b.vc, b.vc = a.vc", []string{"1", "2"}, nil, nil},
		{"a row deleted", "DELETE FROM items WHERE id = 2", nil, []string{"2"}, nil},
		{"a key changed", "UPDATE items SET id = 5 WHERE id = 3", nil, []string{"3"}, []string{"5"}},
	} {
		for _, onSource := range []bool{false, true} {
			side := "target"
			if onSource {
				side = "source"
			}
			t.Run(tc.name+"/"+side, func(t *testing.T) {
				t.Parallel()
				srcDB, dstDB := primary.NewDatabase(t, "src"), azure.NewDatabase(t, "dst")
				src, dst := dbOn(t, primary, srcDB), dbOn(t, azure, dstDB)
				for _, db := range []*sql.DB{src, dst} {
					mustExec(t, db, fidelityTable)
					mustExec(t, db, fidelityRows()...)
					mustExec(t, db, "ALTER TABLE items ADD COLUMN mb MEDIUMBLOB NULL", "UPDATE items SET mb = CAST(big AS BINARY) WHERE id = 4")
				}
				changed := dst
				missing, extra := tc.missing, tc.extra
				if onSource {
					changed, missing, extra = src, extra, missing
				}
				mustExec(t, changed, tc.change)
				d := mustChecksumCompare(t, ckInput{db: src, table: "items"}, ckInput{db: dst, table: "items"}, []string{"id"}, dbsync.RangeOptions{})
				assertDiff(t, d, missing, extra, tc.different)
				if d.Stats.TextFormReads != 0 {
					t.Errorf("%d keys read for a text form: the two servers are the same build", d.Stats.TextFormReads)
				}
			})
		}
	}
}

// seqRows fills table (id, v) with ids from..to.
func seqRows(t *testing.T, db *sql.DB, table string, from, to int64) {
	t.Helper()
	mustExec(t, db, fmt.Sprintf("INSERT INTO %s SELECT seq, CONCAT('value ', seq) FROM seq_%d_to_%d", mariadbtest.Join(table), from, to))
}

// TestChecksumCompare_KeyGaps: keys 1..1000 and 10^12..10^12+1000 are cut
// into ranges where the keys are, so the gap costs no queries beyond the
// empty ranges' counts, and few rows are read.
func TestChecksumCompare_KeyGaps(t *testing.T) {
	t.Parallel()
	srcDB, dstDB := primary.NewDatabase(t, "src"), azure.NewDatabase(t, "dst")
	src, dst := dbOn(t, primary, srcDB), dbOn(t, azure, dstDB)
	for _, db := range []*sql.DB{src, dst} {
		mustExec(t, db, "CREATE TABLE g (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL)")
		seqRows(t, db, "g", 1, 1000)
		seqRows(t, db, "g", 1_000_000_000_000, 1_000_000_001_000)
	}
	mustExec(t, dst, "UPDATE g SET v = 'changed' WHERE id IN (500, 1000000000500)", "DELETE FROM g WHERE id = 1000000001000",
		"INSERT INTO g VALUES (5000000000000, 'only on the target')")
	d := mustChecksumCompare(t, ckInput{db: src, table: "g"}, ckInput{db: dst, table: "g"}, []string{"id"}, dbsync.RangeOptions{})
	assertDiff(t, d, []string{"1000000001000"}, []string{"5000000000000"}, []string{"500", "1000000000500"})
	// bounds, EXPLAIN, counts, then per non-empty range one bucket pass and
	// one key+hash read per side, and one row read per side.
	if d.Stats.Statements > 25 {
		t.Errorf("%d statements for 3 clusters of keys", d.Stats.Statements)
	}
	if d.Stats.KeysHashed > 400 {
		t.Errorf("%d key hashes read for 4 differing keys: the buckets are not sized where the keys are", d.Stats.KeysHashed)
	}
}

// TestChecksumCompare_StringAndCompositeKeys: keys that are not integers
// are cut by walking the target's index and bucketed by a hash of their
// bytes; a case change of a _ci key is a key change.
func TestChecksumCompare_StringAndCompositeKeys(t *testing.T) {
	for _, tc := range []struct {
		name, ddl, fill string
		key             []string
		changes         []string
		missing, extra  []string
		different       []string
	}{
		{"string key under _ci", "CREATE TABLE s (k VARCHAR(40) NOT NULL PRIMARY KEY, v INT NOT NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
			"INSERT INTO s SELECT CONCAT('key-', seq), seq FROM seq_1_to_3000", []string{"k"},
			[]string{"UPDATE s SET v = -1 WHERE k = 'key-1500'", "UPDATE s SET k = 'KEY-2000' WHERE k = 'key-2000'", "DELETE FROM s WHERE k = 'key-7'",
				"INSERT INTO s VALUES ('zz-new', 1)"},
			[]string{"key-2000", "key-7"}, []string{"KEY-2000", "zz-new"}, []string{"key-1500"}},
		{"composite key", "CREATE TABLE s (a INT NOT NULL, b VARCHAR(20) NOT NULL, v VARCHAR(20) NOT NULL, PRIMARY KEY (a, b)) DEFAULT CHARSET=utf8mb4",
			"INSERT INTO s SELECT seq DIV 10, CONCAT('b', seq % 10), CONCAT('v', seq) FROM seq_1_to_3000", []string{"a", "b"},
			[]string{"UPDATE s SET v = 'x' WHERE a = 150 AND b = 'b3'", "DELETE FROM s WHERE a = 299 AND b = 'b9'", "INSERT INTO s VALUES (150, 'b3x', 'new')"},
			[]string{"299|b9"}, []string{"150|b3x"}, []string{"150|b3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srcDB, dstDB := primary.NewDatabase(t, "src"), azure.NewDatabase(t, "dst")
			src, dst := dbOn(t, primary, srcDB), dbOn(t, azure, dstDB)
			for _, db := range []*sql.DB{src, dst} {
				mustExec(t, db, tc.ddl, tc.fill)
			}
			d := mustChecksumCompare(t, ckInput{db: src, table: "s"}, ckInput{db: dst, table: "s"}, tc.key, dbsync.RangeOptions{})
			assertDiff(t, d, nil, nil, nil)
			if d.Stats.TopRanges < 8 || d.Stats.BucketsDiffering != 0 {
				t.Errorf("identical copy: %+v (want the index walked into ranges, no bucket differing)", d.Stats)
			}
			mustExec(t, dst, tc.changes...)
			d = mustChecksumCompare(t, ckInput{db: src, table: "s"}, ckInput{db: dst, table: "s"}, tc.key, dbsync.RangeOptions{})
			assertDiff(t, d, tc.missing, tc.extra, tc.different)
		})
	}
}

// TestChecksumCompare_ViewSource: a view that hides the key behind an
// expression makes every range a full scan: the compare says so (the
// caller compares rows); views and joins the range reaches are compared.
func TestChecksumCompare_ViewSource(t *testing.T) {
	t.Parallel()
	srcDB, dstDB := primary.NewDatabase(t, "src"), azure.NewDatabase(t, "dst")
	src, dst := dbOn(t, primary, srcDB), dbOn(t, azure, dstDB)
	mustExec(t, src, "CREATE TABLE base (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL, owner INT NOT NULL)",
		"INSERT INTO base SELECT seq, CONCAT('value ', seq), seq % 10 FROM seq_1_to_40000",
		"CREATE TABLE owners (id INT NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL)",
		"INSERT INTO owners SELECT seq, CONCAT('owner ', seq) FROM seq_0_to_9",
		"CREATE VIEW computed AS SELECT id + 0 AS id, v FROM base",
		"CREATE VIEW merged AS SELECT id, v FROM base WHERE owner >= 0",
		"CREATE VIEW joined AS SELECT b.id, b.v, o.name FROM base b JOIN owners o ON o.id = b.owner")
	mustExec(t, dst, "CREATE TABLE t2 (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL)",
		"CREATE TABLE t3 (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL, name VARCHAR(20) NOT NULL)")
	seqRows(t, dst, "t2", 1, 40000)
	mustExec(t, dst, "INSERT INTO t3 SELECT id, v, CONCAT('owner ', id % 10) FROM t2", "UPDATE t2 SET v = 'x' WHERE id = 20000", "UPDATE t3 SET name = 'x' WHERE id = 30000")

	_, err := checksumCompare(t, ckInput{db: src, query: "SELECT * FROM computed"}, ckInput{db: dst, table: "t2"}, []string{"id"}, dbsync.RangeOptions{})
	if !errors.Is(err, dbsync.ErrRangeNotPushable) || !strings.Contains(err.Error(), "base") {
		t.Fatalf("computed-key view: got %v, want ErrRangeNotPushable naming the base table", err)
	}
	// A target whose key has no index: each range would scan it whole.
	mustExec(t, dst, "CREATE TABLE noindex (id BIGINT NOT NULL, v VARCHAR(40) NOT NULL)", "INSERT INTO noindex SELECT * FROM t2")
	_, err = checksumCompare(t, ckInput{db: src, query: "SELECT * FROM merged"}, ckInput{db: dst, table: "noindex"}, []string{"id"}, dbsync.RangeOptions{})
	if !errors.Is(err, dbsync.ErrRangeNotPushable) || !strings.Contains(err.Error(), "target") {
		t.Fatalf("target without a key index: got %v, want ErrRangeNotPushable for the target", err)
	}
	d := mustChecksumCompare(t, ckInput{db: src, query: "SELECT * FROM merged"}, ckInput{db: dst, table: "t2"}, []string{"id"}, dbsync.RangeOptions{})
	assertDiff(t, d, nil, nil, []string{"20000"})
	d = mustChecksumCompare(t, ckInput{db: src, query: "SELECT * FROM joined"}, ckInput{db: dst, table: "t3"}, []string{"id"}, dbsync.RangeOptions{})
	assertDiff(t, d, nil, nil, []string{"30000"})
}

// TestChecksumCompare_Bytes measures what each server sends (Bytes_sent of
// its session) for a compare by checksums against streaming every row, at
// 0 % and 1 % changed (the bench's changes: a third updated, a third
// deleted, a third inserted above the keys). Not run by default:
//
//	DBSYNC_CHECKSUM_BENCH=200000 go test -count=1 -run TestChecksumCompare_Bytes -v ./sync/
func TestChecksumCompare_Bytes(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DBSYNC_CHECKSUM_BENCH"))
	if n <= 0 {
		t.Skip("set DBSYNC_CHECKSUM_BENCH=<rows> to measure")
	}
	srcDB, dstDB := primary.NewDatabase(t, "src"), azure.NewDatabase(t, "dst")
	src, dst := dbOn(t, primary, srcDB), dbOn(t, azure, dstDB)
	ddl := strings.Replace(mariadbtest.ItemsDDL, "items", "base", 1)
	for _, db := range []*sql.DB{src, dst} {
		mustExec(t, db, ddl, strings.Replace(mariadbtest.ItemsInsert(n), "INSERT INTO items", "INSERT INTO base", 1))
	}
	// count is how many ids in 1..n have id % mod in rems.
	count := func(mod int, rems ...int) int {
		c := 0
		for id := 1; id <= n; id++ {
			if slices.Contains(rems, id%mod) {
				c++
			}
		}
		return c
	}
	for _, sc := range []struct {
		name    string
		changes []string
		want    int
	}{
		{"0 %", nil, 0},
		// The bench's 1 % (bench/merge.go): ids ≡ 1, 2, 3 mod 300 updated,
		// deleted, inserted above the keys: three neighbours every 300 keys.
		{"bench 1 %", []string{
			"UPDATE items SET name = CONCAT(name, ' *'), amount = amount + 1 WHERE id % 300 = 1",
			"DELETE FROM items WHERE id % 300 = 2",
			fmt.Sprintf("INSERT INTO items SELECT id + %d, name, email, amount, score, active, created_at, birthday, notes, attrs, avatar FROM base WHERE id %% 300 = 3", n)},
			count(300, 1, 2, 3)},
		// 1 % spread as evenly as it can be: every 100th key updated, so
		// every bucket narrower than 100 keys that holds one differs.
		{"spread 1 %", []string{"UPDATE items SET amount = amount + 1 WHERE id % 100 = 7"}, count(100, 7)},
	} {
		mustExec(t, src, "DROP TABLE IF EXISTS items", "CREATE TABLE items LIKE base", "INSERT INTO items SELECT * FROM base")
		mustExec(t, dst, "DROP TABLE IF EXISTS items", "CREATE TABLE items LIKE base", "INSERT INTO items SELECT * FROM base")
		mustExec(t, src, sc.changes...)
		rowsSrc, rowsDst, took := measureBytes(t, src, dst, func(ctx context.Context, s, d *sql.Conn) error {
			for _, c := range []*sql.Conn{s, d} {
				if err := drain(ctx, c, "SELECT * FROM items ORDER BY id"); err != nil {
					return err
				}
			}
			return nil
		})
		t.Logf("%d rows, %s: rows compare: source sent %d B, target %d B, %v (both streams one after the other)", n, sc.name, rowsSrc, rowsDst, took.Round(time.Millisecond))
		for _, opt := range []dbsync.RangeOptions{{BucketRows: 16}, {BucketRows: 32}, {BucketRows: 64}, {BucketRows: 32, ChecksumFirst: true}} {
			var diff *dbsync.RangeDiff
			s, d, took := measureBytes(t, src, dst, func(ctx context.Context, sc, dc *sql.Conn) error {
				ss, ds := newSides(t, ctx, sc, ckInput{table: "items"}, dc, ckInput{table: "items"}, []string{"id"})
				var err error
				diff, err = dbsync.ChecksumCompare(ctx, ss, ds, opt)
				return err
			})
			found := len(diff.Missing) + len(diff.Extra) + len(diff.Different)
			t.Logf("%d rows, %s: checksums g=%d first=%v: source %d B (%.2f %%), target %d B (%.2f %%), %d differing keys, %v, stats %+v",
				n, sc.name, opt.BucketRows, opt.ChecksumFirst, s, 100*float64(s)/float64(rowsSrc), d, 100*float64(d)/float64(rowsDst), found, took.Round(time.Millisecond), diff.Stats)
			if found != sc.want {
				t.Errorf("found %d differing keys, want %d", found, sc.want)
			}
		}
	}
}

// measureBytes runs f on one connection to each server (the source's in a
// read-only snapshot) and returns what each session sent, by Bytes_sent.
func measureBytes(t *testing.T, src, dst *sql.DB, f func(ctx context.Context, s, d *sql.Conn) error) (int64, int64, time.Duration) {
	t.Helper()
	ctx := context.Background()
	sc, err := src.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	dc, err := dst.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	mustExecConn(t, sc, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
	defer mustExecConn(t, sc, "ROLLBACK")
	s0, d0 := bytesSent(t, sc), bytesSent(t, dc)
	// The status query's own result (about 80 B) is measured once and taken off.
	s1 := bytesSent(t, sc)
	start := time.Now()
	if err := f(ctx, sc, dc); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	s2, d2 := bytesSent(t, sc), bytesSent(t, dc)
	self := s1 - s0
	return s2 - s1 - self, d2 - d0 - 2*self, took
}

func mustExecConn(t *testing.T, c *sql.Conn, q string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func bytesSent(t *testing.T, c *sql.Conn) int64 {
	t.Helper()
	var name string
	var v int64
	if err := c.QueryRowContext(context.Background(), "SHOW SESSION STATUS LIKE 'Bytes_sent'").Scan(&name, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func drain(ctx context.Context, c *sql.Conn, q string) error {
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// TestChecksumCompare_WholeTable: a table without a key is verified by its
// count and an order-independent checksum; a duplicated row counts.
func TestChecksumCompare_WholeTable(t *testing.T) {
	t.Parallel()
	srcDB, dstDB := primary.NewDatabase(t, "src"), azure.NewDatabase(t, "dst")
	src, dst := dbOn(t, primary, srcDB), dbOn(t, azure, dstDB)
	mustExec(t, src, "CREATE TABLE k (v VARCHAR(20) NULL, n INT NULL)", "INSERT INTO k VALUES ('a', 1), ('a', 1), ('b', NULL), (NULL, 2)")
	mustExec(t, dst, "CREATE TABLE k (v VARCHAR(20) NULL, n INT NULL)", "INSERT INTO k VALUES (NULL, 2), ('b', NULL), ('a', 1), ('a', 1)")
	sum := func(db *sql.DB) dbsync.RangeSum {
		t.Helper()
		ctx := context.Background()
		cols, err := mysqldb.DescribeTable(ctx, db, "k")
		if err != nil {
			t.Fatal(err)
		}
		s, err := mysqldb.WholeChecksum(ctx, db, "k", "", cols)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if a, b := sum(src), sum(dst); !a.Agrees(b) || a.Count != 4 {
		t.Errorf("the same rows in another order: %+v vs %+v", a, b)
	}
	// Removing one of two equal rows and adding two equal rows elsewhere: an
	// XOR of hashes would not see either.
	mustExec(t, dst, "DELETE FROM k WHERE v = 'a' LIMIT 1", "INSERT INTO k VALUES ('z', 9), ('z', 9)", "DELETE FROM k WHERE v = 'b'")
	if a, b := sum(src), sum(dst); a.Agrees(b) {
		t.Errorf("different rows agree: %+v vs %+v", a, b)
	}
}

// TestChecksumCompare_KeyCollationsDiffer: with a _bin key on the source
// and a _ci key on the target, ranges cut in one side's order would put a
// row into two ranges or none on the other side: the compare refuses (the
// caller compares rows). An empty table says its collation too.
func TestChecksumCompare_KeyCollationsDiffer(t *testing.T) {
	t.Parallel()
	srcDB, dstDB := primary.NewDatabase(t, "src"), azure.NewDatabase(t, "dst")
	src, dst := dbOn(t, primary, srcDB), dbOn(t, azure, dstDB)
	fill := "INSERT INTO s SELECT CONCAT(IF(seq % 2 = 0, 'B', 'a'), LPAD(3000 - seq, 5, '0')), seq FROM seq_1_to_3000"
	mustExec(t, src, "CREATE TABLE s (k VARCHAR(40) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, v INT NOT NULL) DEFAULT CHARSET=utf8mb4", fill)
	mustExec(t, dst, "CREATE TABLE s (k VARCHAR(40) COLLATE utf8mb4_unicode_ci NOT NULL PRIMARY KEY, v INT NOT NULL) DEFAULT CHARSET=utf8mb4",
		"CREATE TABLE e (k VARCHAR(40) COLLATE utf8mb4_unicode_ci NOT NULL PRIMARY KEY, v INT NOT NULL) DEFAULT CHARSET=utf8mb4", fill)
	for _, table := range []string{"s", "e"} {
		_, err := checksumCompare(t, ckInput{db: src, table: "s"}, ckInput{db: dst, table: table}, []string{"k"}, dbsync.RangeOptions{})
		if !errors.Is(err, dbsync.ErrRangeNotPushable) || !strings.Contains(err.Error(), "utf8mb4_bin") || !strings.Contains(err.Error(), "utf8mb4_unicode_ci") {
			t.Errorf("target %s: got %v, want ErrRangeNotPushable naming both collations", table, err)
		}
	}
}

// TestChecksumSide_ReadRange: a range's rows come in key order by bytes
// ('B' before 'a'), whatever the key's _ci collation says, with NULL and the
// empty string apart and FLOAT exact.
func TestChecksumSide_ReadRange(t *testing.T) {
	t.Parallel()
	db := dbOn(t, primary, primary.NewDatabase(t, "src"))
	mustExec(t, db, "CREATE TABLE r (k VARCHAR(10) NOT NULL PRIMARY KEY, f FLOAT NULL, v VARCHAR(10) NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
		"INSERT INTO r VALUES ('a', 0.1234567, ''), ('B', NULL, NULL), ('c', -1.5, 'x'), ('d', 1, 'y')")
	ctx := context.Background()
	cols, err := mysqldb.DescribeTable(ctx, db, "r")
	if err != nil {
		t.Fatal(err)
	}
	s, err := mysqldb.NewChecksumSide(db, "r", "", cols, []string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.ReadRange(ctx, dbsync.ChecksumRange{Hi: dbsync.RangeKey{{Bytes: []byte("d")}}})
	if err != nil {
		t.Fatal(err)
	}
	var keys []dbsync.RangeKey
	for _, r := range rows {
		keys = append(keys, r.Key)
	}
	if got := keyText(keys); !slices.Equal(got, []string{"B", "a", "c"}) {
		t.Fatalf("keys %q, want B a c (bytes order)", got)
	}
	if !rows[0].Values[2].Null || rows[1].Values[2].Null || len(rows[1].Values[2].Bytes) != 0 {
		t.Errorf("NULL and the empty string not kept apart: %#v / %#v", rows[0].Values[2], rows[1].Values[2])
	}
	if f := rows[1].Values[1]; f.Kind != dbsync.RangeFloat || f.Float != float64(float32(0.1234567)) {
		t.Errorf("FLOAT read as %#v, want the float32 exactly", f)
	}
	if k := rows[2].Values[0]; k.Kind != dbsync.RangeBytes || string(k.Bytes) != "c" {
		t.Errorf("key column value %#v", k)
	}
}

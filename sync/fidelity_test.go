package dbsync_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"github.com/dbsync/dbsync/internal/dbtest"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
)

// fidelityTable has every type docs/types.md lists, with
// secondary and unique indexes and a non-default collation, so that "kept
// byte-for-byte in SHOW CREATE TABLE" means something.
const fidelityTable = "CREATE TABLE items (\n" +
	"  id INT NOT NULL PRIMARY KEY,\n" +
	"  u64 BIGINT UNSIGNED NULL,\n" +
	"  i64 BIGINT NULL,\n" +
	"  flag TINYINT(1) NULL,\n" +
	"  dec38 DECIMAL(38,10) NULL,\n" +
	"  f FLOAT NULL,\n" +
	"  d DOUBLE NULL,\n" +
	"  dt DATE NULL,\n" +
	"  dtm DATETIME(6) NULL,\n" +
	"  ts TIMESTAMP(6) NULL,\n" +
	"  tm TIME(6) NULL,\n" +
	"  yr YEAR NULL,\n" +
	"  b8 BIT(8) NULL,\n" +
	"  b64 BIT(64) NULL,\n" +
	"  ch CHAR(10) NULL,\n" +
	"  vc VARCHAR(100) NULL,\n" +
	"  tx TEXT NULL,\n" +
	"  big MEDIUMTEXT NULL,\n" +
	"  bin BINARY(6) NULL,\n" +
	"  vb VARBINARY(64) NULL,\n" +
	"  bl BLOB NULL,\n" +
	"  en ENUM('a','b c','ü') NULL,\n" +
	"  st SET('x','y','z') NULL,\n" +
	"  js JSON NULL,\n" +
	"  KEY vc_idx (vc),\n" +
	"  UNIQUE KEY u64_idx (u64)\n" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

// oneMB is a 1 MB TEXT value with multibyte characters and every byte
// LOAD DATA must escape.
var oneMB = strings.Repeat("ab\tc\\d\ne'é🚀", (1<<20)/15+1) + "end" // 15-byte unit: just over 1 MiB

func fidelityRows() []string {
	return []string{
		`INSERT INTO items VALUES (1, 18446744073709551615, -9223372036854775808, 1,
			'9999999999999999999999999999.9999999999', 3.40282e38, 1.7976931348623157e308,
			'9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '838:59:59.000000', 2155,
			b'11111111', 0xFFFFFFFFFFFFFFFF, 'é', '🚀 naïve café', 'tab\there\nnew\\line''quote', NULL,
			0x005C090A27FF, 0x005C090A270D0A00, 0x00FF5C, 'b c', 'x,z', '{"a": [1, "🚀"], "b": null}')`,
		`INSERT INTO items VALUES (2, 0, 9223372036854775807, 0,
			'-9999999999999999999999999999.9999999999', 0.1234567, 0.1,
			'1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', '-838:59:59.000000', 1901,
			b'0', 0, '', '', '', '', 0x000000000000, '', '', 'ü', '', '[]')`,
		`INSERT INTO items (id) VALUES (3)`,
		`INSERT INTO items VALUES (4, 42, -42, NULL, '0.0000000001', -1.5, -2.25e-300,
			'2024-02-29', '2024-02-29 12:34:56.000001', '2024-03-31 01:30:00.500000', '123:45:06.789012', 2024,
			b'101', 1234567890123, 'N', '\\N', 'NULL', '` + strings.ReplaceAll(strings.ReplaceAll(oneMB, `\`, `\\`), "'", "''") + `',
			'\\N\t\n', '\\', 'NULL', 'a', 'y', '"\\\\N"')`,
	}
}

// loadPath is a target server and the load method it makes dbsync use.
type loadPath struct {
	name   string
	server func() *mariadbtest.Server
}

// loadPaths are the two MySQL load paths: LOAD DATA LOCAL (local_infile
// on) and multi-row INSERT (local_infile off).
func loadPaths() []loadPath {
	return []loadPath{{"load_data", func() *mariadbtest.Server { return azure }}, {"insert", func() *mariadbtest.Server { return azureNoFile }}}
}

// readAll reads a table through the binary protocol (exact FLOATs) as Go
// values, ordered by id.
func readAll(t *testing.T, db *sql.DB, table string) [][]any {
	t.Helper()
	stmt, err := db.Prepare("SELECT * FROM " + mariadbtest.Join(table) + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	rows, err := stmt.Query()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	return scanAll(t, rows)
}

func showCreate(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	return dbtest.ShowCreate(t, db, table)
}

func assertSameRows(t *testing.T, want, got [][]any) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("target has %d rows, source %d", len(got), len(want))
	}
	for i := range want {
		for j := range want[i] {
			if !reflect.DeepEqual(want[i][j], got[i][j]) {
				w, g := fmt.Sprintf("%#v", want[i][j]), fmt.Sprintf("%#v", got[i][j])
				if len(w) > 200 {
					w, g = w[:200]+"…", g[:200]+"…"
				}
				t.Errorf("row %d column %d: target %s, source %s", i+1, j+1, g, w)
			}
		}
	}
}

// TestSync_MySQLToMySQLFidelity copies every type through both load paths,
// into a target table that exists (its definition must stay byte-for-byte)
// and one that does not (created from the source's exact types).
func TestSync_MySQLToMySQLFidelity(t *testing.T) {
	for _, tc := range []struct {
		name       string
		server     func() *mariadbtest.Server
		method     string
		preexisted bool
	}{
		{"load_data/existing table", func() *mariadbtest.Server { return azure }, dbsync.LoadData, true},
		{"load_data/new table", func() *mariadbtest.Server { return azure }, dbsync.LoadData, false},
		{"insert/existing table", func() *mariadbtest.Server { return azureNoFile }, dbsync.LoadInsert, true},
		{"insert/new table", func() *mariadbtest.Server { return azureNoFile }, dbsync.LoadInsert, false},
		// [source] compress = true: the same bytes through zlib.
		{"load_data/existing table/compress", func() *mariadbtest.Server { return azure }, dbsync.LoadData, true},
		{"insert/new table/compress", func() *mariadbtest.Server { return azureNoFile }, dbsync.LoadInsert, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.server())
			if strings.HasSuffix(tc.name, "/compress") {
				e.extra = "[source]\ncompress = true\n"
			}
			src, dst := e.srcDBConn(), e.dstDBConn()
			mustExec(t, src, fidelityTable)
			mustExec(t, src, fidelityRows()...)
			var before string
			if tc.preexisted {
				mustExec(t, dst, fidelityTable, "INSERT INTO items (id, vc) VALUES (99, 'old row')")
				before = showCreate(t, dst, "items")
			}
			rep := e.mustSync(dbsync.RunOptions{})
			if rep.LoadMethod != tc.method {
				t.Errorf("load_method %q, want %q", rep.LoadMethod, tc.method)
			}
			if rep.Rows != 4 || rep.Source != dbsync.SourcePrimary {
				t.Errorf("report rows=%d source=%q, want 4 primary", rep.Rows, rep.Source)
			}
			assertSameRows(t, readAll(t, src, "items"), readAll(t, dst, "items"))
			if tc.preexisted {
				if after := showCreate(t, dst, "items"); after != before {
					t.Errorf("target definition changed:\nbefore: %s\nafter:  %s", before, after)
				}
			} else {
				// Created from the exact source types: same columns and types
				// (no indexes: a query result has none).
				def := showCreate(t, dst, "items")
				for _, want := range []string{"`u64` bigint(20) unsigned", "`dec38` decimal(38,10)", "`f` float", "`dtm` datetime(6)",
					"`tm` time(6)", "`b64` bit(64)", "`en` enum('a','b c','ü')", "`st` set('x','y','z')", "`vb` varbinary(64)", "`ch` char(10)"} {
					if !strings.Contains(def, want) {
						t.Errorf("created table lacks %s:\n%s", want, def)
					}
				}
			}
			assertNoLeftovers(t, dst, "items")
		})
	}
}

func assertNoLeftovers(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	dbtest.AssertNoLeftovers(t, db, table)
}

// TestSync_MySQLToSQLiteMapping checks the documented MySQL → SQLite type
// mapping value by value, and that a value SQLite cannot hold exactly fails
// the run before the swap.
func TestSync_MySQLToSQLiteMapping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	src := e.srcDBConn()
	mustExec(t, src, fidelityTable)
	mustExec(t, src, fidelityRows()...)

	// Row 1 holds BIGINT UNSIGNED and BIT(64) maxima: beyond SQLite's
	// signed 64-bit INTEGER. The run must fail and say which column.
	_, err := e.sync(dbsync.RunOptions{Target: "sqlite"})
	if err == nil || !strings.Contains(err.Error(), `"u64"`) || !strings.Contains(err.Error(), "does not fit SQLite") {
		t.Fatalf("want a clear error naming u64, got %v", err)
	}
	replica := filepath.Join(e.dir, "replica.db")
	if n := sqliteCount(t, replica, "items"); n != -1 {
		t.Fatalf("failed run left a table with %d rows; want no table", n)
	}

	mustExec(t, src, "UPDATE items SET u64 = 9223372036854775807, b64 = 0x7FFFFFFFFFFFFFFF WHERE id = 1")
	rep := e.mustSync(dbsync.RunOptions{Target: "sqlite"})
	if rep.LoadMethod != dbsync.LoadSQLite || rep.Rows != 4 {
		t.Errorf("report %+v", rep)
	}
	got := sqliteRows(t, replica, "SELECT * FROM items ORDER BY id")
	f32 := func(v float32) float64 { return mustParseFloat(fmt.Sprint(v)) }
	want := [][]any{
		{int64(1), int64(math.MaxInt64), int64(math.MinInt64), int64(1), "9999999999999999999999999999.9999999999", f32(3.40282e38), 1.7976931348623157e308,
			"9999-12-31", "9999-12-31 23:59:59.999999", "2038-01-19 03:14:07.999999", "838:59:59.000000", int64(2155),
			int64(255), int64(math.MaxInt64), "é", "🚀 naïve café", "tab\there\nnew\\line'quote", nil,
			[]byte{0, '\\', '\t', '\n', '\'', 0xff}, []byte{0, '\\', '\t', '\n', '\'', '\r', '\n', 0}, []byte{0, 0xff, '\\'}, "b c", "x,z", `{"a": [1, "🚀"], "b": null}`},
		{int64(2), int64(0), int64(math.MaxInt64), int64(0), "-9999999999999999999999999999.9999999999", f32(0.1234567), 0.1,
			"1000-01-01", "1000-01-01 00:00:00.000000", "1970-01-01 00:00:01.000000", "-838:59:59.000000", int64(1901),
			int64(0), int64(0), "", "", "", "", []byte{0, 0, 0, 0, 0, 0}, []byte{}, []byte{}, "ü", "", "[]"},
		{int64(3), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(4), int64(42), int64(-42), nil, "0.0000000001", -1.5, -2.25e-300,
			"2024-02-29", "2024-02-29 12:34:56.000001", "2024-03-31 01:30:00.500000", "123:45:06.789012", int64(2024),
			int64(5), int64(1234567890123), "N", `\N`, "NULL", oneMB, []byte("\\N\t\n\x00\x00"), []byte(`\`), []byte("NULL"), "a", "y", `"\\N"`},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		for j := range want[i] {
			g, w := got[i][j], want[i][j]
			if gb, ok := g.([]byte); ok && gb == nil {
				g = []byte{}
			}
			if !reflect.DeepEqual(g, w) {
				gs, ws := fmt.Sprintf("%#v", g), fmt.Sprintf("%#v", w)
				if len(gs) > 120 {
					gs, ws = gs[:120]+"…", ws[:120]+"…"
				}
				t.Errorf("row %d column %d: got %s, want %s", i+1, j+1, gs, ws)
			}
		}
	}
	// The types SQLite was given: see docs/types.md.
	var decl []string
	for _, r := range sqliteRows(t, replica, "SELECT type FROM pragma_table_info('items')") {
		decl = append(decl, r[0].(string))
	}
	if got, want := strings.Join(decl, ","), "INTEGER,INTEGER,INTEGER,INTEGER,TEXT,REAL,REAL,TEXT,TEXT,TEXT,TEXT,INTEGER,INTEGER,INTEGER,TEXT,TEXT,TEXT,TEXT,BLOB,BLOB,BLOB,TEXT,TEXT,TEXT"; got != want {
		t.Errorf("sqlite column types\n got %s\nwant %s", got, want)
	}
}

// TestSync_SQLiteFallbackToMySQL loads a SQLite fallback into an existing
// MySQL table of every type and checks the values the server stored.
func TestSync_SQLiteFallbackToMySQL(t *testing.T) {
	for _, srv := range loadPaths() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv.server())
			e.extra = "[sync]\nfallback_enabled = true\n"
			// No items table on the primary: its query fails, so the run
			// falls back.
			fb := filepath.Join(e.dir, "fallback.db")
			sqliteExec(t, fb,
				// dec38 is TEXT: a SQLite DECIMAL column has NUMERIC affinity and
				// would itself round the value to 15 digits (docs/types.md).
				`CREATE TABLE items (id INTEGER PRIMARY KEY, u64 INTEGER, i64 INTEGER, flag BOOLEAN, dec38 TEXT, f REAL, d DOUBLE,
				dt DATE, dtm DATETIME, ts TIMESTAMP, tm TEXT, yr INTEGER, b8 INTEGER, b64 INTEGER, ch TEXT, vc TEXT, tx TEXT, big TEXT,
				bin BLOB, vb BLOB, bl BLOB, en TEXT, st TEXT, js TEXT)`,
				`INSERT INTO items VALUES (1, 9223372036854775807, -9223372036854775808, 1, '12345678901234567890.0123456789', 0.5, 0.1,
				'2024-02-29', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15', '-12:00:00', 2024, 5, 1234567890123, 'é', '🚀 naïve', 'tab	x', NULL,
				x'005C090A27FF', x'005C090A270D0A00', x'', 'b c', 'x,z', '{"k": "v"}')`,
				`INSERT INTO items (id, vc, tx) VALUES (2, '', NULL)`)
			dst := e.dstDBConn()
			mustExec(t, dst, fidelityTable)
			rep := e.mustSync(dbsync.RunOptions{})
			if rep.Source != dbsync.SourceFallback || !strings.Contains(rep.FallbackReason, "items") {
				t.Errorf("source %q reason %q; want fallback because the primary's query failed", rep.Source, rep.FallbackReason)
			}
			got := readAll(t, dst, "items")
			want := [][]any{
				{int64(1), uint64(9223372036854775807), int64(-9223372036854775808), int64(1), []byte("12345678901234567890.0123456789"), float32(0.5), 0.1,
					[]byte("2024-02-29"), []byte("2024-02-29 13:14:15.123456"), []byte("2024-02-29 13:14:15.000000"), []byte("-12:00:00.000000"), int64(2024),
					[]byte{5}, []byte{0, 0, 1, 0x1f, 0x71, 0xfb, 0x04, 0xcb}, []byte("é"), []byte("🚀 naïve"), []byte("tab\tx"), nil,
					[]byte{0, '\\', '\t', '\n', '\'', 0xff}, []byte{0, '\\', '\t', '\n', '\'', '\r', '\n', 0}, []byte{}, []byte("b c"), []byte("x,z"), []byte(`{"k": "v"}`)},
				{int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, []byte{}, nil, nil, nil, nil, nil, nil, nil, nil},
			}
			if len(got) != 2 {
				t.Fatalf("got %d rows", len(got))
			}
			for i := range want {
				for j := range want[i] {
					if !reflect.DeepEqual(normalize(got[i][j]), normalize(want[i][j])) {
						t.Errorf("row %d column %d: got %#v, want %#v", i+1, j+1, got[i][j], want[i][j])
					}
				}
			}
		})
	}
}

// normalize lets a driver's integer width differ (int64 vs uint64) where
// the value is the same.
func normalize(v any) any {
	switch x := v.(type) {
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	case []byte:
		return string(bytes.Clone(x))
	}
	return v
}

// TestSync_ValuesLargerThanABatch: a value bigger than the INSERT path's
// 2 MiB batch (and than the LOAD DATA buffer) still loads, byte for byte.
func TestSync_ValuesLargerThanABatch(t *testing.T) {
	for _, srv := range loadPaths() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv.server())
			src := e.srcDBConn()
			mustExec(t, src, "CREATE TABLE items (id INT PRIMARY KEY, big LONGBLOB, txt LONGTEXT)",
				"INSERT INTO items VALUES (1, REPEAT(UNHEX('00FF5C0A09'), 1200000), REPEAT('é\\\\\\t', 2000000)), (2, 'small', 'small')")
			e.mustSync(dbsync.RunOptions{})
			assertSameRows(t, readAll(t, src, "items"), readAll(t, e.dstDBConn(), "items"))
		})
	}
}

// TestSync_TextProtocolFidelity: without a FLOAT column the primary is read
// through the text protocol; every other type must still arrive exactly,
// DOUBLE extremes included.
func TestSync_TextProtocolFidelity(t *testing.T) {
	for _, srv := range loadPaths() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv.server())
			src := e.srcDBConn()
			mustExec(t, src, fidelityTable)
			mustExec(t, src, fidelityRows()...)
			mustExec(t, src, "ALTER TABLE items DROP COLUMN f",
				"INSERT INTO items (id, d) VALUES (5, 0.1), (6, 1/3e0), (7, 2.2250738585072014e-308), (8, 4.9e-324), (9, -1.7976931348623157e308), (10, 123456789.12345678)")
			e.mustSync(dbsync.RunOptions{})
			assertSameRows(t, readAll(t, src, "items"), readAll(t, e.dstDBConn(), "items"))
		})
	}
}

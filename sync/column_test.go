package dbsync_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestSync_YearAndFloatExtremes: YEAR 0000 stays 0000 (not 2000) and FLOAT
// at ±FLT_MAX, the smallest subnormal and -0 keep their exact bits, through
// both MySQL load paths, whichever protocol the primary is read with (a
// FLOAT column makes it the binary one, which sends YEAR 0000 as "0").
func TestSync_YearAndFloatExtremes(t *testing.T) {
	for _, srv := range loadPaths() {
		for _, tc := range []struct {
			name, table string
			rows        string
		}{
			{"binary protocol", "CREATE TABLE items (id INT PRIMARY KEY, yr YEAR NULL, f FLOAT NULL)",
				"INSERT INTO items VALUES (1, 0, 3.4028234663852886e38), (2, 1901, -3.4028234663852886e38), (3, 2155, 1.401298464324817e-45)," +
					" (4, 2000, -0e0), (5, 69, -1.401298464324817e-45), (6, NULL, 0.1234567), (7, '0000', 1.1754943508222875e-38)"},
			{"text protocol", "CREATE TABLE items (id INT PRIMARY KEY, yr YEAR NULL)",
				"INSERT INTO items VALUES (1, 0), (2, 1901), (3, 2155), (4, 2000), (5, NULL)"},
		} {
			t.Run(srv.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, srv.server())
				src, dst := e.srcDBConn(), e.dstDBConn()
				mustExec(t, src, tc.table, tc.rows)
				for _, existing := range []bool{false, true} { // created by the run, then loaded into
					e.mustSync(dbsync.RunOptions{})
					want, got := readAll(t, src, "items"), readAll(t, dst, "items")
					assertSameRows(t, want, got)
					assertSameFloatBits(t, want, got)
					if t.Failed() {
						t.Fatalf("target table existed before the run: %v", existing)
					}
				}
				var zeros int
				if err := dst.QueryRow("SELECT COUNT(*) FROM items WHERE yr = 0").Scan(&zeros); err != nil {
					t.Fatal(err)
				}
				if wantZeros := map[string]int{"binary protocol": 2, "text protocol": 1}[tc.name]; zeros != wantZeros {
					t.Errorf("target holds %d YEAR 0000 values, want %d", zeros, wantZeros)
				}
			})
		}
	}
}

// assertSameFloatBits compares FLOAT values bit for bit: reflect.DeepEqual
// takes -0 for 0.
func assertSameFloatBits(t *testing.T, want, got [][]any) {
	t.Helper()
	for i := range want {
		for j := range want[i] {
			w, ok1 := want[i][j].(float32)
			g, ok2 := got[i][j].(float32)
			if ok1 && ok2 && math.Float32bits(w) != math.Float32bits(g) {
				t.Errorf("row %d column %d: target FLOAT bits %08x (%g), source %08x (%g)", i+1, j+1, math.Float32bits(g), g, math.Float32bits(w), w)
			}
		}
	}
}

// TestSync_SQLiteFallbackYearZero: a fallback's YEAR 0 (an INTEGER) is
// stored as 0000 in a MySQL YEAR column, not 2000.
func TestSync_SQLiteFallbackYearZero(t *testing.T) {
	for _, srv := range loadPaths() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv.server())
			e.extra = "[sync]\nfallback_enabled = true\n"
			sqliteExec(t, filepath.Join(e.dir, "fallback.db"),
				"CREATE TABLE items (id INTEGER PRIMARY KEY, yr YEAR, y2 INTEGER, f FLOAT)",
				"INSERT INTO items VALUES (1, 0, 0, 3.4028234663852886e38), (2, 2024, 1901, -0.0), (3, NULL, 2155, 1.401298464324817e-45)")
			dst := e.dstDBConn()
			mustExec(t, dst, "CREATE TABLE items (id INT PRIMARY KEY, yr YEAR NULL, y2 YEAR NULL, f FLOAT NULL)")
			rep := e.mustSync(dbsync.RunOptions{})
			if rep.Source != dbsync.SourceFallback {
				t.Fatalf("source %q, want fallback", rep.Source)
			}
			got := readAll(t, dst, "items")
			want := [][]any{
				{int64(1), int64(0), int64(0), float32(math.MaxFloat32)},
				{int64(2), int64(2024), int64(1901), float32(0)},
				{int64(3), nil, int64(2155), float32(math.SmallestNonzeroFloat32)},
			}
			assertSameRows(t, want, got)
		})
	}
}

// TestSync_EnumInvalidEmptyValue: an ENUM holding ” (index 0, what MySQL
// stores for an out-of-list value in non-strict mode) cannot be stored by a
// strict target; the run fails naming the table, the column and the fix,
// and the target keeps its rows.
func TestSync_EnumInvalidEmptyValue(t *testing.T) {
	for _, srv := range loadPaths() {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, srv.server())
			src, dst := e.srcDBConn(), e.dstDBConn()
			mustExec(t, src, "CREATE TABLE items (id INT PRIMARY KEY, en ENUM('a','b') NULL)",
				"SET SESSION sql_mode = ''", "INSERT INTO items VALUES (1, 'a'), (2, 'nope'), (3, NULL)")
			mustExec(t, dst, "CREATE TABLE items (id INT PRIMARY KEY, en ENUM('a','b') NULL)", "INSERT INTO items VALUES (9, 'b')")
			_, err := e.sync(dbsync.RunOptions{})
			if err == nil {
				t.Fatal("sync succeeded; want a failure about the invalid ENUM value")
			}
			for _, want := range []string{"`items`", "`en`", "row 2", "''", "NULLIF"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if n := count(t, dst, "items"); n != 1 {
				t.Errorf("target has %d rows, want its 1 previous row", n)
			}
			assertNoLeftovers(t, dst, "items")

			// A target ENUM that lists '' takes the value.
			mustExec(t, dst, "ALTER TABLE items MODIFY en ENUM('','a','b') NULL")
			e.mustSync(dbsync.RunOptions{})
			var got string
			if err := dst.QueryRow("SELECT en FROM items WHERE id = 2").Scan(&got); err != nil || got != "" {
				t.Errorf("row 2 en = %q, %v; want ''", got, err)
			}
		})
	}
}

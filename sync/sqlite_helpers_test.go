package dbsync_test

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

func openSQLiteT(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func sqliteExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db := openSQLiteT(t, path)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("sqlite %q: %v", q, err)
		}
	}
	db.Close()
}

func sqliteRows(t *testing.T, path, query string) [][]any {
	t.Helper()
	db := openSQLiteT(t, path)
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	return scanAll(t, rows)
}

// sqliteCount returns the row count of a table, or -1 when it does not exist.
func sqliteCount(t *testing.T, path, table string) int64 {
	t.Helper()
	db := openSQLiteT(t, path)
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

func mustParseFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return f
}

// scanAll reads every row of rows as Go values.
func scanAll(t *testing.T, rows *sql.Rows) [][]any {
	t.Helper()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

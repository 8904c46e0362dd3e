package dbsync_test

import (
	"database/sql"
	"github.com/dbsync/dbsync/internal/dbtest"
	"strconv"
	"testing"

	_ "modernc.org/sqlite"
)

func openSQLiteT(t *testing.T, path string) *sql.DB {
	t.Helper()
	return dbtest.OpenSQLite(t, path)
}

func sqliteExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	dbtest.SQLiteExec(t, path, stmts...)
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
	return dbtest.SQLiteCount(t, path, table)
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

package main

import (
	"database/sql"
	"testing"

	_ "modernc.org/sqlite"
)

func sqliteCountT(t *testing.T, path string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT COUNT(*) FROM items").Scan(&n); err != nil {
		t.Fatalf("count sqlite items: %v", err)
	}
	return n
}

package sqlitedb

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

// TestPlanStage_SQLiteRecreateWarns: a SQLite target rebuilt by
// on_schema_change = recreate says so in the log, as a MySQL target does.
func TestPlanStage_SQLiteRecreateWarns(t *testing.T) {
	ctx := context.Background()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	path := filepath.Join(t.TempDir(), "r.db")
	load := func(cols []dbsync.Column, row [][]byte) {
		t.Helper()
		tgt := newTarget(dbsync.SQLiteConfig{Path: path, Table: "items"}, "dbsync_runs", log)
		defer tgt.Close()
		if _, err := tgt.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tgt.Lock(ctx, []string{"items"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tgt.Stage(ctx, "items", &repeatRows{cols: cols, row: row, n: 1}, dbsync.SchemaRecreate); err != nil {
			t.Fatal(err)
		}
		if _, err := tgt.Swap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	load([]dbsync.Column{{Name: "id", Kind: dbsync.KindInt}}, [][]byte{[]byte("1")})
	if strings.Contains(logged.String(), "recreate") {
		t.Fatalf("the first load warned: %s", logged.String())
	}
	load([]dbsync.Column{{Name: "id", Kind: dbsync.KindInt}, {Name: "extra", Kind: dbsync.KindText}}, [][]byte{[]byte("1"), []byte("x")})
	if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "source column `extra` is not in the target table") {
		t.Fatalf("recreating the SQLite table logged no warning naming the difference:\n%s", logged.String())
	}
}

package sqlitedb

import (
	"context"
	"path/filepath"
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

func TestApplySQL_SQLite(t *testing.T) {
	s := applySQL("users", "users__dbsync_delta", []dbsync.TargetColumn{{Name: "id"}, {Name: "email"}}, []int{0}, []string{"email"})
	if want := `UPDATE "users__dbsync_delta" AS d SET "dbsync_op" = 'M' WHERE d."dbsync_op" = 'U' AND EXISTS (SELECT 1 FROM "users" WHERE d."id" = "users"."id" AND ((d."email" IS NOT "users"."email" COLLATE BINARY OR typeof(d."email") <> typeof("users"."email"))))`; s.mark != want {
		t.Errorf("sqlite mark:\ngot  %s\nwant %s", s.mark, want)
	}
}

// TestLoadDelta_ReadsTargetBetweenBatches: a delta of many batches goes
// through the staging tables' pipelined insert while the compare reads
// the target table on the same connection (they take turns on it, so
// neither waits for ever), and applying it in the run's transaction
// brings every row to its new version.
func TestLoadDelta_ReadsTargetBetweenBatches(t *testing.T) {
	ctx := context.Background()
	const n = 1234 // six full batches of 200 rows and a short one
	path := filepath.Join(t.TempDir(), "delta.db")
	stageNumbered(t, path, n)
	tgt := lockedTarget(t, path)
	defer tgt.Close()
	tm, d := loadNumberedDelta(t, tgt, n)
	defer tm.Close()
	if updated, err := tm.Apply(ctx, d, dbsync.MergeOptions{}, true); err != nil || updated != n {
		t.Fatalf("apply the delta: %d rows updated, want %d; error %v", updated, n, err)
	}
	if _, err := tgt.Swap(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, renamed int
	if err := db.QueryRow(`SELECT COUNT(*), COUNT(CASE WHEN "name" = 'new ' || "id" THEN 1 END) FROM "items"`).Scan(&rows, &renamed); err != nil {
		t.Fatal(err)
	}
	if rows != n || renamed != n {
		t.Fatalf("after the merge items has %d rows, %d of them the new version; want %d and %d", rows, renamed, n, n)
	}
}

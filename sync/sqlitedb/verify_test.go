package sqlitedb

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

// TestVerify_SQLiteTarget: verify of a SQLite target never creates the
// file it reads (a target that does not exist yet is an error that says
// what to do), and every checksum need is refused as "not pushable", the
// error on which the core compares by rows instead.
func TestVerify_SQLiteTarget(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "replica.db")
	tgt := newTarget(dbsync.SQLiteConfig{Path: path, Table: "items"}, "dbsync_runs", slog.New(slog.DiscardHandler))
	defer tgt.Close()
	err := tgt.BeginRead(ctx)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "run handler sync first") {
		t.Fatalf("BeginRead of a missing file: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("verify created %s (%v)", path, err)
	}
	if tgt.CanChecksum() {
		t.Fatal("a SQLite target says it checksums key ranges")
	}
	if _, _, err := tgt.ChecksumSides(ctx, nil, "SELECT 1", "items", nil); !errors.Is(err, dbsync.ErrRangeNotPushable) {
		t.Fatalf("ChecksumSides: %v; want ErrRangeNotPushable", err)
	}
	if _, _, err := tgt.WholeSums(ctx, nil, "SELECT 1", "items"); !errors.Is(err, dbsync.ErrRangeNotPushable) {
		t.Fatalf("WholeSums: %v; want ErrRangeNotPushable", err)
	}
}

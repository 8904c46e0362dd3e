package dbsync_test

import (
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestConfig_Compare: compare = auto by default, set in [sync] and per
// table, from the file and from the environment; a bad value and
// checksums with a SQLite target are configuration errors naming the key.
func TestConfig_Compare(t *testing.T) {
	cfg, err := load(t, multi("[table.a]\nquery = SELECT 1\n[table.b]\nquery = SELECT 2\ncompare = rows\n"), dbsync.RunOptions{Target: dbsync.TargetAzure})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sync.Compare != "auto" || cfg.Tables[0].Compare != "auto" || cfg.Tables[1].Compare != "rows" {
		t.Errorf("compare: [sync] %q, a %q, b %q; want auto, auto, rows", cfg.Sync.Compare, cfg.Tables[0].Compare, cfg.Tables[1].Compare)
	}
	cfg, err = load(t, multi("[table.a]\nquery = SELECT 1\n"), dbsync.RunOptions{Target: dbsync.TargetAzure},
		"DBSYNC_SYNC_COMPARE=CHECKSUMS")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tables[0].Compare != "checksums" {
		t.Errorf("compare from DBSYNC_SYNC_COMPARE: table %q, want checksums", cfg.Tables[0].Compare)
	}
	cfg, err = load(t, multi("[table.a]\nquery = SELECT 1\n"), dbsync.RunOptions{Target: dbsync.TargetAzure},
		"DBSYNC_TABLE__A__COMPARE=rows")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tables[0].Compare != "rows" {
		t.Errorf("compare from DBSYNC_TABLE__A__COMPARE: %q", cfg.Tables[0].Compare)
	}

	_, err = load(t, multi("[table.a]\nquery = SELECT 1\ncompare = bytes\n"), dbsync.RunOptions{Target: dbsync.TargetAzure})
	wantConfigError(t, err, "table.a.compare", []string{"want one of auto, rows, checksums"})

	// The job's target is sqlite (validConfig): checksums cannot be honoured.
	_, err = load(t, with("[sync]\ncompare = checksums\n"), dbsync.RunOptions{})
	wantConfigError(t, err, "sync.compare", []string{"needs MySQL on both sides", "--target azure"})
	_, err = load(t, multi("[table.a]\nquery = SELECT 1\ncompare = checksums\n"), dbsync.RunOptions{})
	wantConfigError(t, err, "table.a.compare", []string{"needs MySQL on both sides"})
	// auto on a SQLite target is fine (it compares by rows).
	if _, err := load(t, with("[sync]\ncompare = auto\n"), dbsync.RunOptions{}); err != nil {
		t.Errorf("compare = auto with a SQLite target: %v", err)
	}
	if _, err := load(t, with("[sync]\ncompare = checksums\n"), dbsync.RunOptions{Target: dbsync.TargetAzure}); err != nil {
		t.Errorf("compare = checksums with --target azure: %v", err)
	}
}

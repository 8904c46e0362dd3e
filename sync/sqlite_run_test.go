package dbsync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// TestSync_SQLiteLockFollowsSymlinks: two runs on the same SQLite file, one
// through a symlink (to the file, to its folder, or to a file not yet
// made) and one through the real path, never load at once: the second is
// busy while the first waits before its swap.
func TestSync_SQLiteLockFollowsSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		// paths returns the two paths to the same replica; made tells
		// whether the replica exists before the runs.
		paths func(t *testing.T, dir string) (a, b string)
		made  bool
	}{
		{"symlink to the file", func(t *testing.T, dir string) (string, string) {
			real := filepath.Join(dir, "replica.db")
			return symlink(t, real, filepath.Join(dir, "link.db")), real
		}, true},
		{"symlink to its folder, file not yet made", func(t *testing.T, dir string) (string, string) {
			realDir := filepath.Join(dir, "data")
			if err := os.Mkdir(realDir, 0o755); err != nil {
				t.Fatal(err)
			}
			link := symlink(t, realDir, filepath.Join(dir, "datalink"))
			return filepath.Join(realDir, "replica.db"), filepath.Join(link, "replica.db")
		}, false},
		{"dangling symlink to the file not yet made", func(t *testing.T, dir string) (string, string) {
			real := filepath.Join(dir, "replica.db")
			return real, symlink(t, "replica.db", filepath.Join(dir, "link.db")) // relative target
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			seedItems(t, e.srcDBConn(), 10)
			first, second := tc.paths(t, e.dir)
			if tc.made {
				sqliteExec(t, second, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)")
			}
			cfgA, err := e.config(dbsync.RunOptions{Target: "sqlite"}, "DBSYNC_SQLITE_PATH="+first)
			if err != nil {
				t.Fatal(err)
			}
			cfgB, err := e.config(dbsync.RunOptions{Target: "sqlite"}, "DBSYNC_SQLITE_PATH="+second)
			if err != nil {
				t.Fatal(err)
			}

			// Run A stops before its swap, holding the lock; run B is a
			// second process's run (its own Runner).
			a := newRunner(testLogger(t))
			waiting, release := make(chan struct{}), make(chan struct{})
			dbsync.SetBeforeSwap(a, func() { close(waiting); <-release })
			done := make(chan error, 1)
			go func() {
				done <- a.Run(context.Background(), cfgA, dbsync.NewReport(cfgA, dbsync.TriggerCLI), nil)
			}()
			select {
			case <-waiting:
			case err := <-done:
				t.Fatalf("run through %s ended before its swap: %v", first, err)
			case <-time.After(time.Minute):
				t.Fatal("run A never reached its swap")
			}
			b := newRunner(testLogger(t))
			repB := dbsync.NewReport(cfgB, dbsync.TriggerCLI)
			errB := b.Run(context.Background(), cfgB, repB, nil)
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("run through %s: %v", first, err)
			}
			if !errors.Is(errB, dbsync.ErrBusy) || repB.Status != dbsync.StatusBusy {
				t.Fatalf("run through %s while the other held the file: err %v, status %q; want busy", second, errB, repB.Status)
			}
			if n := sqliteCount(t, second, "items"); n != 10 {
				t.Errorf("replica has %d rows, want 10", n)
			}
			if st, err := os.Lstat(filepath.Join(e.dir, "link.db")); err == nil && st.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the symlink was replaced by a file")
			}
		})
	}
}

func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

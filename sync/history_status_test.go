package dbsync_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dbsync/dbsync/sync"
)

// TestTableHistories reads what the status page shows, on both targets:
// before any run nothing is created and every table has no runs; then
// the newest runs per table (at most the limit, newest first), the last
// success also when it is older than those runs, and every text cut to
// the clip, however long it was stored.
func TestTableHistories(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			e := newEnv(t, azure)
			cfg, err := e.config(dbsync.RunOptions{Target: dbsync.Target(target)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			r := newRunner(testLogger(t))
			hist, err := r.TableHistories(ctx, cfg, 3, 50)
			if err != nil {
				t.Fatalf("no history yet: %v", err)
			}
			if len(hist) != 1 || hist[0].Table != cfg.TargetTable() || len(hist[0].Runs) != 0 || hist[0].LastSuccess != nil {
				t.Fatalf("no history yet: %+v", hist)
			}
			replica := filepath.Join(e.dir, "replica.db")
			if _, err := os.Stat(replica); target == "sqlite" && err == nil {
				t.Fatalf("reading the history created %s", replica)
			}
			if target == "azure" {
				var n int
				if err := e.dstDBConn().QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'dbsync_runs'").Scan(&n); err != nil || n != 0 {
					t.Fatalf("reading the history created dbsync_runs (%d, %v)", n, err)
				}
			}

			// One success, then five failures with long errors.
			start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			record := func(i int, status dbsync.Status, errText string) {
				t.Helper()
				rep := fullReport(t, cfg, fmt.Sprint("run-", i))
				rep.Status, rep.Error = status, errText
				rep.StartedAt, rep.FinishedAt = start.Add(time.Duration(i)*time.Hour), start.Add(time.Duration(i)*time.Hour+time.Minute)
				if err := dbsync.RecordRun(ctx, r, cfg, &rep); err != nil {
					t.Fatalf("record run %d: %v", i, err)
				}
			}
			record(0, dbsync.StatusSucceeded, "")
			long := strings.Repeat("é<b>", 5000) // 20,000 characters, more bytes
			for i := 1; i <= 5; i++ {
				record(i, dbsync.StatusFailed, fmt.Sprintf("run %d: %s", i, long))
			}
			hist, err = r.TableHistories(ctx, cfg, 3, 50)
			if err != nil {
				t.Fatal(err)
			}
			h := hist[0]
			var ids []string
			for _, run := range h.Runs {
				ids = append(ids, run.RunID)
				if n := utf8.RuneCountInString(run.Error); n != 50 || !strings.HasSuffix(run.Error, "…") || !strings.HasPrefix(run.Error, fmt.Sprintf("%s: é<b>", strings.Replace(run.RunID, "-", " ", 1))) {
					t.Errorf("run %s error of %d characters: %q; want it cut to 50", run.RunID, n, run.Error)
				}
				if run.Table != cfg.TargetTable() || len(run.Tables) != 1 {
					t.Errorf("run %s: table %q, tables %+v", run.RunID, run.Table, run.Tables)
				}
			}
			if fmt.Sprint(ids) != "[run-5 run-4 run-3]" {
				t.Errorf("runs %v; want the 3 newest, newest first", ids)
			}
			if h.LastSuccess == nil || h.LastSuccess.RunID != "run-0" || h.LastSuccess.Status != dbsync.StatusSucceeded {
				t.Errorf("last success %+v; want run-0, older than the runs read", h.LastSuccess)
			}
			// A short text is kept whole.
			hist, err = r.TableHistories(ctx, cfg, 10, 100000)
			if err != nil {
				t.Fatal(err)
			}
			if got := hist[0].Runs[0].Error; got != "run 5: "+long {
				t.Errorf("unclipped error read back as %d characters", utf8.RuneCountInString(got))
			}
			if len(hist[0].Runs) != 6 {
				t.Errorf("%d runs with limit 10; want all 6", len(hist[0].Runs))
			}
		})
	}
}

// TestClip cuts by characters, never inside one.
func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 5, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"ééé", 2, "é…"},
		{"abc", 0, "abc"},
	} {
		if got := dbsync.Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

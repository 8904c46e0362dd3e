package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHost_RefusedOptions drives the real binary with manual-run requests
// whose options are misspelt, or whose body the host did not pass on: each
// is a 400 that names the problem, and nothing is loaded or recorded.
func TestHost_RefusedOptions(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 5)
	a.seed(a.dst, 2)
	h := startHandler(t, a)
	cases := []struct {
		fixture string
		want    []string
	}{
		{"http-post-query-typo.json", []string{`unknown query parameter "Dry_Run"`, "accepts only target and dry_run"}},
		{"http-post-body-typo.json", []string{`unknown key "dry-run" in the JSON body`, "accepts only target and dry_run"}},
		{"http-post-no-body-query-string.json", []string{`unknown query parameter "table"`}},
		{"http-post-chunked.json", []string{"Transfer-Encoding: chunked", "Content-Length"}},
	}
	for _, tc := range cases {
		code, _, ir := h.invoke("SyncHttp", fixture(t, tc.fixture), "inv-"+tc.fixture)
		status, body := res(t, ir)
		if code != 200 || status != 400 {
			t.Errorf("%s: host got %d, res %d %v; want 200 with res 400", tc.fixture, code, status, body)
			continue
		}
		for _, want := range tc.want {
			if msg := fmt.Sprint(body["error"]); !strings.Contains(msg, want) {
				t.Errorf("%s: error %q lacks %q", tc.fixture, msg, want)
			}
		}
	}
	if n := a.count(a.dst, "items"); n != 2 {
		t.Errorf("a refused request changed the target: %d rows, want the previous 2", n)
	}
	var tables int
	_ = a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'dbsync_runs'").Scan(&tables)
	if tables != 0 {
		t.Errorf("a refused request recorded a run")
	}
	if _, err := os.Stat(filepath.Join(a.dir, "replica.db")); err == nil {
		t.Errorf("a refused request created the SQLite target")
	}
}

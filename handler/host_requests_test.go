package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestHost_HistoryOfThisTable: two jobs share the history table. GET
// lists only this table's runs, with every report field (retries and
// swap_wait_ms too), and a busy run on a second instance names the run of
// this table that holds it, not another table's newer one.
func TestHost_HistoryOfThisTable(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 1500)
	h1 := startHandler(t, a)
	h2 := startHandler(t, a) // a second instance of the app
	code, ir := h1.timerRun("timer.json", "inv-first")
	first := ir.Outputs["report"].(map[string]any)
	if code != 200 || first["status"] != "succeeded" {
		t.Fatalf("first run: %d %v", code, first)
	}
	// That run had retried twice and waited for readers (as a run may);
	// another job's run of table "other" is running, newer than any.
	if _, err := a.dst.Exec("UPDATE dbsync_runs SET retries = 2, swap_wait_ms = 250 WHERE run_id = ?", first["run_id"]); err != nil {
		t.Fatal(err)
	}
	if _, err := a.dst.Exec("INSERT INTO dbsync_runs (run_id, `trigger`, status, target, `table`, started_at) VALUES ('other-run', 'timer', 'running', 'azure', 'other', UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)"); err != nil {
		t.Fatal(err)
	}

	a.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
	a.writeConfig()
	var wg sync.WaitGroup
	var long map[string]any
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, ir := h1.timerRun("timer.json", "inv-long")
		long, _ = ir.Outputs["report"].(map[string]any)
	}()
	waitLoading(t, a, "azure")
	_, _, _, msgs := h2.post(postBody(t), "inv-busy")
	code, ir = h2.deliver(msgs[0], 1, "inv-busy-queue")
	busy, _ := ir.Outputs["report"].(map[string]any)
	wg.Wait()
	if long == nil || long["status"] != "succeeded" {
		t.Fatalf("long run: %v", long)
	}
	if code != 200 || busy["status"] != "busy" || !strings.Contains(strings.Join(ir.Logs, " "), "the run holding the lock: "+long["run_id"].(string)) {
		t.Errorf("manual run on the second instance: %d %v %q; want busy naming the running run %v", code, busy, ir.Logs, long["run_id"])
	}

	_, _, hir := h2.invoke("SyncHttp", fixture(t, "http-get-history.json"), "inv-history")
	status, body := res(t, hir)
	runs, _ := body["runs"].([]any)
	var ids []any
	for _, r := range runs {
		ids = append(ids, r.(map[string]any)["run_id"])
	}
	if status != 200 || fmt.Sprint(ids) != fmt.Sprint([]any{busy["run_id"], long["run_id"], first["run_id"]}) {
		t.Fatalf("history %d lists %v; want only this table's runs [%v %v %v]", status, ids, busy["run_id"], long["run_id"], first["run_id"])
	}
	got := runs[2].(map[string]any)
	if got["retries"] != float64(2) || got["swap_wait_ms"] != float64(250) {
		t.Errorf("history shows retries %v, swap_wait_ms %v; want 2 and 250", got["retries"], got["swap_wait_ms"])
	}
	// Every other field is what the run reported (times to the
	// microsecond the history keeps).
	for k, v := range first {
		switch k {
		case "retries", "swap_wait_ms":
		case "started_at", "finished_at":
			want, _ := time.Parse(time.RFC3339Nano, v.(string))
			if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got[k])); err != nil || !at.Equal(want.Truncate(time.Microsecond)) {
				t.Errorf("history %s = %v; the run reported %v", k, got[k], v)
			}
		default:
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("history %s = %v; the run reported %v", k, got[k], v)
			}
		}
	}
}

// TestHost_SlowClient: a client that sends its body slowly is cut off
// (DBSYNC_HTTP_IO_TIMEOUT, shortened here), while a run that lasts longer
// than that limit still gets its answer.
func TestHost_SlowClient(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 1000)
	h := startHandler(t, a, "DBSYNC_HTTP_IO_TIMEOUT=1s")

	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /SyncTimer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	// Generous: the limit is 1 s; before it existed this waited forever.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	answer, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a client sending its body slowly still held its connection after 30 s (answer so far %q)", answer)
	}
	t.Logf("slow client cut off; it got %q, %v", answer, err)

	// A run longer than the limit (SLEEP makes 1000 rows take 2 s at
	// least) is answered, and succeeds.
	a.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
	a.writeConfig()
	code, ir := h.timerRun("timer.json", "inv-long")
	rep := ir.Outputs["report"].(map[string]any)
	if code != 200 || rep["status"] != "succeeded" || a.count(a.dst, "items") != 1000 {
		t.Fatalf("a run longer than the I/O limit: %d %v", code, rep)
	}
	if resp, err := http.Get(h.url + "/"); err != nil {
		t.Fatalf("handler stopped serving: %v", err)
	} else {
		resp.Body.Close()
	}
}

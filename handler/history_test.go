package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// historyDoc is what a user reads of handler history --json.
type historyDoc struct {
	Target string   `json:"target"`
	Tables []string `json:"tables"`
	Runs   []struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
		Error  string `json:"error"`
		Tables []struct {
			Table    string `json:"table"`
			Rows     int64  `json:"rows"`
			Inserted int64  `json:"inserted"`
			Updated  int64  `json:"updated"`
			Deleted  int64  `json:"deleted"`
		} `json:"tables"`
	} `json:"runs"`
}

// historyLinesOf is the run lines of handler history's output (without
// its header), each split into its columns.
func historyLinesOf(t *testing.T, out string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "STARTED (UTC)") {
		t.Fatalf("history output has no header:\n%s", out)
	}
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1))
	}
	return rows
}

// TestCLI_History: handler history on each target — nothing to show and
// nothing created before any run; then one line per table and run, newest
// first, with --limit, --tables and --json, the error on one line; and
// --html writes the status page.
func TestCLI_History(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			statusJob(a, 20, "")
			r := a.run(nil, "history", "--target", target)
			if r.code != 0 || !strings.Contains(r.stdout, "no runs recorded yet") {
				t.Fatalf("history before any run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(a.dir, "replica.db")); err == nil {
				t.Fatal("history created the SQLite target")
			}
			if hasHistoryTable(t, a) {
				t.Fatal("history created the history table")
			}

			syncJSON(t, a, target, 0)
			a.exec("UPDATE orders SET name = 'renamed' WHERE id <= 3", "DELETE FROM orders WHERE id = 20", "INSERT INTO orders VALUES (21, 'new', NULL), (22, 'new', 'x')")
			syncJSON(t, a, target, 0)
			statusJob(a, 20, failingQuery)
			syncJSON(t, a, target, exitFailed)

			r = a.run(nil, "history", "--target", target)
			if r.code != 0 {
				t.Fatalf("history: exit %d\n%s", r.code, r.stderr)
			}
			rows := historyLinesOf(t, r.stdout)
			var got []string
			for _, row := range rows {
				got = append(got, row[1]+":"+row[3])
			}
			want := "[customers:failed orders:failed customers:succeeded orders:succeeded customers:succeeded orders:succeeded]"
			if fmt.Sprint(got) != want {
				t.Fatalf("history lines %v, want %s:\n%s", got, want, r.stdout)
			}
			if f := rows[0]; len(f) != 9 || f[2] != "cli" || !strings.Contains(f[8], attack) || !strings.Contains(f[8], "doesn't exist") {
				t.Errorf("failed run's line %q: want trigger cli and the error on it", f)
			}
			if m := rows[3]; m[4] != "merge" || m[5] != "21" || m[6] != "+2 ~3 -1" {
				t.Errorf("merge run's line %q: want mode merge, 21 rows, +2 ~3 -1", m)
			}
			if c := rows[2]; c[4] != "replace" || c[5] != "20" {
				t.Errorf("replace run's line %q", c)
			}

			r = a.run(nil, "history", "--target", target, "--limit", "1")
			if rows := historyLinesOf(t, r.stdout); r.code != 0 || len(rows) != 2 || rows[0][3] != "failed" || rows[1][3] != "failed" {
				t.Errorf("--limit 1: exit %d\n%s", r.code, r.stdout)
			}
			r = a.run(nil, "history", "--target", target, "--tables", "orders")
			rows = historyLinesOf(t, r.stdout)
			if r.code != 0 || len(rows) != 3 {
				t.Errorf("--tables orders: exit %d\n%s", r.code, r.stdout)
			}
			for _, row := range rows {
				if row[1] != "orders" {
					t.Errorf("--tables orders printed %q", row)
				}
			}

			r = a.run(nil, "history", "--target", target, "--tables", "orders", "--limit", "2", "--json")
			var doc historyDoc
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
				t.Fatalf("--json: exit %d, not one JSON document (%v):\n%s", r.code, err, r.stdout)
			}
			if doc.Target != target || fmt.Sprint(doc.Tables) != "[orders]" || len(doc.Runs) != 2 || doc.Runs[0].Status != "failed" || !strings.Contains(doc.Runs[0].Error, attack) || doc.Runs[1].Status != "succeeded" {
				t.Fatalf("--json document %+v", doc)
			}
			if tb := doc.Runs[1].Tables; len(tb) != 1 || tb[0].Table != "orders" || tb[0].Inserted != 2 || tb[0].Updated != 3 || tb[0].Deleted != 1 {
				t.Errorf("--json merge run tables %+v", tb)
			}

			page := filepath.Join(a.dir, "status.html")
			r = a.run(nil, "history", "--target", target, "--html", page)
			body, err := os.ReadFile(page)
			if r.code != 0 || err != nil || !strings.Contains(r.stdout, "written to "+page) {
				t.Fatalf("--html: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
			}
			for _, want := range []string{`data-table="orders"`, `data-table="customers"`, "&lt;img src=x onerror=alert(1)&gt;", `<svg class="chart"`, `http-equiv="Content-Security-Policy"`} {
				if !strings.Contains(string(body), want) {
					t.Errorf("--html page lacks %q", want)
				}
			}
			if strings.Contains(string(body), "<img") {
				t.Errorf("--html page holds markup from an error")
			}

			if r := a.run(nil, "history", "-h"); r.code != 0 || !strings.Contains(r.stderr, "Usage: handler history") {
				t.Errorf("history -h: exit %d\n%s", r.code, r.stderr)
			}
			for _, bad := range [][]string{{"--json", "--html", page}, {"--limit", "0"}, {"--limit", "x"}, {"extra"}} {
				if r := a.run(nil, append([]string{"history"}, bad...)...); r.code != exitUsage {
					t.Errorf("history %q: exit %d, want %d", bad, r.code, exitUsage)
				}
			}
		})
	}
}

// closedPort is a TCP port on the loopback that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestHost_StatusUnreachableTarget: with the target down, the status page
// still answers, naming the tables and why it cannot show their runs, with
// 503; handler history fails (exit 1) and --html still writes the page.
func TestHost_StatusUnreachableTarget(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	statusJob(a, 5, "")
	a.extra += fmt.Sprintf("[azure_mysql]\nhost = 127.0.0.1\nport = %d\n", closedPort(t))
	a.writeConfig()
	h := startHandler(t, a)
	code, out := h.statusOf(t, "GET", "", "inv-down")
	if code != 200 || out.StatusCode != 503 {
		t.Fatalf("status page with the target down: host %d, res %d\n%s", code, out.StatusCode, out.Body)
	}
	checkPageHeaders(t, out)
	for _, want := range []string{`id="problem"`, "could not read the run history of target azure", "connection refused", `data-table="orders"`, `data-table="customers"`, "not known: the run history could not be read"} {
		if !strings.Contains(out.Body, want) {
			t.Errorf("page with the target down lacks %q:\n%s", want, out.Body)
		}
	}
	if strings.Contains(out.Body, "no runs recorded yet") {
		t.Errorf("page with the target down says no runs were recorded")
	}
	if r := a.run(nil, "history"); r.code != exitFailed || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("history with the target down: exit %d\n%s", r.code, r.stderr)
	}
	page := filepath.Join(a.dir, "down.html")
	r := a.run(nil, "history", "--html", page)
	body, err := os.ReadFile(page)
	if r.code != exitFailed || err != nil || !strings.Contains(string(body), "connection refused") {
		t.Errorf("history --html with the target down: exit %d, %v\n%s", r.code, err, r.stderr)
	}
}

// TestHost_StatusPageThousandsOfRows: the page's size is bounded whatever
// the history holds — 1,000 and then 5,000 rows, some with errors as long
// as the column takes (and markup in them) — and it still shows the
// newest runs.
func TestHost_StatusPageThousandsOfRows(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	statusJob(a, 5, "")
	h := startHandler(t, a)
	if code, _ := h.timerRun("timer.json", "inv-real"); code != 200 {
		t.Fatalf("first run: %d", code)
	}
	// Runs of minutes ago, the higher seq the newer: each batch is newer
	// than the one before (and older than the real run).
	bulk := func(from, to int) {
		t.Helper()
		_, err := a.dst.Exec(fmt.Sprintf("INSERT INTO dbsync_runs (run_id, `trigger`, status, source, target, `table`, `rows`, mode, inserted, updated, deleted, unchanged, started_at, finished_at, duration_ms, error, version) "+
			"SELECT CONCAT('bulk-', seq), 'timer', IF(seq %% 10 = 0, 'failed', 'succeeded'), 'primary', 'azure', t.name, 1000 + seq, 'merge', seq %% 7, seq %% 5, seq %% 3, 1000, "+
			"UTC_TIMESTAMP(6) - INTERVAL (3000 - seq) MINUTE, UTC_TIMESTAMP(6) - INTERVAL (3000 - seq) MINUTE + INTERVAL 2 SECOND, 10 * seq, IF(seq %% 10 = 0, REPEAT('<b>boom</b> ', 5000), ''), 'bulk' "+
			"FROM seq_%d_to_%d CROSS JOIN (SELECT 'orders' AS name UNION ALL SELECT 'customers') t", from, to))
		if err != nil {
			t.Fatal(err)
		}
	}
	sizes := map[int]int{}
	for _, step := range []struct{ from, to, rows int }{{1, 500, 1000}, {501, 2500, 5000}} {
		bulk(step.from, step.to)
		code, out := h.statusOf(t, "GET", "", fmt.Sprint("inv-bulk-", step.rows))
		if code != 200 || out.StatusCode != 200 {
			t.Fatalf("status page of %d rows: host %d, res %d", step.rows, code, out.StatusCode)
		}
		sizes[step.rows] = len(out.Body)
		t.Logf("status page from %d history rows (2 tables): %d bytes", step.rows, len(out.Body))
		if len(out.Body) > 200_000 {
			t.Errorf("status page from %d history rows is %d bytes; want it bounded", step.rows, len(out.Body))
		}
		if n := strings.Count(out.Body, `class="run `); n != 2*statusRuns {
			t.Errorf("%d chart points; want %d per table", n, statusRuns)
		}
		// The failures of the runs shown (every tenth bulk run failed).
		if n, marked := strings.Count(out.Body, `<tr class="failure">`), strings.Count(out.Body, `class="run failed"`); n != min(marked, statusFailures) || n == 0 {
			t.Errorf("%d failures listed; the charts mark %d", n, marked)
		}
		if strings.Contains(out.Body, "<b>boom") || !strings.Contains(out.Body, "&lt;b&gt;boom&lt;/b&gt;") {
			t.Errorf("the errors' markup is not escaped")
		}
		if strings.Count(out.Body, "boom") > 3000 {
			t.Errorf("the errors are not cut: %d boom", strings.Count(out.Body, "boom"))
		}
	}
	if sizes[5000] > sizes[1000]*11/10 {
		t.Errorf("the page grew with the history: %d bytes from 1,000 rows, %d from 5,000", sizes[1000], sizes[5000])
	}
}

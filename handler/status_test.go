package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// attack is a source error an attacker can steer: MariaDB quotes the
// missing table's name, which the page must show as text.
const attack = `<img src=x onerror=alert(1)>`

// statusJob is a job of two tables on the primary: orders (mode = merge)
// and customers (replace, read by customersQuery, or the plain one), n
// rows each.
func statusJob(a *app, n int, customersQuery string) {
	a.t.Helper()
	if customersQuery == "" {
		customersQuery = "SELECT id, name, note FROM customers"
	}
	for _, table := range []string{"orders", "customers"} {
		a.exec("CREATE TABLE IF NOT EXISTS "+table+" (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT NULL)",
			"DELETE FROM "+table,
			fmt.Sprintf("INSERT INTO %s SELECT seq, CONCAT('row ', seq), REPEAT('n', seq %% 20) FROM seq_1_to_%d", table, n))
	}
	a.extra = "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n" +
		"[table.orders]\nquery = SELECT id, name, note FROM orders\nmode = merge\nkey = id\n" +
		"[table.customers]\nquery = " + customersQuery + "\n"
	a.writeConfig()
}

// failingQuery makes the customers table's query fail with an error that
// carries the attack.
const failingQuery = "SELECT id, name, note FROM `" + attack + "`"

// statusOf invokes SyncStatus as the host does (GET, or the method given)
// and returns the host's status and the caller's answer.
func (h *hostedHandler) statusOf(t *testing.T, method, query, invocationID string) (int, httpOutput) {
	t.Helper()
	payload := string(fixture(t, "http-get-status.json"))
	payload = strings.Replace(payload, `"Method": "GET"`, `"Method": "`+method+`"`, 1)
	if query != "" {
		payload = strings.Replace(payload, `"Query": { "code": "made-up-function-key" }`, `"Query": { "code": "made-up-function-key", `+query+` }`, 1)
	}
	code, ctype, ir := h.invoke("SyncStatus", []byte(payload), invocationID)
	if ctype != "application/json" {
		t.Fatalf("SyncStatus answered the host with %q", ctype)
	}
	raw, _ := json.Marshal(ir.Outputs["res"])
	var out httpOutput
	if err := json.Unmarshal(raw, &out); err != nil || out.StatusCode == 0 {
		t.Fatalf("SyncStatus: Outputs.res missing or malformed: %s", raw)
	}
	return code, out
}

// checkPageHeaders: every answer of the status page is HTML with a CSP
// that lets nothing load or run but the page's own style sheet.
func checkPageHeaders(t *testing.T, out httpOutput) {
	t.Helper()
	if out.Headers["Content-Type"] != "text/html; charset=utf-8" {
		t.Errorf("status page Content-Type %q", out.Headers["Content-Type"])
	}
	csp := out.Headers["Content-Security-Policy"]
	if !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") || strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
		t.Errorf("status page CSP %q", csp)
	}
	if out.Headers["X-Content-Type-Options"] != "nosniff" {
		t.Errorf("status page headers %v", out.Headers)
	}
}

// TestHost_StatusPage: a job of two tables, run by the timer as the host
// does — twice well, then once failing with an error that quotes an
// attacker's markup. SyncStatus answers the page (and refuses a POST); a
// real browser renders it: the tables, their statuses, the error as text
// with no element, an SVG point per run with the failed one marked, no
// request but the page's own, a screenshot that is not blank. Each run
// logged one "run ended" line per table with the report's figures.
func TestHost_StatusPage(t *testing.T) {
	t.Parallel()
	br := newBrowser(t)
	a := newApp(t)
	statusJob(a, 40, "")
	h := startHandler(t, a)

	// Before any run: the page, and no history table made by asking.
	code, out := h.statusOf(t, "GET", "", "inv-status-empty")
	if code != 200 || out.StatusCode != 200 || strings.Count(out.Body, "no runs recorded yet") != 2 {
		t.Fatalf("status page before any run: host %d, res %d:\n%s", code, out.StatusCode, out.Body)
	}
	checkPageHeaders(t, out)
	if hasHistoryTable(t, a) {
		t.Fatalf("the status page created the history table")
	}

	var runIDs []string
	timer := func(inv string, wantCode int) {
		t.Helper()
		code, ir := h.timerRun("timer.json", inv)
		rep := ir.Outputs["report"].(map[string]any)
		if code != wantCode {
			t.Fatalf("timer run %s: %d %v", inv, code, rep)
		}
		runIDs = append(runIDs, rep["run_id"].(string))
	}
	timer("inv-s1", 200)
	a.exec("UPDATE orders SET name = 'renamed' WHERE id <= 3", "DELETE FROM orders WHERE id = 40", "INSERT INTO orders VALUES (41, 'new', NULL), (42, 'new', 'x')")
	timer("inv-s2", 200)
	statusJob(a, 40, failingQuery)
	timer("inv-s3", 500)

	// One "run ended" line per table and run, on stdout, each key once.
	for i, id := range runIDs {
		for _, table := range []string{"orders", "customers"} {
			line := findLine(t, h, `"msg":"run ended"`, `"run_id":"`+id+`"`, `"table":"`+table+`"`)
			fields := decodeLogLine(t, line)
			want := map[string]any{"status": "succeeded", "target": "azure", "trigger": "timer", "fallback": false, "source": "primary", "invocation_id": fmt.Sprintf("inv-s%d-queue", i+1)}
			if i == 2 {
				want["status"] = "failed"
			}
			for k, v := range want {
				if fields[k] != v {
					t.Errorf("run %d table %s: run ended line has %s = %v, want %v: %s", i+1, table, k, fields[k], v, line)
				}
			}
			for _, k := range []string{"mode", "rows", "inserted", "updated", "deleted", "unchanged", "duration_ms", "version"} {
				if _, ok := fields[k]; !ok {
					t.Errorf("run ended line lacks %s: %s", k, line)
				}
			}
			if i == 1 && table == "orders" && (fields["inserted"] != float64(2) || fields["updated"] != float64(3) || fields["deleted"] != float64(1) || fields["mode"] != "merge") {
				t.Errorf("merge run's line: %s", line)
			}
			if i == 2 && !strings.Contains(fmt.Sprint(fields["error"]), attack) {
				t.Errorf("failed run's line has no error: %s", line)
			}
		}
	}

	code, out = h.statusOf(t, "GET", "", "inv-status")
	if code != 200 || out.StatusCode != 200 {
		t.Fatalf("status page: host %d, res %d:\n%s", code, out.StatusCode, out.Body)
	}
	checkPageHeaders(t, out)
	if strings.Contains(out.Body, "<img") || strings.Contains(out.Body, "<script") {
		t.Errorf("the page holds markup from the error:\n%s", out.Body)
	}
	t.Logf("status page of 2 tables and 3 runs: %d bytes", len(out.Body))

	// A POST is refused, with the same kind of page.
	if code, post := h.statusOf(t, "POST", "", "inv-status-post"); code != 200 || post.StatusCode != 405 || post.Headers["Allow"] != "GET" || !strings.Contains(post.Body, "GET only") {
		t.Errorf("POST /api/status: host %d, res %d %v", code, post.StatusCode, post.Headers)
	}
	if _, bad := h.statusOf(t, "GET", `"table": "orders"`, "inv-status-bad"); bad.StatusCode != 400 || !strings.Contains(bad.Body, "unknown query parameter &#34;table&#34;") {
		t.Errorf("GET /api/status?table=: res %d\n%s", bad.StatusCode, bad.Body)
	}

	// The browser, as the host would serve it.
	url := br.serve("/api/status", servedPage{status: out.StatusCode, headers: out.Headers, body: out.Body})
	br.requests()
	dom := br.dom(url + "?code=made-up-function-key")
	if got := br.requests(); len(got) != 1 || !strings.HasPrefix(got[0], "GET ") || !strings.Contains(got[0], "/api/status?code=") {
		t.Errorf("the browser made these requests for the page: %q; want only the page itself", got)
	}
	if refs := externalRefs(dom); len(refs) > 0 {
		t.Errorf("the rendered page refers outside itself: %q", refs)
	}
	for _, table := range []string{"orders", "customers"} {
		sec := section(t, dom, table)
		if !strings.Contains(sec, "<h2>"+table+" ") {
			t.Errorf("section of %s has no heading:\n%s", table, sec)
		}
		if !regexp.MustCompile(`<span class="badge failed" data-status="failed">failed</span>`).MatchString(sec) {
			t.Errorf("section of %s does not show the last run failed:\n%s", table, sec)
		}
		if !strings.Contains(sec, "last success") || strings.Contains(sec, "none recorded") {
			t.Errorf("section of %s has no last success:\n%s", table, sec)
		}
		svg := regexp.MustCompile(`(?s)<svg class="chart".*?</svg>`).FindString(sec)
		points := regexp.MustCompile(`<(circle|rect) class="run (ok|failed|other)" data-status="(\w+)"`).FindAllStringSubmatch(svg, -1)
		var statuses []string
		for _, p := range points {
			statuses = append(statuses, p[1]+":"+p[3])
		}
		if fmt.Sprint(statuses) != "[circle:succeeded circle:succeeded rect:failed]" {
			t.Errorf("chart of %s has points %v; want two succeeded runs then the failed one marked, oldest first:\n%s", table, statuses, svg)
		}
		if !strings.Contains(svg, `<polyline class="line" points="`) {
			t.Errorf("chart of %s has no duration line", table)
		}
	}
	if !strings.Contains(dom, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the error text is not shown as text:\n%s", dom)
	}
	if strings.Contains(dom, "<img") {
		t.Errorf("the rendered page has an img element:\n%s", dom)
	}
	if n := strings.Count(dom, `<tr class="failure">`); n != 2 {
		t.Errorf("%d recent failures listed; want the failed run's two tables", n)
	}

	// The screenshot: not blank, and in colour where a run failed (the
	// style sheet the CSP allows by its hash was applied).
	shot := br.screenshot(url, 1000, 1300)
	colours, inked, red, bounds := pngStats(t, shot)
	t.Logf("screenshot %v: %d colours, %.1f%% inked, %d failure-red pixels, %d bytes", bounds.Size(), colours, 100*inked, red, len(shot))
	if colours < 16 || inked < 0.03 || red < 50 {
		t.Errorf("screenshot looks blank or unstyled: %d colours, %.1f%% inked, %d red pixels", colours, 100*inked, red)
	}
	if path := os.Getenv("DBSYNC_WRITE_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The check of requests can fail: a page with outside resources and
	// no CSP makes the browser ask for them, through the proxy.
	control := br.serve("/control", servedPage{status: 200, headers: map[string]string{"Content-Type": "text/html"},
		body: `<!DOCTYPE html><html><head><link rel="stylesheet" href="http://fonts.invalid/f.css"></head><body><img src="http://images.invalid/x.png"></body></html>`})
	br.requests()
	cdom := br.dom(control)
	got := strings.Join(br.requests(), "\n")
	if !strings.Contains(got, "images.invalid/x.png") || !strings.Contains(got, "fonts.invalid/f.css") || len(externalRefs(cdom)) != 2 {
		t.Errorf("the control page's outside requests went unseen: %q, refs %q", got, externalRefs(cdom))
	}
}

// section is the rendered section of one table.
func section(t *testing.T, dom, table string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section class="tbl" id="table-` + regexp.QuoteMeta(table) + `" data-table="` + regexp.QuoteMeta(table) + `">.*?</section>`).FindString(dom)
	if m == "" {
		t.Fatalf("no section for table %s in the rendered page:\n%s", table, dom)
	}
	return m
}

// findLine waits for a stdout line of the handler holding every sub-string.
func findLine(t *testing.T, h *hostedHandler, subs ...string) string {
	t.Helper()
	if !h.hasLine(false, subs...) {
		t.Fatalf("no stdout line with %q", subs)
	}
	for _, l := range h.lines(false) {
		if containsLine([]string{l}, subs...) {
			return l
		}
	}
	return ""
}

// decodeLogLine reads a JSON log line, failing on a key given twice.
func decodeLogLine(t *testing.T, line string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log line is not a JSON object: %s", line)
	}
	out := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		key := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		if _, dup := out[key]; dup {
			t.Errorf("log line gives %q twice: %s", key, line)
		}
		out[key] = v
	}
	return out
}

// hasHistoryTable says whether the azure target has dbsync_runs.
func hasHistoryTable(t *testing.T, a *app) bool {
	t.Helper()
	var n int
	if err := a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'dbsync_runs'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// groupsJob is a job of two tables read from items: a in the default group
// and b in group g1. slow makes each read take a while (2 ms a row).
func groupsJob(a *app, slow bool) {
	a.t.Helper()
	q := "SELECT * FROM items"
	if slow {
		q += " WHERE SLEEP(0.002) = 0"
	}
	a.extra = "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n" +
		"[table.a]\nquery = " + q + "\n" +
		"[table.b]\nquery = " + q + "\ngroup = g1\n"
	a.writeConfig()
}

// tableRuns is the target's history as "table status ×n", sorted: how many
// times each table was loaded, and how each load ended.
func (a *app) tableRuns() string {
	a.t.Helper()
	return a.tableRunsIn(a.dst)
}

// tableRunsIn is tableRuns of the history in db (the SQLite replica's).
func (a *app) tableRunsIn(db *sql.DB) string {
	a.t.Helper()
	rows, err := db.Query("SELECT `table`, status, COUNT(*) FROM dbsync_runs GROUP BY `table`, status")
	if err != nil {
		return "" // no history table: no runs
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var table, status string
		var n int
		if err := rows.Scan(&table, &status, &n); err != nil {
			a.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s ×%d", table, status, n))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// groupOf reads a queued message's group.
func groupOf(t *testing.T, m queued) string {
	t.Helper()
	qm, err := parseQueueMessage(m.text)
	if err != nil {
		t.Fatalf("message %s: %v", m.text, err)
	}
	return qm.Group
}

// TestHost_TimerGroupsMixed (#18 item 10): a job mixing a default-group
// table and a named group's. The timer queues one message per group, the
// default one named "default"; delivered at once, as two instances would,
// each table is loaded exactly once and no group is busy. A POST without a
// group does the same and answers every run_id.
func TestHost_TimerGroupsMixed(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 300)
	groupsJob(a, true)
	h := startHandler(t, a)
	code, raw := h.invokeRaw("SyncTimer", fixture(t, "timer.json"), "inv-mixed")
	msgs := queueFrom(t, code, raw)
	if code != 200 || len(msgs) != 2 {
		t.Fatalf("timer: host got %d and %d messages, want 2 (one per group): %s", code, len(msgs), raw)
	}
	if g0, g1 := groupOf(t, msgs[0]), groupOf(t, msgs[1]); g0 != "default" || g1 != "g1" {
		t.Fatalf("groups of the timer's messages: %q, %q; want default, g1", g0, g1)
	}
	var wg sync.WaitGroup
	answers := make([]invocationResponse, len(msgs))
	codes := make([]int, len(msgs))
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], answers[i] = h.deliver(m, 1, fmt.Sprint("inv-mixed-queue-", i))
		}()
	}
	wg.Wait()
	for i := range msgs {
		if codes[i] != 200 || !strings.HasPrefix(lastLine(strings.Join(answers[i].Logs, "\n")), "succeeded") {
			t.Errorf("group %s: host got %d, Logs %q", groupOf(t, msgs[i]), codes[i], answers[i].Logs)
		}
	}
	if got, want := a.tableRuns(), "a succeeded ×1, b succeeded ×1"; got != want {
		t.Errorf("history after one tick: %s; want %s (each table loaded once)", got, want)
	}
	if a.count(a.dst, "a") != 300 || a.count(a.dst, "b") != 300 {
		t.Errorf("a has %d rows, b %d; want 300 each", a.count(a.dst, "a"), a.count(a.dst, "b"))
	}

	// A manual run without a group: one message per group too.
	status, body, res, posted := h.post(postBody(t), "inv-mixed-post")
	ids, _ := body["run_ids"].([]any)
	if status != 202 || len(posted) != 2 || len(ids) != 2 || body["run_id"] != ids[0] {
		t.Fatalf("POST without a group: %d %v, %d messages; want 202 with run_ids of 2 runs", status, body, len(posted))
	}
	if !strings.Contains(res.Headers["Location"], "run_id="+fmt.Sprint(ids[0])) {
		t.Errorf("Location %q does not follow the first run %v", res.Headers["Location"], ids[0])
	}
	for i, m := range posted {
		if g := groupOf(t, m); g != []string{"default", "g1"}[i] {
			t.Errorf("POST message %d has group %q", i, g)
		}
		if code, ir := h.deliver(m, 1, fmt.Sprint("inv-mixed-post-queue-", i)); code != 200 {
			t.Errorf("POST run %d: host got %d, Logs %q", i, code, ir.Logs)
		}
		if st, got, _ := h.runStatus(fmt.Sprint(ids[i]), "", fmt.Sprint("inv-mixed-get-", i)); st != 200 || got["status"] != "succeeded" {
			t.Errorf("GET of run %v: %d %v", ids[i], st, got)
		}
	}
	if got, want := a.tableRuns(), "a succeeded ×2, b succeeded ×2"; got != want {
		t.Errorf("history after the POST: %s; want %s", got, want)
	}

	// A message an older version queued, with no group: the default
	// group's run, never every table.
	if code, ir := h.deliver(queued{text: `{"run_id":"older-1","trigger":"timer"}`, id: "m-older"}, 1, "inv-mixed-older"); code != 200 {
		t.Errorf("message without a group: host got %d, Logs %q", code, ir.Logs)
	}
	if got, want := a.tableRuns(), "a succeeded ×3, b succeeded ×2"; got != want {
		t.Errorf("history after a message without a group: %s; want %s", got, want)
	}
}

// waitRunning waits until the history in db records run id as running.
func (a *app) waitRunning(db *sql.DB, id string) {
	a.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM dbsync_runs WHERE run_id = ? AND status = 'running'", id).Scan(&n); err == nil && n > 0 {
			return
		}
	}
	a.t.Fatalf("run %s never started", id)
}

// TestHost_DoubleDelivery (#18 item 11): two deliveries of one message at
// once (its visibility timeout ran out while it ran, so the host delivers
// it again, to this instance or another). The message runs once: one run
// succeeds, the other delivery is acknowledged without a run of its own,
// and no run is recorded busy on its own lock or fails on the history.
func TestHost_DoubleDelivery(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			a.seed(a.src, 400)
			a.extra = "[sync]\ndefault_target = " + target + "\n[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
			a.writeConfig()
			h1, h2 := startHandler(t, a), startHandler(t, a)
			cases := []struct {
				name   string
				second *hostedHandler
				// running: the second delivery comes once the first run
				// is under way; else both come at once.
				running bool
			}{
				{"same instance, while it runs", h1, true},
				{"another instance, while it runs", h2, true},
				{"same instance, at once", h1, false},
				{"another instance, at once", h2, false},
			}
			var dst *sql.DB
			for i, tc := range cases {
				a.exec(fmt.Sprintf("DELETE FROM items WHERE id > %d", 400-10*(i+1)))
				_, body, _, msgs := h1.post(postBody(t), fmt.Sprint("inv-dd-post-", i))
				runID := body["run_id"].(string)
				if dst == nil {
					dst = replica(t, a, target) // the SQLite file exists once a run is queued
				}
				var wg sync.WaitGroup
				var code1, code2 int
				var ir1, ir2 invocationResponse
				wg.Add(2)
				go func() {
					defer wg.Done()
					code1, ir1 = h1.deliver(msgs[0], 1, fmt.Sprint("inv-dd-1-", i))
				}()
				go func() {
					defer wg.Done()
					if tc.running {
						a.waitRunning(dst, runID)
					}
					code2, ir2 = tc.second.deliver(msgs[0], 2, fmt.Sprint("inv-dd-2-", i))
				}()
				wg.Wait()
				logs1, logs2 := strings.Join(ir1.Logs, " | "), strings.Join(ir2.Logs, " | ")
				ran := strings.Contains(logs1, "succeeded:") != strings.Contains(logs2, "succeeded:")
				acked := strings.Contains(logs1+logs2, "acknowledged without running")
				if code1 != 200 || code2 != 200 || !ran || !acked || strings.Contains(logs1+logs2, "did not finish") {
					t.Errorf("%s: deliveries answered %d %q and %d %q; want one run that succeeded and one acknowledged", tc.name, code1, ir1.Logs, code2, ir2.Logs)
				}
				if got, want := a.tableRunsIn(dst), fmt.Sprintf("items succeeded ×%d", i+1); got != want {
					t.Errorf("%s: history %s; want %s (one run per message, none busy, none failed)", tc.name, got, want)
				}
				st, got, _ := h2.runStatus(runID, "", fmt.Sprint("inv-dd-get-", i))
				if st != 200 || got["status"] != "succeeded" || got["reruns"] != nil {
					t.Errorf("%s: GET of the run: %d %v", tc.name, st, got)
				}
				if n, want := a.count(dst, "items"), int64(400-10*(i+1)); n != want {
					t.Errorf("%s: target has %d rows, want %d", tc.name, n, want)
				}
			}
		})
	}
}

// TestHost_LocationFollowed (#18 items 12, 13): the Location a POST for the
// non-default target answers is followed as given and returns that run,
// queued and then succeeded; the queued run's report, history row and
// answer are built like any other run's (snapshot, version, tables).
func TestHost_LocationFollowed(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 12)
	h := startHandler(t, a)
	status, body, out, msgs := h.post(fixture(t, "http-post-sqlite.json"), "inv-loc-post")
	loc := out.Headers["Location"]
	if status != 202 || loc == "" || len(msgs) != 1 {
		t.Fatalf("POST ?target=sqlite: %d %v %v", status, body, out.Headers)
	}
	// GET of the Location exactly as given, as a client follows it.
	follow := func(inv string) (int, map[string]any) {
		t.Helper()
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("Location %q: %v", loc, err)
		}
		query := map[string]string{}
		for k, v := range u.Query() {
			query[k] = v[0]
		}
		q, _ := json.Marshal(query)
		payload := strings.Replace(string(fixture(t, "http-get-history.json")), `"Query": {}`, `"Query": `+string(q), 1)
		payload = strings.Replace(payload, `"Url": "http://localhost:7071/api/sync"`, `"Url": "http://localhost:7071`+loc+`"`, 1)
		_, _, ir := h.invoke("SyncHttp", []byte(payload), inv)
		return res(t, ir)
	}
	st, got := follow("inv-loc-get-1")
	if st != 200 || got["run_id"] != body["run_id"] || got["status"] != "queued" || got["target"] != "sqlite" {
		t.Fatalf("GET %s while queued: %d %v", loc, st, got)
	}
	if got["snapshot"] != "single" || got["version"] == "" {
		t.Errorf("queued run's report: snapshot %v, version %v; want single and the build's version", got["snapshot"], got["version"])
	}
	code, ir := h.deliver(msgs[0], 1, "inv-loc-queue")
	rep, _ := ir.Outputs["report"].(map[string]any)
	if code != 200 || rep["status"] != "succeeded" || rep["snapshot"] != "single" || rep["version"] == "" {
		t.Fatalf("queued run: %d %v", code, rep)
	}
	st, got = follow("inv-loc-get-2")
	if st != 200 || got["status"] != "succeeded" || got["rows"] != float64(12) || got["snapshot"] != "single" {
		t.Errorf("GET %s after the run: %d %v", loc, st, got)
	}
	if n := sqliteCountT(t, a.dir+"/replica.db"); n != 12 {
		t.Errorf("sqlite target has %d rows", n)
	}
}

// TestHost_SmallMessages (#18 item 16): no message names an empty table
// or list, and queue message keys are case-sensitive like the HTTP ones.
func TestHost_SmallMessages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 5)
	groupsJob(a, false)
	h := startHandler(t, a)
	st, got, _ := h.runStatus("20260101T000000Z-0000000000000000", "", "inv-small-get")
	if msg := fmt.Sprint(got["error"]); st != 404 || !strings.Contains(msg, "azure tables a, b") || strings.Contains(msg, "table  ") {
		t.Errorf("GET of an unknown run in a two-table job: %d %q; want 404 naming tables a, b", st, msg)
	}
	// A message delivered a fourth time whose runs never reached the
	// history (each killed before it started).
	code, ir := h.deliver(queued{text: `{"run_id":"r-4","group":"g1"}`, id: "m-4"}, 4, "inv-small-4")
	if logs := strings.Join(ir.Logs, " "); code != 500 || strings.Contains(logs, "()") || !strings.Contains(logs, "none of them recorded an outcome") {
		t.Errorf("fourth delivery with no runs recorded: %d %q", code, ir.Logs)
	}
	// Dry_Run is not dry_run: refused, nothing run.
	code, ir = h.deliver(queued{text: `{"run_id":"r-5","group":"g1","Dry_Run":true}`, id: "m-5"}, 1, "inv-small-5")
	if logs := strings.Join(ir.Logs, " "); code != 500 || !strings.Contains(logs, `unknown field "Dry_Run"`) {
		t.Errorf("message with Dry_Run: %d %q; want 500 naming Dry_Run", code, ir.Logs)
	}
	if got := a.tableRuns(); got != "" {
		t.Errorf("refused messages recorded runs: %s", got)
	}
}

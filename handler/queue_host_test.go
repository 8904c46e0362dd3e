package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// runsRecorded counts the target's history rows, by status.
func (a *app) runsRecorded() map[string]int {
	a.t.Helper()
	out := map[string]int{}
	rows, err := a.dst.Query("SELECT status, COUNT(*) FROM dbsync_runs GROUP BY status")
	if err != nil {
		return out // no history table: no runs
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			a.t.Fatal(err)
		}
		out[st] = n
	}
	return out
}

// waitLockFree waits until no session holds the target table's run lock:
// after a SIGKILL the server frees it when it sees the connection gone,
// well before the host delivers the message again (its visibility timeout).
func (a *app) waitLockFree() {
	a.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var free int
		if err := a.dst.QueryRow("SELECT IS_FREE_LOCK(CONCAT('dbsync:', DATABASE(), '.items'))").Scan(&free); err == nil && free == 1 {
			return
		}
	}
	a.t.Fatal("the run lock of the killed handler was never freed")
}

// TestHost_QueuedManualRun: POST answers 202 at once with the run_id, a
// Location and Retry-After, and queues one message; GET ?run_id= follows
// the run through queued → running → succeeded, and another through
// queued → failed. A failed run answers the host 500 (Monitor: Failed);
// the redelivery that follows, and that of a succeeded run, is
// acknowledged without running again.
func TestHost_QueuedManualRun(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 1500)
	a.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
	a.writeConfig()
	h := startHandler(t, a)

	status, body, res, msgs := h.post(postBody(t), "inv-post")
	runID, _ := body["run_id"].(string)
	if status != 202 || body["status"] != "queued" || runID == "" {
		t.Fatalf("POST: %d %v, want 202 queued with a run_id", status, body)
	}
	if res.Headers["Location"] != "/api/sync?run_id="+runID+"&target=azure" || res.Headers["Retry-After"] != "10" {
		t.Errorf("POST headers %v", res.Headers)
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0].text, `"run_id": "`+runID+`"`) || !strings.Contains(msgs[0].text, `"trigger": "http"`) {
		t.Fatalf("queued messages %+v", msgs)
	}
	var tables int
	_ = a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items'").Scan(&tables)
	if tables != 0 {
		t.Fatalf("POST ran a sync before its message was delivered")
	}
	st, got, out := h.runStatus(runID, "", "inv-get-1")
	if st != 200 || got["status"] != "queued" || got["trigger"] != "http" || out.Headers["Retry-After"] != "10" {
		t.Errorf("GET while queued: %d %v %v", st, got, out.Headers)
	}

	var wg sync.WaitGroup
	var code int
	var ir invocationResponse
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, ir = h.deliver(msgs[0], 1, "inv-queue-1")
	}()
	waitLoading(t, a, "azure")
	if st, got, _ := h.runStatus(runID, "", "inv-get-2"); st != 200 || got["status"] != "running" {
		t.Errorf("GET while loading: %d %v", st, got)
	}
	wg.Wait()
	if code != 200 || len(ir.Logs) == 0 || !strings.HasPrefix(ir.Logs[len(ir.Logs)-1], "succeeded: 1500 rows") {
		t.Fatalf("delivery: host got %d, Logs %q", code, ir.Logs)
	}
	st, got, out = h.runStatus(runID, "", "inv-get-3")
	if st != 200 || got["status"] != "succeeded" || got["rows"] != float64(1500) || got["run_id"] != runID || out.Headers["Retry-After"] != "" {
		t.Errorf("GET after the run: %d %v %v", st, got, out.Headers)
	}
	if n := a.count(a.dst, "items"); n != 1500 {
		t.Fatalf("target has %d rows", n)
	}
	if !h.hasLine(false, "inv-queue-1", `"msg":"run ended: succeeded"`, runID) {
		t.Errorf("no run line with the queue invocation's id on stdout")
	}
	// The same message again (DequeueCount 2): acknowledged, not run.
	code, ir = h.deliver(msgs[0], 2, "inv-queue-again")
	if code != 200 || !strings.Contains(strings.Join(ir.Logs, " "), "already ended: succeeded") {
		t.Errorf("redelivery of a succeeded run: %d %q", code, ir.Logs)
	}

	// A run that fails: 500 to the host, failed in history, target kept.
	a.extra = "[source]\nquery = SELECT * FROM no_such_table\n"
	a.writeConfig()
	_, body, _, msgs = h.post(postBody(t), "inv-post-2")
	failedID := body["run_id"].(string)
	code, ir = h.deliver(msgs[0], 1, "inv-queue-2")
	if code != 500 || !strings.Contains(strings.Join(ir.Logs, " "), "no_such_table") {
		t.Fatalf("failed run: host got %d, Logs %q; want 500 with the error", code, ir.Logs)
	}
	if !h.hasLine(true, "inv-queue-2", `"level":"ERROR"`, "queued sync failed", "no_such_table") {
		t.Errorf("no error line on stderr for the failed run")
	}
	if st, got, _ := h.runStatus(failedID, "", "inv-get-4"); st != 200 || got["status"] != "failed" || !strings.Contains(fmt.Sprint(got["error"]), "no_such_table") {
		t.Errorf("GET of the failed run: %d %v", st, got)
	}
	// The host delivers it again after the 500: acknowledged, no blind
	// retry of the failed sync.
	before := a.runsRecorded()
	code, ir = h.deliver(msgs[0], 2, "inv-queue-2-again")
	if code != 200 || !strings.Contains(strings.Join(ir.Logs, " "), "already ended: failed") {
		t.Errorf("redelivery of a failed run: %d %q", code, ir.Logs)
	}
	if after := a.runsRecorded(); fmt.Sprint(after) != fmt.Sprint(before) || after["succeeded"] != 1 || after["failed"] != 1 {
		t.Errorf("runs recorded %v, then %v; want one succeeded and one failed, nothing more", before, after)
	}
	if n := a.count(a.dst, "items"); n != 1500 {
		t.Fatalf("the failed run changed the target: %d rows", n)
	}
	if st, got, _ := h.runStatus("20260101T000000Z-0000000000000000", "", "inv-get-5"); st != 404 || !strings.Contains(fmt.Sprint(got["error"]), "no run 20260101T000000Z-0000000000000000") {
		t.Errorf("GET of an unknown run: %d %v", st, got)
	}
}

// TestHost_QueuedRunKilled: the handler is SIGKILLed in the middle of a
// queued run. The target keeps its data; the host delivers the message
// again (DequeueCount 2) to a new handler, which runs it anew under a new
// run_id naming the old one; the old run is abandoned in history and GET
// ?run_id= of it names the rerun. A further delivery does not run again.
func TestHost_QueuedRunKilled(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 2000)
	h := startHandler(t, a)
	if code, ir := h.timerRun("timer.json", "inv-k1"); code != 200 {
		t.Fatalf("first run: %d %q", code, ir.Logs)
	}
	a.exec("DELETE FROM items WHERE id > 1000")
	a.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
	a.writeConfig()
	_, body, _, msgs := h.post(postBody(t), "inv-k-post")
	runID := body["run_id"].(string)
	payload := hostQueuePayload(t, msgs[0].text, 1, msgs[0].id)
	go func() {
		client := &http.Client{Timeout: time.Minute}
		_, _ = client.Post(h.url+"/SyncQueue", "application/json", bytes.NewReader(payload))
	}()
	waitLoading(t, a, "azure")
	h.kill()
	if n := a.count(a.dst, "items"); n != 2000 {
		t.Fatalf("after SIGKILL the target has %d rows, want the previous 2000", n)
	}

	a.extra = ""
	a.writeConfig()
	a.waitLockFree()
	h2 := startHandler(t, a)
	code, ir := h2.deliver(msgs[0], 2, "inv-k-queue-2")
	rep, _ := ir.Outputs["report"].(map[string]any)
	rerun := runID + "-r2"
	if code != 200 || rep["run_id"] != rerun || rep["status"] != "succeeded" || a.count(a.dst, "items") != 1000 {
		t.Fatalf("redelivery: %d %v %q, %d rows; want run %s to succeed with 1000", code, rep, ir.Logs, a.count(a.dst, "items"), rerun)
	}
	if logs := strings.Join(ir.Logs, "\n"); !strings.Contains(logs, "run "+runID+" did not finish") || !strings.Contains(logs, "runs anew as "+rerun) {
		t.Errorf("Logs do not link the rerun to the killed run: %q", ir.Logs)
	}
	st, got, _ := h2.runStatus(runID, "", "inv-k-get")
	if st != 200 || got["status"] != "abandoned" || fmt.Sprint(got["reruns"]) != fmt.Sprint([]any{rerun}) {
		t.Errorf("GET of the killed run: %d %v; want abandoned, reruns [%s]", st, got, rerun)
	}
	if runs := a.runsRecorded(); runs["succeeded"] != 2 || runs["abandoned"] != 1 || len(runs) != 2 {
		t.Errorf("runs recorded %v; want the timer run and the rerun succeeded, the killed run abandoned", runs)
	}
	code, ir = h2.deliver(msgs[0], 3, "inv-k-queue-3")
	if code != 200 || !strings.Contains(strings.Join(ir.Logs, " "), "run "+rerun+" already ended: succeeded") {
		t.Errorf("third delivery: %d %q; want it acknowledged without a run", code, ir.Logs)
	}
}

// TestHost_QueueDequeueCount: a message makes at most three runs. A
// delivery with DequeueCount 4 whose earlier runs never ended runs nothing
// and is refused (the host moves it to the poison queue), saying why.
func TestHost_QueueDequeueCount(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 5)
	a.seed(a.dst, 2)
	h := startHandler(t, a)
	_, body, _, msgs := h.post(postBody(t), "inv-d-post")
	runID := body["run_id"].(string)
	// Its first delivery's run was killed, and so were the reruns of the
	// second and third: each left its row running.
	if _, err := a.dst.Exec("UPDATE dbsync_runs SET status = 'running' WHERE run_id = ?", runID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{runID + "-r2", runID + "-r3"} {
		if _, err := a.dst.Exec("INSERT INTO dbsync_runs (run_id, `trigger`, status, target, `table`, started_at) VALUES (?, 'http', 'running', 'azure', 'items', UTC_TIMESTAMP(6))", id); err != nil {
			t.Fatal(err)
		}
	}
	code, ir := h.deliver(msgs[0], 4, "inv-d-4")
	logs := strings.Join(ir.Logs, " ")
	if code != 500 || !strings.Contains(logs, "delivered 4 times") || !strings.Contains(logs, "at most 3 runs") || !strings.Contains(logs, runID+"-r3") {
		t.Fatalf("fourth delivery: %d %q; want 500 refusing it", code, ir.Logs)
	}
	if n := a.count(a.dst, "items"); n != 2 {
		t.Errorf("the refused delivery ran a sync: %d rows", n)
	}
	if runs := a.runsRecorded(); runs["running"] != 3 || len(runs) != 1 {
		t.Errorf("runs recorded %v; want the three unfinished ones only", runs)
	}
	if !h.hasLine(true, "inv-d-4", `"level":"ERROR"`, "queue message refused") {
		t.Errorf("no error line for the refused delivery")
	}
}

// TestHost_TimerQueues: the timer runs no sync: it answers 200 with one
// message (one per group; the job has one) on the msg binding, as a JSON
// array like the host's own example, and SyncQueue runs it.
func TestHost_TimerQueues(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 7)
	h := startHandler(t, a)
	code, raw := h.invokeRaw("SyncTimer", fixture(t, "timer-past-due-first-run.json"), "inv-t")
	var answer struct {
		Outputs map[string][]map[string]any `json:"Outputs"`
		Logs    []string                    `json:"Logs"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil || code != 200 {
		t.Fatalf("timer: %d %s (%v)", code, raw, err)
	}
	var shape struct {
		Outputs map[string][]map[string]any `json:"Outputs"`
	}
	if err := json.Unmarshal(fixture(t, "queue-output-timer-3.json"), &shape); err != nil {
		t.Fatal(err)
	}
	msgs := answer.Outputs["msg"]
	if len(answer.Outputs) != 1 || len(msgs) != 1 || len(shape.Outputs["msg"]) != 3 {
		t.Fatalf("timer Outputs %s; want msg as an array of one message", raw)
	}
	runID, _ := msgs[0]["run_id"].(string)
	if msgs[0]["trigger"] != "timer" || !validRunID(runID) || len(answer.Logs) != 1 || !strings.Contains(answer.Logs[0], runID) {
		t.Errorf("timer message %v, Logs %q", msgs[0], answer.Logs)
	}
	if !h.hasLine(true, "inv-t", "past due", runID) {
		t.Errorf("no past-due warning naming the queued run")
	}
	if runs := a.runsRecorded(); len(runs) != 0 {
		t.Fatalf("the timer ran a sync itself: %v", runs)
	}
	queuedMsgs := queueFrom(t, code, raw)
	code, ir := h.deliver(queuedMsgs[0], 1, "inv-t-queue")
	if rep := ir.Outputs["report"].(map[string]any); code != 200 || rep["run_id"] != runID || rep["trigger"] != "timer" || a.count(a.dst, "items") != 7 {
		t.Fatalf("queued timer run: %d %v", code, rep)
	}
}

// TestHost_PoisonMessages: a message that is not a run, has an unknown key
// or names an unknown group or target is refused with a clear error (500,
// so the host moves it to the poison queue after its retries) and never
// runs a sync or touches the target.
func TestHost_PoisonMessages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 5)
	a.seed(a.dst, 2)
	h := startHandler(t, a)
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"not JSON", fixture(t, "queue-trigger-not-json.json"), `"sync please" is not a run`},
		{"unknown key", fixture(t, "queue-trigger-unknown-key.json"), `unknown field "table"`},
		{"unknown group", fixture(t, "queue-trigger-unknown-group.json"), `group = "g7" (from run option): is not a group of this job`},
		{"unknown target", hostQueuePayload(t, `{"run_id":"r-1","target":"postgres"}`, 1, "m-1"), `target "postgres"`},
		{"array", hostQueuePayload(t, `[{"run_id":"r-1"}]`, 1, "m-2"), "is not a run"},
	}
	for i, tc := range cases {
		inv := fmt.Sprint("inv-poison-", i)
		code, _, ir := h.invoke("SyncQueue", tc.payload, inv)
		if code != 500 || len(ir.Logs) != 1 || !strings.Contains(ir.Logs[0], tc.want) {
			t.Errorf("%s: host got %d, Logs %q; want 500 saying %q", tc.name, code, ir.Logs, tc.want)
		}
		if !h.hasLine(true, inv, `"level":"ERROR"`, "no sync was run") {
			t.Errorf("%s: no error line with the invocation id", tc.name)
		}
	}
	if n := a.count(a.dst, "items"); n != 2 {
		t.Errorf("a refused message changed the target: %d rows", n)
	}
	if runs := a.runsRecorded(); len(runs) != 0 {
		t.Errorf("a refused message recorded runs: %v", runs)
	}
	if _, err := os.Stat(filepath.Join(a.dir, "replica.db")); err == nil {
		t.Errorf("a refused message created the SQLite target")
	}
}

// TestHost_TimerGroups (#13 fan-out): a job split into three groups makes
// the timer queue three messages, one per group, and a delivery runs its
// group's tables only — each group is its own snapshot and swap, so the
// groups run in parallel on as many instances as the platform gives.
func TestHost_TimerGroups(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 7)
	text := strings.NewReplacer("query = SELECT * FROM items\n", "", "table = items\n", "").Replace(a.configText())
	for _, g := range []string{"g1", "g2", "g3"} {
		text += fmt.Sprintf("\n[table.items_%s]\nquery = SELECT * FROM items\ngroup = %s\n", g, g)
	}
	a.writeRaw(text)
	h := startHandler(t, a)
	code, raw := h.invokeRaw("SyncTimer", fixture(t, "timer.json"), "inv-groups")
	msgs := queueFrom(t, code, raw)
	if code != 200 || len(msgs) != 3 {
		t.Fatalf("timer: host got %d and %d messages, want 3 (one per group): %s", code, len(msgs), raw)
	}
	var groups []string
	var g2 queued
	for _, m := range msgs {
		qm, err := parseQueueMessage(m.text)
		if err != nil {
			t.Fatalf("message %s: %v", m.text, err)
		}
		groups = append(groups, qm.Group)
		if qm.Group == "g2" {
			g2 = m
		}
	}
	if strings.Join(groups, ",") != "g1,g2,g3" {
		t.Fatalf("groups of the timer's messages: %v, want g1,g2,g3", groups)
	}
	if code, ir := h.deliver(g2, 1, "inv-groups-g2"); code != 200 {
		t.Fatalf("group g2's run: host got %d, Logs %q", code, ir.Logs)
	}
	if n := a.count(a.dst, "items_g2"); n != 7 {
		t.Errorf("items_g2 has %d rows after its group ran, want 7", n)
	}
	exists := func(table string) bool {
		var n int
		if err := a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !exists("items_g2") || exists("items_g1") || exists("items_g3") {
		t.Errorf("after group g2's run: items_g1 %v, items_g2 %v, items_g3 %v; want only items_g2", exists("items_g1"), exists("items_g2"), exists("items_g3"))
	}
}

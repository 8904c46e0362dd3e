package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hostedHandler is the binary started the way the Functions host starts it:
// working directory = the app root, app settings as environment,
// FUNCTIONS_CUSTOMHANDLER_PORT on a free port.
type hostedHandler struct {
	t       *testing.T
	url     string
	cmd     *exec.Cmd
	mu      sync.Mutex
	stdout  []string
	stderr  []string
	readyIn time.Duration
	exited  chan struct{}
}

func startHandler(t *testing.T, a *app, env ...string) *hostedHandler {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	h := &hostedHandler{t: t, url: "http://127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	h.cmd = exec.Command(binary)
	h.cmd.Dir = a.dir
	h.cmd.Env = append(cleanEnv(), append([]string{"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port), "FUNCTIONS_WORKER_RUNTIME=custom"}, env...)...)
	out, _ := h.cmd.StdoutPipe()
	errOut, _ := h.cmd.StderrPipe()
	start := time.Now()
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	collect := func(r io.Reader, dst *[]string) {
		defer wg.Done()
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			h.mu.Lock()
			*dst = append(*dst, s.Text())
			h.mu.Unlock()
		}
	}
	go collect(out, &h.stdout)
	go collect(errOut, &h.stderr)
	go func() { wg.Wait(); _ = h.cmd.Wait(); close(h.exited) }()
	t.Cleanup(h.kill)
	// Poll GET / every 25 ms, as the host does.
	for deadline := start.Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		resp, err := http.Get(h.url + "/")
		if err == nil {
			resp.Body.Close()
			h.readyIn = time.Since(start)
			t.Logf("handler answered GET / after %v", h.readyIn)
			return h
		}
	}
	h.kill()
	t.Fatalf("handler did not answer GET / within 10 s; stderr:\n%s", strings.Join(h.stderr, "\n"))
	return nil
}

// kill is what the host does: SIGKILL, no clean shutdown.
func (h *hostedHandler) kill() {
	if h.cmd.Process != nil {
		_ = h.cmd.Process.Signal(syscall.SIGKILL)
		<-h.exited
	}
}

func (h *hostedHandler) lines(stderr bool) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if stderr {
		return append([]string(nil), h.stderr...)
	}
	return append([]string(nil), h.stdout...)
}

// invoke POSTs a payload to /<function> with the host's headers.
func (h *hostedHandler) invoke(function string, payload []byte, invocationID string) (int, string, invocationResponse) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/"+function, bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", invocationID)
	req.Header.Set("X-Azure-Functions-HostVersion", "4.1040.300.0")
	req.Header.Set("User-Agent", "Azure-Functions-Host/4.1040.300.0")
	client := &http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatalf("invoke %s: %v", function, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var ir invocationResponse
	if err := json.Unmarshal(body, &ir); err != nil {
		h.t.Fatalf("invoke %s: answer is not JSON (%v): %s", function, err, body)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), ir
}

// res decodes Outputs.res of an HTTP invocation and its JSON body.
func res(t *testing.T, ir invocationResponse) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(ir.Outputs["res"])
	var out httpOutput
	if err := json.Unmarshal(raw, &out); err != nil || out.StatusCode == 0 {
		t.Fatalf("Outputs.res missing or malformed: %s", raw)
	}
	if out.Headers["Content-Type"] != "application/json" {
		t.Errorf("res Content-Type %q", out.Headers["Content-Type"])
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(out.Body), &body); err != nil {
		t.Fatalf("res body is not JSON: %q", out.Body)
	}
	return out.StatusCode, body
}

// TestHost_Triggers drives the real binary with the host's payloads
// against real servers: timer runs, manual runs, history.
func TestHost_Triggers(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 25)
	// The target password arrives as an app setting, as in Azure.
	a.extra = "[azure_mysql]\npassword =\n"
	a.writeConfig()
	h := startHandler(t, a, "DBSYNC_AZURE_MYSQL_PASSWORD="+azure.Password)
	if h.readyIn > 2*time.Second {
		t.Errorf("handler took %v to answer GET /", h.readyIn)
	}

	code, ir := h.timerRun("timer.json", "inv-timer-1")
	if code != 200 {
		t.Fatalf("timer: %d %+v", code, ir)
	}
	if len(ir.Logs) != 1 || !strings.HasPrefix(ir.Logs[0], "succeeded: 25 rows from primary into azure table items") {
		t.Errorf("timer Logs %q", ir.Logs)
	}
	report := ir.Outputs["report"].(map[string]any)
	if report["trigger"] != "timer" || report["status"] != "succeeded" {
		t.Errorf("timer report %v", report)
	}
	if n := a.count(a.dst, "items"); n != 25 {
		t.Fatalf("target has %d rows", n)
	}

	// Past-due catch-up run: logged as such, on stderr (a warning).
	a.exec("DELETE FROM items WHERE id > 20")
	code, _ = h.timerRun("timer-past-due-first-run.json", "inv-timer-2")
	if code != 200 || a.count(a.dst, "items") != 20 {
		t.Fatalf("past-due timer: %d, %d rows", code, a.count(a.dst, "items"))
	}
	if !h.hasLine(true, "inv-timer-2", "past due") {
		t.Errorf("no past-due warning with the invocation id on stderr:\n%s", strings.Join(h.lines(true), "\n"))
	}

	// Manual run into SQLite (query ?target=sqlite), queued, then run.
	status, body, _, msgs := h.post(fixture(t, "http-post-sqlite.json"), "inv-http-1")
	if status != 202 || body["target"] != "sqlite" || len(msgs) != 1 {
		t.Fatalf("http: %d %v %v", status, body, msgs)
	}
	if code, ir := h.deliver(msgs[0], 1, "inv-http-1-queue"); code != 200 {
		t.Fatalf("queued sqlite run: %d %q", code, ir.Logs)
	}
	status, body, _ = h.runStatus(body["run_id"].(string), "sqlite", "inv-http-1-get")
	if status != 200 || body["target"] != "sqlite" || body["rows"] != float64(20) || body["trigger"] != "http" || body["status"] != "succeeded" {
		t.Fatalf("http run %d %v", status, body)
	}
	if n := sqliteCountT(t, a.dir+"/replica.db"); n != 20 {
		t.Fatalf("sqlite target has %d rows", n)
	}

	// JSON body: dry run into sqlite touches nothing.
	a.exec("DELETE FROM items WHERE id > 10")
	_, body, _, msgs = h.post(fixture(t, "http-post-json-body.json"), "inv-http-2")
	code, ir = h.deliver(msgs[0], 1, "inv-http-2-queue")
	if rep := ir.Outputs["report"].(map[string]any); code != 200 || rep["status"] != "skipped" || rep["rows"] != float64(10) {
		t.Fatalf("dry run %d %v", code, rep)
	}
	if status, got, _ := h.runStatus(body["run_id"].(string), "sqlite", "inv-http-2-get"); status != 200 || got["status"] != "skipped" {
		t.Errorf("GET of the dry run: %d %v", status, got)
	}
	if n := sqliteCountT(t, a.dir+"/replica.db"); n != 20 {
		t.Fatalf("dry run changed the sqlite target: %d rows", n)
	}

	// GET: recent runs of the default target, newest first.
	_, _, hir := h.invoke("SyncHttp", fixture(t, "http-get-history.json"), "inv-http-3")
	status, body = res(t, hir)
	runs, _ := body["runs"].([]any)
	if status != 200 || len(runs) != 2 {
		t.Fatalf("history res %d %v", status, body)
	}
	if first := runs[0].(map[string]any); first["status"] != "succeeded" || first["rows"] != float64(20) || first["trigger"] != "timer" {
		t.Errorf("newest history entry %v", first)
	}

	// Every log line carries its invocation id; info lines on stdout.
	if !h.hasLine(false, "inv-http-1-queue", `"msg":"run ended: succeeded"`) {
		t.Errorf("no info line with the invocation id on stdout")
	}
	for _, l := range append(h.lines(false), h.lines(true)...) {
		if strings.Contains(l, azure.Password) || strings.Contains(l, primary.Password) {
			t.Fatalf("a log line holds a password: %s", l)
		}
	}
}

// hasLine waits briefly for a log line holding every sub-string: the
// handler writes it before answering, but our reader may lag behind.
func (h *hostedHandler) hasLine(stderr bool, subs ...string) bool {
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if containsLine(h.lines(stderr), subs...) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func containsLine(lines []string, subs ...string) bool {
	for _, l := range lines {
		all := true
		for _, s := range subs {
			if !strings.Contains(l, s) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// TestHost_BadInput: malformed payloads get a clear JSON answer, config
// errors are reported per invocation, and the process keeps serving.
func TestHost_BadInput(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 5)
	h := startHandler(t, a)
	cases := []struct {
		name     string
		function string
		payload  string
		host     int // status to the host
		res      int // Outputs.res.statusCode, for SyncHttp
		want     string
	}{
		{"not JSON", "SyncHttp", "{{{", 200, 400, "not valid JSON"},
		{"no Data", "SyncHttp", `{"Metadata":{}}`, 200, 400, `no \"Data\"`},
		{"Data.req wrong type", "SyncHttp", `{"Data":{"req":42}}`, 200, 400, "Data.req"},
		{"bad target", "SyncHttp", string(fixture(t, "http-post-bad-target.json")), 200, 400, "postgres"},
		{"body not JSON", "SyncHttp", string(fixture(t, "http-post-body-not-json.json")), 200, 400, "body must be JSON"},
		{"method not allowed", "SyncHttp", string(fixture(t, "http-delete.json")), 200, 405, "DELETE"},
		{"oversized body", "SyncHttp", `{"Data":{"req":{"Method":"POST","Body":"` + strings.Repeat("x", maxBodyBytes+10) + `"}}}`, 200, 413, "at most"},
		{"oversized payload", "SyncHttp", `{"Data":{"req":{"Method":"POST","Body":"` + strings.Repeat("x", 3*maxBodyBytes) + `"}}}`, 200, 413, "too large"},
		{"timer wrong types", "SyncTimer", string(fixture(t, "timer-wrong-types.json")), 400, 0, "Data.timer"},
		{"unknown function", "SyncSomething", "{}", 404, 0, "POST /SyncTimer, POST /SyncHttp, POST /SyncQueue and POST /SyncStatus"},
	}
	for _, tc := range cases {
		code, ctype, ir := h.invoke(tc.function, []byte(tc.payload), "inv-"+tc.name)
		if code != tc.host || ctype != "application/json" {
			t.Errorf("%s: host got %d %q, want %d application/json", tc.name, code, ctype, tc.host)
			continue
		}
		if tc.res != 0 {
			status, body := res(t, ir)
			if status != tc.res || !strings.Contains(fmt.Sprint(body["error"]), strings.ReplaceAll(tc.want, `\"`, `"`)) {
				t.Errorf("%s: res %d %v, want %d saying %q", tc.name, status, body, tc.res, tc.want)
			}
		} else if !strings.Contains(strings.Join(ir.Logs, " "), tc.want) {
			t.Errorf("%s: Logs %q lack %q", tc.name, ir.Logs, tc.want)
		}
	}

	// A config error is reported on every invocation, not by dying.
	a.extra = "[sync]\nmin_rows = lots\n"
	a.writeConfig()
	_, _, ir := h.invoke("SyncHttp", fixture(t, "http-post-sqlite.json"), "inv-cfg-1")
	if status, body := res(t, ir); status != 400 || !strings.Contains(fmt.Sprint(body["error"]), "sync.min_rows") {
		t.Errorf("config error over HTTP: %d %v", status, body)
	}
	// The timer reads the config (its groups) before it queues anything.
	code, body := h.invokeRaw("SyncTimer", fixture(t, "timer.json"), "inv-cfg-2")
	if msgs := queueFrom(t, code, body); code != 500 || len(msgs) != 0 || !strings.Contains(string(body), "sync.min_rows") {
		t.Errorf("config error on the timer: host got %d and %d messages: %s; want 500, none queued", code, len(msgs), body)
	}
	if !h.hasLine(true, "inv-cfg-2", "sync.min_rows") {
		t.Errorf("timer's config error not on stderr with its invocation id")
	}
	if resp, err := http.Get(h.url + "/"); err != nil {
		t.Fatalf("handler stopped serving: %v", err)
	} else {
		resp.Body.Close()
	}
}

// TestHost_TimerFailure: a failed scheduled run answers the queue
// invocation 500 (the host marks it Failed) and logs the error to stderr.
func TestHost_TimerFailure(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 5)
	a.seed(a.dst, 2)
	a.extra = "[source]\nquery = SELECT * FROM no_such_table\n"
	a.writeConfig()
	h := startHandler(t, a)
	code, ir := h.timerRun("timer-no-monitor.json", "inv-fail")
	if code != 500 {
		t.Fatalf("host got %d, want 500", code)
	}
	if rep := ir.Outputs["report"].(map[string]any); rep["status"] != "failed" || !strings.Contains(rep["error"].(string), "no_such_table") {
		t.Errorf("report %v", rep)
	}
	if !h.hasLine(true, "inv-fail-queue", `"level":"ERROR"`, "no_such_table") {
		t.Errorf("no error line on stderr:\n%s", strings.Join(h.lines(true), "\n"))
	}
	if n := a.count(a.dst, "items"); n != 2 {
		t.Errorf("target changed: %d rows", n)
	}
}

// TestHost_Overlap: a timer run and a manual run at once: exactly one
// loads; the other is busy, acknowledged (200: no retry) and recorded,
// naming the run that holds the lock.
func TestHost_Overlap(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 1500)
	a.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.001) = 0\n"
	a.writeConfig()
	h := startHandler(t, a)
	_, body, _, msgs := h.post(postBody(t), "inv-overlap-http")
	var wg sync.WaitGroup
	var timerCode int
	var timerIR invocationResponse
	wg.Add(1)
	go func() {
		defer wg.Done()
		timerCode, timerIR = h.timerRun("timer.json", "inv-overlap-timer")
	}()
	waitLoading(t, a, "azure")
	code, ir := h.deliver(msgs[0], 1, "inv-overlap-queue")
	wg.Wait()
	timerRep := timerIR.Outputs["report"].(map[string]any)
	if timerCode != 200 || timerRep["status"] != "succeeded" {
		t.Fatalf("timer run: %d %v", timerCode, timerRep)
	}
	rep := ir.Outputs["report"].(map[string]any)
	if code != 200 || rep["status"] != "busy" || !strings.Contains(strings.Join(ir.Logs, " "), "the run holding the lock: "+timerRep["run_id"].(string)) {
		t.Fatalf("manual run during the timer run: %d %v %q (timer run %v)", code, rep, ir.Logs, timerRep["run_id"])
	}
	if st, got, _ := h.runStatus(body["run_id"].(string), "", "inv-overlap-get"); st != 200 || got["status"] != "busy" {
		t.Errorf("GET of the busy run: %d %v", st, got)
	}
	if n := a.count(a.dst, "items"); n != 1500 {
		t.Fatalf("target has %d rows", n)
	}
	if runs := a.runsRecorded(); runs["succeeded"] != 1 || runs["busy"] != 1 || len(runs) != 2 {
		t.Fatalf("runs recorded %v, want exactly one load and one busy", runs)
	}
}

// TestHost_KilledMidRun: the host kills the handler with SIGKILL during a
// queued timer run; a new handler's next run succeeds and the target is
// intact.
func TestHost_KilledMidRun(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 2000)
	h := startHandler(t, a)
	if code, _ := h.timerRun("timer.json", "inv-k1"); code != 200 {
		t.Fatalf("first run: %d", code)
	}
	a.exec("DELETE FROM items WHERE id > 1000")
	a.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
	a.writeConfig()
	code, raw := h.invokeRaw("SyncTimer", fixture(t, "timer.json"), "inv-k2")
	msgs := queueFrom(t, code, raw)
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
	h2 := startHandler(t, a)
	var ir invocationResponse
	for deadline := time.Now().Add(20 * time.Second); ; {
		code, ir = h2.timerRun("timer.json", "inv-k3")
		// Until the server notices the dead connection its lock is held.
		if rep := ir.Outputs["report"].(map[string]any); rep["status"] != "busy" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 200 || a.count(a.dst, "items") != 1000 {
		t.Fatalf("next run: %d %v, %d rows", code, ir.Logs, a.count(a.dst, "items"))
	}
	if runs := a.runsRecorded(); runs["abandoned"] != 1 {
		t.Errorf("runs recorded %v; want the killed run abandoned", runs)
	}
}

// TestHost_ConcurrentManualRuns: 20 manual runs at once are each queued
// (202, each its own run_id); delivered at once, exactly one loads and
// the other 19 are busy.
func TestHost_ConcurrentManualRuns(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 1000)
	a.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.001) = 0\n"
	a.writeConfig()
	h := startHandler(t, a)
	post := postBody(t)
	var mu sync.Mutex
	var msgs []queued
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, body, _, m := h.post(post, fmt.Sprint("inv-many-", i))
			mu.Lock()
			defer mu.Unlock()
			if status != 202 || len(m) != 1 {
				t.Errorf("POST %d: %d %v", i, status, body)
				return
			}
			ids[body["run_id"].(string)] = true
			msgs = append(msgs, m[0])
		}(i)
	}
	wg.Wait()
	if len(ids) != 20 || a.runsRecorded()["queued"] != 20 {
		t.Fatalf("%d distinct run_ids, runs recorded %v; want 20 queued", len(ids), a.runsRecorded())
	}
	statuses := make(chan any, 20)
	for i, m := range msgs {
		wg.Add(1)
		go func(i int, m queued) {
			defer wg.Done()
			code, ir := h.deliver(m, 1, fmt.Sprint("inv-many-queue-", i))
			if code != 200 {
				t.Errorf("delivery %d: %d %q", i, code, ir.Logs)
			}
			statuses <- ir.Outputs["report"].(map[string]any)["status"]
		}(i, m)
	}
	wg.Wait()
	close(statuses)
	counts := map[any]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts["succeeded"] != 1 || counts["busy"] != 19 {
		t.Fatalf("statuses %v; want one succeeded and nineteen busy", counts)
	}
	if runs := a.runsRecorded(); runs["succeeded"] != 1 || runs["busy"] != 19 || a.count(a.dst, "items") != 1000 {
		t.Fatalf("runs recorded %v, %d rows", runs, a.count(a.dst, "items"))
	}
}

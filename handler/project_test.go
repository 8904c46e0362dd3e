package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestProject_FunctionsFiles reads host.json and every */function.json and
// checks them against what the binary serves and what the Makefile builds.
func TestProject_FunctionsFiles(t *testing.T) {
	var host struct {
		Version         string `json:"version"`
		FunctionTimeout string `json:"functionTimeout"`
		CustomHandler   struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
	}
	readJSON(t, "../host.json", &host)
	if host.Version != "2.0" {
		t.Errorf("host.json version %q", host.Version)
	}
	if host.CustomHandler.EnableForwardingHTTPRequest {
		t.Error("host.json enables request forwarding: the JSON protocol would be lost")
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^BIN := (\S+)$`).FindSubmatch(makefile)
	if m == nil || string(m[1]) != host.CustomHandler.Description.DefaultExecutablePath {
		t.Errorf("host.json runs %q but the Makefile builds %q", host.CustomHandler.Description.DefaultExecutablePath, m)
	}
	if host.FunctionTimeout != "00:10:00" {
		t.Errorf("functionTimeout %q: the [sync] timeout default (9m) is chosen below 10 minutes", host.FunctionTimeout)
	}

	// docs/azure-functions.md documents the functions and the queue rules.
	readme, err := os.ReadFile("../docs/azure-functions.md")
	if err != nil {
		t.Fatal(err)
	}
	var hostQueues struct {
		Extensions struct {
			Queues struct {
				MaxDequeueCount int `json:"maxDequeueCount"`
			} `json:"queues"`
		} `json:"extensions"`
	}
	readJSON(t, "../host.json", &hostQueues)
	if n := hostQueues.Extensions.Queues.MaxDequeueCount; n <= maxRunsPerMessage || !strings.Contains(string(readme), fmt.Sprintf("`maxDequeueCount` %d", n)) {
		t.Errorf("host.json maxDequeueCount %d: want it above the %d runs a message may make, and docs/azure-functions.md to say it", n, maxRunsPerMessage)
	}
	// queueOut is the queue output every trigger but SyncQueue's has.
	queueOut := func(name string, b map[string]any) {
		if b["type"] != "queue" || b["direction"] != "out" || b["name"] != queueBinding || b["queueName"] != runQueue || b["connection"] != "AzureWebJobsStorage" {
			t.Errorf("%s queue output %v", name, b)
		}
	}
	// Every run's outcome is a Request (its invocation) and "run ended"
	// Traces (its log lines): the alert queries count them, so neither
	// may be sampled away.
	var hostLogging struct {
		Logging struct {
			ApplicationInsights struct {
				SamplingSettings struct {
					ExcludedTypes string `json:"excludedTypes"`
				} `json:"samplingSettings"`
			} `json:"applicationInsights"`
		} `json:"logging"`
	}
	readJSON(t, "../host.json", &hostLogging)
	if ex := strings.Split(hostLogging.Logging.ApplicationInsights.SamplingSettings.ExcludedTypes, ";"); !slices.Contains(ex, "Request") || !slices.Contains(ex, "Trace") {
		t.Errorf("host.json samplingSettings.excludedTypes %q: want Request and Trace kept out of sampling", ex)
	}
	dirs, _ := filepath.Glob("../*/function.json")
	if len(dirs) != 4 {
		t.Fatalf("function folders: %v", dirs)
	}
	srv := httptest.NewServer(newServer(slog.New(slog.DiscardHandler)).routes())
	defer srv.Close()
	for _, path := range dirs {
		name := filepath.Base(filepath.Dir(path))
		var fn struct {
			Bindings []map[string]any `json:"bindings"`
		}
		readJSON(t, path, &fn)
		// The binary must serve /<FunctionName> (an empty payload gets a
		// 4xx/5xx of ours, never the 404 for unknown functions).
		resp, err := http.Post(srv.URL+"/"+name, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("function %s is not served by the handler", name)
		}
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("docs/azure-functions.md's functions table has no row for %s", name)
		}
		switch name {
		case "SyncTimer":
			b := fn.Bindings[0]
			if b["type"] != "timerTrigger" || b["name"] != "timer" || b["runOnStartup"] != false || b["useMonitor"] != true {
				t.Errorf("SyncTimer binding %v", b)
			}
			if err := checkNCRONTAB(b["schedule"].(string)); err != nil {
				t.Errorf("SyncTimer schedule %q: %v", b["schedule"], err)
			}
			if len(fn.Bindings) != 2 {
				t.Fatalf("SyncTimer bindings %v: want the timer and the queue output", fn.Bindings)
			}
			queueOut(name, fn.Bindings[1])
		case "SyncHttp":
			in, out := fn.Bindings[0], fn.Bindings[1]
			if in["type"] != "httpTrigger" || in["name"] != "req" || in["authLevel"] != "function" || in["route"] != "sync" {
				t.Errorf("SyncHttp trigger %v", in)
			}
			if m, _ := json.Marshal(in["methods"]); string(m) != `["get","post"]` {
				t.Errorf("SyncHttp methods %s", m)
			}
			if out["type"] != "http" || out["name"] != "res" || out["direction"] != "out" {
				t.Errorf("SyncHttp output %v", out)
			}
			if len(fn.Bindings) != 3 {
				t.Fatalf("SyncHttp bindings %v: want the trigger, res and the queue output", fn.Bindings)
			}
			queueOut(name, fn.Bindings[2])
		case "SyncStatus":
			if len(fn.Bindings) != 2 {
				t.Fatalf("SyncStatus bindings %v: want the trigger and res", fn.Bindings)
			}
			in, out := fn.Bindings[0], fn.Bindings[1]
			if in["type"] != "httpTrigger" || in["direction"] != "in" || in["name"] != "req" || in["authLevel"] != "function" || in["route"] != "status" {
				t.Errorf("SyncStatus trigger %v", in)
			}
			if m, _ := json.Marshal(in["methods"]); string(m) != `["get"]` {
				t.Errorf("SyncStatus methods %s: GET only", m)
			}
			if out["type"] != "http" || out["name"] != "res" || out["direction"] != "out" {
				t.Errorf("SyncStatus output %v", out)
			}
		case "SyncQueue":
			b := fn.Bindings[0]
			// No dataType: the message arrives as a string (JSON-encoded
			// twice), which decodeQueueInvocation reads.
			if len(fn.Bindings) != 1 || b["type"] != "queueTrigger" || b["direction"] != "in" || b["name"] != queueBinding ||
				b["queueName"] != runQueue || b["connection"] != "AzureWebJobsStorage" || b["dataType"] != nil {
				t.Errorf("SyncQueue bindings %v", fn.Bindings)
			}
		default:
			t.Errorf("unexpected function folder %s", name)
		}
	}
	var settings struct {
		Values map[string]string `json:"Values"`
	}
	readJSON(t, "../local.settings.json.example", &settings)
	if settings.Values["FUNCTIONS_WORKER_RUNTIME"] != "custom" || settings.Values["AzureWebJobsStorage"] == "" {
		t.Errorf("local.settings.json.example values %v", settings.Values)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkNCRONTAB checks a 6-field NCRONTAB expression ({second} {minute}
// {hour} {day} {month} {day-of-week}) field by field.
func checkNCRONTAB(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) != 6 {
		return errorf("want 6 fields, got %d", len(fields))
	}
	limits := [][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}}
	for i, f := range fields {
		for _, part := range strings.Split(f, ",") {
			rng, step, hasStep := strings.Cut(part, "/")
			if hasStep {
				if n, err := strconv.Atoi(step); err != nil || n < 1 {
					return errorf("field %d: bad step %q", i+1, step)
				}
			}
			if rng == "*" {
				continue
			}
			lo, hi, isRange := strings.Cut(rng, "-")
			for _, v := range []string{lo, hi} {
				if v == "" && !isRange {
					continue
				}
				n, err := strconv.Atoi(v)
				if err != nil || n < limits[i][0] || n > limits[i][1] {
					return errorf("field %d: %q out of %d-%d", i+1, v, limits[i][0], limits[i][1])
				}
			}
		}
	}
	return nil
}

func TestCheckNCRONTAB(t *testing.T) {
	for expr, ok := range map[string]bool{
		"0 0 * * * *": true, "0 */5 * * * *": true, "0 30 9-17 * * 1-5": true, "0 0 0 1 1 0": true,
		"0 * * * *": false, "61 * * * * *": false, "0 0 25 * * *": false, "0 0 * * * 7": false, "x * * * * *": false,
	} {
		if err := checkNCRONTAB(expr); (err == nil) != ok {
			t.Errorf("%q: %v", expr, err)
		}
	}
}

// TestServer_PanicInRun: a panic inside a queued run is a failed run
// (500 to the host); the process keeps serving.
func TestServer_PanicInRun(t *testing.T) {
	a := newApp(t)
	a.seed(a.src, 3)
	t.Chdir(a.dir)
	log := newServeLogger(&strings.Builder{}, &strings.Builder{})
	s := newServer(log)
	s.beforeRun = func() { panic("boom") }
	srv := httptest.NewServer(s.routes())
	defer srv.Close()
	for i := 0; i < 2; i++ {
		msg := hostQueuePayload(t, fmt.Sprintf(`{"run_id":"panic-%d","trigger":"http"}`, i), 1, "m")
		resp, err := http.Post(srv.URL+"/SyncQueue", "application/json", strings.NewReader(string(msg)))
		if err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		var ir invocationResponse
		_ = json.NewDecoder(resp.Body).Decode(&ir)
		resp.Body.Close()
		if resp.StatusCode != 500 || !strings.Contains(strings.Join(ir.Logs, " "), "internal error") {
			t.Fatalf("invocation %d: host %d, Logs %q", i, resp.StatusCode, ir.Logs)
		}
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

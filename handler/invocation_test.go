package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "functions-host", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeTimer(t *testing.T) {
	cases := []struct {
		file     string
		pastDue  bool
		hasNext  bool
		wantNext string
	}{
		{"timer.json", false, true, "2026-11-25T17:00:00Z"},
		{"timer-past-due-first-run.json", true, true, "2026-11-25T17:00:00Z"},
		{"timer-no-monitor.json", false, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			req, err := decodeInvocation(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			timer, err := decodeTimer(req)
			if err != nil {
				t.Fatal(err)
			}
			if timer.IsPastDue != tc.pastDue {
				t.Errorf("IsPastDue %v", timer.IsPastDue)
			}
			next, ok := timer.next()
			if ok != tc.hasNext || (ok && !next.Equal(mustTime(t, tc.wantNext))) {
				t.Errorf("next %v %v, want %v %s", next, ok, tc.hasNext, tc.wantNext)
			}
		})
	}
	// Seven-digit fractions and year 1 parse.
	req, _ := decodeInvocation(fixture(t, "timer-past-due-first-run.json"))
	timer, _ := decodeTimer(req)
	if last, err := time.Parse(time.RFC3339Nano, timer.ScheduleStatus.Last); err != nil || last.Year() != 1 {
		t.Errorf("first-run Last %q: %v", timer.ScheduleStatus.Last, err)
	}
	req, _ = decodeInvocation(fixture(t, "timer.json"))
	timer, _ = decodeTimer(req)
	if _, err := time.Parse(time.RFC3339Nano, timer.ScheduleStatus.Last); err != nil {
		t.Errorf("7-digit fraction: %v", err)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecodeHTTP(t *testing.T) {
	cases := []struct {
		file   string
		method string
		opts   manualRunOptions
		status int // 0: options valid
	}{
		{"http-post-sqlite.json", "POST", manualRunOptions{Target: "sqlite"}, 0},
		{"http-post-json-body.json", "POST", manualRunOptions{Target: "sqlite", DryRun: true}, 0},
		{"http-get-history.json", "GET", manualRunOptions{}, 0},
		// Query as a string (older hosts), with a parameter that is not an
		// option: refused.
		{"http-post-no-body-query-string.json", "POST", manualRunOptions{}, 400},
		{"http-post-query-typo.json", "POST", manualRunOptions{}, 400},
		{"http-post-body-typo.json", "POST", manualRunOptions{}, 400},
		{"http-post-chunked.json", "POST", manualRunOptions{}, 400},
		{"http-post-bad-target.json", "POST", manualRunOptions{}, 400},
		{"http-post-body-not-json.json", "POST", manualRunOptions{}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			req, err := decodeInvocation(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			hr, err := decodeHTTPRequest(req)
			if err != nil {
				t.Fatal(err)
			}
			if hr.Method != tc.method {
				t.Errorf("method %q", hr.Method)
			}
			opts, err := hr.runOptions()
			if tc.status != 0 {
				var br *badRequest
				if !errors.As(err, &br) || br.status != tc.status {
					t.Fatalf("err %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil || opts != tc.opts {
				t.Fatalf("options %+v, %v; want %+v", opts, err, tc.opts)
			}
		})
	}
}

func TestDecodeInvocation_Malformed(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"not JSON", "<xml/>", "not valid JSON"},
		{"no Data", `{"Metadata":{}}`, `no "Data"`},
		{"Data wrong type", `{"Data":[1,2]}`, "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeInvocation([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	req, err := decodeInvocation(fixture(t, "timer-wrong-types.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeTimer(req); err == nil || !strings.Contains(err.Error(), "Data.timer") {
		t.Fatalf("wrong types: %v", err)
	}
	if _, err := decodeHTTPRequest(req); err == nil || !strings.Contains(err.Error(), "Data.req") {
		t.Fatalf("timer payload to SyncHttp: %v", err)
	}
	big := strings.Repeat("x", maxBodyBytes+1)
	hr := &httpRequestData{Method: "POST", Body: &big}
	var br *badRequest
	if _, err := hr.runOptions(); !errors.As(err, &br) || br.status != 413 {
		t.Fatalf("oversized body: %v", err)
	}
}

// TestRunOptions: only target, dry_run, tables and group are options; any
// other key, a body the host did not pass on, or two different values for
// one option is a 400 that says which, so a typo never turns a dry run into
// a load.
func TestRunOptions(t *testing.T) {
	str := func(s string) *string { return &s }
	chunked := map[string][]string{"transfer-encoding": {"gzip, Chunked"}}
	cases := []struct {
		name    string
		req     httpRequestData
		want    manualRunOptions
		refused []string // the 400 says each of these
	}{
		{"query options", httpRequestData{Query: []byte(`{"target":"sqlite","dry_run":"1"}`)}, manualRunOptions{Target: "sqlite", DryRun: true}, nil},
		{"body options", httpRequestData{Body: str(`{"target":"AZURE","dry_run":false}`)}, manualRunOptions{Target: "azure"}, nil},
		{"function key in the query", httpRequestData{Query: []byte(`{"code":"k3y","dry_run":"true"}`)}, manualRunOptions{DryRun: true}, nil},
		{"empty target is the default", httpRequestData{Query: []byte(`{"target":""}`)}, manualRunOptions{}, nil},
		{"same value in query and body", httpRequestData{Query: []byte(`{"dry_run":"1"}`), Body: str(`{"dry_run":true}`)}, manualRunOptions{DryRun: true}, nil},
		{"chunked body passed on", httpRequestData{Headers: chunked, Body: str(`{"dry_run":true}`)}, manualRunOptions{DryRun: true}, nil},
		{"query key case", httpRequestData{Query: []byte(`{"Dry_Run":"true"}`)}, manualRunOptions{}, []string{`"Dry_Run"`, "target and dry_run"}},
		{"query key dash", httpRequestData{Query: []byte(`{"target":"sqlite","dry-run":"1"}`)}, manualRunOptions{}, []string{`"dry-run"`, "target and dry_run"}},
		{"query string from an older host", httpRequestData{Query: []byte(`"?target=sqlite&dry_run=1&table=evil"`)}, manualRunOptions{}, []string{`"table"`}},
		{"query key twice", httpRequestData{Query: []byte(`"dry_run=1&dry_run=0"`)}, manualRunOptions{}, []string{`"dry_run" is given 2 times`}},
		{"body key dash", httpRequestData{Body: str(`{"dry-run":true}`)}, manualRunOptions{}, []string{`"dry-run" in the JSON body`, "target and dry_run"}},
		{"body key case", httpRequestData{Body: str(`{"DRY_RUN":true}`)}, manualRunOptions{}, []string{`"DRY_RUN"`}},
		{"body key unknown", httpRequestData{Body: str(`{"target":"sqlite","table":"x"}`)}, manualRunOptions{}, []string{`"table"`}},
		{"body not an object", httpRequestData{Body: str(`[true]`)}, manualRunOptions{}, []string{"body must be JSON like"}},
		{"body dry_run null", httpRequestData{Body: str(`{"dry_run":null}`)}, manualRunOptions{}, []string{"dry_run must be true or false"}},
		{"body target not a string", httpRequestData{Body: str(`{"target":1}`)}, manualRunOptions{}, []string{"target in the JSON body must be a string"}},
		{"bare dry_run", httpRequestData{Query: []byte(`"dry_run"`)}, manualRunOptions{}, []string{`dry_run "": want true or false`}},
		{"query and body differ", httpRequestData{Query: []byte(`{"dry_run":"true"}`), Body: str(`{"dry_run":false}`)}, manualRunOptions{}, []string{`dry_run is "true" in the query string but "false" in the JSON body`}},
		{"chunked body not passed on", httpRequestData{Headers: chunked}, manualRunOptions{}, []string{"Transfer-Encoding: chunked", "Content-Length"}},
		{"chunked body empty", httpRequestData{Headers: chunked, Body: str("")}, manualRunOptions{}, []string{"Transfer-Encoding: chunked"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Method = "POST"
			got, err := tc.req.runOptions()
			if tc.refused == nil {
				if err != nil || got != tc.want {
					t.Fatalf("options %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			var br *badRequest
			if !errors.As(err, &br) || br.status != 400 {
				t.Fatalf("options %+v, err %v; want a 400", got, err)
			}
			for _, want := range tc.refused {
				if !strings.Contains(br.msg, want) {
					t.Errorf("message %q lacks %q", br.msg, want)
				}
			}
		})
	}
}

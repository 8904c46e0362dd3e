package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// The Functions host's custom-handler protocol (non-forwarded): it POSTs
// an invocation request to /<FunctionName> and reads an invocation
// response. Shapes from the host's HttpScriptInvocationContext and
// HttpScriptInvocationResult (azure-functions-host,
// src/WebJobs.Script/Workers/Http).

// invocationRequest is what the host POSTs.
type invocationRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// invocationResponse is what the handler answers. The host reads Outputs
// only for the bindings in function.json, logs each Logs line as
// Information, and uses ReturnValue only with a $return binding.
type invocationResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// httpOutput is the value of the "res" output binding.
type httpOutput struct {
	StatusCode int               `json:"statusCode"`
	Body       string            `json:"body"`
	Headers    map[string]string `json:"headers"`
}

// timerInfo is Data.timer. ScheduleStatus is null when the function does
// not use the monitor; Last is year 1 on the first run.
type timerInfo struct {
	Schedule       json.RawMessage `json:"Schedule"`
	ScheduleStatus *struct {
		Last        string `json:"Last"`
		Next        string `json:"Next"`
		LastUpdated string `json:"LastUpdated"`
	} `json:"ScheduleStatus"`
	IsPastDue bool `json:"IsPastDue"`
}

// httpRequestData is Data.req. Header values are arrays; Body is absent
// when the request had none.
type httpRequestData struct {
	URL     string              `json:"Url"`
	Method  string              `json:"Method"`
	Query   json.RawMessage     `json:"Query"`
	Headers map[string][]string `json:"Headers"`
	Body    *string             `json:"Body"`
}

// maxBodyBytes caps a manual run's request body: it only ever holds two
// small options.
const maxBodyBytes = 1 << 20

// badRequest is a client mistake in an HTTP invocation: 400 (or 413) in res.
type badRequest struct {
	status int
	msg    string
}

func (e *badRequest) Error() string { return e.msg }

func decodeInvocation(body []byte) (*invocationRequest, error) {
	var req invocationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("invocation payload is not valid JSON: %v", err)
	}
	if req.Data == nil {
		return nil, errors.New(`invocation payload has no "Data" object`)
	}
	return &req, nil
}

func decodeTimer(req *invocationRequest) (*timerInfo, error) {
	return decodeBinding[timerInfo](req, "timer", "timer invocation", "SyncTimer")
}

// decodeBinding decodes the invocation's Data entry of the trigger
// binding name (function.json of the host's function fn, for messages).
func decodeBinding[T any](req *invocationRequest, name, what, fn string) (*T, error) {
	raw, ok := req.Data[name]
	if !ok {
		return nil, fmt.Errorf(`%s has no Data.%s (the binding name in %s/function.json is "%s")`, what, name, fn, name)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("Data.%s: %v", name, err)
	}
	return &v, nil
}

// next is the occurrence being run, if the host said.
func (t *timerInfo) next() (time.Time, bool) {
	if t.ScheduleStatus == nil {
		return time.Time{}, false
	}
	v, err := time.Parse(time.RFC3339Nano, t.ScheduleStatus.Next)
	return v, err == nil
}

func decodeHTTPRequest(req *invocationRequest) (*httpRequestData, error) {
	return decodeBinding[httpRequestData](req, "req", "HTTP invocation", "SyncHttp")
}

// query returns the request's query parameters. Hosts since 3.0.14785
// send an object; older ones a string.
func (r *httpRequestData) query() (map[string]string, error) {
	out := map[string]string{}
	if len(r.Query) == 0 || string(r.Query) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(r.Query, &out); err == nil {
		return out, nil
	}
	var s string
	if err := json.Unmarshal(r.Query, &s); err != nil {
		return nil, errors.New("Data.req.Query is neither an object nor a string")
	}
	if err := json.Unmarshal([]byte(s), &out); err == nil {
		return out, nil
	}
	values, err := url.ParseQuery(strings.TrimPrefix(s, "?"))
	if err != nil {
		return nil, fmt.Errorf("Data.req.Query: %v", err)
	}
	for k, vs := range values {
		if len(vs) > 1 {
			return nil, fmt.Errorf("query parameter %q is given %d times; give it once", k, len(vs))
		}
		out[k] = vs[0]
	}
	return out, nil
}

// manualRunOptions are the only things a caller may choose: target,
// dry_run, and which of the job's tables (tables, group), from the query
// string or a JSON body. Nothing else — no SQL, table definition or file
// name — is ever taken from a request, and any other key is refused: a
// misspelt dry_run must not turn a dry run into a load.
type manualRunOptions struct {
	Target dbsync.Target
	DryRun bool
	// RunID (GET only: ?run_id=) asks for one run.
	RunID  string
	Tables string // some of the job's tables, by [table.<name>] name: "a,b"
	Group  string // one group of the job's tables
}

// engine is o as the engine's run options.
func (o manualRunOptions) engine() dbsync.RunOptions {
	return dbsync.RunOptions{Target: o.Target, DryRun: o.DryRun, Group: o.Group, Tables: splitTables(o.Tables)}
}

// splitTables reads the tables option: names separated by commas.
func splitTables(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// optionKeys are the keys a manual run accepts, in the query string and
// in a JSON body. The query string may also carry code, the function key
// the platform checks before the handler sees the request.
var optionKeys = []string{"target", "dry_run", "tables", "group"}

const functionKeyParam = "code"

func (r *httpRequestData) runOptions() (manualRunOptions, error) {
	var o manualRunOptions
	if r.Body != nil && len(*r.Body) > maxBodyBytes {
		return o, &badRequest{413, fmt.Sprintf("request body is %d bytes; at most %d", len(*r.Body), maxBodyBytes)}
	}
	body := strings.TrimSpace(deref(r.Body))
	if body == "" && r.chunked() {
		return o, &badRequest{400, "the request body was sent with Transfer-Encoding: chunked, and the Functions host passes a body on only when the request has a Content-Length: " +
			"send the body with a Content-Length (curl --data does), or put the keys in the query string"}
	}
	q, err := r.query()
	if err != nil {
		return o, &badRequest{400, err.Error()}
	}
	delete(q, functionKeyParam)
	runID, askedRun := q["run_id"]
	if askedRun && strings.EqualFold(r.Method, "GET") {
		if !validRunID(runID) {
			return o, &badRequest{400, fmt.Sprintf("run_id %q: want the run_id a POST /api/sync answered (letters, digits and dashes)", runID)}
		}
		delete(q, "run_id")
	}
	if err := refuseUnknown(q, "query parameter %q"); err != nil {
		return o, err
	}
	fromBody := map[string]string{}
	if body != "" {
		var b map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return o, &badRequest{400, fmt.Sprintf(`body must be JSON like {"target":"sqlite","dry_run":true}: %v`, err)}
		}
		if err := refuseUnknown(b, "key %q in the JSON body"); err != nil {
			return o, err
		}
		for k, raw := range b {
			var v any
			_ = json.Unmarshal(raw, &v) // valid: the whole body was
			switch v := v.(type) {
			case string:
				fromBody[k] = v
			case bool:
				if k == "dry_run" {
					fromBody[k] = strconv.FormatBool(v)
					break
				}
				return o, &badRequest{400, fmt.Sprintf("%s in the JSON body must be a string", k)}
			default:
				if k == "dry_run" {
					return o, &badRequest{400, "dry_run must be true or false"}
				}
				return o, &badRequest{400, fmt.Sprintf("%s in the JSON body must be a string", k)}
			}
		}
	}
	o, inQuery, err := parseOptions(q)
	if err != nil {
		return o, err
	}
	b, inBody, err := parseOptions(fromBody)
	if err != nil {
		return o, err
	}
	// An option given in both places must be given alike.
	for _, k := range optionKeys {
		if inQuery[k] && inBody[k] && (k == "target" && o.Target != b.Target || k == "dry_run" && o.DryRun != b.DryRun) {
			return o, &badRequest{400, fmt.Sprintf("%s is %q in the query string but %q in the JSON body; give it once", k, q[k], fromBody[k])}
		}
	}
	if inBody["target"] {
		o.Target = b.Target
	}
	if inBody["dry_run"] {
		o.DryRun = b.DryRun
	}
	if inBody["tables"] {
		o.Tables = b.Tables
	}
	if inBody["group"] {
		o.Group = b.Group
	}
	if askedRun {
		o.RunID = runID
	}
	return o, nil
}

// parseOptions reads the options in values and says which were given. An
// empty target is the default one; an empty dry_run is refused (a bare
// ?dry_run must not mean a load).
func parseOptions(values map[string]string) (o manualRunOptions, given map[string]bool, err error) {
	given = map[string]bool{}
	if v, ok := values["target"]; ok && v != "" {
		t, err := dbsync.ParseTarget(v)
		if err != nil {
			return o, nil, &badRequest{400, err.Error()}
		}
		o.Target, given["target"] = t, true
	}
	if v, ok := values["dry_run"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, nil, &badRequest{400, fmt.Sprintf("dry_run %q: want true or false", v)}
		}
		o.DryRun, given["dry_run"] = b, true
	}
	if v := values["tables"]; v != "" {
		o.Tables, given["tables"] = v, true
	}
	if v := values["group"]; v != "" {
		o.Group, given["group"] = v, true
	}
	return o, given, nil
}

// refuseUnknown is a 400 naming the first key (in sorted order) of m
// that is not an option; unknown is how to say which key it is, as a
// format with one %q.
func refuseUnknown[V any](m map[string]V, unknown string) error {
	var keys []string
	for k := range m {
		if !slices.Contains(optionKeys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	return &badRequest{400, fmt.Sprintf("unknown "+unknown+": a manual run accepts only %s; nothing was run", keys[0], strings.Join(optionKeys, " and "))}
}

// chunked reports whether the request's body came with
// Transfer-Encoding: chunked.
func (r *httpRequestData) chunked() bool {
	for name, values := range r.Headers {
		if !strings.EqualFold(name, "Transfer-Encoding") {
			continue
		}
		for _, v := range values {
			if strings.Contains(strings.ToLower(v), "chunked") {
				return true
			}
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

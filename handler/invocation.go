package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
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
	raw, ok := req.Data["timer"]
	if !ok {
		return nil, errors.New(`timer invocation has no Data.timer (the binding name in SyncTimer/function.json is "timer")`)
	}
	var t timerInfo
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("Data.timer: %v", err)
	}
	return &t, nil
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
	raw, ok := req.Data["req"]
	if !ok {
		return nil, errors.New(`HTTP invocation has no Data.req (the binding name in SyncHttp/function.json is "req")`)
	}
	var r httpRequestData
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("Data.req: %v", err)
	}
	return &r, nil
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
	for k := range values {
		out[k] = values.Get(k)
	}
	return out, nil
}

// manualRunOptions are the only two things a caller may choose: target
// and dry_run, from the query string or a JSON body. Nothing else — no
// table, SQL or file name — is ever taken from a request.
type manualRunOptions struct {
	Target string
	DryRun bool
}

func (r *httpRequestData) runOptions() (manualRunOptions, error) {
	var o manualRunOptions
	if r.Body != nil && len(*r.Body) > maxBodyBytes {
		return o, &badRequest{413, fmt.Sprintf("request body is %d bytes; at most %d", len(*r.Body), maxBodyBytes)}
	}
	q, err := r.query()
	if err != nil {
		return o, &badRequest{400, err.Error()}
	}
	if body := strings.TrimSpace(deref(r.Body)); body != "" {
		var b struct {
			Target *string `json:"target"`
			DryRun any     `json:"dry_run"`
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			return o, &badRequest{400, fmt.Sprintf(`body must be JSON like {"target":"sqlite","dry_run":true}: %v`, err)}
		}
		if b.Target != nil {
			q["target"] = *b.Target
		}
		switch v := b.DryRun.(type) {
		case nil:
		case bool:
			q["dry_run"] = strconv.FormatBool(v)
		case string:
			q["dry_run"] = v
		default:
			return o, &badRequest{400, "dry_run must be true or false"}
		}
	}
	switch t := strings.ToLower(q["target"]); t {
	case "", "azure", "sqlite":
		o.Target = t
	default:
		return o, &badRequest{400, fmt.Sprintf("target %q: want azure or sqlite", q["target"])}
	}
	if v, ok := q["dry_run"]; ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, &badRequest{400, fmt.Sprintf("dry_run %q: want true or false", v)}
		}
		o.DryRun = b
	}
	return o, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

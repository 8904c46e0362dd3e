package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The host's side of the dbsync-runs queue, emulated by its rules (see
// testdata/functions-host/README.md): what it queues for a handler's
// Outputs.msg, and what it POSTs to /SyncQueue for a queued message.

// invokeRaw is invoke keeping the answer's bytes: the host reads the
// output binding's JSON as sent, keys in order.
func (h *hostedHandler) invokeRaw(function string, payload []byte, invocationID string) (int, []byte) {
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
	return resp.StatusCode, body
}

// hostQueueTexts is the text of each message the host puts on the queue
// for the answer's Outputs[binding] (none unless the answer is 2xx):
// GetBindingValue decodes a string that is valid base64 to bytes; then
// ReadAsEnumerable makes one message per element of a JSON array (a
// string holding one counts), one per object or other string, objects
// written as indented JSON.
func hostQueueTexts(t *testing.T, status int, answer []byte, binding string) []string {
	t.Helper()
	if status < 200 || status > 299 {
		return nil
	}
	var resp struct {
		Outputs map[string]json.RawMessage `json:"Outputs"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil {
		t.Fatalf("answer is not JSON: %s", answer)
	}
	raw, ok := resp.Outputs[binding]
	if !ok || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return []string{string(b)}
		}
		if strings.HasPrefix(strings.TrimSpace(s), "[") && json.Valid([]byte(s)) {
			raw = json.RawMessage(s)
		} else {
			return []string{s}
		}
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		elems = []json.RawMessage{raw}
	}
	var texts []string
	for _, e := range elems {
		if json.Unmarshal(e, &s) == nil {
			texts = append(texts, s)
			continue
		}
		var out bytes.Buffer
		if err := json.Indent(&out, e, "", "  "); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, out.String())
	}
	return texts
}

// hostQueuePayload is what the host POSTs to /SyncQueue for a message:
// the text JSON-encoded twice, the delivery's metadata with strings quoted,
// and the message's top-level fields over same-named metadata keys.
func hostQueuePayload(t *testing.T, text string, dequeueCount int, id string) []byte {
	t.Helper()
	quoted := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	meta := map[string]any{
		"DequeueCount":    strconv.Itoa(dequeueCount),
		"ExpirationTime":  "2026-12-02T17:20:00+00:00",
		"Id":              quoted(id),
		"InsertionTime":   "2026-11-25T17:20:00+00:00",
		"NextVisibleTime": "2026-11-25T17:30:01+00:00",
		"PopReceipt":      quoted(fmt.Sprintf("AgAAAAMAAAAAAAAA%04d", dequeueCount)),
		"sys":             map[string]any{"MethodName": "SyncQueue", "UtcNow": "2026-11-25T17:20:01.0263015Z", "RandGuid": "2f4c8e1a-9b3d-4a6f-8e2c-1d7b5a9c3e40"},
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal([]byte(text), &fields) == nil {
		for k, v := range fields {
			var value any
			switch c := strings.TrimSpace(string(v))[0]; {
			case c == '[' || string(v) == "null":
				continue
			case c == '{':
				value = v
			case c == '"':
				var s string
				_ = json.Unmarshal(v, &s)
				value = quoted(s)
			default:
				value = quoted(string(v))
			}
			for mk := range meta {
				if strings.EqualFold(mk, k) {
					delete(meta, mk)
				}
			}
			meta[k] = value
		}
	}
	payload, err := json.Marshal(map[string]any{"Data": map[string]any{"msg": quoted(text)}, "Metadata": meta})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// queued is one message on the emulated queue.
type queued struct {
	text string
	id   string
}

// queueFrom is the messages the host queues for an invocation's answer.
func queueFrom(t *testing.T, status int, answer []byte) []queued {
	t.Helper()
	var out []queued
	for i, text := range hostQueueTexts(t, status, answer, queueBinding) {
		out = append(out, queued{text: text, id: fmt.Sprintf("msg-%d-%d", time.Now().UnixNano(), i)})
	}
	return out
}

// deliver POSTs one delivery of a message to /SyncQueue.
func (h *hostedHandler) deliver(m queued, dequeueCount int, invocationID string) (int, invocationResponse) {
	h.t.Helper()
	code, body := h.invokeRaw("SyncQueue", hostQueuePayload(h.t, m.text, dequeueCount, m.id), invocationID)
	var ir invocationResponse
	if err := json.Unmarshal(body, &ir); err != nil {
		h.t.Fatalf("SyncQueue answer is not JSON (%v): %s", err, body)
	}
	return code, ir
}

// timerRun fires the timer and delivers each message it queued once, as
// the host would; it returns the last delivery's answer.
func (h *hostedHandler) timerRun(timerFixture, invocationID string) (int, invocationResponse) {
	h.t.Helper()
	code, body := h.invokeRaw("SyncTimer", fixture(h.t, timerFixture), invocationID)
	msgs := queueFrom(h.t, code, body)
	if code != 200 || len(msgs) != 1 {
		h.t.Fatalf("timer: host got %d and %d messages: %s", code, len(msgs), body)
	}
	return h.deliver(msgs[0], 1, invocationID+"-queue")
}

// post sends a manual-run request to SyncHttp and returns the caller's
// answer and the messages the host would queue.
func (h *hostedHandler) post(payload []byte, invocationID string) (int, map[string]any, httpOutput, []queued) {
	h.t.Helper()
	code, body := h.invokeRaw("SyncHttp", payload, invocationID)
	var resp struct {
		Outputs struct {
			Res httpOutput `json:"res"`
		} `json:"Outputs"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || code != 200 {
		h.t.Fatalf("SyncHttp: host got %d: %s", code, body)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(resp.Outputs.Res.Body), &res); err != nil {
		h.t.Fatalf("res body is not JSON: %q", resp.Outputs.Res.Body)
	}
	return resp.Outputs.Res.StatusCode, res, resp.Outputs.Res, queueFrom(h.t, code, body)
}

// runStatus asks GET /api/sync?run_id= (and target=, if not empty) and
// returns the caller's status, body and headers.
func (h *hostedHandler) runStatus(runID, target, invocationID string) (int, map[string]any, httpOutput) {
	h.t.Helper()
	query := `"run_id": "` + runID + `"`
	if target != "" {
		query += `, "target": "` + target + `"`
	}
	payload := strings.Replace(string(fixture(h.t, "http-get-history.json")), `"Query": {}`, `"Query": {`+query+`}`, 1)
	_, _, ir := h.invoke("SyncHttp", []byte(payload), invocationID)
	raw, _ := json.Marshal(ir.Outputs["res"])
	var out httpOutput
	_ = json.Unmarshal(raw, &out)
	var body map[string]any
	if err := json.Unmarshal([]byte(out.Body), &body); err != nil {
		h.t.Fatalf("GET ?run_id=%s: res body is not JSON: %q", runID, out.Body)
	}
	return out.StatusCode, body, out
}

// postBody is http-get-history.json as a POST.
func postBody(t *testing.T) []byte {
	t.Helper()
	return []byte(strings.Replace(string(fixture(t, "http-get-history.json")), `"Method": "GET"`, `"Method": "POST"`, 1))
}

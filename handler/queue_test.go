package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestQueueFixtures_HostEmulation: the tests' emulated host queues, for the
// handler answer in queue-output-http.json, exactly the message the real
// host delivers in queue-trigger.json, and three messages for
// queue-output-timer-3.json.
func TestQueueFixtures_HostEmulation(t *testing.T) {
	texts := hostQueueTexts(t, 200, fixture(t, "queue-output-http.json"), "msg")
	if len(texts) != 1 {
		t.Fatalf("queue-output-http.json: %d messages, want 1", len(texts))
	}
	var want, got invocationRequest
	if err := json.Unmarshal(fixture(t, "queue-trigger.json"), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(hostQueuePayload(t, texts[0], 1, "6e0f7b8a-3c2d-4e1f-9a8b-7c6d5e4f3a2b"), &got); err != nil {
		t.Fatal(err)
	}
	if string(got.Data["msg"]) != string(want.Data["msg"]) {
		t.Errorf("Data.msg\n got %s\nwant %s", got.Data["msg"], want.Data["msg"])
	}
	for _, k := range []string{"DequeueCount", "Id", "run_id", "group"} {
		if string(got.Metadata[k]) != string(want.Metadata[k]) {
			t.Errorf("Metadata.%s: got %s, want %s", k, got.Metadata[k], want.Metadata[k])
		}
	}
	if texts := hostQueueTexts(t, 200, fixture(t, "queue-output-timer-3.json"), "msg"); len(texts) != 3 || !strings.Contains(texts[2], `"group": "g3"`) {
		t.Errorf("queue-output-timer-3.json: messages %q, want three", texts)
	}
	// Outputs of a failed invocation are not read.
	if texts := hostQueueTexts(t, 500, fixture(t, "queue-output-http.json"), "msg"); texts != nil {
		t.Errorf("a 500 answer queued %q", texts)
	}
}

// TestDecodeQueueInvocation reads the host's queue-trigger payloads; a
// message that is not a run, has a key dbsync does not know or names an
// unknown group or target is refused, saying why.
func TestDecodeQueueInvocation(t *testing.T) {
	single := `{"Data":{"msg":"{\"run_id\":\"r-1\",\"target\":\"sqlite\",\"dry_run\":true}"},"Metadata":{"DequeueCount":2}}`
	cases := []struct {
		name    string
		payload []byte
		want    queueMessage
		count   int
		id      string
		err     []string
	}{
		{"first delivery", fixture(t, "queue-trigger.json"), queueMessage{RunID: "0c9d3f52-7a41-4e8b-9d2c-5f1e6a7b8c90", Trigger: "queue", Group: "default"}, 1, "6e0f7b8a-3c2d-4e1f-9a8b-7c6d5e4f3a2b", nil},
		{"redelivered", fixture(t, "queue-trigger-redelivered.json"), queueMessage{RunID: "0c9d3f52-7a41-4e8b-9d2c-5f1e6a7b8c90", Trigger: "queue", Group: "default"}, 2, "6e0f7b8a-3c2d-4e1f-9a8b-7c6d5e4f3a2b", nil},
		{"encoded once (Learn's example)", []byte(single), queueMessage{RunID: "r-1", Trigger: "queue", Target: "sqlite", DryRun: true}, 2, "", nil},
		{"not JSON", fixture(t, "queue-trigger-not-json.json"), queueMessage{}, 0, "", []string{`queue message "sync please" is not a run`}},
		{"unknown key", fixture(t, "queue-trigger-unknown-key.json"), queueMessage{}, 0, "", []string{`unknown field "table"`}},
		{"group not a group name", []byte(`{"Data":{"msg":"\"{\\\"run_id\\\":\\\"r-1\\\",\\\"group\\\":\\\"a b\\\"}\""}}`), queueMessage{}, 0, "", []string{`group "a b": want letters, digits`}},
		{"unknown target", []byte(`{"Data":{"msg":"\"{\\\"run_id\\\":\\\"r-1\\\",\\\"target\\\":\\\"postgres\\\"}\""}}`), queueMessage{}, 0, "", []string{`target "postgres": want azure or sqlite`}},
		{"no run_id", []byte(`{"Data":{"msg":"\"{}\""}}`), queueMessage{}, 0, "", []string{`run_id ""`}},
		{"run_id with a quote", []byte(`{"Data":{"msg":"\"{\\\"run_id\\\":\\\"a'b\\\"}\""}}`), queueMessage{}, 0, "", []string{`run_id "a'b"`}},
		{"message hides DequeueCount", []byte(`{"Data":{"msg":"\"{\\\"run_id\\\":\\\"r-1\\\",\\\"DequeueCount\\\":1}\""},"Metadata":{"DequeueCount":"1"}}`), queueMessage{}, 0, "", []string{`unknown field "DequeueCount"`}},
		{"no Data.msg", []byte(`{"Data":{"queueItem":"x"}}`), queueMessage{}, 0, "", []string{"no Data.msg"}},
		{"binary dataType", []byte(`{"Data":{"msg":{"a":1}}}`), queueMessage{}, 0, "", []string{"no dataType"}},
	}
	for _, tc := range cases {
		req, err := decodeInvocation(tc.payload)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		m, d, err := decodeQueueInvocation(req)
		if tc.err != nil {
			if err == nil {
				t.Errorf("%s: accepted as %+v", tc.name, m)
				continue
			}
			for _, w := range tc.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q lacks %q", tc.name, err, w)
				}
			}
			continue
		}
		if err != nil || m != tc.want || d.DequeueCount != tc.count || d.ID != tc.id {
			t.Errorf("%s: %+v %+v %v; want %+v, dequeue count %d, id %q", tc.name, m, d, err, tc.want, tc.count, tc.id)
		}
	}
}

// TestPlanRuns: one message per group, each naming its group (the
// default group as "default") with its own run_id, in the shape the host
// turns into one queue message per element; a choice of group or tables is
// one message.
func TestPlanRuns(t *testing.T) {
	dir := t.TempDir()
	ini := "[sync]\ndefault_target = sqlite\n[source]\nhost = h\ndatabase = d\nuser = u\n[sqlite]\npath = r.db\n" +
		"[table.a]\nquery = SELECT 1\n[table.b]\nquery = SELECT 1\ngroup = g1\n[table.c]\nquery = SELECT 1\ngroup = g2\n"
	if err := os.WriteFile(filepath.Join(dir, "config.ini"), []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: filepath.Join(dir, "config.ini"), Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := planRuns(cfg, "timer", manualRunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := messagesOf(runs)
	b, _ := json.Marshal(map[string]any{"Outputs": map[string]any{"msg": msgs}})
	texts := hostQueueTexts(t, 200, b, "msg")
	if len(texts) != 3 {
		t.Fatalf("%d messages: %s", len(texts), b)
	}
	seen := map[string]bool{}
	wantGroups, wantTables := []string{"default", "g1", "g2"}, []string{"a", "b", "c"}
	for i, text := range texts {
		if !strings.Contains(text, `"trigger": "timer"`) || !strings.Contains(text, `"group": "`+wantGroups[i]+`"`) || seen[msgs[i].RunID] {
			t.Errorf("message %d: %s", i, text)
		}
		seen[msgs[i].RunID] = true
		if got := tableNames(runs[i].cfg); fmt.Sprint(got) != fmt.Sprint([]string{wantTables[i]}) {
			t.Errorf("run %d covers tables %v, want [%s]", i, got, wantTables[i])
		}
		// SyncQueue reads the group back; the job's config decides whether
		// it has that group.
		if m, err := parseQueueMessage(text); err != nil || m.Group != msgs[i].Group {
			t.Errorf("message %d read back as group %q (%v), want %q", i, m.Group, err, msgs[i].Group)
		}
	}
	one, err := planRuns(cfg, "http", manualRunOptions{Target: "sqlite", DryRun: true, Group: "g1"})
	if err != nil || len(one) != 1 {
		t.Fatalf("group g1: %d runs, %v", len(one), err)
	}
	b, _ = json.Marshal(one[0].msg)
	if m, err := parseQueueMessage(string(b)); err != nil || m.Target != "sqlite" || !m.DryRun || m.Trigger != "http" || m.RunID != one[0].msg.RunID || m.Group != "g1" {
		t.Errorf("message %s reads back as %+v, %v", b, m, err)
	}
	if tables, err := planRuns(cfg, "http", manualRunOptions{Tables: "a,c"}); err != nil || len(tables) != 1 || fmt.Sprint(tableNames(tables[0].cfg)) != "[a c]" {
		t.Errorf("tables a,c: %v", err)
	}
}

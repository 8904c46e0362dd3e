package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestServeLogger_Levels: the host reads a stderr line as Warning when it
// contains "warn" in any case, else as Error. Error lines never contain
// it, whatever their message or values say, and still read back as the
// same JSON; warnings say WARN; info goes to stdout.
func TestServeLogger_Levels(t *testing.T) {
	var stdout, stderr strings.Builder
	log := newServeLogger(&stdout, &stderr).With("invocation_id", "inv-1")
	log.Error("run failed: server Warning 1265 Data truncated", "error", errors.New("WARN: table warnings"), "table", "Warnings_log", "n", 3)
	log.Warn("primary failed; reading the fallback")
	log.Info("run ended: succeeded", "note", "no warnings")

	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stderr lines %q", lines)
	}
	errLine, warnLine := lines[0], lines[1]
	if strings.Contains(strings.ToLower(errLine), "warn") {
		t.Errorf("error line contains warn, so the host would log it as a Warning: %s", errLine)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(errLine), &rec); err != nil {
		t.Fatalf("error line is not JSON: %v: %s", err, errLine)
	}
	for k, want := range map[string]any{
		"level": "ERROR", "msg": "run failed: server Warning 1265 Data truncated", "error": "WARN: table warnings",
		"table": "Warnings_log", "n": float64(3), "invocation_id": "inv-1",
	} {
		if rec[k] != want {
			t.Errorf("error line %s = %v, want %v", k, rec[k], want)
		}
	}
	if !strings.Contains(warnLine, `"level":"WARN"`) || !strings.Contains(warnLine, "inv-1") {
		t.Errorf("warning line %s", warnLine)
	}
	if out := stdout.String(); !strings.Contains(out, `"note":"no warnings"`) || !strings.Contains(out, "inv-1") || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout %q", out)
	}
}

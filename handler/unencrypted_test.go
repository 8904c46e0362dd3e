package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLI_SaysWhenUnencrypted: with [source] ssl_mode = preferred and a
// primary that offers no TLS, the binary's log, its JSON report and check
// say that the connection is unencrypted.
func TestCLI_SaysWhenUnencrypted(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 3)
	a.extra = "[source]\nssl_mode = preferred\n"
	a.writeConfig()

	r := a.run(nil, "sync", "--json")
	if r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if rep["unencrypted"] != "primary" {
		t.Errorf("report unencrypted = %v, want \"primary\"", rep["unencrypted"])
	}
	if !strings.Contains(r.stderr, "the connection to the primary is UNENCRYPTED: [source] ssl_mode = preferred and the server offers no TLS") {
		t.Errorf("the log does not say the primary connection is unencrypted:\n%s", r.stderr)
	}

	r = a.run(nil, "check")
	if r.code != 0 {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "ok   primary") || !strings.Contains(r.stdout, "UNENCRYPTED, no TLS (plaintext): [source] ssl_mode = preferred and the server offers no TLS") {
		t.Errorf("check does not say the primary connection is unencrypted:\n%s", r.stdout)
	}
}

package dbsync_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

// TestSync_SaysWhenUnencrypted: ssl_mode = preferred against a server
// that offers no TLS goes on in plaintext; the log, the report and check
// say plainly that the connection is unencrypted. A server with TLS under
// the same setting is encrypted, and nothing is said.
func TestSync_SaysWhenUnencrypted(t *testing.T) {
	cases := []struct {
		name            string
		tlsSource       bool // the primary is the TLS server (azure), not the plain one
		plainTarget     bool // the target is the plain server, ssl_mode = preferred
		wantUnencrypted string
	}{
		{"preferred primary without TLS", false, false, "primary"},
		{"preferred primary and target without TLS", false, true, "primary,target"},
		{"preferred primary with TLS", true, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target := azure
			if tc.plainTarget {
				target = primary
			}
			e := newEnv(t, target)
			src := primary
			if tc.tlsSource {
				src = azure
				e.srcDB = azure.NewDatabase(t, "src")
			}
			seedItems(t, dbOn(t, src, e.srcDB), 4)
			e.extra = fmt.Sprintf("[source]\nhost = localhost\nport = %d\nuser = %s\npassword = %s\nssl_mode = preferred\n", src.Port, src.User, src.Password)
			if tc.plainTarget {
				e.extra += "[azure_mysql]\nssl_mode = preferred\nssl_ca =\n"
			}
			cfg, err := e.config(dbsync.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var buf strings.Builder
			var mu sync.Mutex
			log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
			rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
			if err := newRunner(log).Run(context.Background(), cfg, rep, nil); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if rep.Unencrypted != tc.wantUnencrypted {
				t.Errorf("report unencrypted = %q, want %q", rep.Unencrypted, tc.wantUnencrypted)
			}
			mu.Lock()
			logged := buf.String()
			mu.Unlock()
			for _, side := range []string{"primary", "target"} {
				line := "the connection to the " + side + " is UNENCRYPTED: [" + map[string]string{"primary": "source", "target": "azure_mysql"}[side] + "] ssl_mode = preferred and the server offers no TLS"
				if want := strings.Contains(tc.wantUnencrypted, side); strings.Contains(logged, line) != want {
					t.Errorf("log says %q: %v, want %v\n%s", line, !want, want, logged)
				}
			}

			checked := map[string]string{}
			for _, r := range newRunner(testLogger(t)).Check(context.Background(), cfg) {
				if !r.OK {
					t.Errorf("check %s failed: %s", r.Name, r.Detail)
				}
				checked[r.Name] = r.Detail
			}
			for _, side := range []string{"primary", "target"} {
				if want := strings.Contains(tc.wantUnencrypted, side); strings.Contains(checked[side], "UNENCRYPTED") != want {
					t.Errorf("check of the %s says UNENCRYPTED: %v, want %v: %s", side, !want, want, checked[side])
				}
			}
		})
	}
}

package dbsync

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfig: any config file loads or fails with a *ConfigError; it never
// panics, and a value it rejects is never a secret's.
func FuzzConfig(f *testing.F) {
	f.Add("[sync]\ndefault_target = sqlite\n[source]\nhost=h\ndatabase=d\nuser=u\nquery=SELECT 1\n[sqlite]\npath=r.db\ntable=t\n")
	f.Add("[source]\nport = 99999\npassword = a#b;c\n")
	f.Add("[sync]\ntimeout = -5\nmin_rows = x\n")
	f.Add("key outside\n[unknown]\na=b\n[azure_mysql]\nssl_mode = require\nauth = entra\n")
	f.Add("[sqlite]\ntable = \"q`x\n  continued\n")
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "config.ini")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(LoadInput{Path: path, Explicit: true, Options: RunOptions{Target: "sqlite"}})
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			if ce.Key != "" {
				if k, ok := knownKey(splitKey(ce.Key)); ok && k.secret && ce.Value != "" {
					t.Fatalf("error shows the value of secret %s", ce.Key)
				}
			}
			return
		}
		if cfg.Target != TargetSQLite {
			t.Fatalf("target %q", cfg.Target)
		}
	})
}

func splitKey(k string) (string, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == '.' {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

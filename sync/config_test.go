package dbsync_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/dbtest"
	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/sync"
)

const validConfig = dbtest.ValidConfig

func writeConfig(t *testing.T, text string) string { return dbtest.WriteConfig(t, text) }

// with is validConfig with the given settings merged over it.
func with(settings string) string { return initest.Merge(validConfig, settings) }

func load(t *testing.T, text string, opts dbsync.RunOptions, environ ...string) (*dbsync.Config, error) {
	t.Helper()
	return dbsync.LoadConfig(dbsync.LoadInput{Path: writeConfig(t, text), Explicit: true, Environ: environ, Options: opts})
}

func TestConfig_Defaults(t *testing.T) {
	cfg, err := load(t, validConfig, dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"target", cfg.Target, dbsync.TargetSQLite},
		{"min_rows", cfg.Sync.MinRows, 1},
		{"on_schema_change", cfg.Sync.OnSchemaChange, "fail"},
		{"history_table", cfg.Sync.HistoryTable, "dbsync_runs"},
		{"timeout", cfg.Sync.Timeout, 9 * time.Minute},
		{"fallback_enabled", cfg.Sync.FallbackEnabled, false},
		{"source.port", cfg.Source.Port, 3306},
		{"source.ssl_mode", cfg.Source.SSLMode, dbsync.SSLPreferred},
		{"azure_mysql.ssl_mode", cfg.AzureMySQL.SSLMode, dbsync.SSLVerifyIdentity},
		{"azure_mysql.auth", cfg.AzureMySQL.Auth, "password"},
		{"password with # and ;", cfg.Source.Password.Reveal(), "s3cret#with;chars"},
		{"multi-line query", cfg.Source.Query, "SELECT *\n  FROM items   -- continued on an indented line, as configparser allows"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// TestConfig_Precedence: config.ini < environment < run options.
func TestConfig_Precedence(t *testing.T) {
	cfg, err := load(t, validConfig, dbsync.RunOptions{Target: "azure"},
		"DBSYNC_SOURCE_HOST=env-host", "DBSYNC_AZURE_MYSQL_PASSWORD=from-env", "DBSYNC_SYNC_DEFAULT_TARGET=sqlite", "UNRELATED=1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Host != "env-host" || cfg.Origin("source.host") != "environment DBSYNC_SOURCE_HOST" {
		t.Errorf("source.host = %q from %q", cfg.Source.Host, cfg.Origin("source.host"))
	}
	if cfg.AzureMySQL.Password.Reveal() != "from-env" {
		t.Errorf("env did not override the password")
	}
	if cfg.Target != dbsync.TargetAzure {
		t.Errorf("run option did not win: target %q", cfg.Target)
	}
	if o := cfg.Origin("source.user"); !strings.HasSuffix(o, "config.ini") {
		t.Errorf("source.user origin %q", o)
	}
	if o := cfg.Origin("sync.min_rows"); o != "default" {
		t.Errorf("sync.min_rows origin %q", o)
	}

	// Key Vault overrides the environment.
	path := writeConfig(t, validConfig+"\n[keyvault]\nurl = https://v.vault.azure.net\n")
	cfg, err = dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true,
		Environ: []string{"DBSYNC_AZURE_MYSQL_PASSWORD=from-env"},
		Secrets: func(url string, names []string) (map[string]string, error) {
			return map[string]string{"azure-mysql--password": "from-vault"}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AzureMySQL.Password.Reveal() != "from-vault" || cfg.Origin("azure_mysql.password") != "Key Vault secret azure-mysql--password" {
		t.Errorf("vault did not win: origin %q", cfg.Origin("azure_mysql.password"))
	}
}

func TestConfig_SSLModeSpellings(t *testing.T) {
	for in, want := range map[string]dbsync.SSLMode{
		"require": dbsync.SSLRequired, "REQUIRED": dbsync.SSLRequired, "Verify_Identity": dbsync.SSLVerifyIdentity,
		"verify-ca": dbsync.SSLVerifyCA, "disabled": dbsync.SSLDisabled, "preferred": dbsync.SSLPreferred,
	} {
		got, err := dbsync.ParseSSLMode(in)
		if err != nil || got != want {
			t.Errorf("ParseSSLMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestConfig_Validate lists bad inputs: each must be a *ConfigError naming
// the key (and the bad value, unless it is a secret).
func TestConfig_Validate(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		opts    dbsync.RunOptions
		environ []string
		wantKey string
		want    string
	}{
		{"bad port", with("[source]\nport = 99999\n"), dbsync.RunOptions{}, nil, "source.port", `"99999"`},
		{"port not a number", with("[source]\nport = abc\n"), dbsync.RunOptions{}, nil, "source.port", "whole number"},
		{"bad bool", with("[sync]\nfallback_enabled = maybe\n"), dbsync.RunOptions{}, nil, "sync.fallback_enabled", "true or false"},
		{"bad int", with("[sync]\nmin_rows = -1\n"), dbsync.RunOptions{}, nil, "sync.min_rows", "from 0"},
		{"bad duration", with("[sync]\ntimeout = soon\n"), dbsync.RunOptions{}, nil, "sync.timeout", "duration"},
		{"bad ssl_mode", with("[azure_mysql]\nssl_mode = yes\n"), dbsync.RunOptions{}, nil, "azure_mysql.ssl_mode", "verify_identity"},
		{"bad on_schema_change", with("[sync]\non_schema_change = merge\n"), dbsync.RunOptions{}, nil, "sync.on_schema_change", "fail, recreate"},
		{"unknown target", validConfig, dbsync.RunOptions{Target: "postgres"}, nil, "target", "azure or sqlite"},
		{"missing sqlite path", strings.Replace(validConfig, "path = replica.db", "", 1), dbsync.RunOptions{}, nil, "sqlite.path", "--target sqlite"},
		{"missing azure table", strings.Replace(validConfig, "table = items\n", "", 2), dbsync.RunOptions{Target: "azure"}, nil, "azure_mysql.table", "required"},
		{"missing azure password", strings.Replace(validConfig, "password = pw", "", 1), dbsync.RunOptions{Target: "azure"}, nil, "azure_mysql.password", "Key Vault"},
		{"missing source query", strings.Replace(validConfig, "query = SELECT *\n  FROM items   -- continued on an indented line, as configparser allows", "", 1), dbsync.RunOptions{}, nil, "source.query", "required"},
		{"fallback without path", with("[sync]\nfallback_enabled = true\n"), dbsync.RunOptions{}, nil, "fallback.path", "fallback_enabled"},
		{"table too long", with("[sqlite]\ntable = " + strings.Repeat("t", 60) + "\n"), dbsync.RunOptions{}, nil, "sqlite.table", "too long"},
		{"entra without verified TLS", with("[azure_mysql]\nauth = entra\nssl_mode = required\n"), dbsync.RunOptions{Target: "azure"}, nil, "azure_mysql.ssl_mode", "use verify_identity"},
		{"unresolved Key Vault reference", validConfig, dbsync.RunOptions{}, []string{"DBSYNC_SOURCE_PASSWORD=@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/x/)"}, "source.password", "DBSYNC_SOURCE_PASSWORD"},
		{"bad value from env names the variable", validConfig, dbsync.RunOptions{}, []string{"DBSYNC_SOURCE_PORT=x"}, "source.port", "environment DBSYNC_SOURCE_PORT"},
		{"missing ssl_ca file", with("[azure_mysql]\nssl_ca = /no/such/ca.pem\n"), dbsync.RunOptions{Target: "azure"}, nil, "azure_mysql.ssl_ca", "/no/such/ca.pem"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.text, tc.opts, tc.environ...)
			var ce *dbsync.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			if ce.Key != tc.wantKey {
				t.Errorf("error names key %q, want %q (%v)", ce.Key, tc.wantKey, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestConfig_SecretsNeverInErrors(t *testing.T) {
	_, err := load(t, validConfig, dbsync.RunOptions{}, "DBSYNC_SOURCE_PASSWORD=@Microsoft.KeyVault(VaultName=v;SecretName=topsecret)")
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("error %v", err)
	}
	cfg, err := load(t, validConfig, dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		cfg.Source.Password.String(),
		strings.Join([]string{cfg.Source.Password.GoString()}, ""),
	} {
		if strings.Contains(s, "s3cret") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestConfig_FileErrors(t *testing.T) {
	_, err := dbsync.LoadConfig(dbsync.LoadInput{Path: "/no/such/config.ini", Explicit: true})
	var ce *dbsync.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "/no/such/config.ini") {
		t.Fatalf("missing explicit file: %v", err)
	}
	// An implicit config.ini that is missing is fine: settings may all
	// come from the environment (Azure app settings).
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: filepath.Join(t.TempDir(), "config.ini"), Environ: []string{
		"DBSYNC_SOURCE_HOST=h", "DBSYNC_SOURCE_DATABASE=d", "DBSYNC_SOURCE_USER=u", "DBSYNC_SOURCE_QUERY=SELECT 1",
		"DBSYNC_SYNC_DEFAULT_TARGET=sqlite", "DBSYNC_SQLITE_PATH=r.db", "DBSYNC_SQLITE_TABLE=t"}})
	if err != nil || cfg.File != "" {
		t.Fatalf("env-only config: %v (file %q)", err, cfg.File)
	}
	// Unreadable file.
	dir := t.TempDir()
	if _, err := dbsync.LoadConfig(dbsync.LoadInput{Path: dir, Explicit: true}); !errors.As(err, &ce) {
		t.Fatalf("directory as config: %v", err)
	}
}

// TestConfig_UnknownKeys (#19.9): an unknown section or key in the file
// is a config error naming the file, the line, the key and the nearest
// known one; a DBSYNC_ variable that sets no key is warned about, naming
// the nearest variable and never the value.
func TestConfig_UnknownKeys(t *testing.T) {
	for _, tc := range []struct{ name, text, key, line, want string }{
		{"unknown key", with("[sync]\nfalback_enabled = true\n"), "sync.falback_enabled", "", "the nearest known key is [sync] fallback_enabled (the keys of [sync]: default_target, "},
		{"unknown section", "[sorce]\nhost = x\n" + validConfig, "", "line 1", "unknown section [sorce]: the nearest known section is [source]"},
		{"key of another section", with("[source]\ntable = t\n"), "source.table", "", "it is a key of [azure_mysql] and [sqlite]: move it there"},
		{"key outside any section", "timeuot = 5m\n" + validConfig, "", "line 1", "key timeuot is outside any section: put it under its [section] header (the nearest known key is [sync] timeout)"},
		{"unknown key of a table", with("[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n[table.orders]\nquery = q\nwatermark = id\n"), "table.orders.watermark", "", "(the keys of a [table.<name>] section: query, "},
		{"misspelt table key", with("[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n[table.orders]\nquery = q\nkeys = id\n"), "table.orders.keys", "", "the nearest known key is [table.orders] key "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			_, err := dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true})
			wantConfigError(t, err, tc.key, []string{path + " " + tc.line, tc.want})
		})
	}

	cfg, err := load(t, validConfig, dbsync.RunOptions{},
		"DBSYNC_SOURCE_HOTS=s3cr3t-host", "dbsync_sync_min_rows=7", "DBSYNC_AZURE_MYSQL_PASWORD=s3cr3t-pw",
		"DBSYNC_CONFIG=x", "DBSYNC_HTTP_IO_TIMEOUT=1s", "DBSYNC_SYNC_MIN_ROWS=2", "DBSYNC_EMPTY=", "OTHER_SOURCE_HOTS=x")
	if err != nil {
		t.Fatal(err)
	}
	warnings := strings.Join(cfg.Warnings, "\n")
	for _, want := range []string{
		"environment DBSYNC_AZURE_MYSQL_PASWORD names no key; ignored: the nearest is DBSYNC_AZURE_MYSQL_PASSWORD ([azure_mysql] password)",
		"environment DBSYNC_SOURCE_HOTS names no key; ignored: the nearest is DBSYNC_SOURCE_HOST ([source] host)",
		"environment dbsync_sync_min_rows names no key; ignored: the nearest is DBSYNC_SYNC_MIN_ROWS ([sync] min_rows)",
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	if len(cfg.Warnings) != 3 || strings.Contains(warnings, "s3cr3t") {
		t.Errorf("want exactly the three warnings, no value:\n%s", warnings)
	}
}

func TestSecret_NeverPrints(t *testing.T) {
	s := dbsync.NewSecret("hunter2")
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%d"} {
		if got := sprintf(verb, s); strings.Contains(got, "hunter2") || strings.Contains(got, "68756e74657232") {
			t.Errorf("%s printed %q", verb, got)
		}
	}
	type holder struct{ P dbsync.Secret }
	if got := sprintf("%+v", holder{s}); strings.Contains(got, "hunter2") {
		t.Errorf("struct printed %q", got)
	}
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

// TestConfig_ExampleListsEveryKey keeps config.ini.example complete: every
// key appears with a comment above it, and nothing in it is unknown.
func TestConfig_ExampleListsEveryKey(t *testing.T) {
	text, err := os.ReadFile("../config.ini.example")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: "../config.ini.example", Explicit: true, Options: dbsync.RunOptions{Target: "sqlite"}})
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("example has unknown keys: %v", cfg.Warnings)
	}
	for _, k := range dbsync.ConfigKeys() {
		if cfg.Origin(k) == "default" {
			t.Errorf("config.ini.example does not list %s", k)
		}
	}
	if !strings.Contains(string(text), "; ") {
		t.Error("example has no comments")
	}
}

func TestOneLine(t *testing.T) {
	in := "ManagedIdentityCredential authentication failed. \nGET http://x/msi/token\n-----------\nRESPONSE 400: 400 Bad Request\n-----------\n{\n  \"error\": \"invalid_request\"\n}\n"
	want := `ManagedIdentityCredential authentication failed. GET http://x/msi/token RESPONSE 400: 400 Bad Request { "error": "invalid_request" }`
	if got := dbsync.OneLine(in); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := dbsync.OneLine("plain"); got != "plain" {
		t.Errorf("plain: %q", got)
	}
}

// TestConfig_SQLiteInAzure (#13): in Azure the app's folder is a read-only
// package mount, so a SQLite target inside it is refused before any run.
func TestConfig_SQLiteInAzure(t *testing.T) {
	scratch := filepath.Join(t.TempDir(), "scratch", "replica.db")
	cases := []struct {
		name    string
		path    string // [sqlite] path
		environ []string
		target  string
		wantErr string
	}{
		{"local run, path beside the config", "replica.db", nil, "sqlite", ""},
		{"azure, path beside the config", "replica.db", []string{"WEBSITE_INSTANCE_ID=abc"}, "sqlite", "sqlite.path"},
		{"azure, path under the config's folder", "data/replica.db", []string{"WEBSITE_INSTANCE_ID=abc"}, "sqlite", "read-only"},
		{"azure, scratch path outside the app", scratch, []string{"WEBSITE_INSTANCE_ID=abc"}, "sqlite", ""},
		{"azure, empty WEBSITE_INSTANCE_ID", "replica.db", []string{"WEBSITE_INSTANCE_ID="}, "sqlite", ""},
		{"azure, MySQL target", "replica.db", []string{"WEBSITE_INSTANCE_ID=abc"}, "azure", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(validConfig, "path = replica.db", "path = "+tc.path, 1)
			_, err := dbsync.LoadConfig(dbsync.LoadInput{Path: writeConfig(t, text), Explicit: true,
				Environ: tc.environ, Options: dbsync.RunOptions{Target: dbsync.Target(tc.target)}})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("LoadConfig: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("LoadConfig error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

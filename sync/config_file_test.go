package dbsync_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// wantConfigError checks err is a *ConfigError naming key (when not "")
// and saying every one of want, and that it holds none of secrets.
func wantConfigError(t *testing.T, err error, key string, want []string, secrets ...string) {
	t.Helper()
	var ce *dbsync.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *ConfigError", err)
	}
	if key != "" && ce.Key != key {
		t.Errorf("error names key %q, want %q (%v)", ce.Key, key, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q shows %q", err, s)
		}
	}
}

// TestConfig_TableIsHistoryTable (#9 item 3): the target table may not be
// the history table, compared as the target compares names.
func TestConfig_TableIsHistoryTable(t *testing.T) {
	cases := []struct {
		name     string
		settings string
		target   string
		wantKey  string // "" = accepted
	}{
		{"sqlite, same name", "[sqlite]\ntable = dbsync_runs\n", "sqlite", "sqlite.table"},
		{"sqlite, ASCII case differs", "[sqlite]\ntable = DBSYNC_Runs\n", "sqlite", "sqlite.table"},
		{"azure, case differs (lower_case_table_names = 1)", "[azure_mysql]\ntable = Dbsync_Runs\n", "azure", "azure_mysql.table"},
		{"azure, history_table set to the table", "[sync]\nhistory_table = ITEMS\n", "azure", "azure_mysql.table"},
		{"sqlite folds ASCII only", "[sqlite]\ntable = É\n[sync]\nhistory_table = é\n", "sqlite", ""},
		{"different names", "[sqlite]\ntable = runs\n", "sqlite", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, with(tc.settings), dbsync.RunOptions{Target: dbsync.Target(tc.target)})
			if tc.wantKey == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantConfigError(t, err, tc.wantKey, []string{"history_table", "choose another"})
		})
	}
}

// TestConfig_ParseErrors (#9 item 4): ini errors name the file, the line
// and, when the line starts with one, the key; never the line's text.
func TestConfig_ParseErrors(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		line    string // "line N" the error names
		wantKey string
	}{
		{"password without =", "[source]\nhost = h\npassword S3cr3t;#x\n", "line 3", "source.password"},
		{"value without key", "[source]\nhost = h\n\nS3cr3t;#x\n", "line 4", ""},
		{"unknown word without =", "[source]\nhost = h\npasword S3cr3t\n", "line 3", ""},
		{"empty key", "[source]\n= S3cr3t\n", "line 2", ""},
		{"unclosed section", "[sync]\n[source S3cr3t\n", "line 2", ""},
		{"unclosed quoted key", "[source]\n\"S3cr3t = x\n", "line 2", ""},
		{"unclosed quoted value", "[source]\npassword = `S3cr3t\nhost = h\n", "line 2", "source.password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			_, err := dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true})
			wantConfigError(t, err, tc.wantKey, []string{path + " " + tc.line}, "S3cr3t")
		})
	}
	// A key that is no key dbsync knows is a config error; it is named
	// only when its name cannot be a value ("password S3cr3t: x" is key
	// "password S3cr3t" to the parser).
	_, err := load(t, validConfig+"[fallback]\npassword S3cr3t: x\n", dbsync.RunOptions{})
	wantConfigError(t, err, "(name not shown)", []string{"config.ini line ", "is not a known key"}, "S3cr3t")
	_, err = load(t, with("[sync]\nfalback = 1\n"), dbsync.RunOptions{})
	wantConfigError(t, err, "sync.falback", []string{"config.ini line ", "the nearest known key is [sync] fallback_enabled"})
}

// TestConfig_FileBounded (#9 item 4): a file that is not a config is
// refused after reading at most 1 MiB.
func TestConfig_FileBounded(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path string
		want       []string
	}{
		{"/dev/zero", "/dev/zero", []string{"/dev/zero: is larger than 1024 KiB"}},
		{"huge", write("huge.ini", []byte(strings.Repeat("[sync]\n", 200_000))), []string{"huge.ini: is larger than"}},
		{"binary", write("db.ini", []byte("[source]\nhost = h\nSQLite format 3\x00")), []string{"db.ini line 3: holds a NUL byte"}},
		{"not UTF-8", write("latin1.ini", []byte("[source]\npassword = S3cr3t\xe9\n")), []string{"latin1.ini line 2: is not UTF-8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dbsync.LoadConfig(dbsync.LoadInput{Path: tc.path, Explicit: true})
			wantConfigError(t, err, "", tc.want, "S3cr3t")
		})
	}
	// Just under the limit, a long multi-line query is read whole (ini.v1
	// looks ahead 4 KiB for indented lines unless told otherwise).
	long := "SELECT *\n" + strings.Repeat("  FROM items -- padding padding padding padding\n", 15_000)
	cfg, err := load(t, with("[source]\nquery = "+long), dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Source.Query, strings.TrimSpace(long); got != want {
		t.Errorf("query has %d bytes, want %d", len(got), len(want))
	}
}

// TestConfig_EntraNeedsVerifyIdentity (#9 item 5).
func TestConfig_EntraNeedsVerifyIdentity(t *testing.T) {
	for mode, ok := range map[string]bool{"verify_identity": true, "verify_ca": false, "required": false, "preferred": false, "disabled": false} {
		t.Run(mode, func(t *testing.T) {
			_, err := load(t, with("[azure_mysql]\nauth = entra\npassword =\nssl_mode = "+mode+"\n"), dbsync.RunOptions{Target: "azure"})
			if ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantConfigError(t, err, "azure_mysql.ssl_mode", []string{"use verify_identity", `"` + mode + `"`})
		})
	}
}

// TestConfig_DurationsAndNumbers (#9 item 10): every duration is from 1s
// to 24h, every number in its range; the error names key and range.
func TestConfig_DurationsAndNumbers(t *testing.T) {
	bad := []struct{ key, value, want string }{
		{"sync.timeout", "1e10", "from 1s to 24h"},
		{"sync.timeout", "NaN", "from 1s to 24h"},
		{"sync.timeout", "Inf", "from 1s to 24h"},
		{"sync.timeout", "-Inf", "from 1s to 24h"},
		{"sync.timeout", "-5", "from 1s to 24h"},
		{"sync.timeout", "0", "from 1s to 24h"},
		{"sync.timeout", "1e400", "from 1s to 24h"},
		{"sync.timeout", "25h", "from 1s to 24h"},
		{"sync.timeout", "9999999999h", "from 1s to 24h"},
		{"sync.timeout", "-1m", "from 1s to 24h"},
		{"source.read_timeout", "1e300", "from 1s to 24h"},
		{"source.read_timeout", "1e-12", "from 1s to 24h"},
		{"azure_mysql.write_timeout", "500ms", "from 1s to 24h"},
		{"azure_mysql.connect_timeout", "0x1p-40", "from 1s to 24h"},
		{"source.port", "99999999999999999999", "from 1 to 65535"},
		{"source.port", "0", "from 1 to 65535"},
		{"sync.min_rows", "1e3", "whole number from 0"},
		{"sync.min_rows", "-99999999999999999999", "from 0 to"},
	}
	for _, tc := range bad {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			section, key, _ := strings.Cut(tc.key, ".")
			_, err := load(t, with("["+section+"]\n"+key+" = "+tc.value+"\n"), dbsync.RunOptions{Target: "azure"})
			wantConfigError(t, err, tc.key, []string{tc.want, `"` + tc.value + `"`})
		})
	}
	good := []struct {
		value string
		want  time.Duration
	}{{"1", time.Second}, {"90", 90 * time.Second}, {"1.5", 1500 * time.Millisecond}, {"24h", 24 * time.Hour}, {"86400", 24 * time.Hour}, {"5m", 5 * time.Minute}}
	for _, tc := range good {
		cfg, err := load(t, with("[sync]\ntimeout = "+tc.value+"\n"), dbsync.RunOptions{})
		if err != nil {
			t.Fatalf("timeout = %s: %v", tc.value, err)
		}
		if cfg.Sync.Timeout != tc.want {
			t.Errorf("timeout = %s gives %v, want %v", tc.value, cfg.Sync.Timeout, tc.want)
		}
	}
}

// TestConfig_Duplicates (#9 item 11): a key or section given twice is an
// error naming both lines; an indented line of a multi-line value is not a
// key.
func TestConfig_Duplicates(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		wantKey string
		want    string
	}{
		{"key twice", "[source]\npassword = a\nhost = h\npassword = S3cr3t\n", "source.password", "is set twice, on lines 2 and 4"},
		{"key twice, other case", "[source]\nHost = a\nhost = b\n", "source.host", "on lines 2 and 3"},
		{"key twice in a reopened section", "[source]\nhost = a\n[sync]\n[Source]\nhost = b\n", "", "section [source] is opened twice, on lines 1 and 4"},
		{"section twice", "[sync]\nmin_rows = 1\n\n[sync]\ntimeout = 5m\n", "", "section [sync] is opened twice, on lines 1 and 4"},
		{"unknown key twice", "[sync]\ncolour = 1\ncolour = 2\n", "", "lines 2 and 3 set the same key sync.colour"},
		{"unknown key with a space twice", "[sync]\nS3cr3t x = 1\nS3cr3t x = 2\n", "", "lines 2 and 3 set the same key (name not shown)"},
		{"key outside any section twice", "host = a\nhost = b\n[sync]\n", "", "lines 1 and 2 set the same key default.host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			_, err := dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true})
			wantConfigError(t, err, tc.wantKey, []string{path, tc.want}, "S3cr3t")
		})
	}
	// Not duplicates: the same key in two sections, and key-like lines
	// inside a multi-line value.
	cfg, err := load(t, validConfig+"\n[fallback]\npath = f.db\nquery = SELECT *\n  FROM items\n  WHERE note = 'path = x'\n\tpath = y\n", dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Fallback.Query != "SELECT *\n  FROM items\n  WHERE note = 'path = x'\n\tpath = y" {
		t.Errorf("fallback.query = %q", cfg.Fallback.Query)
	}
}

// TestConfig_TableNameCharacters (#9 item 12): table names are counted in
// characters, and a name MySQL cannot store (a character outside the BMP, a
// file name over 255 bytes) is refused for the azure target only.
func TestConfig_TableNameCharacters(t *testing.T) {
	cases := []struct {
		name     string
		settings string
		target   string
		wantKey  string // "" = accepted
		want     string
	}{
		{"47 katakana on azure", "[azure_mysql]\ntable = " + strings.Repeat("カ", 47) + "\n", "azure", "", ""},
		{"48 katakana on azure: too long a file name", "[azure_mysql]\ntable = " + strings.Repeat("カ", 48) + "\n", "azure", "azure_mysql.table", "at most 47 such characters"},
		{"52 ASCII characters on azure", "[azure_mysql]\ntable = " + strings.Repeat("t", 52) + "\n", "azure", "", ""},
		{"52 katakana on sqlite", "[sqlite]\ntable = " + strings.Repeat("カ", 52) + "\n", "sqlite", "", ""},
		{"53 characters", "[sqlite]\ntable = " + strings.Repeat("カ", 53) + "\n", "sqlite", "sqlite.table", "53 characters, at most 52"},
		{"emoji on azure", "[azure_mysql]\ntable = items😀\n", "azure", "azure_mysql.table", "U+1F600"},
		{"emoji history table on azure", "[sync]\nhistory_table = runs😀\n", "azure", "sync.history_table", "Basic Multilingual Plane"},
		{"emoji on sqlite", "[sqlite]\ntable = items😀\n[sync]\nhistory_table = runs😀\n", "sqlite", "", ""},
		{"last BMP character on azure", "[azure_mysql]\ntable = items\uffef\n", "azure", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, with(tc.settings), dbsync.RunOptions{Target: dbsync.Target(tc.target)})
			if tc.wantKey == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantConfigError(t, err, tc.wantKey, []string{tc.want})
		})
	}
}

// TestConfig_RelativePaths (#9 item 14): a relative path is relative to
// the config file's folder, not the working directory, whichever layer set
// it; without a file, to the working directory.
func TestConfig_RelativePaths(t *testing.T) {
	path := writeConfig(t, with("[sqlite]\npath = data/replica.db\n[fallback]\npath = /abs/fallback.db\n[azure_mysql]\nssl_ca = ca.pem\n"))
	dir := filepath.Dir(path)
	t.Chdir(t.TempDir())
	for _, p := range []string{filepath.Join(dir, "ca.pem"), filepath.Join(dir, "env-ca.pem")} {
		if err := os.WriteFile(p, []byte("not read here"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: path, Explicit: true, Options: dbsync.RunOptions{Target: "azure"},
		Environ: []string{"DBSYNC_SOURCE_SSL_CA=env-ca.pem"}})
	if err != nil {
		t.Fatal(err) // before: ca.pem was looked for in the working directory
	}
	for _, c := range []struct{ name, got, want string }{
		{"sqlite.path", cfg.SQLite.Path, filepath.Join(dir, "data", "replica.db")},
		{"fallback.path", cfg.Fallback.Path, "/abs/fallback.db"},
		{"azure_mysql.ssl_ca", cfg.AzureMySQL.SSLCA, filepath.Join(dir, "ca.pem")},
		{"source.ssl_ca (environment)", cfg.Source.SSLCA, filepath.Join(dir, "env-ca.pem")},
		{"Dir", cfg.Dir(), dir},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

// TestConfig_EmptyEnvironment (#9 item 15): an empty variable does not
// override the file.
func TestConfig_EmptyEnvironment(t *testing.T) {
	cfg, err := load(t, validConfig, dbsync.RunOptions{Target: "azure"},
		"DBSYNC_AZURE_MYSQL_PASSWORD=", "DBSYNC_SOURCE_HOST=  ", "DBSYNC_SYNC_MIN_ROWS=")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AzureMySQL.Password.Reveal() != "pw" || cfg.Source.Host != "db.example.com" {
		t.Errorf("empty variables overrode the file: host %q", cfg.Source.Host)
	}
	if o := cfg.Origin("azure_mysql.password"); !strings.HasSuffix(o, "config.ini") {
		t.Errorf("azure_mysql.password from %q, want the file", o)
	}
	if o := cfg.Origin("sync.min_rows"); o != "default" {
		t.Errorf("sync.min_rows from %q, want default", o)
	}
}

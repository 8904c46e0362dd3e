package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbsync/dbsync/internal/initest"
)

// writeRaw writes config.ini as given: no merge, so a test can write what
// a user could (a key twice, a broken line).
func (a *app) writeRaw(text string) {
	a.t.Helper()
	if err := os.WriteFile(filepath.Join(a.dir, "config.ini"), []byte(text), 0o600); err != nil {
		a.t.Fatal(err)
	}
}

// lineNumber is the 1-based line of text that starts with prefix.
func lineNumber(t *testing.T, text, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return 0
}

// TestCLI_ConfigValues runs the binary on config values that must stop a
// run before any database is touched (exit 2), with a message naming the
// key and what to do, and no secret in the output.
func TestCLI_ConfigValues(t *testing.T) {
	cases := []struct {
		name  string
		extra string
		args  []string
		msg   []string
	}{
		// #9 item 3: the target table is the history table.
		{"azure table is the history table", "[azure_mysql]\ntable = DBSYNC_RUNS\n", nil,
			[]string{"azure_mysql.table", "history_table"}},
		{"sqlite table is the history table", "[sqlite]\ntable = Dbsync_Runs\n", []string{"--target", "sqlite"},
			[]string{"sqlite.table", "history_table"}},
		{"history table is the target table", "[sync]\nhistory_table = Items\n", nil,
			[]string{"azure_mysql.table", "history_table"}},
		// #9 item 5: a bearer token needs the host name verified.
		{"entra with verify_ca", "[azure_mysql]\nauth = entra\nssl_mode = verify_ca\n", nil,
			[]string{"azure_mysql.ssl_mode", "verify_identity"}},
		// #9 item 10: durations out of range.
		{"timeout 1e10", "[sync]\ntimeout = 1e10\n", nil, []string{"sync.timeout", "from 1s to 24h"}},
		{"timeout NaN", "[sync]\ntimeout = NaN\n", nil, []string{"sync.timeout", "from 1s to 24h"}},
		{"timeout Inf", "[sync]\ntimeout = Inf\n", nil, []string{"sync.timeout", "from 1s to 24h"}},
		{"read_timeout 1e300", "[source]\nread_timeout = 1e300\n", nil, []string{"source.read_timeout", "from 1s to 24h"}},
		{"read_timeout 1e-12", "[azure_mysql]\nread_timeout = 1e-12\n", nil, []string{"azure_mysql.read_timeout", "from 1s to 24h"}},
		// #9 item 12: a name MySQL cannot store.
		{"emoji table name", "[azure_mysql]\ntable = items_😀\n", nil, []string{"azure_mysql.table", "U+1F600"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			a.extra = tc.extra
			a.writeConfig()
			a.seed(a.src, 20)
			a.seed(a.dst, 3)
			r := a.run(nil, append([]string{"sync"}, tc.args...)...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, exitUsage, r.stderr)
			}
			last := lastLine(r.stderr)
			for _, m := range tc.msg {
				if !strings.HasPrefix(last, "error: config ") || !strings.Contains(last, m) {
					t.Errorf("last stderr line %q; want a config error saying %q", last, m)
				}
			}
			if n := a.count(a.dst, "items"); n != 3 {
				t.Errorf("target has %d rows, want the 3 it had", n)
			}
			if _, err := os.Stat(filepath.Join(a.dir, "replica.db")); err == nil {
				t.Error("the sqlite target was created")
			}
		})
	}
}

// TestCLI_TableNameInCharacters (#9 item 12): a name is counted in
// characters, not bytes: 47 katakana (141 bytes; 5 bytes each in the
// server's file names, the tighter limit) load; 48 are refused before the
// run, not by the server half-way.
func TestCLI_TableNameInCharacters(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	name := strings.Repeat("カ", 47)
	a.extra = "[azure_mysql]\ntable = " + name + "\n"
	a.writeConfig()
	a.seed(a.src, 20)
	if r := a.run(nil, "sync"); r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if n := a.count(a.dst, name); n != 20 {
		t.Fatalf("target %s has %d rows, want 20", name, n)
	}
	a.extra = "[azure_mysql]\ntable = " + name + "カ\n"
	a.writeConfig()
	if r := a.run(nil, "sync"); r.code != exitUsage || !strings.Contains(lastLine(r.stderr), "azure_mysql.table") || !strings.Contains(r.stderr, "at most 47 such characters") {
		t.Fatalf("48 characters: exit %d\n%s", r.code, r.stderr)
	}
}

// TestCLI_DuplicateKeys (#9 item 11): a key or section given twice is a
// configuration error naming both lines; the values are never shown.
func TestCLI_DuplicateKeys(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 20)
	base := a.configText()
	cases := []struct {
		name string
		text string
		msg  string
	}{
		{"password twice", strings.Replace(base, "[azure_mysql]\n", "[azure_mysql]\npassword = Dup1icate-S3cr3t\n", 1),
			fmt.Sprintf("azure_mysql.password (from config.ini): is set twice, on lines %d and %d",
				lineNumber(t, base, "[azure_mysql]")+1, lineNumber(t, base, "password = "+azure.Password)+1)},
		{"key in another case", strings.Replace(base, "[sqlite]\n", "[sqlite]\nTABLE = other\n", 1), "sqlite.table"},
		{"section in another case", base + "\n[SQLite]\n", "section [sqlite] is opened twice"},
		{"section twice", base + "\n[source]\nport = 1\n",
			fmt.Sprintf("section [source] is opened twice, on lines %d and %d", lineNumber(t, base, "[source]"), strings.Count(base, "\n")+2)},
	}
	for _, tc := range cases {
		a.writeRaw(tc.text)
		r := a.run(nil, "sync")
		if r.code != exitUsage || !strings.Contains(lastLine(r.stderr), tc.msg) {
			t.Errorf("%s: exit %d, last line %q; want exit 2 saying %q", tc.name, r.code, lastLine(r.stderr), tc.msg)
		}
		if strings.Contains(r.stdout+r.stderr, "Dup1icate-S3cr3t") || strings.Contains(r.stdout+r.stderr, azure.Password) {
			t.Errorf("%s: a password appears in the output", tc.name)
		}
	}
}

// badLine is a password line that lost its "=": the parser used to quote
// it in its error.
const badLine = "password S3cr3t;#x"

// TestCLI_ConfigFileErrors (#9 item 4): an ini error names the file, the
// line and (when the line starts with one) the key, never the line's text;
// a file that is not a config is refused after a bounded read.
func TestCLI_ConfigFileErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	base := a.configText()
	malformed := strings.Replace(base, "[azure_mysql]\n", "[azure_mysql]\n"+badLine+"\n", 1)
	line := lineNumber(t, malformed, badLine)
	big := filepath.Join(a.dir, "big.ini")
	if err := os.WriteFile(big, []byte(strings.Repeat("; a comment line\n", 200_000)), 0o600); err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(a.dir, "binary.ini")
	if err := os.WriteFile(binary, []byte("SQLite format 3\x00\x10\x00\x01\x01"), 0o600); err != nil {
		t.Fatal(err)
	}
	latin1 := filepath.Join(a.dir, "latin1.ini")
	if err := os.WriteFile(latin1, []byte("[source]\nuser = J\xf6rg\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"sync: line without =", []string{"sync"}, fmt.Sprintf(`azure_mysql.password (from config.ini line %d): has no "="`, line)},
		{"check: line without =", []string{"check"}, fmt.Sprintf("config.ini line %d", line)},
		{"/dev/zero", []string{"sync", "--config", "/dev/zero"}, "/dev/zero: is larger than 1024 KiB"},
		{"huge file", []string{"sync", "--config", big}, "big.ini: is larger than 1024 KiB"},
		{"binary file", []string{"sync", "--config", binary}, "binary.ini line 1: holds a NUL byte"},
		{"not UTF-8", []string{"sync", "--config", latin1}, "latin1.ini line 2: is not UTF-8 text"},
	}
	for _, tc := range cases {
		a.writeRaw(malformed)
		r := a.run(nil, tc.args...)
		if r.code != exitUsage || !strings.Contains(lastLine(r.stderr), tc.msg) {
			t.Errorf("%s: exit %d, last line %q; want exit 2 saying %q", tc.name, r.code, lastLine(r.stderr), tc.msg)
		}
		if strings.Contains(r.stdout+r.stderr, "S3cr3t") {
			t.Errorf("%s: the line's text appears in the output:\n%s", tc.name, r.stderr)
		}
	}
}

// TestHost_ConfigFileErrors (#9 item 4): the same broken line reaches the
// HTTP 400 body, the Logs and the timer report, all without its text.
func TestHost_ConfigFileErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	malformed := strings.Replace(a.configText(), "[azure_mysql]\n", "[azure_mysql]\n"+badLine+"\n", 1)
	a.writeRaw(malformed)
	where := fmt.Sprintf("config.ini line %d", lineNumber(t, malformed, badLine))
	h := startHandler(t, a)

	_, _, ir := h.invoke("SyncHttp", fixture(t, "http-post-sqlite.json"), "inv-badline-http")
	status, body := res(t, ir)
	if status != 400 || !strings.Contains(fmt.Sprint(body["error"]), where) {
		t.Errorf("HTTP: %d %v; want 400 naming %q", status, body, where)
	}
	code, _, timer := h.invoke("SyncTimer", fixture(t, "timer.json"), "inv-badline-timer")
	if rep, _ := timer.Outputs["report"].(map[string]any); code != 500 || !strings.Contains(fmt.Sprint(rep["error"]), where) {
		t.Errorf("timer: %d, report %v; want 500 naming %q", code, rep, where)
	}
	if !h.hasLine(true, "inv-badline-timer", where) {
		t.Errorf("timer config error not on stderr")
	}
	for name, ir := range map[string]invocationResponse{"HTTP": ir, "timer": timer} {
		raw, _ := json.Marshal(ir)
		if strings.Contains(string(raw), "S3cr3t") {
			t.Errorf("%s answer holds the line's text: %s", name, raw)
		}
	}
	for _, l := range append(h.lines(false), h.lines(true)...) {
		if strings.Contains(l, "S3cr3t") {
			t.Errorf("a log line holds the line's text: %s", l)
		}
	}
}

// TestCLI_RelativePaths (#9 item 14): paths in config.ini are relative to
// its folder, whatever the working directory; check says which folder.
func TestCLI_RelativePaths(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 20)
	conf := filepath.Join(a.dir, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(azure.CA)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "ca.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	text := initest.Merge(a.configText(), "[sqlite]\npath = replica.db\n[fallback]\npath = fallback.db\n[azure_mysql]\nssl_ca = ca.pem\n")
	if err := os.WriteFile(filepath.Join(conf, "config.ini"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// Run from the app root, as the Functions host does.
	if r := a.run(nil, "sync", "--config", "conf/config.ini", "--target", "sqlite"); r.code != exitOK {
		t.Fatalf("sqlite: exit %d\n%s", r.code, r.stderr)
	}
	if n := sqliteCountT(t, filepath.Join(conf, "replica.db")); n != 20 {
		t.Fatalf("conf/replica.db has %d rows, want 20", n)
	}
	if _, err := os.Stat(filepath.Join(a.dir, "replica.db")); err == nil {
		t.Error("replica.db was created in the working directory")
	}
	if r := a.run(nil, "sync", "--config", "conf/config.ini"); r.code != exitOK {
		t.Fatalf("azure with a relative ssl_ca: exit %d\n%s", r.code, r.stderr)
	}
	r := a.run(nil, "check", "--config", "conf/config.ini", "--target", "sqlite")
	if r.code != exitOK || !strings.Contains(r.stdout, "relative paths in it are read from "+conf) ||
		!strings.Contains(r.stdout, filepath.Join(conf, "replica.db")) {
		t.Errorf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestCLI_EmptyEnvironment (#9 item 15): an empty DBSYNC_* variable does
// not blank a value config.ini sets.
func TestCLI_EmptyEnvironment(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 20)
	r := a.run([]string{"DBSYNC_AZURE_MYSQL_PASSWORD=", "DBSYNC_SOURCE_HOST=", "DBSYNC_AZURE_MYSQL_TABLE= "}, "sync")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if n := a.count(a.dst, "items"); n != 20 {
		t.Fatalf("target has %d rows, want 20", n)
	}
}

// TestHost_LocalSettingsExample (#9 item 15): docs/azure-functions.md's `func start` steps:
// local.settings.json.example's values become the environment, config.ini
// holds the settings, and a manual run loads.
func TestHost_LocalSettingsExample(t *testing.T) {
	t.Parallel()
	var settings struct {
		Values map[string]string `json:"Values"`
	}
	readJSON(t, "../local.settings.json.example", &settings)
	var env []string
	for k, v := range settings.Values {
		if strings.HasPrefix(k, "DBSYNC_") && strings.TrimSpace(v) == "" {
			t.Errorf("local.settings.json.example sets %s empty", k)
		}
		env = append(env, k+"="+v)
	}
	a := newApp(t)
	a.seed(a.src, 20)
	h := startHandler(t, a, env...)
	status, body, _, msgs := h.post(fixture(t, "http-post-sqlite.json"), "inv-local-settings")
	if status != 202 || len(msgs) != 1 {
		t.Fatalf("manual run with local.settings.json.example: %d %v, %d messages", status, body, len(msgs))
	}
	if code, ir := h.deliver(msgs[0], 1, "inv-local-settings-queue"); code != 200 {
		t.Fatalf("queued run with local.settings.json.example: host got %d, logs %v", code, ir.Logs)
	}
	if status, run, _ := h.runStatus(body["run_id"].(string), "sqlite", "inv-local-settings-get"); status != 200 || run["status"] != "succeeded" || run["rows"] != float64(20) {
		t.Fatalf("run with local.settings.json.example: %d %v", status, run)
	}
}

// TestCLI_UnknownKeys (#19.9): an unknown key in config.ini stops check
// and sync with exit 2, naming the file, the line, the key and the
// nearest known key, before anything is touched; a DBSYNC_ variable that
// sets no key is warned about by name with the nearest variable, never
// its value, and the run goes on.
func TestCLI_UnknownKeys(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 5)
	for _, tc := range []struct{ name, insert, after, want string }{
		{"misspelt key", "min_row = 1", "[sync]\n", "config sync.min_row (from config.ini line %d): is not a known key: the nearest known key is [sync] min_rows"},
		{"key of a newer version", "watermark_column = updated_at", "[source]\n", "config source.watermark_column (from config.ini line %d): is not a known key: the nearest known key is [source] "},
		{"misspelt section", "[sorce]\nhost = x", "query = SELECT * FROM items\n\n", "config config.ini line %d: unknown section [sorce]: the nearest known section is [source]"},
	} {
		text := strings.Replace(a.configText(), tc.after, tc.after+tc.insert+"\n", 1)
		a.writeRaw(text)
		want := fmt.Sprintf(tc.want, lineNumber(t, text, strings.Split(tc.insert, "\n")[0]))
		for _, cmd := range []string{"check", "sync"} {
			r := a.run(nil, cmd)
			if r.code != exitUsage || !strings.Contains(lastLine(r.stderr), want) {
				t.Errorf("%s, %s: exit %d, last line %q; want exit 2 saying %q", tc.name, cmd, r.code, lastLine(r.stderr), want)
			}
		}
		var tables int
		if err := a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables); err != nil || tables != 0 {
			t.Errorf("%s: the target has %d tables (%v), want none", tc.name, tables, err)
		}
	}

	a.writeConfig()
	r := a.run([]string{"DBSYNC_SOURCE_PASWORD=S3cr3t-value", "DBSYNC_TABLE__ITEMS__QUERRY=S3cr3t-query"}, "sync")
	if r.code != exitOK {
		t.Fatalf("sync with stray variables: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"environment DBSYNC_SOURCE_PASWORD names no key; ignored: the nearest is DBSYNC_SOURCE_PASSWORD ([source] password)",
		"environment DBSYNC_TABLE__ITEMS__QUERRY names no key of a [table.<name>] section in the config file; ignored",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "S3cr3t") {
		t.Errorf("a variable's value appears in the output:\n%s", r.stderr)
	}
}

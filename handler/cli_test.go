package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLI_Demo is README's first command on a fresh checkout: create the
// demo's fallback data, then sync with the primary unreachable.
func TestCLI_Demo(t *testing.T) {
	t.Parallel()
	a := &app{t: t, dir: t.TempDir()}
	demo, err := os.ReadFile("../demo/config.ini")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(a.dir, "demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.dir, "demo", "config.ini"), demo, 0o644); err != nil {
		t.Fatal(err)
	}
	// Without the fallback database the sync must fail, not invent data.
	r := a.run(nil, "sync", "--config", "demo/config.ini")
	if r.code != exitFailed || !strings.Contains(r.stderr, "demo/fallback.db") {
		t.Fatalf("sync without demo data: exit %d, stderr %s", r.code, r.stderr)
	}
	if r := a.run(nil, "demo-data", "--config", "demo/config.ini"); r.code != 0 {
		t.Fatalf("demo-data: %d %s", r.code, r.stderr)
	}
	r = a.run(nil, "sync", "--config", "demo/config.ini")
	if r.code != 0 {
		t.Fatalf("demo sync: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "succeeded: 1000 rows from fallback into sqlite table items") {
		t.Errorf("stdout %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "primary failed; reading the fallback SQLite database instead") {
		t.Errorf("no fallback log line in stderr:\n%s", r.stderr)
	}
}

// TestCLI_ExitCodes runs the binary on bad input: the exit code, a one-line
// message naming the cause, and a target left as it was.
func TestCLI_ExitCodes(t *testing.T) {
	cases := []struct {
		name  string
		extra string
		args  []string
		env   []string
		code  int
		msg   string
	}{
		{"success", "", nil, nil, exitOK, ""},
		{"missing config file", "", []string{"--config", "nope.ini"}, nil, exitUsage, "nope.ini"},
		{"config file from DBSYNC_CONFIG missing", "", nil, []string{"DBSYNC_CONFIG=/no/such.ini"}, exitUsage, "/no/such.ini"},
		{"unknown --target", "", []string{"--target", "oracle"}, nil, exitUsage, `invalid value "oracle" for flag -target: want azure or sqlite`},
		{"unknown flag", "", []string{"--bogus"}, nil, exitUsage, "bogus"},
		{"bad port", "[azure_mysql]\nport = 70000\n", nil, nil, exitUsage, "azure_mysql.port"},
		{"bad bool from env", "", nil, []string{"DBSYNC_SYNC_FALLBACK_ENABLED=perhaps"}, exitUsage, "DBSYNC_SYNC_FALLBACK_ENABLED"},
		{"bad duration", "[sync]\ntimeout = forever\n", nil, nil, exitUsage, "sync.timeout"},
		{"missing key for target", "[azure_mysql]\ntable =\n", nil, nil, exitUsage, "azure_mysql.table"},
		{"wrong target password", "[azure_mysql]\npassword = wrong\n", nil, nil, exitFailed, "check [azure_mysql] user and password"},
		{"certificate for another host", "[azure_mysql]\nhost = 127.0.0.1\n", nil, nil, exitFailed, "host must be a name the server's certificate lists"},
		{"plaintext to TLS-only target", "[azure_mysql]\nssl_mode = disabled\n", nil, nil, exitFailed, "ssl_mode = verify_identity"},
		{"target database missing", "[azure_mysql]\ndatabase = no_such_db\n", nil, nil, exitFailed, "no such database"},
		{"source query syntax error", "[source]\nquery = SELECT FROM WHERE\n", nil, nil, exitFailed, "SQL syntax"},
		{"zero rows", "[source]\nquery = SELECT * FROM items WHERE id < 0\n", nil, nil, exitFailed, "min_rows"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			a.extra = tc.extra
			a.writeConfig()
			a.seed(a.src, 20)
			a.seed(a.dst, 3)
			r := a.run(tc.env, append([]string{"sync"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, tc.code, r.stderr)
			}
			if tc.code == exitOK {
				if n := a.count(a.dst, "items"); n != 20 {
					t.Fatalf("target has %d rows, want 20", n)
				}
				return
			}
			last := lastLine(r.stderr)
			if !strings.HasPrefix(last, "error: ") || !strings.Contains(last, tc.msg) {
				t.Errorf("last stderr line %q; want an error line saying %q", last, tc.msg)
			}
			if strings.Contains(r.stderr+r.stdout, azure.Password) || strings.Contains(r.stderr+r.stdout, primary.Password) {
				t.Error("a password appears in the output")
			}
			if n := a.count(a.dst, "items"); n != 3 {
				t.Errorf("target has %d rows, want the 3 it had", n)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestCLI_Busy: exit 3 while another session holds the run lock.
func TestCLI_Busy(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 5)
	conn, err := a.dst.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "DO GET_LOCK(?, 0)", "dbsync:"+a.dstDB+".items"); err != nil {
		t.Fatal(err)
	}
	r := a.run(nil, "sync", "--json")
	if r.code != exitBusy {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitBusy, r.stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep["status"] != "busy" {
		t.Fatalf("report %s (%v)", r.stdout, err)
	}
}

// TestCLI_JSON: --json prints exactly one report object with docs/cli.md's
// keys on stdout; logs go to stderr.
func TestCLI_JSON(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 12)
	r := a.run(nil, "sync", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var rep map[string]any
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one object:\n%s", r.stdout)
	}
	for _, k := range []string{"run_id", "trigger", "status", "source", "fallback_reason", "target", "table", "rows",
		"load_method", "started_at", "finished_at", "duration_ms", "rows_per_sec", "error"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if rep["status"] != "succeeded" || rep["rows"] != float64(12) || rep["trigger"] != "cli" || rep["load_method"] != "load_data" {
		t.Errorf("report %v", rep)
	}
	if _, err := time.Parse(time.RFC3339, rep["started_at"].(string)); err != nil {
		t.Errorf("started_at not RFC 3339: %v", err)
	}
	if !strings.Contains(r.stderr, "run ended: succeeded") {
		t.Errorf("no log on stderr:\n%s", r.stderr)
	}
}

// TestCLI_KilledMidLoad kills the process with SIGKILL while it loads: the
// target must still hold the previous complete data, and the next run must
// succeed and clean up what the killed one left.
func TestCLI_KilledMidLoad(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			a.seed(a.src, 3000)
			// First a complete sync: the "previous data".
			if r := a.run(nil, "sync", "--target", target); r.code != 0 {
				t.Fatalf("first sync: %s", r.stderr)
			}
			a.exec("DELETE FROM items WHERE id > 2000")
			// A slow query keeps the second run loading for seconds.
			a.extra = "[source]\nquery = SELECT * FROM items WHERE SLEEP(0.002) = 0\n"
			a.writeConfig()
			cmd := exec.Command(binary, "sync", "--target", target)
			cmd.Dir, cmd.Env = a.dir, cleanEnv()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitLoading(t, a, target)
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			previous := func() int64 {
				if target == "sqlite" {
					return sqliteCountT(t, filepath.Join(a.dir, "replica.db"))
				}
				return a.count(a.dst, "items")
			}
			if n := previous(); n != 3000 {
				t.Fatalf("after SIGKILL the target has %d rows, want the previous 3000", n)
			}
			a.extra = ""
			a.writeConfig()
			var r result
			// The server may take a moment to notice the dead connection
			// and release its run lock: "busy" is the right answer then.
			for deadline := time.Now().Add(20 * time.Second); ; {
				r = a.run(nil, "sync", "--target", target)
				if r.code != exitBusy || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if r.code != 0 {
				t.Fatalf("next sync: exit %d\n%s", r.code, r.stderr)
			}
			if n := previous(); n != 2000 {
				t.Fatalf("after the next run the target has %d rows, want 2000", n)
			}
			if target == "azure" {
				assertNoHelperTables(t, a.dst, "items\\_\\_dbsync%", "next run")
				var status string
				_ = a.dst.QueryRow("SELECT status FROM dbsync_runs ORDER BY started_at DESC LIMIT 1").Scan(&status)
				if status != "succeeded" {
					t.Fatalf("latest history row %q", status)
				}
			}
		})
	}
}

// waitLoading waits until the run has created its staging table.
func waitLoading(t *testing.T, a *app, target string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if target == "azure" {
			var n int
			_ = a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'items\\_\\_dbsync\\_new\\_%'").Scan(&n)
			if n == 1 {
				time.Sleep(500 * time.Millisecond)
				return
			}
		} else if _, err := os.Stat(filepath.Join(a.dir, "replica.db-journal")); err == nil {
			time.Sleep(500 * time.Millisecond)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the run never started loading")
}

// TestCLI_Check connects everywhere without writing and reports TLS, the
// load method and where each key came from; a broken part fails it.
func TestCLI_Check(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 3)
	r := a.run([]string{"DBSYNC_AZURE_MYSQL_PASSWORD=" + azure.Password}, "check")
	if r.code != 0 {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"azure_mysql.password         from environment DBSYNC_AZURE_MYSQL_PASSWORD",
		"source.host                  from config.ini",
		"ok   primary", "no TLS (plaintext)", "query returns 3 columns",
		"ok   target    mysql localhost", "TLS TLSv1.3", "LOAD DATA LOCAL allowed",
		"table does not exist yet",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, azure.Password) {
		t.Error("check printed a password")
	}
	var tables int
	_ = a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables)
	if tables != 0 {
		t.Errorf("check created %d tables on the target", tables)
	}

	a.extra = "[azure_mysql]\nhost = 127.0.0.1\n"
	a.writeConfig()
	r = a.run(nil, "check")
	if r.code != exitFailed || !strings.Contains(r.stdout, "FAIL target") || !strings.Contains(r.stdout, "certificate") {
		t.Fatalf("check with a bad target: exit %d\n%s", r.code, r.stdout)
	}
}

// TestCLI_Help: -h and --help on every command print its usage and flags
// on stdout and exit 0 (#19.5); an unknown command prints the usage on
// its lines, on stderr, and exits 2 (#19.6).
func TestCLI_Help(t *testing.T) {
	t.Parallel()
	a := &app{t: t, dir: t.TempDir()}
	for _, cmd := range []string{"sync", "check", "demo-data"} {
		for _, flag := range []string{"-h", "--help", "-help"} {
			r := a.run(nil, cmd, flag)
			if r.code != exitOK || r.stderr != "" {
				t.Errorf("%s %s: exit %d, stderr %q; want 0 and nothing on stderr", cmd, flag, r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "Usage: handler "+cmd) || !strings.Contains(r.stdout, "\n  -config string\n") {
				t.Errorf("%s %s: stdout is not the command's usage with its flags:\n%s", cmd, flag, r.stdout)
			}
		}
		// A bad flag is still a usage error, with the usage on stderr.
		r := a.run(nil, cmd, "--bogus")
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "Usage: handler "+cmd) || lastLine(r.stderr) != "error: flag provided but not defined: -bogus" {
			t.Errorf("%s --bogus: exit %d, stdout %q, stderr:\n%s", cmd, r.code, r.stdout, r.stderr)
		}
	}
	r := a.run(nil, "sink")
	lines := strings.Split(r.stderr, "\n")
	if r.code != exitUsage || lines[0] != `error: unknown command "sink"` || !strings.Contains(r.stderr, "\nUsage:\n  handler ") || !strings.Contains(r.stderr, "\n  handler sync  [flags] ") || len(lines) < 10 {
		t.Errorf("unknown command: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	for _, help := range []string{"help", "-h", "--help"} {
		if r := a.run(nil, help); r.code != exitOK || !strings.Contains(r.stdout, "\nUsage:\n") {
			t.Errorf("%s: exit %d, stdout %q", help, r.code, r.stdout)
		}
	}
}

// TestMake_Demo runs README's `make demo` (the Makefile's demo target,
// with this test's binary as bin/handler) in a copy of the checkout's
// Makefile and demo/: a few lines that say it worked and how to look at
// the replica and the run history, whose commands work; the run's log
// lines go to demo/sync.log (#19.14).
func TestMake_Demo(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dir := t.TempDir()
	for src, dst := range map[string]string{"../Makefile": "Makefile", "../demo/config.ini": "demo/config.ini", binary: "bin/handler"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// -o build: the binary is there; make does not rebuild it.
	cmd := exec.Command("make", "--no-print-directory", "-o", "build", "demo")
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make demo: %v\n%s", err, out)
	}
	text := string(out)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 14 || !strings.Contains(text, "succeeded: 1000 rows from fallback into sqlite table items") || !strings.Contains(text, "\nThe demo worked.") || strings.Contains(text, "level=") {
		t.Errorf("make demo printed %d lines; want at most 14 saying it worked, without log lines:\n%s", len(lines), text)
	}
	log, err := os.ReadFile(filepath.Join(dir, "demo", "sync.log"))
	if err != nil || !strings.Contains(string(log), "primary failed; reading the fallback SQLite database instead") {
		t.Errorf("demo/sync.log (%v) lacks the run's log:\n%s", err, log)
	}
	// The commands it suggests, run on what it made.
	var ran int
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "sqlite3 ") && !strings.HasPrefix(l, "./bin/handler history ") {
			continue
		}
		if _, err := exec.LookPath("sqlite3"); err != nil && strings.HasPrefix(l, "sqlite3 ") {
			t.Logf("sqlite3 is not installed: %s not run", l)
			continue
		}
		c := exec.Command("sh", "-c", l)
		c.Dir = dir
		got, err := c.CombinedOutput()
		if err != nil || strings.Count(string(got), "\n") < 2 {
			t.Errorf("%s: %v\n%s", l, err, got)
		}
		ran++
	}
	if !strings.Contains(text, "sqlite3 -header demo/replica.db 'SELECT * FROM items LIMIT 5'") || !strings.Contains(text, "./bin/handler history --config demo/config.ini") {
		t.Errorf("make demo does not say how to look at the replica and the run history:\n%s", text)
	}
	t.Logf("ran %d suggested commands", ran)
}

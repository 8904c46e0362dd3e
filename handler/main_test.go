package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/dbtest"
	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// The real binary, built once as the Makefile builds it, and the servers
// the end-to-end tests share (internal/dbtest).
var (
	binary  string
	servers dbtest.Servers
	primary *mariadbtest.Server
	azure   *mariadbtest.Server
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dbsync-handler-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := dbtest.Main(m, &servers, dbtest.Want{}, func() error {
		primary, azure = servers.Primary, servers.Azure
		binary = filepath.Join(dir, "handler")
		build := exec.Command("go", "build", "-buildvcs=true", "-o", binary, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build handler: %v\n%s", err, out)
		}
		return nil
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

// app is one test's app root: config.ini, databases, SQLite files.
type app struct {
	t            *testing.T
	dir          string
	srcDB, dstDB string
	extra        string
	src, dst     *sql.DB
}

func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{t: t, dir: t.TempDir()}
	a.srcDB = primary.NewDatabase(t, "src")
	a.dstDB = azure.NewDatabase(t, "dst")
	a.src = socketDB(t, primary, a.srcDB)
	a.dst = socketDB(t, azure, a.dstDB)
	a.writeConfig()
	return a
}

func socketDB(t *testing.T, s *mariadbtest.Server, db string) *sql.DB { return dbtest.DB(t, s, db) }

func (a *app) configText() string {
	job := dbtest.Job{Dir: a.dir, Primary: primary, SrcDB: a.srcDB, Target: azure, TargetDB: a.dstDB}
	return initest.Merge(job.Text("[sync]\nfallback_enabled = false\n"), a.extra)
}

func (a *app) writeConfig() {
	if err := os.WriteFile(filepath.Join(a.dir, "config.ini"), []byte(a.configText()), 0o600); err != nil {
		a.t.Fatal(err)
	}
}

func (a *app) exec(stmts ...string) {
	a.t.Helper()
	for _, q := range stmts {
		if _, err := a.src.Exec(q); err != nil {
			a.t.Fatalf("%q: %v", q, err)
		}
	}
}

func (a *app) seed(db *sql.DB, n int) {
	a.t.Helper()
	for _, q := range []string{
		"CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT NULL)",
		fmt.Sprintf("INSERT INTO items SELECT seq, CONCAT('item ', seq), REPEAT('n', seq %% 50) FROM seq_1_to_%d", n),
	} {
		if _, err := db.Exec(q); err != nil {
			a.t.Fatalf("%q: %v", q, err)
		}
	}
}

func (a *app) count(db *sql.DB, table string) int64 {
	a.t.Helper()
	var n int64
	if err := db.QueryRow("SELECT COUNT(*) FROM " + mariadbtest.Join(table)).Scan(&n); err != nil {
		a.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// result is what a user sees of one command.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary in the app dir with the given environment added.
func (a *app) run(env []string, args ...string) result {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = a.dir
	cmd.Env = append(cleanEnv(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatalf("run %v: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}
}

// cleanEnv is the environment without the developer's own DBSYNC_
// settings, proxies or Azure identity, which would change what the binary
// does.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
			"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_CLIENT_ID", "AZURE_TOKEN_CREDENTIALS":
			continue
		}
		if !strings.HasPrefix(name, "DBSYNC_") {
			env = append(env, kv)
		}
	}
	return env
}

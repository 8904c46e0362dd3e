package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// verifyDoc is what a user reads of verify --json.
type verifyDoc struct {
	Identical bool   `json:"identical"`
	Error     string `json:"error"`
	Tables    []struct {
		Table     string   `json:"table"`
		Missing   int64    `json:"missing"`
		Extra     int64    `json:"extra"`
		Different int64    `json:"different"`
		Examples  []string `json:"examples"`
		Compare   string   `json:"compare"`
	} `json:"tables"`
}

func verifyJSON(t *testing.T, a *app, wantCode int, env []string, args ...string) verifyDoc {
	t.Helper()
	r := a.run(env, append([]string{"verify", "--json"}, args...)...)
	if r.code != wantCode {
		t.Fatalf("verify %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, wantCode, r.stdout, r.stderr)
	}
	var doc verifyDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	return doc
}

// targetSnapshot is what verify must not change on the azure target: the
// table list, each table's checksum and definition, the history's rows.
func targetSnapshot(t *testing.T, a *app) string {
	t.Helper()
	rows, err := a.dst.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		var name, def string
		var sum sql.NullInt64
		if err := a.dst.QueryRow("CHECKSUM TABLE `"+table+"`").Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		if err := a.dst.QueryRow("SHOW CREATE TABLE `"+table+"`").Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d\n%s\n", table, sum.Int64, def)
	}
	return b.String()
}

// TestCLI_Verify: the binary's verify on the MySQL target: exit 0 on an
// exact replica, 4 with the counts and keys of each difference, 3 while a
// run holds the lock, 1 when the primary cannot be read, 2 on a
// configuration error; --json is one document of the documented shape;
// and nothing on the target changes, history included.
func TestCLI_Verify(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 300)
	a.seed(a.dst, 0)
	if r := a.run(nil, "sync"); r.code != exitOK {
		t.Fatalf("sync: exit %d\n%s", r.code, r.stderr)
	}
	r := a.run(nil, "verify")
	if r.code != exitOK || !strings.Contains(r.stdout, "identical  items (compared by checksums)") || !strings.HasSuffix(r.stdout, "verify: identical\n") {
		t.Fatalf("verify of an exact replica: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	// The document's keys, as docs/verify.md lists them.
	var raw map[string]any
	if err := json.Unmarshal([]byte(a.run(nil, "verify", "--json").stdout), &raw); err != nil {
		t.Fatal(err)
	}
	tables, _ := raw["tables"].([]any)
	if raw["identical"] != true || len(tables) != 1 {
		t.Fatalf("--json: %v", raw)
	}
	var keys []string
	for k := range tables[0].(map[string]any) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range []string{"compare", "different", "examples", "extra", "missing", "table"} {
		if !slices.Contains(keys, k) {
			t.Errorf("--json table entry lacks %q: has %v", k, keys)
		}
	}

	before := targetSnapshot(t, a)
	a.exec("UPDATE items SET name = CONCAT(name, ' ') WHERE id IN (10, 20)", "DELETE FROM items WHERE id = 30", "INSERT INTO items VALUES (1000, 'new', NULL)")
	if _, err := a.dst.Exec("DELETE FROM items WHERE id = 40"); err != nil {
		t.Fatal(err)
	}
	before = targetSnapshot(t, a)
	for _, compare := range []string{"checksums", "rows"} {
		doc := verifyJSON(t, a, exitDiffer, []string{"DBSYNC_SYNC_COMPARE=" + compare})
		got := doc.Tables[0]
		if doc.Identical || got.Table != "items" || got.Compare != compare || got.Missing != 2 || got.Extra != 1 || got.Different != 2 ||
			!reflect.DeepEqual(got.Examples, []string{"10", "20", "30", "40", "1000"}) {
			t.Errorf("compare = %s: %+v", compare, doc)
		}
	}
	r = a.run(nil, "verify")
	if r.code != exitDiffer || !strings.Contains(r.stdout, "DIFFERENT  items: 2 missing, 1 extra, 2 different (compared by checksums); keys: 10 · 20 · 30 · 40 · 1000") {
		t.Errorf("verify lines: exit %d\n%s", r.code, r.stdout)
	}
	if after := targetSnapshot(t, a); after != before {
		t.Errorf("verify changed the target:\nbefore %s\nafter %s", before, after)
	}

	// Busy: a run holds the table's lock.
	conn, err := a.dst.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "DO GET_LOCK(?, 0)", "dbsync:"+a.dstDB+".items"); err != nil {
		t.Fatal(err)
	}
	if r := a.run(nil, "verify"); r.code != exitBusy {
		t.Errorf("verify while a run holds the lock: exit %d, want %d\n%s", r.code, exitBusy, r.stderr)
	}
	if _, err := conn.ExecContext(t.Context(), "DO RELEASE_LOCK(?)", "dbsync:"+a.dstDB+".items"); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	// The primary unreachable: could not verify (no fallback).
	doc := verifyJSON(t, a, exitFailed, []string{"DBSYNC_SOURCE_PORT=1", "DBSYNC_SOURCE_CONNECT_TIMEOUT=2s"})
	if doc.Identical || !strings.Contains(doc.Error, "primary") {
		t.Errorf("primary unreachable: %+v", doc)
	}
	if r := a.run([]string{"DBSYNC_SOURCE_PORT=1", "DBSYNC_SOURCE_CONNECT_TIMEOUT=2s"}, "verify"); !strings.Contains(r.stderr, "could not verify") {
		t.Errorf("primary unreachable: stderr %s", r.stderr)
	}
	// A configuration error.
	if r := a.run([]string{"DBSYNC_SYNC_COMPARE=bytes"}, "verify"); r.code != exitUsage || !strings.Contains(r.stderr, "compare") {
		t.Errorf("compare = bytes: exit %d\n%s", r.code, r.stderr)
	}
	if r := a.run(nil, "verify", "--target", "sqlite", "--tables", "nope"); r.code != exitUsage {
		t.Errorf("verify --tables nope: exit %d, want %d\n%s", r.code, exitUsage, r.stderr)
	}
}

// TestCLI_VerifyCompress: with [source] compress = true verify is exact.
func TestCLI_VerifyCompress(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.seed(a.src, 2000)
	a.seed(a.dst, 0)
	env := []string{"DBSYNC_SOURCE_COMPRESS=true"}
	if r := a.run(env, "sync"); r.code != exitOK {
		t.Fatalf("sync: exit %d\n%s", r.code, r.stderr)
	}
	verifyJSON(t, a, exitOK, env)
	a.exec("UPDATE items SET note = CONCAT(note, 'x') WHERE id = 1999")
	for _, compare := range []string{"checksums", "rows"} {
		doc := verifyJSON(t, a, exitDiffer, append(env, "DBSYNC_SYNC_COMPARE="+compare))
		if got := doc.Tables[0]; got.Different != 1 || got.Missing+got.Extra != 0 || !reflect.DeepEqual(got.Examples, []string{"1999"}) {
			t.Errorf("compress, compare = %s: %+v", compare, got)
		}
	}
}

// TestCLI_VerifySQLite: verify of the SQLite target compares by rows and
// leaves the file's bytes as they were.
func TestCLI_VerifySQLite(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	// The replica is built from the query's columns, without a key: verify
	// takes the configured one.
	a.extra = "[sync]\nkey = id\n"
	a.writeConfig()
	a.seed(a.src, 200)
	if r := a.run(nil, "sync", "--target", "sqlite"); r.code != exitOK {
		t.Fatalf("sync: exit %d\n%s", r.code, r.stderr)
	}
	file := filepath.Join(a.dir, "replica.db")
	sum := func() [32]byte {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	before := sum()
	doc := verifyJSON(t, a, exitOK, nil, "--target", "sqlite")
	if doc.Tables[0].Compare != "rows" {
		t.Errorf("sqlite target: %+v, want compare rows", doc)
	}
	a.exec("DELETE FROM items WHERE id = 5")
	doc = verifyJSON(t, a, exitDiffer, nil, "--target", "sqlite")
	if got := doc.Tables[0]; got.Missing != 0 || got.Extra != 1 || !reflect.DeepEqual(got.Examples, []string{"5"}) {
		t.Errorf("sqlite target after a delete on the source: %+v", got)
	}
	if sum() != before {
		t.Error("verify changed the SQLite file")
	}
	if r := a.run([]string{"DBSYNC_SYNC_COMPARE=checksums"}, "verify", "--target", "sqlite"); r.code != exitUsage || !strings.Contains(r.stderr, "sync.compare") {
		t.Errorf("compare = checksums on sqlite: exit %d\n%s", r.code, r.stderr)
	}
}

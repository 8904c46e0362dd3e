package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// incReport is what a user reads of an incremental table in --json.
type incReport struct {
	merge  mergeReport // the same report as the merge tests read it
	Status string      `json:"status"`
	Mode   string      `json:"mode"`
	Tables []struct {
		Table      string `json:"table"`
		Rows       int64  `json:"rows"`
		Mode       string `json:"mode"`
		ModeReason string `json:"mode_reason"`
		Inserted   int64  `json:"inserted"`
		Updated    int64  `json:"updated"`
		Deleted    int64  `json:"deleted"`
		RowsRead   int64  `json:"rows_read"`
		CursorFrom string `json:"cursor_from"`
		CursorTo   string `json:"cursor_to"`
	} `json:"tables"`
}

func incJSON(t *testing.T, a *app, target string, env ...string) incReport {
	t.Helper()
	r := a.run(env, "sync", "--target", target, "--json")
	if r.code != 0 {
		t.Fatalf("sync --target %s: exit %d\nstdout: %s\nstderr: %s", target, r.code, r.stdout, r.stderr)
	}
	var rep incReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep.merge); err != nil {
		t.Fatal(err)
	}
	return rep
}

// table is the entry of name, as "mode rows +ins ~upd -del read=N full|window".
func (r incReport) table(name string) string {
	for _, t := range r.Tables {
		if t.Table == name {
			w := "full"
			if t.CursorFrom != "" {
				w = "window"
			}
			return fmt.Sprintf("%s %d +%d ~%d -%d read=%d %s", t.Mode, t.Rows, t.Inserted, t.Updated, t.Deleted, t.RowsRead, w)
		}
	}
	return "no table " + name
}

func (r incReport) reason(name string) string {
	for _, t := range r.Tables {
		if t.Table == name {
			return t.ModeReason
		}
	}
	return ""
}

// incTable creates table i on the primary: n rows whose server-set cursor
// is an hour old and 10 s apart, so that the window after a full run
// holds row 1 only.
const incTableDDL = "CREATE TABLE i (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT NULL, " +
	"updated_at DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), KEY i_updated (updated_at))"

func incSeed(a *app, n int) {
	a.t.Helper()
	a.exec("DROP TABLE IF EXISTS i", incTableDDL,
		fmt.Sprintf("INSERT INTO i SELECT seq, CONCAT('row ', seq), IF(seq %% 7 = 0, NULL, REPEAT('n', seq %% 20)), NOW(6) - INTERVAL (3600 + 10 * seq) SECOND FROM seq_1_to_%d", n))
}

// contentHash is a SHA-256 of every row of table ordered by id, the
// cursor as text (the replica's DATETIME, or SQLite's stored text).
func contentHash(t *testing.T, db *sql.DB, table string, sqlite bool) string {
	t.Helper()
	ts := "DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f')"
	if sqlite {
		ts = "updated_at"
	}
	rows, err := db.Query("SELECT id, name, note, " + ts + " FROM " + table + " ORDER BY id")
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	h := sha256.New()
	n := 0
	for rows.Next() {
		var id int64
		var name string
		var note, at sql.NullString
		if err := rows.Scan(&id, &name, &note, &at); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%d|%q|%v%q|%v%q\n", id, name, note.Valid, note.String, at.Valid, at.String)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d rows %s", n, hex.EncodeToString(h.Sum(nil))[:16])
}

// assertIncExact checks the replica's i against the primary's: by content
// hash, and on the MySQL target also by pt-table-sync, which must find
// nothing to change.
func assertIncExact(t *testing.T, a *app, target, when string) {
	t.Helper()
	if got, want := contentHash(t, replica(t, a, target), "i", target == "sqlite"), contentHash(t, a.src, "i", false); got != want {
		t.Fatalf("%s: replica i is %s, the primary's %s", when, got, want)
	}
	if target == "azure" {
		ptTableSync(t, a, "i", when)
	}
}

// ptTableSync runs Percona's pt-table-sync between the primary's table and
// the replica's (over their sockets) and fails on any statement it would
// run to make them equal.
func ptTableSync(t *testing.T, a *app, table, when string) {
	t.Helper()
	pt, err := exec.LookPath("pt-table-sync")
	if err != nil {
		t.Fatalf("pt-table-sync is needed to judge exactness (apt-get install percona-toolkit): %v", err)
	}
	dsn := func(socket, user, password, db string) string {
		return fmt.Sprintf("S=%s,u=%s,p=%s,D=%s,t=%s", socket, user, password, db, table)
	}
	out, err := exec.Command(pt, "--print", "--no-check-triggers", "--algorithms", "Chunk,Nibble",
		dsn(primary.Socket, primary.User, primary.Password, a.srcDB), dsn(azure.Socket, azure.User, azure.Password, a.dstDB)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: pt-table-sync: %v\n%s", when, err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Fatalf("%s: pt-table-sync would change the replica:\n%s", when, s)
	}
}

// TestCLI_IncrementalMixedJob runs one job of a replace table, a merge
// table and an incremental table through the real binary, in one snapshot,
// on each target: the incremental table's first run replaces, the second
// merges in full, then only the window is read, and updates, inserts,
// deletes, a key change and NULL cursors all arrive exactly (content hash,
// pt-table-sync), and so do the other tables' changes.
func TestCLI_IncrementalMixedJob(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			mixedJob(a, 200, "fallback_enabled = false")
			incSeed(a, 2000)
			a.extra += "[table.i]\nquery = SELECT id, name, note, updated_at FROM i\nmode = incremental\ncursor = updated_at\nkey = id\nlookback = 1s\n"
			a.writeConfig()

			if got := incJSON(t, a, target).table("i"); !strings.HasPrefix(got, "replace 2000") {
				t.Fatalf("first run: i is %q", got)
			}
			rep := incJSON(t, a, target)
			if got := rep.table("i"); got != "incremental 2000 +0 ~0 -0 read=2000 full" || !strings.Contains(rep.reason("i"), "mode replace") {
				t.Fatalf("second run: i is %q (%s)", got, rep.reason("i"))
			}
			if rep.Mode != "incremental,merge,replace" {
				t.Errorf("run mode %q", rep.Mode)
			}
			assertIncExact(t, a, target, "full run")

			a.exec("UPDATE i SET name = 'changed' WHERE id BETWEEN 100 AND 119",
				"UPDATE i SET note = NULL WHERE id = 300", // value → NULL
				"INSERT INTO i (id, name, note) VALUES (2001, 'new', 'x'), (2002, 'new', NULL)",
				"INSERT INTO i (id, name, note, updated_at) VALUES (2003, 'null cursor', 'y', NULL)",
				"DELETE FROM i WHERE id IN (5, 1500, 1999)",
				"UPDATE i SET id = 5000 WHERE id = 77", // a key change
				"UPDATE m SET name = 'm changed' WHERE id = 3",
				"UPDATE r SET name = 'r changed' WHERE id = 4")
			rep = incJSON(t, a, target)
			// Rows 100..119, 300, 2001..2003, 5000, and row 1 (the newest
			// cursor of the last run, within lookback).
			if got := rep.table("i"); got != "incremental 2000 +4 ~21 -4 read=26 window" {
				t.Errorf("incremental run: i is %q (%s)", got, rep.reason("i"))
			}
			if got := rep.merge.counts("m"); got != "merge 200 +0 ~1 -0 =199" {
				t.Errorf("incremental run: m is %q", got)
			}
			assertIncExact(t, a, target, "incremental run")
			for _, table := range []string{"m", "r"} {
				if got, want := dump(t, replica(t, a, target), table), dump(t, a.src, table); got != want {
					t.Errorf("%s differs from the source", table)
				}
			}
			if got := incJSON(t, a, target).table("i"); !strings.HasPrefix(got, "incremental 2000 +0 ~0 -0") || !strings.HasSuffix(got, "window") {
				t.Errorf("run without change: i is %q", got)
			}
		})
	}
}

// TestCLI_IncrementalKilledAtRandom kills the real binary with SIGKILL at
// random points of incremental runs, with rows changing between them: the
// run after each kill leaves the replica exactly the primary's, so no kill
// ever let the watermark pass a row that was not applied.
func TestCLI_IncrementalKilledAtRandom(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			seed := time.Now().UnixNano()
			t.Logf("random seed %d", seed)
			rng := rand.New(rand.NewPCG(uint64(seed), 0))
			a := newApp(t)
			incSeed(a, 3000)
			// A slow query stretches the run, so that kills land inside it.
			a.extra = "[source]\nquery = SELECT id, name, note, updated_at FROM i WHERE SLEEP(0.0002) = 0\n[fallback]\nquery =\n[azure_mysql]\ntable = i\n[sqlite]\ntable = i\n" +
				"[sync]\nmode = incremental\ncursor = updated_at\nkey = id\nlookback = 1s\n"
			a.writeConfig()
			incJSON(t, a, target)
			start := time.Now()
			incJSON(t, a, target) // the full merge: the longest run
			span := time.Since(start)
			for i := range 6 {
				lo := 1 + rng.IntN(2800)
				a.exec(fmt.Sprintf("UPDATE i SET name = 'kill %d' WHERE id BETWEEN %d AND %d", i, lo, lo+30),
					fmt.Sprintf("DELETE FROM i WHERE id = %d", lo+40),
					fmt.Sprintf("INSERT INTO i (id, name) VALUES (%d, 'kill %d')", 10000+i, i))
				cmd := exec.Command(binary, "sync", "--target", target)
				cmd.Dir, cmd.Env = a.dir, cleanEnv()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				after := time.Duration(rng.Int64N(int64(span)))
				time.Sleep(after)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
				t.Logf("kill %d after %s", i, after)
				// Changes after the kill, then a run that completes (an
				// incremental one once a run has succeeded).
				a.exec(fmt.Sprintf("UPDATE i SET note = 'after kill %d' WHERE id = %d", i, lo+50))
				if r := runUntilNotBusy(a, target); r.code != 0 {
					t.Fatalf("the run after kill %d: exit %d\n%s", i, r.code, r.stderr)
				}
				assertIncExact(t, a, target, fmt.Sprintf("after kill %d", i))
				rep := incJSON(t, a, target)
				if got := rep.table("i"); !strings.HasSuffix(got, "window") {
					t.Fatalf("after kill %d, the second run: i is %q (%s)", i, got, rep.reason("i"))
				}
				assertIncExact(t, a, target, fmt.Sprintf("incremental run after kill %d", i))
			}
		})
	}
}

package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mergeReport is what a user reads of a merge run's --json report.
type mergeReport struct {
	Status     string `json:"status"`
	Source     string `json:"source"`
	Mode       string `json:"mode"`
	ModeReason string `json:"mode_reason"`
	Rows       int64  `json:"rows"`
	Error      string `json:"error"`
	Tables     []struct {
		Table      string `json:"table"`
		Rows       int64  `json:"rows"`
		Mode       string `json:"mode"`
		ModeReason string `json:"mode_reason"`
		Inserted   int64  `json:"inserted"`
		Updated    int64  `json:"updated"`
		Deleted    int64  `json:"deleted"`
		Unchanged  int64  `json:"unchanged"`
	} `json:"tables"`
}

// counts is a table's entry as "mode rows +inserted ~updated -deleted =unchanged".
func (r mergeReport) counts(table string) string {
	for _, t := range r.Tables {
		if t.Table == table {
			return fmt.Sprintf("%s %d +%d ~%d -%d =%d", t.Mode, t.Rows, t.Inserted, t.Updated, t.Deleted, t.Unchanged)
		}
	}
	return "no table " + table
}

func (r mergeReport) reason(table string) string {
	for _, t := range r.Tables {
		if t.Table == table {
			return t.ModeReason
		}
	}
	return ""
}

func syncJSON(t *testing.T, a *app, target string, wantCode int, env ...string) (mergeReport, result) {
	t.Helper()
	r := a.run(env, "sync", "--target", target, "--json")
	if r.code != wantCode {
		t.Fatalf("sync --target %s: exit %d, want %d\nstdout: %s\nstderr: %s", target, r.code, wantCode, r.stdout, r.stderr)
	}
	var rep mergeReport
	if wantCode != exitUsage {
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.stdout)
		}
	}
	return rep, r
}

// replica opens the target of target: the azure database, or the SQLite
// replica file.
func replica(t *testing.T, a *app, target string) *sql.DB {
	t.Helper()
	if target == "azure" {
		return a.dst
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(a.dir, "replica.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dump is every row of table ordered by id, NULL shown as NULL.
func dump(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query("SELECT id, name, note FROM " + table + " ORDER BY id")
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id int64
		var name string
		var note sql.NullString
		if err := rows.Scan(&id, &name, &note); err != nil {
			t.Fatal(err)
		}
		n := "NULL"
		if note.Valid {
			n = fmt.Sprintf("%q", note.String)
		}
		fmt.Fprintf(&b, "%d|%q|%s\n", id, name, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// mixedJob is a job of two tables on the primary: m (mode = merge) and r
// (replace), n rows each.
func mixedJob(a *app, n int, sync string) {
	a.t.Helper()
	for _, table := range []string{"m", "r"} {
		a.exec("DROP TABLE IF EXISTS "+table,
			"CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT NULL)",
			fmt.Sprintf("INSERT INTO %s SELECT seq, CONCAT('row ', seq), IF(seq %% 7 = 0, NULL, REPEAT('n', seq %% 20)) FROM seq_1_to_%d", table, n))
	}
	a.extra = "[sync]\n" + sync + "\n[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n" +
		"[table.m]\nquery = SELECT id, name, note FROM m\nmode = merge\nkey = id\n" +
		"[table.r]\nquery = SELECT id, name, note FROM r\n"
	a.writeConfig()
}

// TestCLI_MergeMixedJob runs a job of a merge table and a replace table
// through the real binary on each target: the first run replaces the
// missing merge table and says so; then inserts, updates (NULL ↔ value
// included) and deletes are counted and the replica holds exactly the
// source's rows; a run with no change writes nothing; the history keeps
// the counts.
func TestCLI_MergeMixedJob(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			mixedJob(a, 200, "")
			dst := replica(t, a, target)

			rep, _ := syncJSON(t, a, target, 0)
			if got := rep.counts("m"); got != "replace 200 +0 ~0 -0 =0" || !strings.Contains(rep.reason("m"), "does not exist yet: the first run of a merge table is a replace") {
				t.Fatalf("first run: m is %q (%q); want a replace that says it is the first run", got, rep.reason("m"))
			}

			a.exec("DELETE FROM m WHERE id IN (3, 50, 200)",
				"INSERT INTO m VALUES (201, 'new 201', NULL), (202, 'new 202', 'x')",
				"UPDATE m SET name = 'changed' WHERE id IN (10, 11)",
				"UPDATE m SET note = NULL WHERE id = 12",  // value → NULL
				"UPDATE m SET note = 'now' WHERE id = 14", // NULL → value
				"UPDATE m SET note = '' WHERE id = 21",    // NULL → ''
				"UPDATE r SET name = 'changed r' WHERE id = 1")
			rep, _ = syncJSON(t, a, target, 0)
			if got := rep.counts("m"); got != "merge 199 +2 ~5 -3 =192" {
				t.Errorf("merge run: m is %q, want merge 199 +2 ~5 -3 =192", got)
			}
			if got := rep.counts("r"); got != "replace 200 +0 ~0 -0 =0" {
				t.Errorf("merge run: r is %q", got)
			}
			if rep.Mode != "merge,replace" || rep.Rows != 399 {
				t.Errorf("run mode %q rows %d, want merge,replace and 399", rep.Mode, rep.Rows)
			}
			for _, table := range []string{"m", "r"} {
				if got, want := dump(t, dst, table), dump(t, a.src, table); got != want {
					t.Errorf("%s differs from the source after the merge run", table)
				}
			}

			rep, _ = syncJSON(t, a, target, 0)
			if got := rep.counts("m"); got != "merge 199 +0 ~0 -0 =199" {
				t.Errorf("run without change: m is %q", got)
			}
			if target == "azure" {
				var mode string
				var ins, upd, del, same int64
				if err := a.dst.QueryRow("SELECT `mode`, inserted, updated, deleted, unchanged FROM dbsync_runs WHERE `table` = 'm' ORDER BY started_at DESC LIMIT 1 OFFSET 1").Scan(&mode, &ins, &upd, &del, &same); err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprintf("%s +%d ~%d -%d =%d", mode, ins, upd, del, same); got != "merge +2 ~5 -3 =192" {
					t.Errorf("history row of the merge run: %s", got)
				}
			}
		})
	}
}

// TestCLI_MergeGuards: merge_max_changes replaces instead and says why;
// max_delete fails the run naming it, the target unchanged; a merge table
// without a key is a configuration error naming the table.
func TestCLI_MergeGuards(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			mixedJob(a, 100, "merge_max_changes = 0.1")
			dst := replica(t, a, target)
			syncJSON(t, a, target, 0)

			a.exec("UPDATE m SET name = 'big change' WHERE id <= 20")
			rep, _ := syncJSON(t, a, target, 0)
			if got := rep.counts("m"); got != "replace 100 +0 ~0 -0 =0" || !strings.Contains(rep.reason("m"), "20 of 100 rows changed") || !strings.Contains(rep.ModeReason, "merge_max_changes = 0.1") {
				t.Errorf("20 %% changed: m is %q (%q), want a replace naming merge_max_changes", got, rep.ModeReason)
			}
			if got, want := dump(t, dst, "m"), dump(t, a.src, "m"); got != want {
				t.Errorf("m differs from the source after the replace")
			}

			before := dump(t, dst, "m")
			a.exec("DELETE FROM m WHERE id > 40")
			rep, r := syncJSON(t, a, target, exitFailed)
			if !strings.Contains(r.stderr, "max_delete = 0.5") || !strings.Contains(rep.Error, "[sync] max_delete") || !strings.Contains(rep.Error, "60 of the 100") {
				t.Errorf("60 %% deleted: error %q; want it to name [sync] max_delete\n%s", rep.Error, r.stderr)
			}
			if dump(t, dst, "m") != before {
				t.Errorf("a run that failed on max_delete changed the target")
			}

			// No key: a target table without one.
			a.exec("CREATE TABLE nokey (id INT NULL, name VARCHAR(50) NOT NULL, note TEXT NULL)", "INSERT INTO nokey VALUES (1, 'a', NULL)")
			a.extra += "[table.nokey]\nquery = SELECT id, name, note FROM nokey\nmode = merge\n"
			a.extra = strings.Replace(a.extra, "mode = merge\nkey = id\n[table.r]", "mode = replace\nkey = id\n[table.r]", 1)
			a.writeConfig()
			syncJSON(t, a, target, 0) // the first run creates it (a replace)
			_, r = syncJSON(t, a, target, exitUsage)
			if !strings.Contains(r.stderr, "[table.nokey] key") || !strings.Contains(r.stderr, "merge needs a key") {
				t.Errorf("no key: stderr does not name [table.nokey] key:\n%s", r.stderr)
			}
		})
	}
}

// TestCLI_MergeFallback: with the primary down, a merge table reads the
// SQLite fallback ordered by its key and merges from it.
func TestCLI_MergeFallback(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	mixedJob(a, 50, "fallback_enabled = true")
	syncJSON(t, a, "azure", 0)

	fb, err := sql.Open("sqlite", "file:"+filepath.Join(a.dir, "fallback.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	for _, table := range []string{"m", "r"} {
		if _, err := fb.Exec("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)"); err != nil {
			t.Fatal(err)
		}
		// Inserted in reverse: the fallback's rows come ordered by the key
		// only because the run asks for it.
		rows, err := a.src.Query("SELECT id, name, note FROM " + table + " ORDER BY id DESC")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var name string
			var note sql.NullString
			if err := rows.Scan(&id, &name, &note); err != nil {
				t.Fatal(err)
			}
			if id == 5 {
				continue // deleted on the fallback
			}
			if id == 6 {
				name = "fallback's"
			}
			if _, err := fb.Exec("INSERT INTO "+table+" VALUES (?, ?, ?)", id, name, note); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
	}
	rep, r := syncJSON(t, a, "azure", 0, "DBSYNC_SOURCE_PORT=1")
	if rep.Source != "fallback" {
		t.Fatalf("source %q, want fallback\n%s", rep.Source, r.stderr)
	}
	if got := rep.counts("m"); got != "merge 49 +0 ~1 -1 =48" {
		t.Errorf("fallback merge: m is %q, want merge 49 +0 ~1 -1 =48", got)
	}
	if got, want := dump(t, a.dst, "m"), dump(t, fb, "m"); got != want {
		t.Errorf("m differs from the fallback:\n%s\nwant\n%s", got, want)
	}
}

// mergeState fills k1, k2, k3 on the primary with state A (ids 1..1000,
// every name 'a') or B (ids 51..1050, names of 51..200 'b'): 250 changes
// of 1000 rows, under merge_max_changes, so B is merged from A.
func mergeState(a *app, b, slow bool) {
	a.t.Helper()
	where := ""
	if slow {
		where = " WHERE SLEEP(0.0005) = 0"
	}
	a.extra = "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n[sync]\nmode = merge\n"
	for _, table := range []string{"k1", "k2", "k3"} {
		q := fmt.Sprintf("INSERT INTO %s SELECT seq, 'a', NULL FROM seq_1_to_1000", table)
		if b {
			q = fmt.Sprintf("INSERT INTO %s SELECT seq, IF(seq <= 200, 'b', 'a'), NULL FROM seq_51_to_1050", table)
		}
		a.exec("DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT NULL)", q)
		a.extra += fmt.Sprintf("[table.%s]\nquery = SELECT * FROM %s%s\nkey = id\n", table, table, where)
	}
	a.writeConfig()
}

// mergeStates says what k1, k2, k3 of the replica hold: "A", "B" or what
// else was found.
func mergeStates(t *testing.T, db *sql.DB) string {
	t.Helper()
	var out []string
	for _, table := range []string{"k1", "k2", "k3"} {
		var n, lo, hi, bs int64
		if err := db.QueryRow("SELECT COUNT(*), MIN(id), MAX(id), SUM(name = 'b') FROM "+table).Scan(&n, &lo, &hi, &bs); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		switch s := fmt.Sprintf("%d %d %d %d", n, lo, hi, bs); s {
		case "1000 1 1000 0":
			out = append(out, "A")
		case "1000 51 1050 150":
			out = append(out, "B")
		default:
			out = append(out, table+" mixed: "+s)
		}
	}
	return strings.Join(out, " ")
}

// TestCLI_MergeKilledAtRandom kills the real binary with SIGKILL at random
// points of a three-table merge run: every table then holds its complete
// old rows or its complete new ones — all three the same — and the next
// run merges and leaves no helper table.
func TestCLI_MergeKilledAtRandom(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			seed := time.Now().UnixNano()
			t.Logf("random seed %d", seed)
			rng := rand.New(rand.NewPCG(uint64(seed), 0))
			a := newApp(t)
			dst := replica(t, a, target)
			mergeState(a, false, false)
			syncJSON(t, a, target, 0)
			mergeState(a, true, true)
			start := time.Now()
			if rep, _ := syncJSON(t, a, target, 0); rep.counts("k1") != "merge 1000 +50 ~150 -50 =800" {
				t.Fatalf("timed merge: k1 is %q", rep.counts("k1"))
			}
			span := time.Since(start)
			back := func() {
				mergeState(a, false, false)
				if r := runUntilNotBusy(a, target); r.code != 0 {
					t.Fatalf("sync back to A: exit %d\n%s", r.code, r.stderr)
				}
				mergeState(a, true, true)
			}
			back()
			for i := range 6 {
				cmd := exec.Command(binary, "sync", "--target", target)
				cmd.Dir, cmd.Env = a.dir, cleanEnv()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				after := time.Duration(rng.Int64N(int64(span)))
				time.Sleep(after)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
				got := mergeStates(t, dst)
				if got != "A A A" && got != "B B B" {
					t.Fatalf("kill %d after %s: the replica holds %s; want all A or all B", i, after, got)
				}
				t.Logf("kill %d after %s: %s", i, after, got)
				if got == "B B B" {
					back()
				}
			}
			r := runUntilNotBusy(a, target, "--json")
			if r.code != 0 {
				t.Fatalf("the run after the kills: exit %d\n%s", r.code, r.stderr)
			}
			var rep mergeReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.counts("k3") != "merge 1000 +50 ~150 -50 =800" {
				t.Errorf("report after the kills: k3 is %q (%v)", rep.counts("k3"), err)
			}
			if got := mergeStates(t, dst); got != "B B B" {
				t.Fatalf("after the last run the replica holds %s", got)
			}
			if target == "azure" {
				assertNoHelperTables(t, a.dst, "%\\_\\_dbsync%", "last run")
			}
		})
	}
}

// TestCLI_MergeOneTransaction: the merged tables of a run are applied in
// one transaction. The second table's DELETE is refused by a foreign key
// (RESTRICT), so the run fails and the first table, whose differences were
// fine, is unchanged too; with the child row gone the next run applies
// both.
func TestCLI_MergeOneTransaction(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.extra = "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n[sync]\nmode = merge\n"
	for _, table := range []string{"m1", "m2"} {
		ddl := "CREATE TABLE " + table + " (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT NULL)"
		a.exec(ddl, "INSERT INTO "+table+" SELECT seq, 'a', NULL FROM seq_1_to_100")
		if _, err := a.dst.Exec(ddl); err != nil {
			t.Fatal(err)
		}
		a.extra += fmt.Sprintf("[table.%s]\nquery = SELECT * FROM %s\n", table, table)
	}
	a.writeConfig()
	syncJSON(t, a, "azure", 0) // empty targets: replaced
	if _, err := a.dst.Exec("CREATE TABLE child (id INT PRIMARY KEY, m2_id INT NOT NULL, FOREIGN KEY (m2_id) REFERENCES m2 (id))"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.dst.Exec("INSERT INTO child VALUES (1, 7)"); err != nil {
		t.Fatal(err)
	}
	before := dump(t, a.dst, "m1")
	a.exec("UPDATE m1 SET name = 'b' WHERE id <= 5", "DELETE FROM m2 WHERE id = 7")
	rep, r := syncJSON(t, a, "azure", exitFailed)
	if !strings.Contains(rep.Error, "foreign key") {
		t.Errorf("error %q, want the foreign key named\n%s", rep.Error, r.stderr)
	}
	if dump(t, a.dst, "m1") != before {
		t.Fatalf("m1 changed although the run's merge transaction failed on m2")
	}
	if _, err := a.dst.Exec("DELETE FROM child"); err != nil {
		t.Fatal(err)
	}
	rep, _ = syncJSON(t, a, "azure", 0)
	if rep.counts("m1") != "merge 100 +0 ~5 -0 =95" || rep.counts("m2") != "merge 99 +0 ~0 -1 =99" {
		t.Errorf("after the child row went: m1 %q, m2 %q", rep.counts("m1"), rep.counts("m2"))
	}
	for _, table := range []string{"m1", "m2"} {
		if dump(t, a.dst, table) != dump(t, a.src, table) {
			t.Errorf("%s differs from the source", table)
		}
	}
}

// TestCLI_MergeKeyWithoutIndex (#19.13): a merge table whose key has no
// index on the target works, but check warns (exit 0) and so does each
// run's log; with an index on the key neither does.
func TestCLI_MergeKeyWithoutIndex(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			mixedJob(a, 50, "")
			dst := replica(t, a, target)
			if _, err := dst.Exec("CREATE TABLE m (id INT NOT NULL, name VARCHAR(50) NOT NULL, note TEXT NULL)"); err != nil {
				t.Fatal(err)
			}
			if _, err := dst.Exec("INSERT INTO m VALUES (1, 'old', NULL)"); err != nil {
				t.Fatal(err)
			}
			q := "`"
			if target == "sqlite" {
				q = `"`
			}
			warning := fmt.Sprintf("merge key (%[1]sid%[1]s) of target table %[1]sm%[1]s has no index: every merge then scans and sorts the whole table", q)
			r := a.run(nil, "check", "--target", target)
			if r.code != exitOK || !strings.Contains(r.stdout, "\nwarn target    "+warning) || !strings.Contains(r.stdout, "CREATE INDEX "+q+"m_merge_key"+q+" ON "+q+"m"+q+" ("+q+"id"+q+")") {
				t.Errorf("check: exit %d; want 0 and the warning %q:\n%s", r.code, warning, r.stdout)
			}
			rep, r := syncJSON(t, a, target, exitOK)
			if rep.Status != "succeeded" || dump(t, dst, "m") != dump(t, a.src, "m") {
				t.Errorf("the run %s, m differs from the source", rep.Status)
			}
			if !strings.Contains(r.stderr, "level=WARN msg=\"merge key ("+strings.ReplaceAll(warning[len("merge key ("):], `"`, `\"`)) {
				t.Errorf("the run does not log the warning:\n%s", r.stderr)
			}
			if _, err := dst.Exec("CREATE INDEX m_id ON m (id)"); err != nil {
				t.Fatal(err)
			}
			if r := a.run(nil, "check", "--target", target); r.code != exitOK || strings.Contains(r.stdout, "warn") {
				t.Errorf("check with an index on the key: exit %d\n%s", r.code, r.stdout)
			}
			if _, r := syncJSON(t, a, target, exitOK); strings.Contains(r.stderr, "has no index") {
				t.Errorf("the run warns though the key has an index:\n%s", r.stderr)
			}
		})
	}
}

// assertNoHelperTables fails when the target database holds tables whose
// names match like (a LIKE pattern of dbsync's helper tables) after the
// run named by when.
func assertNoHelperTables(t *testing.T, db *sql.DB, like, when string) {
	t.Helper()
	var left int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?", like).Scan(&left); err != nil {
		t.Fatalf("count helper tables: %v", err)
	}
	if left != 0 {
		t.Fatalf("%d leftover tables after the %s", left, when)
	}
}

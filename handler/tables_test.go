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

// threeTables makes t1, t2, t3 on the primary with n rows each, every name
// saying version v, and points the app's job at them.
func threeTables(a *app, n int, v string, slow bool) {
	a.t.Helper()
	where := ""
	if slow {
		// A slow read keeps the run going for a few seconds.
		where = " WHERE SLEEP(0.0005) = 0"
	}
	a.extra = "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n"
	for _, table := range []string{"t1", "t2", "t3"} {
		a.exec("DROP TABLE IF EXISTS "+table,
			"CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)",
			fmt.Sprintf("INSERT INTO %s SELECT seq, '%s' FROM seq_1_to_%d", table, v, n))
		a.extra += fmt.Sprintf("[table.%s]\nquery = SELECT * FROM %s%s\n", table, table, where)
	}
	a.writeConfig()
}

// versions says what each table of the replica holds: "v1 x1000" when
// every row is v1 and there are 1000, else what was found.
func versions(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	for _, table := range []string{"t1", "t2", "t3"} {
		var n int
		var lo, hi sql.NullString
		if err := db.QueryRow("SELECT COUNT(*), MIN(name), MAX(name) FROM "+table).Scan(&n, &lo, &hi); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		if lo != hi {
			out = append(out, fmt.Sprintf("%s mixed %s..%s x%d", table, lo.String, hi.String, n))
			continue
		}
		out = append(out, fmt.Sprintf("%s x%d", lo.String, n))
	}
	return out
}

// TestCLI_ThreeTablesKilledAtRandom kills the real binary with SIGKILL at
// random points of a three-table run: every table then holds its complete
// old rows or its complete new ones — all three the same — and the next
// run succeeds.
func TestCLI_ThreeTablesKilledAtRandom(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			seed := time.Now().UnixNano()
			t.Logf("random seed %d", seed)
			rng := rand.New(rand.NewPCG(uint64(seed), 0))
			a := newApp(t)
			threeTables(a, 1000, "v1", false)
			if r := a.run(nil, "sync", "--target", target); r.code != 0 {
				t.Fatalf("first sync: exit %d\n%s", r.code, r.stderr)
			}
			dst := a.dst
			if target == "sqlite" {
				var err error
				if dst, err = sql.Open("sqlite", "file:"+filepath.Join(a.dir, "replica.db")+"?_pragma=busy_timeout(10000)"); err != nil {
					t.Fatal(err)
				}
				defer dst.Close()
			}
			old := fmt.Sprint([]string{"v1 x1000", "v1 x1000", "v1 x1000"})
			next := fmt.Sprint([]string{"v2 x1500", "v2 x1500", "v2 x1500"})
			// How long a whole run of the new rows takes, start to exit:
			// the kills fall anywhere in it, swap included.
			threeTables(a, 1500, "v2", true)
			start := time.Now()
			if r := a.run(nil, "sync", "--target", target); r.code != 0 {
				t.Fatalf("timed sync: exit %d\n%s", r.code, r.stderr)
			}
			span := time.Since(start)
			threeTables(a, 1000, "v1", false)
			if r := a.run(nil, "sync", "--target", target); r.code != 0 {
				t.Fatalf("sync back to v1: exit %d\n%s", r.code, r.stderr)
			}
			threeTables(a, 1500, "v2", true)
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
				got := fmt.Sprint(versions(t, dst))
				if got != old && got != next {
					t.Fatalf("kill %d after %s: the replica holds %s; want all old %s or all new %s", i, after, got, old, next)
				}
				t.Logf("kill %d after %s: %s", i, after, got)
				if got == next {
					// Back to the old rows, to kill the next run too.
					threeTables(a, 1000, "v1", false)
					if r := runUntilNotBusy(a, target); r.code != 0 {
						t.Fatalf("sync back to v1 after kill %d: exit %d\n%s", i, r.code, r.stderr)
					}
					threeTables(a, 1500, "v2", true)
				}
			}
			r := runUntilNotBusy(a, target, "--json")
			if r.code != 0 {
				t.Fatalf("the run after the kills: exit %d\n%s", r.code, r.stderr)
			}
			if got := fmt.Sprint(versions(t, dst)); got != next {
				t.Fatalf("after the last run the replica holds %s, want %s", got, next)
			}
			var rep struct {
				Rows   int64 `json:"rows"`
				Tables []struct {
					Table string `json:"table"`
					Rows  int64  `json:"rows"`
				} `json:"tables"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Rows != 4500 || len(rep.Tables) != 3 || rep.Tables[2].Table != "t3" || rep.Tables[2].Rows != 1500 {
				t.Errorf("report %+v (%v):\n%s", rep, err, r.stdout)
			}
			if target == "azure" {
				assertNoHelperTables(t, a.dst, "%\\_\\_dbsync%", "last run")
			}
		})
	}
}

// runUntilNotBusy runs a sync; a killed run's lock may take the server a
// moment to release, and "busy" is the right answer meanwhile.
func runUntilNotBusy(a *app, target string, args ...string) result {
	a.t.Helper()
	var r result
	for deadline := time.Now().Add(20 * time.Second); ; {
		r = a.run(nil, append([]string{"sync", "--target", target}, args...)...)
		if r.code != exitBusy || time.Now().After(deadline) {
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCLI_Tables: --tables runs some of the job's tables (one snapshot,
// one swap); an unknown name is a usage error listing the job's tables.
func TestCLI_Tables(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	threeTables(a, 10, "v1", false)
	if r := a.run(nil, "sync", "--tables", "t1,t3"); r.code != 0 {
		t.Fatalf("sync --tables t1,t3: exit %d\n%s", r.code, r.stderr)
	}
	var n int
	if err := a.dst.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('t1', 't2', 't3')").Scan(&n); err != nil || n != 2 {
		t.Fatalf("--tables t1,t3 made %d of the tables (%v), want t1 and t3", n, err)
	}
	r := a.run(nil, "sync", "--tables", "t1,nope")
	if r.code != exitUsage || !strings.Contains(r.stderr, "nope") || !strings.Contains(r.stderr, "t1, t2, t3") {
		t.Fatalf("sync --tables t1,nope: exit %d\n%s", r.code, r.stderr)
	}
}

// TestRunOptions_Tables: a manual run takes tables and group, in the
// query string or the JSON body, as the engine's run options.
func TestRunOptions_Tables(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		req  httpRequestData
		want []string
		grp  string
	}{
		{"query", httpRequestData{Query: []byte(`{"tables":"orders,order_lines"}`)}, []string{"orders", "order_lines"}, ""},
		{"body", httpRequestData{Body: str(`{"tables":"orders","group":"nightly"}`)}, []string{"orders"}, "nightly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.req.runOptions()
			if err != nil {
				t.Fatal(err)
			}
			if r := o.engine(); fmt.Sprint(r.Tables) != fmt.Sprint(tc.want) || r.Group != tc.grp {
				t.Fatalf("run options %+v, want tables %v group %q", r, tc.want, tc.grp)
			}
		})
	}
}

package main

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ordersState fills orders and order_lines on the primary with state A
// (orders 1..300 with lines 1..900, three each) or B (orders 1..50 gone
// with their lines, orders 301..350 new with theirs, totals of 51..100
// changed, lines 151..160 moved to the new order 340 — and back in A from
// an order A lacks — and the qty of lines 400..450 changed). slow makes the
// queries take about a second.
func ordersState(a *app, b, slow bool) {
	a.t.Helper()
	where := ""
	if slow {
		where = " WHERE SLEEP(0.0008) = 0"
	}
	orders, lines := "SELECT seq, seq % 10, seq FROM seq_1_to_300", "SELECT seq, 1 + (seq - 1) DIV 3, 1 FROM seq_1_to_900"
	if b {
		orders = "SELECT seq, seq % 10, IF(seq <= 100, seq + 1000, seq) FROM seq_51_to_350"
		lines = "SELECT seq, IF(seq BETWEEN 151 AND 160, 340, 1 + (seq - 1) DIV 3), IF(seq BETWEEN 400 AND 450, 2, 1) FROM seq_151_to_1050"
	}
	a.exec("DROP TABLE IF EXISTS order_lines", "DROP TABLE IF EXISTS orders",
		"CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2) NOT NULL)",
		"CREATE TABLE order_lines (id INT NOT NULL PRIMARY KEY, order_id INT NOT NULL, qty INT NOT NULL)",
		"INSERT INTO orders "+orders, "INSERT INTO order_lines "+lines)
	a.extra = "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n[sync]\nmode = merge\n" +
		"[table.orders]\nquery = SELECT id, customer_id, total FROM orders" + where + "\n" +
		"[table.order_lines]\nquery = SELECT id, order_id, qty FROM order_lines" + where + "\nmin_rows = 0\n"
	a.writeConfig()
}

// ordersDump is both tables' rows as text, and the lines whose order is
// missing.
func ordersDump(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{"SELECT id, customer_id, total FROM orders ORDER BY id", "SELECT id, order_id, qty FROM order_lines ORDER BY id",
		"SELECT l.id, l.order_id, 0 FROM order_lines l LEFT JOIN orders o ON o.id = l.order_id WHERE o.id IS NULL"} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var x, y int64
			var z string
			if err := rows.Scan(&x, &y, &z); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(z, ".") {
				z = strings.TrimRight(strings.TrimRight(z, "0"), ".")
			}
			fmt.Fprintf(&b, "%d|%d|%s\n", x, y, z)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// TestCLI_MergeForeignKeysKilledAtRandom kills the real binary with
// SIGKILL at random points of a run merging README's orders/order_lines,
// which the target links by a foreign key (ON DELETE CASCADE): after any
// kill both tables hold all the old rows or all the new ones, no line
// lacks its order, and the next run ends exactly equal to the source.
func TestCLI_MergeForeignKeysKilledAtRandom(t *testing.T) {
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			seed := time.Now().UnixNano()
			t.Logf("random seed %d", seed)
			rng := rand.New(rand.NewPCG(uint64(seed), 0))
			a := newApp(t)
			dst := replica(t, a, target)
			ddl := []string{
				"CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2) NOT NULL) ENGINE=InnoDB",
				"CREATE TABLE order_lines (id INT NOT NULL PRIMARY KEY, order_id INT NOT NULL, qty INT NOT NULL, CONSTRAINT lines_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE) ENGINE=InnoDB",
			}
			if target == "sqlite" {
				ddl = []string{
					"CREATE TABLE orders (id INTEGER NOT NULL PRIMARY KEY, customer_id INTEGER NOT NULL, total TEXT NOT NULL)",
					"CREATE TABLE order_lines (id INTEGER NOT NULL PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE, qty INTEGER NOT NULL)",
				}
			}
			for _, q := range ddl {
				if _, err := dst.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			ordersState(a, true, false)
			want := map[bool]string{true: ordersDump(t, a.src)}
			ordersState(a, false, false)
			want[false] = ordersDump(t, a.src)
			if want[true] == want[false] || !strings.HasSuffix(want[false], "--\n--\n") {
				t.Fatalf("states A and B are not two consistent, different states")
			}
			// sync makes the replica the source's state b, exactly.
			sync := func(b bool, what string) {
				t.Helper()
				ordersState(a, b, false)
				if r := runUntilNotBusy(a, target); r.code != 0 {
					t.Fatalf("%s: exit %d\n%s", what, r.code, r.stderr)
				}
				if ordersDump(t, dst) != want[b] {
					t.Fatalf("%s: the replica differs from the source", what)
				}
			}
			sync(false, "first run into the empty tables")
			ordersState(a, true, true)
			start := time.Now()
			if rep, r := syncJSON(t, a, target, 0); rep.counts("order_lines") != "merge 900 +150 ~61 -150 =689" {
				t.Fatalf("timed merge: order_lines is %q\n%s", rep.counts("order_lines"), r.stderr)
			}
			span := time.Since(start)
			sync(false, "back to A")
			for i := range 6 {
				ordersState(a, true, true)
				cmd := exec.Command(binary, "sync", "--target", target)
				cmd.Dir, cmd.Env = a.dir, cleanEnv()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				after := time.Duration(rng.Int64N(int64(span)))
				time.Sleep(after)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
				got := ordersDump(t, dst)
				state := map[string]string{want[false]: "A", want[true]: "B"}[got]
				if state == "" {
					t.Fatalf("kill %d after %s: the replica holds neither all old rows nor all new ones (or a line lacks its order)", i, after)
				}
				t.Logf("kill %d after %s: %s", i, after, state)
				sync(true, fmt.Sprintf("the run after kill %d", i))
				sync(false, fmt.Sprintf("back to A after kill %d", i))
			}
			if target == "azure" {
				assertNoHelperTables(t, a.dst, "%\\_\\_dbsync%", "last run")
			}
		})
	}
}

// TestCLI_MergeKeyTheSourceLacks: a target with a surrogate AUTO_INCREMENT
// id and a UNIQUE natural key, fed by a source without the id. Merged by
// the id, the run is a configuration error (exit 2) naming the table, the
// key and the query's columns, and the fallback is not read though it is
// enabled; with key = email the run merges and the id and the column the
// source lacks keep their values.
func TestCLI_MergeKeyTheSourceLacks(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.exec("CREATE TABLE users (email VARCHAR(50) NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL)", "INSERT INTO users VALUES ('a@x', 'A'), ('b@x', 'B')")
	for _, q := range []string{
		"CREATE TABLE users (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(50) NOT NULL, name VARCHAR(20) NOT NULL, note VARCHAR(10) NOT NULL DEFAULT 'new', UNIQUE KEY users_email (email))",
		"INSERT INTO users VALUES (7, 'a@x', 'old', 'mine')",
	} {
		if _, err := a.dst.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	fb, err := sql.Open("sqlite", "file:"+a.dir+"/fallback.db")
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if _, err := fb.Exec("CREATE TABLE users (email TEXT PRIMARY KEY, name TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	job := "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\n[sqlite]\ntable =\n[sync]\nmode = merge\nfallback_enabled = true\n" +
		"[table.users]\nquery = SELECT email, name FROM users\n"
	a.extra = job
	a.writeConfig()
	_, r := syncJSON(t, a, "azure", exitUsage)
	for _, want := range []string{"[table.users] key", "`users`", "(id)", "returns email, name", "key = email"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "reading the fallback") {
		t.Errorf("a target-side key problem read the fallback:\n%s", r.stderr)
	}
	a.extra = job + "key = email\n"
	a.writeConfig()
	rep, _ := syncJSON(t, a, "azure", 0)
	if rep.Source != "primary" || rep.counts("users") != "merge 2 +1 ~1 -0 =0" {
		t.Errorf("key = email: source %s, users %q", rep.Source, rep.counts("users"))
	}
	var got []string
	rows, err := a.dst.Query("SELECT CONCAT_WS('|', id, email, name, note) FROM users ORDER BY email")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		got = append(got, s)
	}
	rows.Close()
	if s := strings.Join(got, " "); s != "7|a@x|A|mine 8|b@x|B|new" {
		t.Errorf("users after the merge: %s", s)
	}
}

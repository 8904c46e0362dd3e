// Command mysql is `make demo-mysql`: dbsync's real path, MySQL to MySQL
// over TLS, on two throwaway MariaDB servers started from the installed
// binaries with the test suite's own helper (internal/mariadbtest): a
// plain primary and a TLS-only target with a CA made for it. It writes a
// config for them, runs the built handler — check, a first sync
// (replace), a change on the primary, a second sync (merge) — prints what
// each step did, and stops both servers.
//
//	make demo-mysql
//	go run ./demo/mysql -handler bin/handler
//
// It lives beside the demo's config, not in internal/ (the test helpers):
// it is a program a user runs, built on the helper the tests use.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
)

func main() {
	handler := flag.String("handler", "bin/handler", "the dbsync binary to run (make build writes bin/handler)")
	verbose := flag.Bool("v", false, "also print each command's log lines")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *handler, *verbose, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-mysql failed:", err)
		os.Exit(1)
	}
}

// The demo's job: customers is replaced whole each run, orders is merged
// by its primary key.
const (
	customersRows = 1000
	ordersRows    = 5000
)

const ordersDDL = `CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(20) NOT NULL, amount DECIMAL(10,2) NOT NULL, placed_at DATETIME NOT NULL)`

var schema = []string{
	`CREATE TABLE customers (id INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, city VARCHAR(50) NOT NULL, email VARCHAR(200) NULL)`,
	fmt.Sprintf(`INSERT INTO customers SELECT seq, CONCAT(ELT(1 + seq %% 5, 'Ana', 'Björn', 'Chloé', 'Dmitri', 'Eve'), ' ', seq),
		ELT(1 + seq %% 4, 'Lisboa', 'Zürich', 'Kraków', 'Oslo'), IF(seq %% 9 = 0, NULL, CONCAT('c', seq, '@example.com')) FROM seq_1_to_%d`, customersRows),
	ordersDDL,
	fmt.Sprintf(`INSERT INTO orders SELECT seq, 1 + seq %% %d, 'placed', (seq * 7919 %% 100000) / 100, TIMESTAMPADD(MINUTE, seq, '2026-01-01') FROM seq_1_to_%d`, customersRows, ordersRows),
}

// change is the second step's work on the primary: one new order, 300
// shipped, 100 cancelled ones deleted.
var change = []string{
	fmt.Sprintf(`INSERT INTO orders VALUES (%d, 7, 'placed', 19.90, '2026-02-01 09:00:00')`, ordersRows+1),
	`UPDATE orders SET status = 'shipped' WHERE id BETWEEN 1 AND 300`,
	`DELETE FROM orders WHERE id BETWEEN 1001 AND 1100`,
	`UPDATE customers SET city = 'Porto' WHERE id = 1`,
}

const configTemplate = `; Written by make demo-mysql for its two throwaway servers.
[sync]
default_target = azure
fallback_enabled = false

[source]
; The primary: plain TCP here; use ssl_mode = verify_identity with a real one.
host = 127.0.0.1
port = %d
database = shop
user = %s
password = %s
ssl_mode = disabled

[azure_mysql]
; The target accepts TLS only (require_secure_transport), with a certificate
; for localhost from its own CA: ssl_mode is verify_identity by default.
host = localhost
port = %d
database = replica
user = %s
password = %s
ssl_ca = %s

[table.customers]
query = SELECT * FROM customers

[table.orders]
query = SELECT * FROM orders
mode = merge
`

func run(ctx context.Context, handler string, verbose bool, out io.Writer) error {
	handler, err := filepath.Abs(handler)
	if err != nil {
		return err
	}
	if _, err := os.Stat(handler); err != nil {
		return fmt.Errorf("%s: %w (run make build first, or pass -handler)", handler, err)
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	say("==> starting two throwaway MariaDB servers (their data lives in temporary folders and goes when they stop)")
	start := time.Now()
	type started struct {
		s   *mariadbtest.Server
		err error
	}
	pc, tc := make(chan started, 1), make(chan started, 1)
	go func() { s, err := mariadbtest.Start(mariadbtest.Options{}); pc <- started{s, err} }()
	go func() {
		s, err := mariadbtest.Start(mariadbtest.Options{TLS: true, LocalInfile: true})
		tc <- started{s, err}
	}()
	p, t := <-pc, <-tc
	defer func() {
		for _, s := range []*mariadbtest.Server{p.s, t.s} {
			if s != nil {
				s.Stop()
			}
		}
		say("==> stopped both servers and removed their files")
	}()
	if err := errors.Join(p.err, t.err); err != nil {
		return fmt.Errorf("start MariaDB: %w", err)
	}
	primary, target := p.s, t.s
	say("    primary 127.0.0.1:%d, plain TCP", primary.Port)
	say("    target  localhost:%d, TLS only, certificate from its own CA %s (%.1fs)", target.Port, target.CA, time.Since(start).Seconds())

	dir, err := os.MkdirTemp("", "dbsync-demo-mysql-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := execAll(primary.Root(), append([]string{"CREATE DATABASE shop", "USE shop"}, schema...)); err != nil {
		return fmt.Errorf("fill the primary: %w", err)
	}
	// A merge finds rows by the target table's key: orders is created on
	// the target with its primary key, as it would be in production. A
	// table dbsync creates on its first run has the source's columns but
	// no key.
	if err := execAll(target.Root(), []string{"CREATE DATABASE replica", "USE replica", ordersDDL}); err != nil {
		return fmt.Errorf("create the target database: %w", err)
	}
	say("    primary database shop: customers (%d rows), orders (%d rows)", customersRows, ordersRows)
	say("    target database replica: an empty orders table with its primary key (a merge needs a key); no customers table")
	config := filepath.Join(dir, "config.ini")
	text := fmt.Sprintf(configTemplate, primary.Port, primary.User, primary.Password, target.Port, target.User, target.Password, target.CA)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		return err
	}
	say("==> the config (passwords not shown):")
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(l, "password = ") {
			l = "password = (generated)"
		}
		if l != "" && !strings.HasPrefix(l, ";") {
			say("    %s", l)
		}
	}

	handlerCmd := func(what string, args ...string) error {
		say("==> %s: handler %s", what, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, handler, append(args, "--config", config)...)
		cmd.Dir = dir
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		origins := 0
		for _, l := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
			l = hidePaths(l, dir)
			// check lists where each key came from, a line per key; here
			// all come from the file.
			if strings.HasSuffix(l, " from config.ini") && strings.HasPrefix(l, "  ") {
				origins++
				continue
			}
			if origins > 0 {
				say("      (%d lines: where each key's value came from; here config.ini)", origins)
				origins = 0
			}
			if l != "" {
				say("    %s", l)
			}
		}
		if verbose || err != nil {
			for _, l := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
				say("    | %s", l)
			}
		}
		if err != nil {
			return fmt.Errorf("handler %s: %w", strings.Join(args, " "), err)
		}
		return nil
	}
	if err := handlerCmd("check: config, connections, TLS, load method, without writing", "check"); err != nil {
		return err
	}
	if err := handlerCmd("first sync: customers is created and loaded; orders, empty on the target, is merged as inserts (it keeps its key and any triggers)", "sync"); err != nil {
		return err
	}
	say("==> a change on the primary: 1 order placed, 300 shipped, 100 deleted; 1 customer moved")
	db, err := primary.RootDB("shop")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := execAll(db, change); err != nil {
		return fmt.Errorf("change the primary: %w", err)
	}
	if err := handlerCmd("second sync: orders is merged (only its differences are written), customers replaced", "sync"); err != nil {
		return err
	}

	say("==> the replica against the primary:")
	rdb, err := target.RootDB("replica")
	if err != nil {
		return err
	}
	defer rdb.Close()
	for _, table := range []string{"customers", "orders"} {
		want, err := fingerprint(db, table)
		if err != nil {
			return err
		}
		got, err := fingerprint(rdb, table)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("table %s: the replica has %s, the primary %s", table, got, want)
		}
		say("    %-9s %s on both", table, got)
	}
	say("==> the run history (table dbsync_runs on the target; GET /api/sync in Azure):")
	rows, err := rdb.QueryContext(ctx, "SELECT started_at, `table`, status, `mode`, `rows`, inserted, updated, deleted, unchanged FROM dbsync_runs ORDER BY started_at, `table`")
	if err != nil {
		return err
	}
	defer rows.Close()
	say("    %-27s %-9s %-9s %-7s %5s %s", "started_at", "table", "status", "mode", "rows", "+ins ~upd -del =same")
	for rows.Next() {
		var started, table, status, mode string
		var n, ins, upd, del, same int64
		if err := rows.Scan(&started, &table, &status, &mode, &n, &ins, &upd, &del, &same); err != nil {
			return err
		}
		counts := ""
		if mode == "merge" {
			counts = fmt.Sprintf("+%d ~%d -%d =%d", ins, upd, del, same)
		}
		say("    %-27s %-9s %-9s %-7s %5d %s", started, table, status, mode, n, counts)
	}
	return rows.Err()
}

// hidePaths shortens the config's temporary path in a line.
func hidePaths(l, dir string) string {
	return strings.TrimRight(strings.ReplaceAll(l, filepath.Join(dir, "config.ini"), "config.ini"), " ")
}

func execAll(db *sql.DB, stmts []string) error {
	// One connection: USE carries over to the next statement.
	conn, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range stmts {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			return fmt.Errorf("%.60s…: %w", q, err)
		}
	}
	return nil
}

// fingerprint is a table's row count and an order-independent checksum of
// its rows.
func fingerprint(db *sql.DB, table string) (string, error) {
	var n int64
	var sum sql.NullInt64
	q := "SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', " + columnsOf(table) + "))) FROM " + table
	if err := db.QueryRow(q).Scan(&n, &sum); err != nil {
		return "", fmt.Errorf("read %s: %w", table, err)
	}
	return fmt.Sprintf("%d rows, checksum %d", n, sum.Int64), nil
}

func columnsOf(table string) string {
	if table == "customers" {
		return "id, name, city, IFNULL(email, '\\\\N')"
	}
	return "id, customer_id, status, amount, placed_at"
}

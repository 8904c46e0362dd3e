package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// The incremental-mode measurement (issue 21): go run ./bench -incremental
// (after make build). The bench table gets an indexed, server-set
// updated_at; 1 % of its rows are updated, 0.1 % inserted and 0.1 %
// deleted; then one run of mode = incremental and one full merge of the same
// changes, side by side, each into its own target database, and the same
// again with nothing changed (0 %). Per run: wall time, the bytes the
// primary sent and its CPU-seconds for dbsync's user (MariaDB's
// USER_STATISTICS: BYTES_SENT, CPU_TIME), and dbsync's peak RSS. Every copy
// is checked against the source by checksum.
var incrementalBench = flag.Bool("incremental", false, "measure mode = incremental against a full merge of the same changes, at -rows rows")

type incFigure struct {
	name      string
	wall      time.Duration
	bytesSent int64
	cpu       time.Duration
	rss       int64
}

func runIncremental(rows int, handler string) error {
	handler, dir, err := benchDir(handler, "dbsync-bench-incremental-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logf("starting MariaDB servers")
	src, srcDB, _, _, stopSrc, err := startPrimary(nil, rows)
	if err != nil {
		return err
	}
	defer stopSrc()
	dst, err := mariadbtest.Start(mariadbtest.Options{TLS: true, LocalInfile: true, ExtraArgs: bigServer})
	if err != nil {
		return err
	}
	defer dst.Stop()
	// updated_at: server-set, indexed; the generated rows' cursors are
	// spread over the past (one second apart), so the window after a full
	// run holds only what changed since.
	const cursorDDL = "ALTER TABLE items ADD COLUMN updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), ADD KEY updated_idx (updated_at)"
	if err := execAll(srcDB, cursorDDL, "UPDATE items SET updated_at = TIMESTAMP'2026-01-01 00:00:00' + INTERVAL id SECOND"); err != nil {
		return err
	}
	for _, db := range []string{"inc", "merge"} {
		if _, err := dst.Root().Exec("CREATE DATABASE " + db); err != nil {
			return err
		}
		if err := execAll(socketDB(dst, db), mariadbtest.ItemsDDL, cursorDDL); err != nil {
			return err
		}
	}
	config := func(db, mode string) string {
		p := filepath.Join(dir, "config-"+db+"-"+mode+".ini")
		text := fmt.Sprintf(`[sync]
default_target = azure
timeout = 1h
min_rows = 0
[source]
host = 127.0.0.1
port = %d
database = bench
user = %s
password = %s
ssl_mode = disabled
read_timeout = 10m
[azure_mysql]
host = localhost
port = %d
database = %s
user = %s
password = %s
ssl_ca = %s
read_timeout = 10m
write_timeout = 10m
[table.items]
query = SELECT * FROM items
mode = %s
cursor = updated_at
lookback = 10s
`, src.Port, src.User, src.Password, dst.Port, db, dst.User, dst.Password, dst.CA, mode)
		if mode != "incremental" {
			text = strings.Replace(text, "cursor = updated_at\nlookback = 10s\n", "", 1)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			panic(err)
		}
		return p
	}
	// The primary's work for dbsync alone: its user's statistics (MariaDB
	// userstat), apart from the bench's own root queries.
	root := src.Root()
	if _, err := root.Exec("SET GLOBAL userstat = 1"); err != nil {
		return err
	}
	userStats := func() (bytes int64, cpu time.Duration) {
		var sent int64
		var secs float64
		_ = root.QueryRow("SELECT COALESCE(SUM(BYTES_SENT), 0), COALESCE(SUM(CPU_TIME), 0) FROM information_schema.USER_STATISTICS WHERE USER = ?", src.User).Scan(&sent, &secs)
		return sent, time.Duration(secs * float64(time.Second))
	}
	measure := func(name, db, cfg string) (incFigure, error) {
		quiesce(src, dst)
		b0, c0 := userStats()
		d, rss, err := timeCmdLog(exec.Command(handler, "sync", "--config", cfg), name)
		b1, c1 := userStats()
		if err != nil {
			return incFigure{}, fmt.Errorf("%s: %w", name, err)
		}
		wantRows, wantSum, err := checksumMySQL(srcDB, "items")
		if err != nil {
			return incFigure{}, err
		}
		n, sum, err := checksumMySQL(socketDB(dst, db), "items")
		if err != nil || n != wantRows || sum != wantSum {
			return incFigure{}, fmt.Errorf("%s: copy differs from the source: %d rows (want %d), checksum match %v, %v", name, n, wantRows, sum == wantSum, err)
		}
		f := incFigure{name: name, wall: d, bytesSent: b1 - b0, cpu: c1 - c0, rss: rss}
		logf("%-44s %7.2fs  Bytes_sent %11d  primary CPU %6.2fs  RSS %s  (exact)", name, d.Seconds(), f.bytesSent, f.cpu.Seconds(), mib(rss))
		return f, nil
	}
	incCfg, mergeCfg := config("inc", "incremental"), config("merge", "merge")
	// The base state: both targets hold the rows; the incremental table's
	// first run replaces, its second merges in full and stores the
	// watermark.
	for _, step := range []struct{ name, db, cfg string }{
		{"replace (first copy, incremental target)", "inc", config("inc", "replace")},
		{"incremental: first full merge (watermark)", "inc", incCfg},
		{"replace (first copy, merge target)", "merge", config("merge", "replace")},
	} {
		if _, err := measure(step.name, step.db, step.cfg); err != nil {
			return err
		}
	}
	upd, ins, del := rows/100, rows/1000, rows/1000
	logf("--- changes: %d updated (1 %%), %d inserted (0.1 %%), %d deleted (0.1 %%)", upd, ins, del)
	if err := execAll(srcDB,
		"UPDATE items SET name = CONCAT(name, ' *'), amount = amount + 1 WHERE id % 100 = 1",
		"DELETE FROM items WHERE id % 1000 = 2",
		"INSERT INTO items (id, name, email, amount, score, active, created_at, birthday, notes, attrs, avatar) "+
			"SELECT id + "+strconv.Itoa(rows)+", name, email, amount, score, active, created_at, birthday, notes, attrs, avatar FROM items WHERE id % 1000 = 3",
	); err != nil {
		return err
	}
	var figures []incFigure
	for _, m := range []struct{ name, db, cfg string }{
		{"incremental, 1 % upd + 0.1 % ins + 0.1 % del", "inc", incCfg},
		{"full merge, same changes", "merge", mergeCfg},
		{"incremental, 0 % changed", "inc", incCfg},
		{"full merge, 0 % changed", "merge", mergeCfg},
	} {
		f, err := measure(m.name, m.db, m.cfg)
		if err != nil {
			return err
		}
		figures = append(figures, f)
	}
	fmt.Printf("\n%d rows × 12 columns (PK + email index + indexed updated_at TIMESTAMP(6)); 2 cores shared; every copy verified by checksum\n", rows)
	fmt.Printf("command: make build && go run ./bench -incremental -rows %d\n\n", rows)
	fmt.Println("| run | wall | primary Bytes_sent (dbsync's user) | primary CPU (dbsync's user) | dbsync peak RSS |")
	fmt.Println("|---|---|---|---|---|")
	for _, f := range figures {
		fmt.Printf("| %s | %.2f s | %d | %.2f s | %s |\n", f.name, f.wall.Seconds(), f.bytesSent, f.cpu.Seconds(), mib(f.rss))
	}
	ratio := func(a, b float64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.3f×", a/b)
	}
	i, m, i0, m0 := figures[0], figures[1], figures[2], figures[3]
	fmt.Printf("\nincremental / merge: wall %s (goal ≤ 0.2×), Bytes_sent %s (goal ≤ 0.05×), primary CPU %s (goal ≤ 0.3×); 0 %%: wall %s (goal ≤ 0.1×); peak RSS %s (goal ≤ 64 MiB)\n",
		ratio(i.wall.Seconds(), m.wall.Seconds()), ratio(float64(i.bytesSent), float64(m.bytesSent)), ratio(i.cpu.Seconds(), m.cpu.Seconds()),
		ratio(i0.wall.Seconds(), m0.wall.Seconds()), mib(max(i.rss, i0.rss)))
	return nil
}

func execAll(db *sql.DB, qs ...string) error {
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

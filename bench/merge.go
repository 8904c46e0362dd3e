package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// The merge-mode measurement (issue #12): go run ./bench -merge-rows 1000000
// (after make build). It replaces the usual table with merge mode against a
// replace of the same data and pt-table-sync --execute (Debian's
// percona-toolkit), with the binlog on, at 0, 1 and 10 % of the rows
// changed (a third each updated, deleted and inserted), and prints wall
// time, rows written, binlog bytes and peak RSS. Every copy is verified
// against the source by checksum before its figures count.
var mergeRows = flag.Int("merge-rows", 0, "measure merge mode instead, at this many rows (e.g. 1000000)")

type mergeFigure struct {
	name    string
	wall    time.Duration
	written int64 // Handler_write + Handler_update + Handler_delete on the target
	binlog  int64 // binlog bytes written
	rss     int64
}

func runMerge(rows int, handler, baseline string, link *linkShape) error {
	if baseline != "" {
		var err error
		if baseline, err = filepath.Abs(baseline); err != nil {
			return err
		}
	}
	handler, dir, err := benchDir(handler, "dbsync-bench-merge-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ptSync, ptErr := exec.LookPath("pt-table-sync")
	if ptErr != nil {
		logf("pt-table-sync not found (apt-get install percona-toolkit): measured without it")
	}
	logf("starting MariaDB servers (target with --log-bin, ROW format)")
	src, srcDB, srcPort, linkHeader, stopSrc, err := startPrimary(link, rows)
	if err != nil {
		return err
	}
	defer stopSrc()
	dst, err := mariadbtest.Start(mariadbtest.Options{TLS: true, LocalInfile: true,
		ExtraArgs: append(slices.Clip(bigServer), "--log-bin="+filepath.Join(dir, "binlog"), "--binlog-format=ROW", "--server-id=1")})
	if err != nil {
		return err
	}
	defer dst.Stop()
	for _, q := range []string{"CREATE TABLE items_base LIKE items", "INSERT INTO items_base SELECT * FROM items"} {
		if _, err := srcDB.Exec(q); err != nil {
			return err
		}
	}
	for _, db := range []string{"sync", "pt", "ptbase"} {
		if _, err := dst.Root().Exec("CREATE DATABASE " + db); err != nil {
			return err
		}
		if _, err := socketDB(dst, db).Exec(mariadbtest.ItemsDDL); err != nil {
			return err
		}
	}
	config := func(mode string) string {
		return writeConfig(filepath.Join(dir, "config-"+mode+".ini"), src, srcPort, dst, "sync",
			"[sync]\nmin_rows = 0\n[table.items]\nquery = SELECT * FROM items\nmode = "+mode+"\n")
	}
	cfgReplace, cfgMerge := config("replace"), config("merge")
	dstRoot := dst.Root()
	counters := func() (written, binlog int64) {
		rs, err := dstRoot.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_write', 'Handler_update', 'Handler_delete')")
		if err == nil {
			for rs.Next() {
				var name string
				var v int64
				_ = rs.Scan(&name, &v)
				written += v
			}
			rs.Close()
		}
		rs, err = dstRoot.Query("SHOW BINARY LOGS")
		if err == nil {
			for rs.Next() {
				cols, _ := rs.Columns()
				var name string
				var size int64
				dest := []any{&name, &size}
				for len(dest) < len(cols) {
					dest = append(dest, new(sql.RawBytes))
				}
				_ = rs.Scan(dest...)
				binlog += size
			}
			rs.Close()
		}
		return written, binlog
	}
	measure := func(name string, db string, run func() (time.Duration, int64, error)) (mergeFigure, error) {
		quiesce(src, dst)
		w0, b0 := counters()
		d, rss, err := run()
		if err != nil {
			return mergeFigure{}, fmt.Errorf("%s: %w", name, err)
		}
		w1, b1 := counters()
		wantRows, wantSum, err := checksumMySQL(srcDB, "items")
		if err != nil {
			return mergeFigure{}, err
		}
		n, sum, err := checksumMySQL(socketDB(dst, db), "items")
		if err == nil && n == wantRows && sum != wantSum && strings.HasPrefix(name, "pt-table-sync") {
			// pt-table-sync writes DOUBLE values as Perl prints them (15
			// significant digits): say so if every other column matches.
			const noScore = "(SELECT id, name, email, amount, active, created_at, birthday, notes, attrs, avatar FROM items) AS x"
			_, a, err1 := checksumMySQL(srcDB, noScore)
			_, b, err2 := checksumMySQL(socketDB(dst, db), noScore)
			if err1 == nil && err2 == nil && a == b {
				name += " (copy exact except DOUBLE `score`)"
				sum = wantSum
			}
		}
		if err != nil || n != wantRows || sum != wantSum {
			return mergeFigure{}, fmt.Errorf("%s: copy differs from the source: %d rows (want %d), checksum match %v, %v", name, n, wantRows, sum == wantSum, err)
		}
		f := mergeFigure{name: name, wall: d, written: w1 - w0, binlog: b1 - b0, rss: rss}
		logf("%-40s %7.2fs  written %9d  binlog %11d  RSS %s", name, d.Seconds(), f.written, f.binlog, mib(rss))
		return f, nil
	}
	sync := func(cfg string) func() (time.Duration, int64, error) {
		return func() (time.Duration, int64, error) {
			return timeCmd(exec.Command(handler, "sync", "--config", cfg))
		}
	}
	exec1 := func(db *sql.DB, qs ...string) error {
		for _, q := range qs {
			if _, err := db.Exec(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
	// The base state: source, sync.items and ptbase.items all hold the
	// generated rows.
	if _, err := measure("replace (first copy)", "sync", sync(cfgReplace)); err != nil {
		return err
	}
	if err := exec1(socketDB(dst, "ptbase"), "INSERT INTO items SELECT * FROM sync.items"); err != nil {
		return err
	}
	var figures []mergeFigure
	for _, pct := range []int{0, 1, 10} {
		logf("--- %d %% changed", pct)
		if err := exec1(srcDB, "DROP TABLE items", "CREATE TABLE items LIKE items_base", "INSERT INTO items SELECT * FROM items_base"); err != nil {
			return err
		}
		if _, err := measure(fmt.Sprintf("replace back to the base (%d %%)", pct), "sync", sync(cfgReplace)); err != nil {
			return err
		}
		if pct > 0 {
			// A third of pct each: updated, deleted, inserted.
			mod := 300 / pct
			if err := exec1(srcDB,
				fmt.Sprintf("UPDATE items SET name = CONCAT(name, ' *'), amount = amount + 1 WHERE id %% %d = 1", mod),
				fmt.Sprintf("DELETE FROM items WHERE id %% %d = 2", mod),
				fmt.Sprintf("INSERT INTO items SELECT id + %d, name, email, amount, score, active, created_at, birthday, notes, attrs, avatar FROM items_base WHERE id %% %d = 3", rows, mod),
			); err != nil {
				return err
			}
		}
		f, err := measure(fmt.Sprintf("dbsync merge, %d %% changed", pct), "sync", sync(cfgMerge))
		if err != nil {
			return err
		}
		figures = append(figures, f)
		if baseline != "" {
			// The same merge by the older binary, from the same base state
			// (ptbase.items holds it), for a same-run A/B.
			if err := exec1(socketDB(dst, "sync"), "DELETE FROM items", "INSERT INTO items SELECT * FROM ptbase.items"); err != nil {
				return err
			}
			f, err := measure(fmt.Sprintf("dbsync merge, %d %% changed (baseline binary)", pct), "sync", func() (time.Duration, int64, error) {
				return timeCmd(exec.Command(baseline, "sync", "--config", cfgMerge))
			})
			if err != nil {
				return err
			}
			figures = append(figures, f)
		}
		if f, err = measure(fmt.Sprintf("dbsync replace, %d %% changed", pct), "sync", sync(cfgReplace)); err != nil {
			return err
		}
		figures = append(figures, f)
		if ptErr == nil {
			if err := exec1(socketDB(dst, "pt"), "DROP TABLE items", "CREATE TABLE items LIKE ptbase.items", "INSERT INTO items SELECT * FROM ptbase.items"); err != nil {
				return err
			}
			f, err := measure(fmt.Sprintf("pt-table-sync --execute, %d %% changed", pct), "pt", func() (time.Duration, int64, error) {
				cmd := exec.Command(ptSync, "--execute", "--no-check-slave", "--charset", "utf8mb4",
					fmt.Sprintf("S=%s,u=root,D=bench,t=items", src.Socket), fmt.Sprintf("S=%s,u=root,D=pt,t=items", dst.Socket))
				d, rss, err := timeCmd(cmd)
				if err != nil && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 2 {
					// 2: "at least one table differed" (and, with
					// --execute, was synced).
					err = nil
					if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
						rss = ru.Maxrss * 1024
					}
				}
				return d, rss, err
			})
			if err != nil {
				return err
			}
			figures = append(figures, f)
		}
	}
	fmt.Printf("\n%d rows × 11 columns (PK + 1 secondary index); target MariaDB with binlog ROW; every copy verified by checksum\n", rows)
	fmt.Printf("command: make build && go run ./bench -merge-rows %d\n\n", rows)
	var table [][]string
	for _, f := range figures {
		table = append(table, []string{f.name, fmt.Sprintf("%.2f s", f.wall.Seconds()), fmt.Sprint(f.written), fmt.Sprint(f.binlog), mib(f.rss)})
	}
	printTable(linkHeader, []string{"run", "wall", "rows written", "binlog bytes", "peak RSS"}, "---", table)
	return nil
}

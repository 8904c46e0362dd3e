package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// The verify and compare measurement: go run ./bench -verify-rows 1000000
// (after make build; with -link 50mbit dbsync reads the primary through
// the slow link). Side by side in one run, at 0 % and 1 % of the rows
// different (1 % spread over the key space: id % 100 = 7 updated), it
// times handler verify and merges with compare = checksums and
// compare = rows, and counts what each makes each server send
// (Bytes_sent, global, before and after); and pt-table-sync --print
// against verify at 0 %. Every merge's copy is verified against the source
// by checksum before its figures count.
var verifyRows = flag.Int("verify-rows", 0, "measure handler verify and compare = checksums against compare = rows at this many rows (e.g. 1000000)")

type verifyFigure struct {
	name          string
	wall          time.Duration
	srcB, dstB    int64
	rss           int64
	exit          int
	ofRows, ofVal string // share of the compare = rows figure of the same case
}

func runVerifyBench(rows int, handler string, link *linkShape) error {
	handler, dir, err := benchDir(handler, "dbsync-bench-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ptSync, ptErr := exec.LookPath("pt-table-sync")
	if ptErr != nil {
		logf("pt-table-sync not found (apt-get install percona-toolkit): measured without it")
	}
	logf("starting MariaDB servers")
	src, srcDB, srcPort, linkHeader, stopSrc, err := startPrimary(link, rows)
	if err != nil {
		return err
	}
	defer stopSrc()
	dst, err := mariadbtest.Start(mariadbtest.Options{TLS: true, LocalInfile: true, ExtraArgs: bigServer})
	if err != nil {
		return err
	}
	defer dst.Stop()
	if err := execAll(srcDB, "CREATE TABLE items_base LIKE items", "INSERT INTO items_base SELECT * FROM items"); err != nil {
		return err
	}
	for _, db := range []string{"sync", "base"} {
		if _, err := dst.Root().Exec("CREATE DATABASE " + db); err != nil {
			return err
		}
		if _, err := socketDB(dst, db).Exec(mariadbtest.ItemsDDL); err != nil {
			return err
		}
	}
	config := func(mode, compare string, compress ...bool) string {
		z := len(compress) > 0 && compress[0]
		p := filepath.Join(dir, fmt.Sprintf("config-%s-%s-%v.ini", mode, compare, z))
		text := fmt.Sprintf(`[sync]
default_target = azure
timeout = 1h
min_rows = 0
merge_max_changes = 1
compare = %s
[source]
host = 127.0.0.1
port = %d
database = bench
user = %s
password = %s
ssl_mode = disabled
read_timeout = 10m
compress = %v
[azure_mysql]
host = localhost
port = %d
database = sync
user = %s
password = %s
ssl_ca = %s
read_timeout = 10m
write_timeout = 10m
[table.items]
query = SELECT * FROM items
mode = %s
`, compare, srcPort, src.User, src.Password, z, dst.Port, dst.User, dst.Password, dst.CA, mode)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			panic(err)
		}
		return p
	}
	bytesSent := func(s *mariadbtest.Server) int64 {
		var name string
		var v int64
		_ = s.Root().QueryRow("SHOW GLOBAL STATUS LIKE 'Bytes_sent'").Scan(&name, &v)
		return v
	}
	// run runs a command whose exit codes in ok are not failures.
	run := func(cmd *exec.Cmd, ok ...int) (time.Duration, int64, int, error) {
		d, rss, err := timeCmd(cmd)
		code := 0
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
			if ru, isRU := cmd.ProcessState.SysUsage().(*syscall.Rusage); isRU {
				rss = ru.Maxrss * 1024
			}
		}
		for _, c := range ok {
			if err != nil && code == c {
				err = nil
			}
		}
		return d, rss, code, err
	}
	measure := func(name string, cmd *exec.Cmd, ok ...int) (verifyFigure, error) {
		quiesce(src, dst)
		s0, d0 := bytesSent(src), bytesSent(dst)
		d, rss, code, err := run(cmd, ok...)
		if err != nil {
			return verifyFigure{}, fmt.Errorf("%s: %w", name, err)
		}
		f := verifyFigure{name: name, wall: d, srcB: bytesSent(src) - s0, dstB: bytesSent(dst) - d0, rss: rss, exit: code}
		logf("%-48s %7.2fs  exit %d  source sent %11d  target sent %11d  RSS %s", name, d.Seconds(), code, f.srcB, f.dstB, mib(rss))
		return f, nil
	}
	exact := func(name string) error {
		wantRows, wantSum, err := checksumMySQL(srcDB, "items")
		if err != nil {
			return err
		}
		n, sum, err := checksumMySQL(socketDB(dst, "sync"), "items")
		if err != nil || n != wantRows || sum != wantSum {
			return fmt.Errorf("%s: copy differs from the source: %d rows (want %d), checksum match %v, %v", name, n, wantRows, sum == wantSum, err)
		}
		return nil
	}
	sync := func(cfg string) *exec.Cmd { return exec.Command(handler, "sync", "--config", cfg) }
	verify := func(cfg string) *exec.Cmd { return exec.Command(handler, "verify", "--config", cfg) }
	if _, err := measure("replace (first copy)", sync(config("replace", "auto"))); err != nil {
		return err
	}
	if err := execAll(socketDB(dst, "base"), "INSERT INTO items SELECT * FROM sync.items"); err != nil {
		return err
	}
	// A full replace with and without the protocol's compression (what it
	// saves shows over -link).
	var figures []verifyFigure
	plain, err := measure("replace, compress = false", sync(config("replace", "auto")))
	if err != nil {
		return err
	}
	zipped, err := measure("replace, compress = true", sync(config("replace", "auto", true)))
	if err != nil {
		return err
	}
	if err := exact(zipped.name); err != nil {
		return err
	}
	zipped.ofVal = fmt.Sprintf("%.2f× the wall without", zipped.wall.Seconds()/plain.wall.Seconds())
	zipped.ofRows = fmt.Sprintf("%.1f %% of the source's bytes without", 100*float64(zipped.srcB)/float64(plain.srcB))
	figures = append(figures, plain, zipped)
	resetTarget := func() error {
		return execAll(socketDB(dst, "sync"), "DROP TABLE items", "CREATE TABLE items LIKE base.items", "INSERT INTO items SELECT * FROM base.items")
	}
	share := func(f, of verifyFigure) verifyFigure {
		f.ofRows = fmt.Sprintf("%.2f %% / %.2f %%", 100*float64(f.srcB)/float64(of.srcB), 100*float64(f.dstB)/float64(of.dstB))
		f.ofVal = fmt.Sprintf("%.2f×", f.wall.Seconds()/of.wall.Seconds())
		return f
	}
	for _, pct := range []int{0, 1} {
		logf("--- %d %% different", pct)
		if err := execAll(srcDB, "DROP TABLE items", "CREATE TABLE items LIKE items_base", "INSERT INTO items SELECT * FROM items_base"); err != nil {
			return err
		}
		if err := resetTarget(); err != nil {
			return err
		}
		want := 0
		if pct > 0 {
			want = 4
			if err := execAll(srcDB, "UPDATE items SET name = CONCAT(name, ' *'), amount = amount + 1 WHERE id % 100 = 7"); err != nil {
				return err
			}
		}
		mergeRowsF, err := measure(fmt.Sprintf("merge, compare = rows, %d %%", pct), sync(config("merge", "rows")))
		if err != nil {
			return err
		}
		if err := exact(mergeRowsF.name); err != nil {
			return err
		}
		if err := resetTarget(); err != nil {
			return err
		}
		vRows, err := measure(fmt.Sprintf("verify, compare = rows, %d %%", pct), verify(config("merge", "rows")), want)
		if err != nil {
			return err
		}
		vSums, err := measure(fmt.Sprintf("verify, compare = checksums, %d %%", pct), verify(config("merge", "checksums")), want)
		if err != nil {
			return err
		}
		if vSums.exit != want || vRows.exit != want {
			return fmt.Errorf("verify at %d %%: exit %d (checksums) and %d (rows), want %d", pct, vSums.exit, vRows.exit, want)
		}
		mergeSums, err := measure(fmt.Sprintf("merge, compare = checksums, %d %%", pct), sync(config("merge", "checksums")))
		if err != nil {
			return err
		}
		if err := exact(mergeSums.name); err != nil {
			return err
		}
		figures = append(figures, mergeRowsF, share(vRows, mergeRowsF), share(vSums, mergeRowsF), share(mergeSums, mergeRowsF))
		if pct == 0 && ptErr == nil {
			if err := resetTarget(); err != nil {
				return err
			}
			pt, err := measure("pt-table-sync --print, 0 %", exec.Command(ptSync, "--print", "--no-check-slave", "--charset", "utf8mb4",
				fmt.Sprintf("S=%s,u=root,D=bench,t=items", src.Socket), fmt.Sprintf("S=%s,u=root,D=sync,t=items", dst.Socket)), 2)
			if err != nil {
				return err
			}
			pt.ofVal = fmt.Sprintf("verify is %.1f× faster", pt.wall.Seconds()/vSums.wall.Seconds())
			figures = append(figures, pt)
		}
	}
	fmt.Printf("\n%d rows × 11 columns (PK + 1 secondary index); 1 %% = id %% 100 = 7 updated; bytes = Bytes_sent of each server (global, before and after)\n", rows)
	fmt.Printf("command: make build && go run ./bench -verify-rows %d%s\n\n", rows, linkArg(link))
	if linkHeader != "" {
		fmt.Print(linkHeader + "\n")
	}
	fmt.Println("| run | wall | exit | source sent | target sent | of merge by rows (source / target bytes) | wall vs merge by rows | peak RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, f := range figures {
		fmt.Printf("| %s | %.2f s | %d | %d | %d | %s | %s | %s |\n", f.name, f.wall.Seconds(), f.exit, f.srcB, f.dstB, f.ofRows, f.ofVal, mib(f.rss))
	}
	return nil
}

func linkArg(link *linkShape) string {
	if link == nil {
		return ""
	}
	return " -link " + link.flag()
}

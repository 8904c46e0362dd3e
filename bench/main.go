// Command bench measures dbsync against the usual ways to copy a MySQL
// table, on throwaway MariaDB servers (a plain source, TLS-only targets
// with local_infile on and off), and prints a table: median time, rows/s,
// ratio to the server's own LOAD DATA INFILE, peak RSS. Every copy is
// checked against the source (row count and an order-independent
// checksum) before any figure is printed.
//
//	make bench                      # 1,000,000 rows, 3 rounds
//	go run ./bench -rows 200000 -repeat 1
//	go run ./bench -rss-rows 5000000  # also peak RSS of a 5 M-row sync
//	go run ./bench -link 50mbit       # dbsync reads the primary over a slow link (bench/link.go)
package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// printTable prints a results table in Markdown, after the link's line
// (linkHeader, when there is one): header, then the rows; every column
// but the first is aligned by align ("---:" right, "---" left).
func printTable(linkHeader string, header []string, align string, rows [][]string) {
	if linkHeader != "" {
		fmt.Print(linkHeader + "\n")
	}
	fmt.Println("| " + strings.Join(header, " | ") + " |")
	fmt.Println("|---" + strings.Repeat("|"+align, len(header)-1) + "|")
	for _, r := range rows {
		fmt.Println("| " + strings.Join(r, " | ") + " |")
	}
}

// syncMethod is a method that runs binary's sync with the config cfg
// and checks the copy in database db of target.
func syncMethod(name, binary, cfg string, target *mariadbtest.Server, db string) *method {
	return &method{
		name:  name,
		run:   func() (time.Duration, int64, error) { return timeCmd(exec.Command(binary, "sync", "--config", cfg)) },
		check: func() (int64, uint64, error) { return checksumMySQL(socketDB(target, db), "items") },
	}
}

type method struct {
	name string
	run  func() (time.Duration, int64, error) // wall time, peak RSS in bytes (0: not measured)
	// check verifies the copy this method made.
	check func() (rows int64, sum uint64, err error)
	times []time.Duration
	rss   int64
	// onceOnly: timed in the first round only (pandas: minutes a run, and
	// far from the others, so more rounds would change no conclusion).
	onceOnly bool
}

func main() {
	rows := flag.Int("rows", 1000000, "rows in the generated table")
	repeat := flag.Int("repeat", 3, "rounds; each round runs every method once, in turn")
	rssRows := flag.Int("rss-rows", 0, "also measure dbsync's peak RSS at this many rows (e.g. 5000000)")
	handler := flag.String("handler", "bin/handler", "the built binary (make build)")
	pandas := flag.Bool("pandas", true, "include the pandas baseline when Debian's python3-pandas is installed")
	tables := flag.Bool("tables", false, "run only the many-table case: the rows split into 4 tables, parallel = 1 against parallel = 4")
	only := flag.String("only", "", "run only the methods whose name contains this (the ingest limit always runs)")
	baseline := flag.String("baseline", "", "also time this older handler binary beside bin/handler in the same rounds: the default load_data sync, the insert path and --target sqlite (with -merge-rows: each merge), for a same-run A/B")
	flag.StringVar(baseline, "sqlite-baseline", "", "the older name of -baseline")
	linkSpec := flag.String("link", "", "dbsync reads the primary through a simulated slow link: a rate each direction in bit, kbit, mbit or gbit (e.g. 50mbit), optionally with ,rtt=DURATION (bench/link.go)")
	linkRTT := flag.Duration("link-rtt", defaultLinkRTT, "the round trip -link adds (the default: on premises to an Azure region)")
	flag.Parse()
	link, err := linkFlags(*linkSpec, *linkRTT)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if *verifyRows > 0 { // verify and compare, bench/verify.go
		if err := runVerifyBench(*verifyRows, *handler, link); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *incrementalBench { // mode = incremental, bench/incremental.go
		if err := runIncremental(*rows, *handler); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *mergeRows > 0 { // merge mode, bench/merge.go
		if err := runMerge(*mergeRows, *handler, *baseline, link); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*rows, *repeat, *rssRows, *handler, *pandas, *only, *tables, *baseline, link); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// linkFlags reads -link and -link-rtt: nil when there is no -link.
func linkFlags(spec string, rtt time.Duration) (*linkShape, error) {
	rttSet := false
	flag.Visit(func(f *flag.Flag) { rttSet = rttSet || f.Name == "link-rtt" })
	if spec == "" {
		if rttSet {
			return nil, fmt.Errorf("-link-rtt %s needs -link (a rate, e.g. -link 50mbit)", rtt)
		}
		return nil, nil
	}
	shape, err := parseLink(spec, rtt, rttSet)
	if err != nil {
		return nil, err
	}
	return &shape, nil
}

// sourceLink starts the link proxy in front of src when -link asks for
// one. It returns the port dbsync's [source] gets (the primary's own
// without -link), the results' line that says so ("" without), and a stop
// for the proxy.
func sourceLink(src *mariadbtest.Server, link *linkShape) (port int, header string, stop func(), err error) {
	if link == nil {
		return src.Port, "", func() {}, nil
	}
	p, err := startLink(fmt.Sprintf("127.0.0.1:%d", src.Port), *link)
	if err != nil {
		return 0, "", nil, err
	}
	logf("link proxy on 127.0.0.1:%d to the primary on %d: %s", p.Port(), src.Port, link)
	line := fmt.Sprintf("link: dbsync reads the primary through a simulated slow link (bench/link.go, -link %s): %s; the other tools read it directly\n", link.flag(), link)
	return p.Port(), line, func() {
		_ = p.Close()
		up, down := p.carried()
		logf("the link carried %.1f MB primary → dbsync and %.3f MB dbsync → primary", float64(down)/1e6, float64(up)/1e6)
	}, nil
}

// bigServer are the mariadbd options of every bench server: a buffer
// pool that holds the table, as a real server's would, and SSD-class
// flushing (the default 200 IOPS is for spinning disks).
var bigServer = []string{"--innodb-buffer-pool-size=2G", "--innodb-log-file-size=1G", "--innodb-io-capacity=4000", "--innodb-io-capacity-max=8000"}

// benchDir checks that the handler binary was built and makes the bench's
// temporary folder (prefix…); it returns the handler's absolute path.
func benchDir(handler, prefix string) (string, string, error) {
	handler, err := filepath.Abs(handler)
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(handler); err != nil {
		return "", "", fmt.Errorf("%s: build it first (make build)", handler)
	}
	dir, err := os.MkdirTemp("", prefix)
	return handler, dir, err
}

// startPrimary starts the bench's primary with rows generated rows in
// database bench (prepareSource, whose handle it returns) and, when -link
// asks for one, the link proxy in front of it (sourceLink); stop stops
// both.
func startPrimary(link *linkShape, rows int) (src *mariadbtest.Server, db *sql.DB, port int, header string, stop func(), err error) {
	src, err = mariadbtest.Start(mariadbtest.Options{ExtraArgs: bigServer})
	if err == nil {
		db, err = prepareSource(src, rows)
	}
	if err == nil {
		port, header, stop, err = sourceLink(src, link)
	}
	if err != nil {
		if src != nil {
			src.Stop()
		}
		return nil, nil, 0, "", nil, err
	}
	stopLink := stop
	return src, db, port, header, func() { stopLink(); src.Stop() }, nil
}

func run(rows, repeat, rssRows int, handler string, withPandas bool, only string, tables bool, baseline string, link *linkShape) error {
	handler, dir, err := benchDir(handler, "dbsync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
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
	dstNoFile, err := mariadbtest.Start(mariadbtest.Options{TLS: true, ExtraArgs: bigServer})
	if err != nil {
		return err
	}
	defer dstNoFile.Stop()
	wantRows, wantSum, err := checksumMySQL(srcDB, "items")
	if err != nil {
		return err
	}
	if tables {
		return benchTables(src, dst, handler, dir, rows, repeat, srcPort, linkHeader)
	}
	tsv := filepath.Join(dir, "items.tsv")
	if _, err := srcDB.Exec("SELECT * INTO OUTFILE " + quote(tsv) + " FROM items"); err != nil {
		return fmt.Errorf("export TSV for the ingest limit: %w", err)
	}
	st, _ := os.Stat(tsv)
	for _, s := range []*mariadbtest.Server{dst, dstNoFile} {
		for _, db := range []string{"ingest", "dump", "sync", "syncidx", "sync2", "myloader"} {
			if _, err := s.Root().Exec("CREATE DATABASE " + db); err != nil {
				return err
			}
			if _, err := socketDB(s, db).Exec(mariadbtest.ItemsDDL); err != nil {
				return err
			}
		}
	}
	// The SQLite replica holds the bench table's keys too (dbsync creates a
	// table without them; a user adds them): the primary key and the index
	// on email, so the SQLite figure includes keeping them.
	if err := createSQLiteReplica(filepath.Join(dir, "replica.db")); err != nil {
		return err
	}
	// A scheduled sync replaces a table that already holds about as many
	// rows: give the sync targets the rows of a previous run, so that every
	// round (not only the later ones) runs the plan dbsync picks for them.
	for _, s := range []*mariadbtest.Server{dst, dstNoFile} {
		for _, db := range []string{"sync", "sync2"} {
			d := socketDB(s, db)
			for _, q := range []string{"LOAD DATA INFILE " + quote(tsv) + " INTO TABLE items CHARACTER SET binary", "ANALYZE TABLE items"} {
				if _, err := d.Exec(q); err != nil {
					return fmt.Errorf("fill %s.items as a previous run would: %w", db, err)
				}
			}
		}
	}
	config := func(target *mariadbtest.Server, database, extra string) string {
		return writeConfig(filepath.Join(dir, fmt.Sprintf("config-%d-%s.ini", target.Port, database)), src, srcPort, target, database,
			initest.Merge(fmt.Sprintf("[source]\nquery = SELECT * FROM items\n[azure_mysql]\ntable = items\n[sqlite]\npath = %s\ntable = items\n", filepath.Join(dir, "replica.db")), extra))
	}
	cfgFile, cfgNoFile := config(dst, "sync", ""), config(dstNoFile, "sync", "")
	cfgIndexed := config(dst, "syncidx", "")
	cfgOneStream := config(dst, "sync2", "[azure_mysql]\nload_streams = 1\n")

	methods := []*method{
		{
			name: "server LOAD DATA INFILE (ingest limit)",
			run: func() (time.Duration, int64, error) {
				db := socketDB(dst, "ingest")
				if _, err := db.Exec("TRUNCATE TABLE items"); err != nil {
					return 0, 0, err
				}
				start := time.Now()
				_, err := db.Exec("LOAD DATA INFILE " + quote(tsv) + " INTO TABLE items CHARACTER SET binary")
				return time.Since(start), 0, err
			},
			check: func() (int64, uint64, error) { return checksumMySQL(socketDB(dst, "ingest"), "items") },
		},
		{
			name: "server LOAD DATA INFILE, unindexed + ADD KEY (deferred limit)",
			run: func() (time.Duration, int64, error) {
				db := socketDB(dst, "ingest")
				start := time.Now()
				for _, q := range []string{"DROP TABLE IF EXISTS items_def", strings.Replace(strings.Replace(mariadbtest.ItemsDDL, ",\n  KEY email_idx (email)", "", 1), "items", "items_def", 1),
					"LOAD DATA INFILE " + quote(tsv) + " INTO TABLE items_def CHARACTER SET binary", "ALTER TABLE items_def ADD KEY email_idx (email)"} {
					if _, err := db.Exec(q); err != nil {
						return 0, 0, err
					}
				}
				return time.Since(start), 0, nil
			},
			check: func() (int64, uint64, error) { return checksumMySQL(socketDB(dst, "ingest"), "items_def") },
		},
		{
			name: "mariadb-dump | mariadb",
			run: func() (time.Duration, int64, error) {
				cmd := exec.Command("bash", "-o", "pipefail", "-c", fmt.Sprintf(
					"mariadb-dump --no-defaults -S %s -uroot --single-transaction --quick bench items | mariadb --no-defaults -h localhost -P %d -u %s -p%s --ssl-ca=%s --ssl-verify-server-cert dump",
					src.Socket, dst.Port, dst.User, dst.Password, dst.CA))
				return timeCmd(cmd)
			},
			check: func() (int64, uint64, error) { return checksumMySQL(socketDB(dst, "dump"), "items") },
		},
		syncMethod("dbsync sync (load_data; defaults: load_streams=2, deferred index)", handler, cfgFile, dst, "sync"),
		{
			name: "dbsync sync (load_data, indexed plan: empty target, 2 streams)",
			run: func() (time.Duration, int64, error) {
				// An empty target (row estimate 0): the staging table keeps its index.
				db := socketDB(dst, "syncidx")
				for _, q := range []string{"TRUNCATE TABLE items", "ANALYZE TABLE items"} {
					if _, err := db.Exec(q); err != nil {
						return 0, 0, err
					}
				}
				return timeCmd(exec.Command(handler, "sync", "--config", cfgIndexed))
			},
			check: func() (int64, uint64, error) { return checksumMySQL(socketDB(dst, "syncidx"), "items") },
		},
		syncMethod("dbsync sync (load_data, load_streams=1)", handler, cfgOneStream, dst, "sync2"),
		syncMethod("dbsync sync (insert, local_infile=OFF)", handler, cfgNoFile, dstNoFile, "sync"),
		{
			name: "dbsync sync --target sqlite",
			run: func() (time.Duration, int64, error) {
				return timeCmd(exec.Command(handler, "sync", "--config", cfgFile, "--target", "sqlite"))
			},
			check: func() (int64, uint64, error) { return checksumSQLite(filepath.Join(dir, "replica.db")) },
		},
	}
	if baseline != "" {
		baseline, err := filepath.Abs(baseline)
		if err != nil {
			return err
		}
		methods = append(methods,
			syncMethod("dbsync sync (load_data; defaults, baseline binary)", baseline, cfgFile, dst, "sync"),
			syncMethod("dbsync sync (insert, local_infile=OFF, baseline binary)", baseline, cfgNoFile, dstNoFile, "sync"),
			&method{
				name: "dbsync sync --target sqlite (baseline binary)",
				run: func() (time.Duration, int64, error) {
					return timeCmd(exec.Command(baseline, "sync", "--config", cfgFile, "--target", "sqlite"))
				},
				check: func() (int64, uint64, error) { return checksumSQLite(filepath.Join(dir, "replica.db")) },
			})
	}
	if dump, err := mydumperDump(src, dir); err != nil {
		logf("myloader skipped: %v", err)
	} else {
		for _, threads := range []int{1, 2, 4} {
			methods = append(methods, &method{
				name: fmt.Sprintf("myloader -t %d (mydumper dump)", threads),
				run: func() (time.Duration, int64, error) {
					return timeCmd(exec.Command("myloader", "-h", "127.0.0.1", "-P", fmt.Sprint(dst.Port), "-u", dst.User, "-p", dst.Password,
						"--ssl", "--ca", dst.CA, "-d", dump, "-s", "bench", "-B", "myloader", "-o", "-t", fmt.Sprint(threads)))
				},
				check: func() (int64, uint64, error) { return checksumMySQL(socketDB(dst, "myloader"), "items") },
			})
		}
	}
	pandasOK := withPandas && exec.Command("/usr/bin/python3", "-c", "import pandas, sqlalchemy, pymysql").Run() == nil
	if pandasOK {
		script, _ := filepath.Abs("bench/pandas_baseline.py")
		// pandas cannot carry VARBINARY at all (to_sql fails on it), so it
		// gets the other ten columns; DECIMAL comes back as DOUBLE.
		query := "SELECT id, name, email, amount, score, active, created_at, birthday, notes, attrs FROM items"
		methods = append(methods, &method{
			onceOnly: true,
			name:     "pandas read_sql + to_sql(replace) (10 columns)",
			run: func() (time.Duration, int64, error) {
				cmd := exec.Command("/usr/bin/python3", script,
					fmt.Sprintf("mysql+pymysql://%s:%s@127.0.0.1:%d/bench", src.User, src.Password, src.Port),
					fmt.Sprintf("mysql+pymysql://%s:%s@localhost:%d/sync", dstNoFile.User, dstNoFile.Password, dstNoFile.Port),
					query, "items_pandas", dstNoFile.CA)
				return timeCmd(cmd)
			},
			check: func() (int64, uint64, error) {
				var n int64
				err := socketDB(dstNoFile, "sync").QueryRow("SELECT COUNT(*) FROM items_pandas").Scan(&n)
				return n, wantSum, err // types differ (DECIMAL→DOUBLE): count only
			},
		})
	} else {
		logf("pandas baseline skipped: Debian's python3-pandas, python3-sqlalchemy and python3-pymysql are not all installed")
	}

	if only != "" {
		kept := methods[:1]
		for _, m := range methods[1:] {
			if strings.Contains(m.name, only) {
				kept = append(kept, m)
			}
		}
		methods = kept
	}
	for r := 1; r <= repeat; r++ {
		for _, m := range methods {
			if m.onceOnly && r > 1 {
				continue
			}
			quiesce(src, dst, dstNoFile)
			d, rss, err := m.run()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			m.times = append(m.times, d)
			m.rss = max(m.rss, rss)
			logf("round %d: %-48s %8.2fs  peak RSS %s", r, m.name, d.Seconds(), mib(rss))
		}
	}
	for _, m := range methods {
		n, sum, err := m.check()
		if err != nil {
			return fmt.Errorf("verify %s: %w", m.name, err)
		}
		if n != wantRows || sum != wantSum {
			return fmt.Errorf("verify %s: copy has %d rows (checksum %x), source %d (%x)", m.name, n, sum, wantRows, wantSum)
		}
	}
	logf("every copy matches the source: %d rows, checksum %016x", wantRows, wantSum)

	var rssBig int64
	if rssRows > 0 {
		logf("regenerating %d rows for the peak-RSS run", rssRows)
		if _, err := srcDB.Exec("TRUNCATE TABLE items"); err != nil {
			return err
		}
		if err := generate(src, rssRows); err != nil {
			return err
		}
		// Both load paths, at the default, one and the most streams: memory
		// must not grow with the rows whatever N.
		for _, c := range []struct {
			name   string
			server *mariadbtest.Server
			db     string
			extra  string
		}{
			{"load_data, defaults", dst, "sync", ""},
			{"load_data, load_streams = 1", dst, "sync2", "[azure_mysql]\nload_streams = 1\n"},
			{"load_data, load_streams = 16", dst, "sync2", "[azure_mysql]\nload_streams = 16\n"},
			{"insert, defaults", dstNoFile, "sync", ""},
			{"insert, load_streams = 16", dstNoFile, "sync2", "[azure_mysql]\nload_streams = 16\n"},
		} {
			quiesce(src, dst, dstNoFile)
			d, rss, err := timeCmd(exec.Command(handler, "sync", "--config", config(c.server, c.db, c.extra)))
			if err != nil {
				return fmt.Errorf("sync %d rows (%s): %w", rssRows, c.name, err)
			}
			if n, _, err := checksumMySQL(socketDB(c.server, c.db), "items"); err != nil || n != int64(rssRows) {
				return fmt.Errorf("verify %d-row sync (%s): %d rows, %v", rssRows, c.name, n, err)
			}
			rssBig = max(rssBig, rss)
			logf("dbsync sync of %d rows (%s): %.1fs, peak RSS %s", rssRows, c.name, d.Seconds(), mib(rss))
		}
	}
	report(methods, rows, st.Size(), rssRows, rssBig, dst, linkHeader)
	return nil
}

// quiesce waits until InnoDB on every server has written out the pages
// earlier methods left dirty in its buffer pool, so that no method is timed
// while a server still works for the one before it (on 2 cores that
// background flushing otherwise moves results by tens of percent).
func quiesce(servers ...*mariadbtest.Server) {
	for _, s := range servers {
		db := s.Root()
		_, _ = db.Exec("SET GLOBAL innodb_max_dirty_pages_pct = 0")
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			var name string
			var dirty int64
			if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'").Scan(&name, &dirty); err != nil || dirty < 100 {
				break
			}
		}
		_, _ = db.Exec("SET GLOBAL innodb_max_dirty_pages_pct = DEFAULT")
	}
}

// mydumperDump installs Debian's mydumper when it is missing (apt-get, as
// root) and dumps bench.items in chunks of 100,000 rows, so that myloader's
// threads have files to share.
func mydumperDump(src *mariadbtest.Server, dir string) (string, error) {
	if _, err := exec.LookPath("myloader"); err != nil {
		logf("installing Debian's mydumper (apt-get)")
		cmd := exec.Command("bash", "-c", "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mydumper")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("Debian's mydumper is not installed and apt-get install mydumper failed (%v): %s", err, tail(string(out)))
		}
	}
	out := filepath.Join(dir, "mydumper")
	cmd := exec.Command("mydumper", "-S", src.Socket, "-u", "root", "-B", "bench", "-T", "items", "-r", "100000", "-o", out)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mydumper: %v: %s", err, tail(string(b)))
	}
	// myloader's figures are the restore alone: a copy with the two tools
	// also pays this dump (dbsync's figures include reading the source).
	logf("mydumper dump for myloader (once, not in myloader's figures): %.2fs", time.Since(start).Seconds())
	return out, nil
}

// prepareSource makes database bench on the primary src with the bench
// table and rows generated rows in it, and returns a handle on it.
func prepareSource(src *mariadbtest.Server, rows int) (*sql.DB, error) {
	for _, q := range []string{"CREATE DATABASE bench", "USE bench", mariadbtest.ItemsDDL} {
		if _, err := src.Root().Exec(q); err != nil {
			return nil, err
		}
	}
	logf("generating %d rows", rows)
	if err := generate(src, rows); err != nil {
		return nil, err
	}
	return socketDB(src, "bench"), nil
}

// writeConfig writes the config of a bench run to path and returns path:
// the primary src read through srcPort, the TLS target dst's database,
// the timeouts of a long load, and extra merged over them
// (initest.Merge: a section may appear once in config.ini).
func writeConfig(path string, src *mariadbtest.Server, srcPort int, dst *mariadbtest.Server, database, extra string) string {
	text := "[sync]\ndefault_target = azure\ntimeout = 1h\n" +
		src.SourceSection(srcPort, "bench") + "read_timeout = 10m\n" +
		dst.TargetSection(database) + "read_timeout = 10m\nwrite_timeout = 10m\n"
	if err := os.WriteFile(path, []byte(initest.Merge(text, extra)), 0o600); err != nil {
		panic(err)
	}
	return path
}

func generate(s *mariadbtest.Server, n int) error {
	db := socketDB(s, "bench")
	_, err := db.Exec(mariadbtest.ItemsInsert(n))
	return err
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func report(methods []*method, rows int, tsvBytes int64, rssRows int, rssBig int64, dst *mariadbtest.Server, linkHeader string) {
	var version string
	_ = dst.Root().QueryRow("SELECT VERSION()").Scan(&version)
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	limit := median(methods[0].times)
	fmt.Printf("\n%d rows × 11 columns (%.0f MB as TSV); %d cores, %s; MariaDB %s; %s; %s\n\n",
		rows, float64(tsvBytes)/1e6, runtime.NumCPU(), cpu, version, runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	var table [][]string
	for _, m := range methods {
		med := median(m.times)
		table = append(table, []string{strings.ReplaceAll(m.name, "|", "\\|"), fmt.Sprintf("%.2f s", med.Seconds()), thousands(float64(rows) / med.Seconds()),
			fmt.Sprintf("%.2f", med.Seconds()/limit.Seconds()), mib(m.rss)})
	}
	printTable(linkHeader, []string{"method", "median", "rows/s", "× ingest limit", "peak RSS"}, "---:", table)
	if rssRows > 0 {
		fmt.Printf("\ndbsync sync (load_data and insert, load_streams 1, 2 and 16) of %d rows: highest peak RSS %s\n", rssRows, mib(rssBig))
	}
	byName := map[string]time.Duration{}
	rss := map[string]int64{}
	for _, m := range methods {
		byName[m.name], rss[m.name] = median(m.times), m.rss
	}
	if len(methods) < 9 {
		fmt.Println("\n(a subset of the methods ran: goals are judged on a full run)")
		return
	}
	if linkHeader != "" {
		// Only dbsync's reads cross the link: set against tools on
		// loopback, its figures meet or miss nothing.
		fmt.Println("\n(dbsync ran over -link, the other tools on loopback: goals are judged on a run without -link)")
		return
	}
	sync, ins, sq, dump := byName["dbsync sync (load_data; defaults: load_streams=2, deferred index)"], byName["dbsync sync (insert, local_infile=OFF)"], byName["dbsync sync --target sqlite"], byName["mariadb-dump | mariadb"]
	fmt.Println("\nGoals (issue #14):")
	goal := func(ok bool, format string, args ...any) {
		mark := "met "
		if !ok {
			mark = "MISS"
		}
		fmt.Printf("  %s %s\n", mark, fmt.Sprintf(format, args...))
	}
	goal(sync.Seconds() <= 0.95*limit.Seconds(), "load_data sync ≤ 0.95× the server's LOAD DATA INFILE into the keyed table: %.2f× (deferred limit %.2f×)",
		sync.Seconds()/limit.Seconds(), byName["server LOAD DATA INFILE, unindexed + ADD KEY (deferred limit)"].Seconds()/limit.Seconds())
	bestMyloader, bestName := time.Duration(0), ""
	for _, m := range methods {
		if strings.HasPrefix(m.name, "myloader") && (bestMyloader == 0 || median(m.times) < bestMyloader) {
			bestMyloader, bestName = median(m.times), m.name
		}
	}
	if bestMyloader > 0 {
		goal(sync < bestMyloader, "load_data sync faster than the best myloader (%s, %.2f s): %.2f s", bestName, bestMyloader.Seconds(), sync.Seconds())
	}
	goal(ins.Seconds() <= 0.7*dump.Seconds(), "insert sync (local_infile=OFF) ≤ 0.7× mariadb-dump | mariadb: %.2f×", ins.Seconds()/dump.Seconds())
	if base, ok := byName["dbsync sync --target sqlite (baseline binary)"]; ok {
		goal(base.Seconds() >= 1.3*sq.Seconds(), "sqlite target ≥ 1.3× the baseline binary's rows/s in this run: %.2f× (%s against %s rows/s)",
			base.Seconds()/sq.Seconds(), thousands(float64(rows)/sq.Seconds()), thousands(float64(rows)/base.Seconds()))
	} else {
		goal(float64(rows)/sq.Seconds() >= 1.3*147215, "sqlite target ≥ 1.3× 147,215 rows/s (2026-11-25, another machine's day: pass -baseline for a same-run figure) = 191,380 rows/s: %s rows/s", thousands(float64(rows)/sq.Seconds()))
	}
	maxRSS := int64(0)
	for _, m := range methods {
		if strings.HasPrefix(m.name, "dbsync") {
			maxRSS = max(maxRSS, m.rss)
		}
	}
	goal(maxRSS <= 64<<20, "peak RSS ≤ 64 MiB at %d rows, any load_streams: %s", rows, mib(maxRSS))
	if rssRows > 0 {
		goal(rssBig <= 64<<20, "peak RSS ≤ 64 MiB at %d rows, both load paths, load_streams 1, 2 and 16: %s", rssRows, mib(rssBig))
	}
	if p, ok := byName["pandas read_sql + to_sql(replace) (10 columns)"]; ok {
		goal(p.Seconds() >= 6*sync.Seconds(), "≥ 6× faster than pandas: %.1f× (pandas on 10 columns, dbsync on all 11)", p.Seconds()/sync.Seconds())
	}
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func mib(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// timeCmd runs a command and returns its wall time and peak RSS.
func timeCmd(cmd *exec.Cmd) (time.Duration, int64, error) { return timeCmdLog(cmd, "") }

// timeCmdLog is timeCmd that also prints the run's log lines (stderr) after
// it, indented under name (none when name is empty), so that the figures
// come with what the run did.
func timeCmdLog(cmd *exec.Cmd, name string) (time.Duration, int64, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, 0, fmt.Errorf("%v: %s", err, tail(stderr.String()))
	}
	if name != "" {
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			logf("    [%s] %s", name, line)
		}
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // kilobytes on Linux
		logf("  %s: CPU user %.2fs sys %.2fs", filepath.Base(cmd.Path), time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds())
	}
	return d, rss, nil
}

func tail(s string) string {
	if len(s) > 1500 {
		return "…" + s[len(s)-1500:]
	}
	return s
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func socketDB(s *mariadbtest.Server, db string) *sql.DB {
	d, err := s.RootDB(db)
	if err != nil {
		panic(err)
	}
	d.SetMaxOpenConns(1)
	return d
}

// canonical prints a value the same way whichever database it came from.
func canonical(v any) string {
	switch x := v.(type) {
	case nil:
		return "\x00NULL"
	case []byte:
		return string(x)
	case float64:
		return fmt.Sprintf("%v", x)
	case float32:
		return fmt.Sprintf("%v", float64(x))
	case uint64:
		return fmt.Sprint(x)
	case int64:
		return fmt.Sprint(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// rowSum hashes one row; the table's checksum adds them up, so row order
// does not matter.
func rowSum(vals []any) uint64 {
	h := fnv.New64a()
	for _, v := range vals {
		h.Write([]byte(canonical(v)))
		h.Write([]byte{0xff})
	}
	return h.Sum64()
}

func checksumRows(rows *sql.Rows) (int64, uint64, error) {
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	var sum uint64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, 0, err
		}
		n++
		sum += rowSum(vals)
	}
	return n, sum, rows.Err()
}

func checksumMySQL(db *sql.DB, table string) (int64, uint64, error) {
	stmt, err := db.PrepareContext(context.Background(), "SELECT * FROM "+table)
	if err != nil {
		return 0, 0, err
	}
	defer stmt.Close()
	rows, err := stmt.Query()
	if err != nil {
		return 0, 0, err
	}
	return checksumRows(rows)
}

// createSQLiteReplica creates the SQLite target table with the bench
// table's primary key and email index, in the types dbsync gives a table it
// creates.
func createSQLiteReplica(path string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{`CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
  amount TEXT NOT NULL, score REAL, active INTEGER NOT NULL, created_at TEXT NOT NULL, birthday TEXT,
  notes TEXT, attrs TEXT, avatar BLOB)`, "CREATE INDEX email_idx ON items (email)"} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("create the SQLite replica: %w", err)
		}
	}
	return nil
}

func checksumSQLite(path string) (int64, uint64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	rows, err := db.Query("SELECT * FROM items")
	if err != nil {
		return 0, 0, err
	}
	return checksumRows(rows)
}

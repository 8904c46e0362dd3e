package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// benchTables is the many-table case (docs/performance.md, "Several tables: parallel"):
// the generated rows split into four tables t1…t4, synced as one job
// with [sync] parallel = 1 (all four read in one snapshot, one after
// another) and parallel = 4 (each table on its own connections at once,
// each its own snapshot). Every copy is verified by checksum.
// srcPort is the port dbsync's [source] gets (the link proxy's with
// -link), linkHeader the results' line that says which link ("" without).
func benchTables(src, dst *mariadbtest.Server, handler, dir string, rows, repeat, srcPort int, linkHeader string) error {
	const n = 4
	srcDB := socketDB(src, "bench")
	part := rows / n
	type sum struct {
		rows int64
		sum  uint64
	}
	want := make([]sum, n)
	for k := 1; k <= n; k++ {
		t := fmt.Sprintf("t%d", k)
		for _, q := range []string{
			"CREATE TABLE " + t + " LIKE items",
			fmt.Sprintf("INSERT INTO %s SELECT * FROM items WHERE id > %d AND id <= %d", t, (k-1)*part, k*part),
		} {
			if _, err := srcDB.Exec(q); err != nil {
				return err
			}
		}
		r, s, err := checksumMySQL(srcDB, t)
		if err != nil {
			return err
		}
		want[k-1] = sum{r, s}
	}
	var methods []*method
	for _, parallel := range []int{1, n} {
		db := fmt.Sprintf("tables%d", parallel)
		if _, err := dst.Root().Exec("CREATE DATABASE " + db); err != nil {
			return err
		}
		var sections strings.Builder
		for k := 1; k <= n; k++ {
			fmt.Fprintf(&sections, "[table.t%d]\nquery = SELECT * FROM t%d\n", k, k)
		}
		cfg := writeConfig(filepath.Join(dir, "config-"+db+".ini"), src, srcPort, dst, db,
			fmt.Sprintf("[sync]\nparallel = %d\n", parallel)+sections.String())
		// A first, untimed run creates the tables, so that every timed
		// round replaces tables that hold a previous run's rows.
		if out, err := exec.Command(handler, "sync", "--config", cfg).CombinedOutput(); err != nil {
			return fmt.Errorf("first sync of %s: %v\n%s", db, err, tail(string(out)))
		}
		methods = append(methods, &method{
			name: fmt.Sprintf("dbsync sync, %d tables × %d rows, parallel = %d", n, part, parallel),
			run:  func() (time.Duration, int64, error) { return timeCmd(exec.Command(handler, "sync", "--config", cfg)) },
			check: func() (int64, uint64, error) {
				var total int64
				d := socketDB(dst, db)
				for k := 1; k <= n; k++ {
					r, s, err := checksumMySQL(d, fmt.Sprintf("t%d", k))
					if err != nil {
						return 0, 0, err
					}
					if r != want[k-1].rows || s != want[k-1].sum {
						return 0, 0, fmt.Errorf("%s.t%d: %d rows, checksum %d; the source has %d rows, checksum %d", db, k, r, s, want[k-1].rows, want[k-1].sum)
					}
					total += r
				}
				return total, 0, nil
			},
		})
	}
	for round := 1; round <= repeat; round++ {
		for _, m := range methods {
			quiesce(src, dst)
			d, rss, err := m.run()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, _, err := m.check(); err != nil {
				return fmt.Errorf("%s: copy differs: %w", m.name, err)
			}
			m.times = append(m.times, d)
			m.rss = max(m.rss, rss)
			logf("round %d: %s: %.2f s, peak RSS %s (verified)", round, m.name, d.Seconds(), mib(m.rss))
		}
	}
	fmt.Printf("\nSeveral tables per job: %d rows in %d tables, medians of %d rounds, every copy verified by checksum\n\n", n*part, n, repeat)
	var table [][]string
	for _, m := range methods {
		med := median(m.times)
		table = append(table, []string{m.name, fmt.Sprintf("%.2f s", med.Seconds()), thousands(float64(n*part) / med.Seconds()), mib(m.rss)})
	}
	printTable(linkHeader, []string{"method", "median", "rows/s", "peak RSS"}, "---:", table)
	return nil
}

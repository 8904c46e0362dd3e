package dbsync_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	dbsync "github.com/dbsync/dbsync/sync"
)

// TestMergeBench measures merge against replace on a target with the
// binlog on (ROW format, as Azure Database for MySQL runs): wall time, rows
// written and binlog bytes, for 0 %, 1 % and 10 % of the rows changed
// (updates, inserts and deletes). It is a measurement, not a test: it runs
// only with DBSYNC_MERGE_BENCH=<rows> and prints a table.
func TestMergeBench(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DBSYNC_MERGE_BENCH"))
	if n <= 0 {
		t.Skip("a measurement: set DBSYNC_MERGE_BENCH=1000000 to run it")
	}
	dir := t.TempDir()
	target, err := mariadbtest.Start(mariadbtest.Options{TLS: true, LocalInfile: true,
		ExtraArgs: []string{"--log-bin=" + filepath.Join(dir, "binlog"), "--binlog-format=ROW", "--server-id=1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Stop()
	e := newEnv(t, target)
	src, dst := e.srcDBConn(), e.dstDBConn()
	const table = "CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(80) NOT NULL, amount DECIMAL(12,4) NOT NULL, score DOUBLE NULL, active TINYINT(1) NOT NULL, created DATETIME NOT NULL, note TEXT NULL, KEY name_idx (name))"
	mustExec(t, src, table)
	mustExec(t, src, fmt.Sprintf(`INSERT INTO items SELECT seq, CONCAT('name ', seq), CONCAT('user', seq, '@example.com'), seq / 7, seq / 3e0, seq %% 2,
		'2020-01-01' + INTERVAL seq SECOND, IF(seq %% 5 = 0, NULL, CONCAT('note ', seq, ' tab	x')) FROM seq_1_to_%d`, n))
	binlog := func() int64 {
		var total int64
		rows, err := dst.Query("SHOW BINARY LOGS")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var size int64
			if err := rows.Scan(&name, &size); err != nil {
				t.Fatal(err)
			}
			total += size
		}
		return total
	}
	written := func() int64 {
		var name string
		var v int64
		if err := dst.QueryRow("SHOW GLOBAL STATUS LIKE 'Handler_write'").Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		var u, d int64
		_ = dst.QueryRow("SHOW GLOBAL STATUS LIKE 'Handler_update'").Scan(&name, &u)
		_ = dst.QueryRow("SHOW GLOBAL STATUS LIKE 'Handler_delete'").Scan(&name, &d)
		return v + u + d
	}
	// peak samples the Go heap in use while f runs (the process's RSS also
	// holds the test binary and its servers' clients).
	peak := func(f func()) uint64 {
		var max atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapInuse > max.Load() {
					max.Store(m.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		f()
		close(stop)
		<-done
		return max.Load()
	}
	measure := func(name string, f func() string) {
		runtime.GC()
		b0, w0 := binlog(), written()
		start := time.Now()
		var note string
		h := peak(func() { note = f() })
		fmt.Printf("| %s | %.2f s | %d | %d | %.1f MiB | %s |\n", name, time.Since(start).Seconds(), written()-w0, binlog()-b0, float64(h)/(1<<20), note)
	}
	fmt.Printf("\n%d rows; target: MariaDB, binlog ROW, LOAD DATA LOCAL\n\n| run | wall | rows written (Handler_write+update+delete) | binlog bytes | Go heap peak | counts |\n|---|---|---|---|---|---|\n", n)
	mustExec(t, dst, table)
	measure("replace (first copy)", func() string { e.mustSync(dbsync.RunOptions{}); return "" })
	measure("replace again, 0 % changed", func() string { e.mustSync(dbsync.RunOptions{}); return "" })
	merge := func() string {
		res, err := e.merge("", mergeRun{})
		if err != nil || res.Replaced {
			t.Fatalf("merge: %+v %v", res, err)
		}
		return fmt.Sprintf("+%d ~%d -%d =%d", res.Inserted, res.Updated, res.Deleted, res.Unchanged)
	}
	for _, pct := range []int{0, 1, 10} {
		if pct > 0 {
			// A third each: updates, deletes, inserts, spread over the table.
			step := 300 / pct
			mustExec(t, src,
				fmt.Sprintf("UPDATE items SET amount = amount + 1, note = NULL WHERE id %% %d = 1", step),
				fmt.Sprintf("DELETE FROM items WHERE id %% %d = 2", step),
				fmt.Sprintf("INSERT INTO items SELECT id + %d, name, email, amount, score, active, created, note FROM items WHERE id %% %d = 3 AND id <= %d", 2*n*pct, step, n))
		}
		measure(fmt.Sprintf("merge, %d %% changed", pct), merge)
		checkSame(t, src, dst)
	}
	mustExec(t, src, "UPDATE items SET amount = amount + 1 WHERE id % 100 = 4")
	measure("replace, 1 % changed", func() string { e.mustSync(dbsync.RunOptions{}); return "" })
	checkSame(t, src, dst)
}

// checkSame compares source and target by a checksum of every row.
func checkSame(t *testing.T, src, dst *sql.DB) {
	t.Helper()
	sum := func(db *sql.DB) string {
		var s string
		if err := db.QueryRow("SELECT CONCAT(COUNT(*), ':', SUM(CRC32(CONCAT_WS('|', id, name, email, amount, score, active, created, IFNULL(note, '\\\\N')))))FROM items").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if a, b := sum(src), sum(dst); a != b {
		t.Fatalf("checksum: source %s, target %s", a, b)
	}
}

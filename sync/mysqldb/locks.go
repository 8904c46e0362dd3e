package mysqldb

import (
	"fmt"
	"strings"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
)

// lockSessionTimeout is the wait_timeout, in seconds, of the connection
// that holds a run's locks: the server closes a connection idle for longer,
// and its locks with it, so it must outlast the run (its timeout) and what
// runs after the deadline (recording the outcome, dropping the previous
// tables), with a margin. At most MySQL's and MariaDB's maximum, a year.
func lockSessionTimeout(runTimeout time.Duration) int {
	const margin, most = 10 * time.Minute, 31536000
	return min(most, int((runTimeout+margin+time.Second-1)/time.Second))
}

// lockCheckQuery reads the connection's id and which connection holds each
// of n named locks (IS_USED_LOCK: NULL when free).
func lockCheckQuery(n int) string {
	return "SELECT CONNECTION_ID()" + strings.Repeat(", IS_USED_LOCK(?)", n)
}

// historyLockQuery locks the history rows of one run's n tables: looked up
// by their whole key, so it locks those rows and no gap (a run of other
// tables inserts its rows unhindered).
func historyLockQuery(h dbsync.HistoryStore, n int) string {
	q := h.Dialect.Quote
	return "SELECT " + q("table") + " FROM " + h.Table() + " WHERE " + q("run_id") + " = ? AND " + q("table") + " IN (" +
		strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ") FOR UPDATE"
}

// lostLockError is the message of a run that found one of its locks gone
// before its swap.
func lostLockError(table, lock, why string) error {
	return fmt.Errorf("run lock %q of table %s was lost before the swap (%s): another run may have taken the lock and be loading the table, so this run did not swap; "+
		"every target table is unchanged and this run's staging tables are dropped. If another run is going, nothing needs doing; "+
		"if this repeats, look for what ends idle connections to the target (a lowered wait_timeout, a proxy's idle timeout, KILL)",
		lock, dbsync.QuoteMySQL(table), why)
}

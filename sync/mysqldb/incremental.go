package mysqldb

// The SQL primitives of mode = incremental on MySQL and MariaDB (the policy
// is the core's, sync/incremental.go; the measurements behind each choice
// are in bench/studies/incremental-design.md): the watermark-cap probe run
// just before the snapshot, the incremental predicate around a source
// query, the bucketed key counts and key reads of the delete detection,
// and the EXPLAIN check of the predicate. Builders are pure; each runner
// takes anything that queries (*sql.DB, *sql.Conn, *sql.Tx).

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SnapshotStatement starts the run's snapshot; ProbeCap runs on the same
// connection right before it.
const SnapshotStatement = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"

// timeFormat makes the server print its times as text whatever the
// driver's parseTime: the layout of TimeLayout.
const timeFormat = "'%Y-%m-%d %H:%i:%s.%f'"

// TimeLayout reads what the probe's columns print.
const TimeLayout = "2006-01-02 15:04:05.000000"

// CapProbe is what the server showed right before the snapshot (the core's
// dbsync.WatermarkProbe holds the same fields).
type CapProbe struct {
	UTCNow     time.Time // UTC_TIMESTAMP(6)
	SessionNow time.Time // NOW(6): the zone TIMESTAMP values are printed in
	GlobalNow  time.Time // UTC_TIMESTAMP(6) in @@global.time_zone; zero when the server cannot convert it
	OldestTrx  time.Time // UTC start of the oldest other read-write InnoDB transaction; zero: none (or not seen)
	OldestStmt time.Time // UTC start of the oldest statement running on another connection; zero: none (or not seen)
	// OldestThread is the connection id of the oldest running statement,
	// for the warning about a long reader that holds the watermark back.
	OldestThread int64
	Seen         bool   // the user sees other sessions (the PROCESS privilege)
	Note         string // why not, when !Seen
}

// NoProcessNote is the note of a probe whose user lacks PROCESS.
const NoProcessNote = "late commits guarded by lookback only: the source user lacks the PROCESS privilege, so open transactions on the primary cannot be seen (GRANT PROCESS ON *.* TO the user)"

// excludedCommands are the process list's entries that are no statement
// writing rows: idle connections, the event scheduler and replication's
// own threads (a replica's threads run for days).
const excludedCommands = "('Sleep', 'Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Connect', 'Slave_IO', 'Slave_SQL', 'Slave_worker', 'Killed')"

// CapStatementQuery is the probe's first statement: the clocks and the
// oldest statement running on another connection (one that waits on a
// metadata lock has no InnoDB transaction yet, but its CURRENT_TIMESTAMP is
// already fixed; study §1.4). It runs before CapTrxQuery so that a
// statement that gets its transaction in between is in one of the two.
// MariaDB has TIME_MS; MySQL has whole seconds only, hence the extra
// second. The start is taken from this statement's own start, which is
// earlier than the list's read: never later than the truth.
func CapStatementQuery(mariadb bool) string {
	age := "INTERVAL (CEIL(TIME_MS * 1000) + 1000) MICROSECOND"
	order := "TIME_MS"
	if !mariadb {
		age = "INTERVAL (TIME + 1) SECOND"
		order = "TIME"
	}
	where := "FROM information_schema.PROCESSLIST WHERE COMMAND NOT IN " + excludedCommands + " AND ID <> CONNECTION_ID()"
	return "SELECT DATE_FORMAT(UTC_TIMESTAMP(6), " + timeFormat + "), DATE_FORMAT(NOW(6), " + timeFormat + "), " +
		"DATE_FORMAT(CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', @@global.time_zone), " + timeFormat + "), " +
		"(SELECT DATE_FORMAT(MIN(UTC_TIMESTAMP(6) - " + age + "), " + timeFormat + ") " + where + "), " +
		"(SELECT ID " + where + " ORDER BY " + order + " DESC LIMIT 1)"
}

// CapTrxQuery is the probe's second statement: the oldest other read-write
// InnoDB transaction's start. trx_started is in the server's system time
// zone whatever the session's, and in whole seconds (floored: safe);
// read-only transactions (other runs' snapshots) cannot write.
const CapTrxQuery = "SELECT DATE_FORMAT(MIN(CONVERT_TZ(trx_started, 'SYSTEM', '+00:00')), " + timeFormat + ") " +
	"FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID() AND trx_is_read_only = 0"

// processGrantQuery finds PROCESS among the current user's global
// privileges (MySQL 8, where INNODB_TRX might answer an empty set instead
// of refusing; study §9 question 0).
const processGrantQuery = "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'PROCESS' " +
	"AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')"

// IsMariaDB asks the server whether it is MariaDB.
func IsMariaDB(ctx context.Context, q Queryer) (bool, error) {
	var v string
	if err := queryOne(ctx, q, []any{&v}, "SELECT VERSION()"); err != nil {
		return false, fmt.Errorf("read the server's version: %w", err)
	}
	return strings.Contains(strings.ToLower(v), "mariadb"), nil
}

// ProbeCap reads the watermark cap's inputs. Run it on the snapshot's
// connection right before SnapshotStatement: a transaction that is open at
// the snapshot and commits before a list read after it is in neither
// place (study §1.3), so no read after the snapshot is sound. A user
// without PROCESS gets Seen = false and NoProcessNote, not an error.
func ProbeCap(ctx context.Context, conn *sql.Conn, mariadb bool) (CapProbe, error) {
	var p CapProbe
	var utc, session, global, stmt sql.NullString
	var thread sql.NullInt64
	if err := queryOne(ctx, conn, []any{&utc, &session, &global, &stmt, &thread}, CapStatementQuery(mariadb)); err != nil {
		return p, fmt.Errorf("incremental: read the primary's clock and running statements before the snapshot: %w", err)
	}
	var err error
	if p.UTCNow, err = parseTime(utc); err == nil {
		p.SessionNow, err = parseTime(session)
	}
	if err == nil {
		p.GlobalNow, err = parseTime(global)
	}
	if err == nil {
		p.OldestStmt, err = parseTime(stmt)
	}
	if err != nil {
		return p, fmt.Errorf("incremental: the primary's clock: %w", err)
	}
	if p.UTCNow.IsZero() || p.SessionNow.IsZero() {
		return p, fmt.Errorf("incremental: the primary printed no time for UTC_TIMESTAMP(6) or NOW(6)")
	}
	p.OldestThread = thread.Int64
	var trx sql.NullString
	if err := queryOne(ctx, conn, []any{&trx}, CapTrxQuery); err != nil {
		if isAccessDenied(err) {
			return CapProbe{UTCNow: p.UTCNow, SessionNow: p.SessionNow, GlobalNow: p.GlobalNow, Note: NoProcessNote}, nil
		}
		return p, fmt.Errorf("incremental: read the open transactions on the primary (information_schema.INNODB_TRX): %w", err)
	}
	if p.OldestTrx, err = parseTime(trx); err != nil {
		return p, fmt.Errorf("incremental: INNODB_TRX: %w", err)
	}
	if !mariadb {
		var n int64
		if err := queryOne(ctx, conn, []any{&n}, processGrantQuery); err != nil {
			return p, fmt.Errorf("incremental: read the source user's privileges: %w", err)
		}
		if n == 0 {
			return CapProbe{UTCNow: p.UTCNow, SessionNow: p.SessionNow, GlobalNow: p.GlobalNow, Note: NoProcessNote}, nil
		}
	}
	p.Seen = true
	return p, nil
}

// isAccessDenied is MySQL's ER_SPECIFIC_ACCESS_DENIED_ERROR (1227), seen
// through the driver's message ("Error 1227 (42000): Access denied; you
// need … PROCESS …"): this package imports no driver.
func isAccessDenied(err error) bool {
	s := err.Error()
	return strings.Contains(s, "1227") && strings.Contains(s, "PROCESS")
}

func parseTime(v sql.NullString) (time.Time, error) {
	if !v.Valid || v.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(TimeLayout, v.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("the server printed %q, not a time", v.String)
	}
	return t, nil
}

// derived wraps a source query as the derived table every builder reads
// from; the newlines keep a trailing -- comment of the query from eating
// the closing parenthesis.
func derived(query string) string {
	return "(\n" + strings.TrimSpace(strings.TrimRight(strings.TrimSpace(query), ";")) + "\n) AS `dbsync_q`"
}

// QuoteName quotes a MySQL identifier.
func QuoteName(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func derivedCol(name string) string { return "`dbsync_q`." + QuoteName(name) }

// IncrementalQuery is the window read: the source query's rows whose cursor
// is at or after the one bound parameter, or NULL. Views and simple
// queries are merged into it, and the condition is pushed into
// non-mergeable ones (MariaDB 10.2+, MySQL 8.0.22+), so the cursor's index
// serves both parts (the IS NULL part is a second range of a nullable
// index; study §4).
func IncrementalQuery(query, cursor string) string {
	return "SELECT * FROM " + derived(query) + " WHERE " + derivedCol(cursor) + " >= ? OR " + derivedCol(cursor) + " IS NULL"
}

// MaxCursorQuery is the largest cursor value of the source query, printed
// as TimeLayout (NULL when it has no non-NULL cursor): a full read's
// watermark, in the snapshot.
func MaxCursorQuery(query, cursor string) string {
	return "SELECT DATE_FORMAT(MAX(" + derivedCol(cursor) + "), " + timeFormat + ") FROM " + derived(query)
}

// CountQuery counts the rows of a query (the delete detection's totals).
func CountQuery(query string) string { return "SELECT COUNT(*) FROM " + derived(query) }

// KeyRangeQuery is the smallest and largest value of a one-column integer
// key, as text (run on the target: the bucket plan's range costs the
// primary nothing).
func KeyRangeQuery(query, key string) string {
	return "SELECT CAST(MIN(" + derivedCol(key) + ") AS CHAR), CAST(MAX(" + derivedCol(key) + ") AS CHAR) FROM " + derived(query)
}

// BucketCountQuery counts the keys of a one-column integer key in n
// buckets of width keys from lo: bucket 0 also takes every key below lo,
// bucket n−1 every key from top = lo + (n−1)·width on, as the core's
// dbsync.BucketPlan.Of does. The subtraction runs only inside [lo, top), so
// it never overflows, on signed and unsigned keys alike. One GROUP BY
// statement (one index scan) beats a range count per bucket (study §3.1).
func BucketCountQuery(query, key string, lo, width int64, n int) (string, []any) {
	if n <= 1 {
		return "SELECT 0, COUNT(*) FROM " + derived(query), nil
	}
	top := lo + int64(n-1)*width
	k := derivedCol(key)
	return "SELECT CASE WHEN " + k + " < ? THEN 0 WHEN " + k + " >= ? THEN ? ELSE (" + k + " - ?) DIV ? END AS `dbsync_b`, COUNT(*) FROM " +
		derived(query) + " GROUP BY `dbsync_b`", []any{lo, top, n - 1, lo, width}
}

// KeyRange is one range of integer keys, [From, To); Open ends are
// unbounded.
type KeyRange struct {
	From, To         int64
	OpenFrom, OpenTo bool
}

// BucketRanges turns a sorted list of bucket numbers into key ranges,
// joining neighbours.
func BucketRanges(lo, width int64, n int, buckets []int) []KeyRange {
	var out []KeyRange
	for i := 0; i < len(buckets); {
		j := i
		for j+1 < len(buckets) && buckets[j+1] == buckets[j]+1 {
			j++
		}
		first, last := buckets[i], buckets[j]
		r := KeyRange{From: lo + int64(first)*width, To: lo + int64(last+1)*width, OpenFrom: first == 0, OpenTo: last >= n-1}
		if n <= 1 {
			r.OpenFrom, r.OpenTo = true, true
		}
		out = append(out, r)
		i = j + 1
	}
	return out
}

// maxRangesPerStatement bounds one UNION ALL of key ranges: about 1,000
// ranges measured 0.07 s of server CPU; the packet limit bounds the text.
const (
	maxRangesPerStatement = 1000
	maxStatementBytes     = 4 << 20
)

// RangeKeysQueries read the keys inside the ranges, as UNION ALLs of one
// range SELECT each (OR-ing the ranges cost 10× the CPU, one statement per
// range a round trip each; study §3.1 and pitfall 15), split to keep each
// statement at most 1,000 ranges and 4 MiB.
func RangeKeysQueries(query, key string, ranges []KeyRange) (stmts []string, args [][]any) {
	k := derivedCol(key)
	var b strings.Builder
	var a []any
	count := 0
	flush := func() {
		if count > 0 {
			stmts, args = append(stmts, b.String()), append(args, a)
		}
		b.Reset()
		a, count = nil, 0
	}
	for _, r := range ranges {
		var cond []string
		if !r.OpenFrom {
			cond, a = append(cond, k+" >= ?"), append(a, r.From)
		}
		if !r.OpenTo {
			cond, a = append(cond, k+" < ?"), append(a, r.To)
		}
		part := "(SELECT " + k + " FROM " + derived(query)
		if len(cond) > 0 {
			part += " WHERE " + strings.Join(cond, " AND ")
		}
		part += ")"
		if count > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString(part)
		count++
		if count >= maxRangesPerStatement || b.Len() >= maxStatementBytes {
			flush()
		}
	}
	flush()
	return stmts, args
}

// KeysQuery reads every key of a query (the one-bucket plan of a key that
// is not one integer column).
func KeysQuery(query string, key []string) string {
	cols := make([]string, len(key))
	for i, k := range key {
		cols[i] = derivedCol(k)
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + derived(query)
}

// CountRows runs CountQuery.
func CountRows(ctx context.Context, q Queryer, query string) (int64, error) {
	var n int64
	if err := queryOne(ctx, q, []any{&n}, CountQuery(query)); err != nil {
		return 0, fmt.Errorf("count the rows: %w", err)
	}
	return n, nil
}

// IntKeyRange runs KeyRangeQuery; ok is false when the query has no rows or
// a key outside int64 (an UNSIGNED BIGINT above 2⁶³−1): plan one bucket.
func IntKeyRange(ctx context.Context, q Queryer, query, key string) (lo, hi int64, ok bool, err error) {
	var a, b sql.NullString
	if err := queryOne(ctx, q, []any{&a, &b}, KeyRangeQuery(query, key)); err != nil {
		return 0, 0, false, fmt.Errorf("read the key range of %s: %w", key, err)
	}
	if !a.Valid || !b.Valid {
		return 0, 0, false, nil
	}
	lo, errLo := strconv.ParseInt(a.String, 10, 64)
	hi, errHi := strconv.ParseInt(b.String, 10, 64)
	if errLo != nil || errHi != nil {
		return 0, 0, false, nil
	}
	return lo, hi, true, nil
}

// BucketCounts runs BucketCountQuery: n counts, 0 for a bucket without keys.
func BucketCounts(ctx context.Context, q Queryer, query, key string, lo, width int64, n int) ([]int64, error) {
	stmt, args := BucketCountQuery(query, key, lo, width, n)
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("count the keys per bucket: %w", err)
	}
	defer rows.Close()
	out := make([]int64, max(n, 1))
	for rows.Next() {
		var b, c int64
		if err := rows.Scan(&b, &c); err != nil {
			return nil, fmt.Errorf("count the keys per bucket: %w", err)
		}
		if b < 0 || b >= int64(len(out)) {
			return nil, fmt.Errorf("count the keys per bucket: the server put keys in bucket %d of %d", b, len(out))
		}
		out[b] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count the keys per bucket: %w", err)
	}
	return out, nil
}

// BucketKeys reads the keys of the given buckets (sorted bucket numbers).
func BucketKeys(ctx context.Context, q Queryer, query, key string, lo, width int64, n int, buckets []int) ([][][]byte, error) {
	stmts, args := RangeKeysQueries(query, key, BucketRanges(lo, width, n, buckets))
	var out [][][]byte
	for i, s := range stmts {
		keys, err := readKeys(ctx, q, 1, s, args[i]...)
		if err != nil {
			return nil, fmt.Errorf("read the keys of %d buckets: %w", len(buckets), err)
		}
		out = append(out, keys...)
	}
	return out, nil
}

// AllKeys runs KeysQuery.
func AllKeys(ctx context.Context, q Queryer, query string, key []string) ([][][]byte, error) {
	keys, err := readKeys(ctx, q, len(key), KeysQuery(query, key))
	if err != nil {
		return nil, fmt.Errorf("read every key: %w", err)
	}
	return keys, nil
}

func readKeys(ctx context.Context, q Queryer, width int, stmt string, args ...any) ([][][]byte, error) {
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, width)
	dest := make([]any, width)
	for i := range raw {
		dest[i] = &raw[i]
	}
	var out [][][]byte
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		key := make([][]byte, width)
		for i, r := range raw {
			key[i] = append([]byte{}, r...)
		}
		out = append(out, key)
	}
	return out, rows.Err()
}

// ExplainQuery is the EXPLAIN of the window read with a literal bound
// (from, as TimeLayout): with a placeholder, or an old bound, the plan is
// a scan and the warning would be false (study pitfall 14). from is
// checked to be a time, so it cannot carry SQL.
func ExplainQuery(query, cursor, from string) (string, error) {
	if _, err := time.Parse(TimeLayout, from); err != nil {
		return "", fmt.Errorf("explain the incremental read: bound %q is not a time as %s", from, TimeLayout)
	}
	lit := "'" + from + "'"
	return "EXPLAIN SELECT * FROM " + derived(query) + " WHERE " + derivedCol(cursor) + " >= " + lit + " OR " + derivedCol(cursor) + " IS NULL", nil
}

// Explain runs ExplainQuery.
func Explain(ctx context.Context, q Queryer, query, cursor, from string) ([]ExplainRow, error) {
	stmt, err := ExplainQuery(query, cursor, from)
	if err != nil {
		return nil, err
	}
	plan, err := readExplain(ctx, q, stmt)
	if err != nil {
		return nil, fmt.Errorf("explain the incremental read: %w", err)
	}
	return plan, nil
}

// ExplainScans are the rows of a plan that scan a base table whole (type
// ALL or index) over at least minRows rows: the incremental read cannot
// use an index on the cursor there. Derived tables, unions and subqueries
// (<derivedN>, <unionN>, <subqueryN>) are the plan's own steps; a small
// joined table's scan is no concern.
func ExplainScans(rows []ExplainRow, minRows int64) []ExplainRow {
	var out []ExplainRow
	for _, r := range rows {
		if strings.HasPrefix(r.Table, "<") {
			continue
		}
		if (r.Type == "ALL" || r.Type == "index") && r.Rows >= minRows {
			out = append(out, r)
		}
	}
	return out
}

// ExplainWarning is check's message for a plan that scans (empty when none
// does).
func ExplainWarning(table, cursor string, scans []ExplainRow) string {
	if len(scans) == 0 {
		return ""
	}
	s := scans[0]
	return fmt.Sprintf("table %s: the incremental read of cursor %s cannot use an index (EXPLAIN: %s type=%s rows≈%d); every incremental run scans the source query: add an index on %s to %s, or expose the cursor column unchanged by the query",
		table, cursor, s.Table, s.Type, s.Rows, cursor, s.Table)
}

func queryOne(ctx context.Context, q Queryer, dest []any, stmt string, args ...any) error {
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

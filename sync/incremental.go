package dbsync

// The policy of mode = incremental (DESIGN §2 step 4, §8; the measured study
// is bench/studies/incremental-design.md): when a table reads in full, the
// basis fingerprint that detects a changed query or schema, the watermark and
// the read window, and the delete detection over bucketed key counts. It is
// pure: the backends supply the SQL (sync/mysqldb/incremental.go) and the
// run wires the two together.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	gosync "sync"
	"time"
)

// IncrementalLastRun is what the history holds about the table's last run
// that touched it (status not queued, busy or skipped; dry runs left out:
// they apply nothing, so their watermark must not count).
type IncrementalLastRun struct {
	Status    string // the history row's status
	Source    string // SourcePrimary or SourceFallback
	Mode      Mode   // the mode the run wrote the table in
	Watermark string // "" when the run stored none
	Basis     string // IncrementalBasis of that run
}

// IncrementalState is the history's answer for one table, read at plan time.
type IncrementalState struct {
	Last     *IncrementalLastRun // nil: the table has no run yet
	LastFull time.Time           // start of the last succeeded full read of mode incremental; zero: none
}

// IncrementalDecision is whether a table reads in full, and why: Reason goes
// into the report's mode_reason ("" for an incremental read).
type IncrementalDecision struct {
	Full   bool
	Reason string
}

// The reasons a table reads in full, as mode_reason says them.
const (
	IncrementalReasonFirst    = "full run: the table's first incremental run"
	IncrementalReasonBasis    = "full run: the query, key, cursor or source columns changed since the last full run"
	IncrementalReasonFallback = "full run: the last run read the fallback"
	IncrementalReasonNowFalls = "full run: this run reads the fallback"
	IncrementalReasonWide     = "full run: the cursor window covers most of the table"
)

// IncrementalDecide is the full-run rule (issue 21 "Full run"): a full merge
// runs first, when full_every has passed since the last full run, after a
// change of the basis, after any run of the table that did not end
// succeeded (a killed run leaves running, later abandoned), after a run
// that read the fallback, when this run reads the fallback (the SQLite copy
// has no watermark of its own) and when the table was last written in
// another mode. The first reason found is the one reported.
func IncrementalDecide(st IncrementalState, basis string, fullEvery time.Duration, fromFallback bool, now time.Time) IncrementalDecision {
	full := func(reason string) IncrementalDecision { return IncrementalDecision{Full: true, Reason: reason} }
	last := st.Last
	switch {
	case fromFallback:
		return full(IncrementalReasonNowFalls)
	case last == nil:
		return full(IncrementalReasonFirst)
	case last.Status != string(StatusSucceeded):
		return full(fmt.Sprintf("full run: the last run of this table ended %s", last.Status))
	case last.Source == SourceFallback:
		return full(IncrementalReasonFallback)
	case last.Mode != ModeIncremental || last.Watermark == "":
		mode := string(last.Mode)
		if mode == "" {
			mode = "unknown"
		}
		if last.Mode == ModeIncremental {
			return full(IncrementalReasonFirst)
		}
		return full(fmt.Sprintf("full run: the last run wrote the table in mode %s", mode))
	case last.Basis != basis:
		return full(IncrementalReasonBasis)
	case st.LastFull.IsZero():
		return full(IncrementalReasonFirst)
	case now.Sub(st.LastFull) >= fullEvery:
		return full(fmt.Sprintf("full run: full_every (%s) passed since the last full run at %s", formatDuration(fullEvery), st.LastFull.UTC().Format(time.RFC3339)))
	}
	return IncrementalDecision{}
}

// IncrementalBasis is the fingerprint whose change forces a full run: the
// source query (after config resolution), the cursor, the key columns and
// the source's column names and types as the reader reports them. A changed
// WHERE changes no column but lets old rows qualify with old cursors, hence
// the query text. Names compare case-insensitively in MySQL, so key and
// cursor are folded. It is a hex SHA-256 (64 characters).
func IncrementalBasis(query, cursor string, key []string, cols []Column) string {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("dbsync incremental basis 1")
	field(query)
	field(strings.ToLower(cursor))
	field(strconv.Itoa(len(key)))
	for _, k := range key {
		field(strings.ToLower(k))
	}
	field(strconv.Itoa(len(cols)))
	for _, c := range cols {
		field(c.Name)
		field(c.Kind.String())
		field(strings.ToUpper(c.TypeName))
		field(strconv.FormatInt(c.Precision, 10) + "," + strconv.FormatInt(c.Scale, 10))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// IncrementalCheckCursor finds table t's cursor among the source query's
// result columns (as MySQL does, ignoring case) and checks its type: only a
// DATETIME or TIMESTAMP is a cursor. The errors are configuration errors
// naming the key; the run and check call it once the reader has the columns.
func IncrementalCheckCursor(c *Config, t TableConfig, cols []Column) (Column, error) {
	key := c.TableKey(t, "cursor")
	for _, col := range cols {
		if !strings.EqualFold(col.Name, t.Cursor) {
			continue
		}
		if col.Kind != KindDateTime {
			return col, &ConfigError{Key: key, Value: t.Cursor, Origin: c.Origin(key), Reason: fmt.Sprintf(
				"is a column of type %s in the query's result of table %s: a cursor must be a DATETIME or TIMESTAMP column that every insert and update sets (such as updated_at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)); name such a column, or use mode = merge", col.TypeName, t.Target)}
		}
		return col, nil
	}
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.Name
	}
	near := ""
	if n := nearest(t.Cursor, names); n != "" {
		near = fmt.Sprintf(" (the nearest is %s)", n)
	}
	return Column{}, &ConfigError{Key: key, Value: t.Cursor, Origin: c.Origin(key), Reason: fmt.Sprintf(
		"is not a column of the query's result of table %s%s: its columns are %s; select the cursor column in the query, under this name", t.Target, near, strings.Join(names, ", "))}
}

// IncrementalCursorWarnings are what check says about a valid cursor column.
func IncrementalCursorWarnings(table string, col Column, lookback time.Duration) []string {
	var w []string
	if !WatermarkIsTimestamp(col) && lookback < time.Hour {
		w = append(w, fmt.Sprintf("table %s: cursor %s is a DATETIME, which holds the writer's local time: under a time zone with daylight saving its values jump back an hour each autumn; prefer a TIMESTAMP column, or set lookback of at least 1h", table, col.Name))
	}
	if col.Nullable {
		w = append(w, fmt.Sprintf("table %s: cursor %s is nullable: rows whose cursor is NULL are read by every incremental run", table, col.Name))
	}
	return w
}

// WatermarkIsTimestamp reports whether a cursor column is a TIMESTAMP
// (its values are shown in the session's zone, UTC for dbsync) rather than
// a DATETIME (its values are the writer's wall clock, taken to be the
// server's global time zone).
func WatermarkIsTimestamp(col Column) bool {
	return strings.Contains(strings.ToUpper(col.TypeName), "TIMESTAMP")
}

// WatermarkLayout is how watermarks and window bounds are written: in
// history (text, not a time: a DATETIME has no zone) and as the bound of
// the read predicate. The fixed six fraction digits make text order time
// order.
const WatermarkLayout = "2006-01-02 15:04:05.000000"

// WatermarkParse reads a cursor value as MySQL prints a DATETIME or
// TIMESTAMP (zero to six fraction digits), as a wall clock in UTC.
func WatermarkParse(v string) (time.Time, error) {
	t, err := time.Parse("2006-01-02 15:04:05.999999", strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("cursor value %q is not a DATETIME or TIMESTAMP as MySQL prints it (YYYY-MM-DD hh:mm:ss[.ffffff])", v)
	}
	return t, nil
}

// WatermarkFormat writes a watermark or window bound; "" for the zero time
// (no watermark).
func WatermarkFormat(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(WatermarkLayout)
}

// WatermarkProbe is what the backend saw on the snapshot's connection
// right before the snapshot started (mysqldb.CapProbe): the clocks, and the
// start of the oldest read-write transaction and of the oldest statement
// running on another connection.
type WatermarkProbe struct {
	UTCNow     time.Time // UTC_TIMESTAMP(6)
	SessionNow time.Time // NOW(6): the zone TIMESTAMP cursors are printed in
	GlobalNow  time.Time // the server's global time zone; zero when it cannot be converted
	OldestTrx  time.Time // UTC; zero: none open (or not seen)
	OldestStmt time.Time // UTC; zero: none running (or not seen)
	Seen       bool      // the user could see other sessions (PROCESS)
	Note       string    // why not, for mode_reason and the log
}

// WatermarkCap is the latest watermark the run may store, in the cursor's
// own units (issue 21 "Watermark"; study §1.2): a row this snapshot cannot
// see was written by a statement that started at or after
// min(S0 − 1 s, oldest read-write transaction, oldest running statement),
// so the next run, reading from the watermark − lookback, reads it. The
// limit is an age taken from the server's UTC clock and applied to the
// clock the cursor is written in: the session's for a TIMESTAMP, the global
// zone's for a DATETIME (a writer's local time). ok is false when there is
// no clock to apply it to (a DATETIME cursor and a global zone the server
// cannot convert to): then the watermark is what was read, and lookback the
// only guard.
func WatermarkCap(p WatermarkProbe, timestamp bool) (limit time.Time, ok bool) {
	now := p.SessionNow
	if !timestamp {
		now = p.GlobalNow
	}
	if now.IsZero() {
		return time.Time{}, false
	}
	return now.Add(-watermarkAge(p)), true
}

// watermarkAge is how long before the probe the cap lies.
func watermarkAge(p WatermarkProbe) time.Duration {
	limitUTC := p.UTCNow.Add(-time.Second) // innodb_trx is a cache up to 0.1 s old; future-dated cursors
	if p.Seen {
		if !p.OldestTrx.IsZero() && p.OldestTrx.Before(limitUTC) {
			limitUTC = p.OldestTrx
		}
		if !p.OldestStmt.IsZero() && p.OldestStmt.Before(limitUTC) {
			limitUTC = p.OldestStmt
		}
	}
	return p.UTCNow.Sub(limitUTC)
}

// WatermarkNext is the watermark a run stores: the largest cursor value it
// read in its snapshot (maxRead; on a full read SELECT MAX(cursor)), never
// below the old one, and never later than the cap:
// min(cap, max(old, maxRead)). Both halves matter: the cap keeps a late
// commit in the next window; the max keeps the watermark no later than what
// was read when the cursor's clock is not the server's. Zero when nothing
// bounds it (an empty table's first run): the next run reads in full.
func WatermarkNext(old, maxRead, limit time.Time, limitOK bool) time.Time {
	w := old
	if maxRead.After(w) {
		w = maxRead
	}
	if w.IsZero() {
		return time.Time{}
	}
	if limitOK && limit.Before(w) {
		w = limit
	}
	return w
}

// WatermarkWindow is the bound of an incremental read: rows with cursor >=
// from, or NULL. It is the last watermark minus lookback, no earlier than
// MySQL's smallest DATETIME.
func WatermarkWindow(watermark time.Time, lookback time.Duration) time.Time {
	lowest := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	from := watermark.Add(-lookback)
	if from.Before(lowest) {
		return lowest
	}
	return from
}

// WatermarkHeldBack reports a cap that holds the watermark back further
// than lookback (a long reader, an idle transaction): correct but slower, so
// the run warns, naming the age.
func WatermarkHeldBack(p WatermarkProbe, lookback time.Duration) (time.Duration, bool) {
	age := watermarkAge(p)
	return age, age > lookback
}

// IncrementalWindowTooWide reports a window holding more than a fifth of
// the table: a full merge then costs about the same, and repairs.
func IncrementalWindowTooWide(windowRows, tableRows int64) bool {
	return tableRows > 0 && windowRows*5 > tableRows
}

// BucketPlan splits the key space into buckets whose keys both sides count.
// A single integer key gets Len buckets of Width keys from Lo (the first
// also takes every key below Lo, the last every key from Top on, so keys
// beyond the target's range are counted too). Any other key is one bucket
// (Len 1): its count, and when it differs all keys; bucket boundaries of
// strings would have to compare the same way under both sides' collations.
type BucketPlan struct {
	Integer bool
	Lo      int64
	Width   int64
	Len     int
}

// Top is the first key of the last bucket.
func (p BucketPlan) Top() int64 { return p.Lo + int64(p.Len-1)*p.Width }

// BucketPlanInteger plans n buckets over the target's key range [lo, hi]
// (lo and hi from the target: an index dive that costs the primary nothing).
// n is clamped so that a bucket holds at least one key and no arithmetic
// overflows.
func BucketPlanInteger(lo, hi int64, n int) BucketPlan {
	if n < 1 || hi < lo {
		return BucketPlan{Integer: true, Lo: lo, Width: 1, Len: 1}
	}
	span := uint64(hi-lo) + 1 // hi-lo wraps to the right uint64 for any lo <= hi
	if span == 0 {            // the whole int64 range
		span = math.MaxUint64
	}
	if uint64(n) > span {
		n = int(span)
	}
	w := span / uint64(n)
	if span%uint64(n) != 0 {
		w++
	}
	if w > math.MaxInt64 {
		return BucketPlan{Integer: true, Lo: lo, Width: 1, Len: 1}
	}
	// Top = lo + (n-1)*w must not pass hi, so that it fits int64.
	for n > 1 && uint64(n-1)*w > uint64(hi-lo) {
		n--
	}
	return BucketPlan{Integer: true, Lo: lo, Width: int64(w), Len: n}
}

// BucketPlanWhole is the one-bucket plan of a key that is not a single
// integer column.
func BucketPlanWhole() BucketPlan { return BucketPlan{Len: 1} }

// BucketCount is how many buckets to count: about sqrt(0.46·D·N) keys per
// bucket minimise the bytes sent (24 per bucket count plus 11 per key read
// in a differing bucket; study §3.3), clamped to [64, N/16]. deletes is the
// expected deletes: the last run's, or the totals' difference.
func BucketCount(rows, deletes int64) int {
	if deletes < 1 {
		deletes = 1
	}
	b := math.Sqrt(0.46 * float64(deletes) * float64(rows))
	hi := float64(rows) / 16
	if b > hi {
		b = hi
	}
	if b < 64 {
		b = 64
	}
	if b > 1<<20 {
		b = 1 << 20
	}
	return int(b)
}

// Of is the bucket of a key (its cells, as the reader gives them), the same
// as the backends' SQL puts it in.
func (p BucketPlan) Of(key [][]byte) (int, error) {
	if !p.Integer || p.Len <= 1 {
		return 0, nil
	}
	if len(key) != 1 {
		return 0, fmt.Errorf("an integer bucket plan needs a one-column key, got %d columns", len(key))
	}
	s := string(key[0])
	k, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if _, uerr := strconv.ParseUint(s, 10, 64); uerr == nil {
			return p.Len - 1, nil // above MaxInt64, so above Top
		}
		return 0, fmt.Errorf("key %q is not an integer", s)
	}
	switch {
	case k < p.Lo:
		return 0, nil
	case k >= p.Top():
		return p.Len - 1, nil
	}
	return int(uint64(k-p.Lo) / uint64(p.Width)), nil
}

// BucketSide is one side's primitives for the delete detection: the source
// inside the run's snapshot, the target before anything is applied (the
// run's lock keeps it still). The two sides are asked at the same time, so
// each must use its own connection.
type BucketSide interface {
	// BucketTotal is the side's row count (COUNT(*)).
	BucketTotal(ctx context.Context) (int64, error)
	// BucketCounts is the number of keys in each of the plan's buckets
	// (len = plan.Len; a bucket without keys counts 0).
	BucketCounts(ctx context.Context, plan BucketPlan) ([]int64, error)
	// BucketKeys is every key in the given buckets (sorted, distinct), any
	// order.
	BucketKeys(ctx context.Context, plan BucketPlan, buckets []int) ([][][]byte, error)
}

// BucketInput is what the compare already knows.
type BucketInput struct {
	Plan BucketPlan
	// Inserted is the keys of the window's rows the target lacks: ins(b).
	Inserted [][][]byte
	// CountFirst starts with one COUNT(*) per side and stops when they
	// agree (the last run deleted nothing: the 0 % case costs two counts).
	CountFirst bool
}

// BucketResult is what the delete detection found.
type BucketResult struct {
	// Deleted is the target's keys the source lacks: delete them.
	Deleted [][][]byte
	// Missing is source keys that neither the target nor the window has:
	// rows whose cursor did not put them in the window (an application-set
	// old cursor, a hand-deleted replica row). Copy them by key; the report
	// says how many.
	Missing [][][]byte
	// SourceRows is the source's row count when the counts were taken
	// (the totals or the sum of the buckets).
	SourceRows int64
	// CountsOnly: the totals agreed, no bucket was counted.
	CountsOnly bool
	// Differing is the number of buckets whose keys were read.
	Differing int
	// KeysRead is how many keys were read from both sides together.
	KeysRead int64
}

// BucketFindDeletes finds the deleted keys without reading whole rows
// (study §3.2). With T the target's keys, S the source's and U the window's
// (U ⊆ S), every inserted key is in U when the cursor is correct, so the
// keys to delete are T ∪ U minus S, and for each bucket b:
// src(b) = tgt(b) + ins(b) exactly when b has none. The buckets that differ
// (either way) are read key by key from both sides; nothing else is. The
// one case it cannot see is a missed insert and a delete cancelling in one
// bucket (or, with CountFirst, in the totals): that needs a cursor that
// did not move, which the next full run repairs.
func BucketFindDeletes(ctx context.Context, src, dst BucketSide, in BucketInput) (BucketResult, error) {
	var res BucketResult
	if in.Plan.Len < 1 {
		return res, errors.New("delete detection: a bucket plan has at least one bucket")
	}
	if in.CountFirst {
		var s, t int64
		err := incrementalBoth(func() (err error) { s, err = src.BucketTotal(ctx); return }, func() (err error) { t, err = dst.BucketTotal(ctx); return })
		if err != nil {
			return res, err
		}
		res.SourceRows = s
		if s == t+int64(len(in.Inserted)) {
			res.CountsOnly = true
			return res, nil
		}
	}
	var sc, tc []int64
	err := incrementalBoth(func() (err error) { sc, err = src.BucketCounts(ctx, in.Plan); return }, func() (err error) { tc, err = dst.BucketCounts(ctx, in.Plan); return })
	if err != nil {
		return res, err
	}
	if len(sc) != in.Plan.Len || len(tc) != in.Plan.Len {
		return res, fmt.Errorf("delete detection: the sides counted %d and %d buckets, want %d", len(sc), len(tc), in.Plan.Len)
	}
	ins := make([]int64, in.Plan.Len)
	inserted := make(map[string]bool, len(in.Inserted))
	for _, k := range in.Inserted {
		b, err := in.Plan.Of(k)
		if err != nil {
			return res, fmt.Errorf("delete detection: %w", err)
		}
		ins[b]++
		inserted[incrementalKeyString(k)] = true
	}
	res.SourceRows = 0
	var differ []int
	for b := range sc {
		res.SourceRows += sc[b]
		if sc[b] != tc[b]+ins[b] {
			differ = append(differ, b)
		}
	}
	res.Differing = len(differ)
	if len(differ) == 0 {
		return res, nil
	}
	var sk, tk [][][]byte
	err = incrementalBoth(func() (err error) { sk, err = src.BucketKeys(ctx, in.Plan, differ); return }, func() (err error) { tk, err = dst.BucketKeys(ctx, in.Plan, differ); return })
	if err != nil {
		return res, err
	}
	res.KeysRead = int64(len(sk) + len(tk))
	inSource := make(map[string]bool, len(sk))
	for _, k := range sk {
		inSource[incrementalKeyString(k)] = true
	}
	inTarget := make(map[string]bool, len(tk))
	for _, k := range tk {
		s := incrementalKeyString(k)
		inTarget[s] = true
		if !inSource[s] {
			res.Deleted = append(res.Deleted, k)
		}
	}
	for _, k := range sk {
		if s := incrementalKeyString(k); !inTarget[s] && !inserted[s] {
			res.Missing = append(res.Missing, k)
		}
	}
	return res, nil
}

// incrementalBoth runs the two sides' calls at once and returns the first error.
func incrementalBoth(a, b func() error) error {
	var wg gosync.WaitGroup
	var errB error
	wg.Add(1)
	go func() { defer wg.Done(); errB = b() }()
	errA := a()
	wg.Wait()
	if errA != nil {
		return errA
	}
	return errB
}

// incrementalKeyString is a key's cells as one map key, length-prefixed so that
// no two keys share one.
func incrementalKeyString(k [][]byte) string {
	var b strings.Builder
	for _, c := range k {
		b.WriteString(strconv.Itoa(len(c)))
		b.WriteByte(':')
		b.Write(c)
	}
	return b.String()
}

package dbsync

// The run of a mode = incremental table (issue 21; DESIGN §2 step 4, §8):
// the plan reads the table's last history rows, mergeTable decides full or
// incremental once the query's columns are known, and an incremental run
// reads only the window, finds deletes by bucket counts, and hands both to
// the one merge sequence (mergeRows) with the target's rows read by key.
// The backends supply the primitives below; the policy is incremental.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// IncrementalSession is what an incremental read needs of the source
// session (Session.Incremental): the primary (mysqldb.Session) has it; the
// SQLite fallback has none, and every incremental table reads in full.
type IncrementalSession interface {
	// WatermarkProbe is what the session saw on its connection right before
	// its snapshot started (open transactions, running statements, the
	// clocks); ok is false when it did not probe.
	WatermarkProbe() (p WatermarkProbe, ok bool)
	// WindowQuery is q's rows whose cursor is at or after from, or NULL,
	// in the source's SQL (from is a WatermarkFormat value).
	WindowQuery(q, cursor, from string) string
	// Keys reads the key columns of every row of q, in the snapshot.
	Keys(ctx context.Context, q string, key []KeyColumn) ([][][]byte, error)
	// BucketSide is q's side of the delete detection, in the snapshot.
	BucketSide(q string, key []KeyColumn) BucketSide
	// CheckCursor is what check says of q's cursor: how many rows have it
	// NULL, and a warning when the window read from from cannot use an
	// index (EXPLAIN); "" when it can.
	CheckCursor(ctx context.Context, table, q, cursor, from string) (nulls int64, warning string, err error)
}

// IncrementalTarget is what an incremental run needs of the target (part
// of Merger). Both targets have it.
type IncrementalTarget interface {
	// KeysPresent returns those of keys that table holds, in any order
	// (KeyChunk keys a statement).
	KeysPresent(ctx context.Context, table string, key []KeyColumn, keys [][][]byte) ([][][]byte, error)
	// TargetBucketSide is table's side of the delete detection (its own
	// connection: both sides are asked at once).
	TargetBucketSide(table string, key []KeyColumn) BucketSide
	// IntKeyRange is the smallest and largest value of a one-column
	// integer key of table; ok false when it has no rows.
	IntKeyRange(ctx context.Context, table, key string) (lo, hi int64, ok bool, err error)
	// SetWatermark has the transaction that applies table's changes also
	// write watermark and basis into this run's history row of table, so
	// that a kill never leaves a watermark past rows not applied.
	SetWatermark(table, watermark, basis string)
}

// errIncrementalFull makes an incremental table read in full after all
// (incrementalRun.reason says why).
var errIncrementalFull = errors.New("incremental table reads in full")

// incrementalRun is one incremental table of a run.
type incrementalRun struct {
	full      bool
	reason    string
	cursor    Column
	cursorPos int
	basis     string
	state     IncrementalState
	probe     WatermarkProbe
	probed    bool
	from      time.Time // the window's bound (incremental reads)
	maxRead   time.Time // the largest cursor value read
	rowsRead  int64
	total     int64 // the source's rows (incremental reads: counted)
	note      string
	lookback  time.Duration
}

// planIncremental reads, before the source is read, the history of each
// incremental table of the run: its last run that touched it and its last
// full read (IncrementalDecide decides once the query's columns are known).
func (r *Runner) planIncremental(ctx context.Context, cfg *Config, tables []TableConfig, h HistoryStore, rep *Report) error {
	for _, t := range tables {
		if t.Mode != ModeIncremental {
			continue
		}
		st, err := h.incrementalState(ctx, cfg.Target, t.Target, rep.RunID)
		if err != nil {
			return fmt.Errorf("table %s: read its last runs for mode = incremental: %w", t.Target, err)
		}
		r.mu.Lock()
		if r.incState == nil {
			r.incState = map[string]map[string]IncrementalState{}
		}
		if r.incState[rep.RunID] == nil {
			r.incState[rep.RunID] = map[string]IncrementalState{}
		}
		r.incState[rep.RunID][t.Target] = st
		r.mu.Unlock()
	}
	return nil
}

// forgetIncremental drops the plan of run runID once it has ended.
func (r *Runner) forgetIncremental(runID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.incState, runID)
}

// incrementalState is the history's answer for table: the newest run other
// than runID that touched it (queued, busy and skipped rows left out: they
// wrote nothing; dry runs are never recorded), and the start of its last
// succeeded full read in mode incremental (cursor_from empty).
func (h HistoryStore) incrementalState(ctx context.Context, target Target, table, runID string) (IncrementalState, error) {
	var st IncrementalState
	q := h.Dialect.Quote
	where := " FROM " + h.Table() + " WHERE " + q("target") + " = ? AND " + q("table") + " = ? AND " + q("run_id") + " <> ? AND "
	args := []any{string(target), table, runID}
	rows, err := h.Db.QueryContext(ctx, "SELECT "+q("status")+", "+q("source")+", "+q("mode")+", "+q("watermark")+", "+q("basis")+
		where+q("status")+" NOT IN ('queued', 'busy', 'skipped') ORDER BY "+q("started_at")+" DESC LIMIT 1", args...)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var v [5]any
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4]); err != nil {
			rows.Close()
			return st, err
		}
		var last IncrementalLastRun
		var mode string
		for i, p := range []*string{&last.Status, &last.Source, &mode, &last.Watermark, &last.Basis} {
			if err := setHistoryValue(p, v[i]); err != nil {
				rows.Close()
				return st, err
			}
		}
		last.Mode = Mode(mode)
		st.Last = &last
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	var started any
	if err := h.Db.QueryRowContext(ctx, "SELECT MAX("+q("started_at")+")"+where+q("status")+" = 'succeeded' AND "+q("mode")+" = 'incremental' AND ("+
		q("cursor_from")+" IS NULL OR "+q("cursor_from")+" = '')", args...).Scan(&started); err != nil {
		return st, err
	}
	st.LastFull = parseHistoryTime(started)
	return st, nil
}

// incrementalStart decides how table t reads in this run (full or
// incremental) from the plan's history, the query's columns and the
// source: it checks the cursor (a configuration error when it is missing
// or not temporal).
func (r *Runner) incrementalStart(cfg *Config, s Session, t TableConfig, q string, key []KeyColumn, srcCols []Column, rep *Report) (*incrementalRun, error) {
	is, ok := s.Incremental()
	if !ok {
		// The fallback: its types are SQLite's (a cursor reads as text)
		// and it has no watermark of its own; the table reads in full and
		// stores none, so the next run reads in full too.
		return &incrementalRun{full: true, reason: IncrementalReasonNowFalls, cursorPos: -1}, nil
	}
	col, err := IncrementalCheckCursor(cfg, t, srcCols)
	if err != nil {
		return nil, err
	}
	inc := &incrementalRun{cursor: col, cursorPos: -1, basis: IncrementalBasis(q, t.Cursor, KeyNames(key), srcCols), lookback: t.Lookback}
	for i, c := range srcCols {
		if strings.EqualFold(c.Name, col.Name) {
			inc.cursorPos = i
		}
	}
	r.mu.Lock()
	inc.state = r.incState[rep.RunID][t.Target]
	r.mu.Unlock()
	inc.probe, inc.probed = is.WatermarkProbe()
	d := IncrementalDecide(inc.state, inc.basis, t.FullEvery, rep.Source == SourceFallback, rep.StartedAt)
	inc.full, inc.reason = d.Full, d.Reason
	if !inc.full && !inc.probed {
		// A session that cannot say where the snapshot stands reads in full.
		inc.full, inc.reason = true, "full run: the source session did not probe the primary's open transactions"
	}
	if !inc.full {
		old, err := WatermarkParse(inc.state.Last.Watermark)
		if err != nil {
			inc.full, inc.reason = true, fmt.Sprintf("full run: the last watermark %q cannot be read (%v)", inc.state.Last.Watermark, err)
		} else {
			inc.from = WatermarkWindow(old, t.Lookback)
		}
	}
	if inc.probed && !inc.probe.Seen && inc.probe.Note != "" {
		inc.note = inc.probe.Note
	}
	return inc, nil
}

// track wraps src so that the largest cursor value it yields is kept.
func (inc *incrementalRun) track(src SourceRows) SourceRows {
	return &cursorTracker{SourceRows: src, inc: inc}
}

type cursorTracker struct {
	SourceRows
	inc *incrementalRun
}

func (c *cursorTracker) Next() bool {
	if !c.SourceRows.Next() {
		return false
	}
	c.inc.rowsRead++
	if p := c.inc.cursorPos; p >= 0 {
		if v := c.Values()[p]; v != nil {
			// A value the parser cannot read (a zero date) cannot raise
			// the watermark: the next window still starts below it.
			if t, err := WatermarkParse(string(v)); err == nil && t.After(c.inc.maxRead) {
				c.inc.maxRead = t
			}
		}
	}
	return true
}

// finish fills the table's report with the incremental figures and the new
// watermark, and has the target write the watermark with the table's
// changes.
func (inc *incrementalRun) finish(m Merger, tr *TableReport, log *slog.Logger) {
	var old time.Time
	if !inc.full {
		old, _ = WatermarkParse(inc.state.Last.Watermark)
	}
	var limit time.Time
	var ok bool
	if inc.probed {
		limit, ok = WatermarkCap(inc.probe, WatermarkIsTimestamp(inc.cursor))
	}
	next := WatermarkNext(old, inc.maxRead, limit, ok)
	tr.Mode = ModeIncremental
	tr.RowsRead = inc.rowsRead
	tr.Watermark, tr.Basis = WatermarkFormat(next), inc.basis
	reasons := []string{}
	if inc.full {
		reasons = append(reasons, inc.reason)
		tr.CursorFrom, tr.CursorTo = "", ""
	} else {
		tr.CursorFrom = WatermarkFormat(inc.from)
		tr.CursorTo = WatermarkFormat(inc.maxRead)
		if tr.CursorTo == "" {
			tr.CursorTo = tr.CursorFrom // an empty window
		}
	}
	if tr.ModeReason != "" {
		reasons = append(reasons, tr.ModeReason)
	}
	if inc.note != "" {
		reasons = append(reasons, inc.note)
	}
	tr.ModeReason = strings.Join(reasons, "; ")
	m.SetWatermark(tr.Table, tr.Watermark, tr.Basis)
	if inc.probed {
		if age, held := WatermarkHeldBack(inc.probe, inc.lookback); held {
			// Correct, but the next window is wider than lookback.
			log.Warn("incremental: a transaction or statement open on the primary holds the watermark back further than lookback; the next run re-reads from there", "age", age.Round(time.Second).String(), "lookback", inc.lookback.String())
		}
	}
	log.Info("incremental", "full", inc.full, "rows_read", tr.RowsRead, "cursor_from", tr.CursorFrom, "cursor_to", tr.CursorTo, "watermark", tr.Watermark)
}

// incrementalRows is an incremental read of table t: the window's keys,
// which of them the target has, the delete detection, then the window's
// rows merged against the target's rows of the window's keys and of the
// deleted keys, through mergeRows. errIncrementalFull (inc.reason set)
// sends the table to a full read in the same snapshot instead.
func (r *Runner) incrementalRows(ctx context.Context, s Session, m Merger, t TableConfig, q, what string, opts MergeOptions, inc *incrementalRun, log *slog.Logger) (MergeResult, error) {
	is, _ := s.Incremental() // incrementalStart made a session without one read in full
	it := m
	key := opts.Key
	window := is.WindowQuery(q, t.Cursor, WatermarkFormat(inc.from))
	start := time.Now()
	wkeys, err := is.Keys(ctx, window, key)
	if err != nil {
		return MergeResult{}, AsSourceError(fmt.Errorf("read the keys of the cursor window (%s >= %s): %w", QuoteMySQL(t.Cursor), WatermarkFormat(inc.from), err))
	}
	sortKeys(wkeys, key)
	readKeys := time.Since(start)
	present, err := it.KeysPresent(ctx, t.Target, key, wkeys)
	if err != nil {
		return MergeResult{}, fmt.Errorf("look up the window's keys in target table %s: %w", QuoteMySQL(t.Target), err)
	}
	have := make(map[string]bool, len(present))
	for _, k := range present {
		have[incrementalKeyString(k)] = true
	}
	var inserted [][][]byte
	for _, k := range wkeys {
		if !have[incrementalKeyString(k)] {
			inserted = append(inserted, k)
		}
	}
	lookedUp := time.Since(start)
	res, err := findDeletes(ctx, sourceSide{is.BucketSide(q, key)}, it.TargetBucketSide(t.Target, key), it, t.Target, key, inserted)
	if err != nil {
		return MergeResult{}, fmt.Errorf("find deleted rows of %s: %w", QuoteMySQL(t.Target), err)
	}
	if len(res.Missing) > 0 {
		inc.full, inc.reason = true, fmt.Sprintf("full run: %d source rows outside the cursor window are missing from the target (a cursor that did not move, or a row deleted on the replica)", len(res.Missing))
		return MergeResult{}, errIncrementalFull
	}
	if IncrementalWindowTooWide(int64(len(wkeys)), res.SourceRows) {
		inc.full, inc.reason = true, IncrementalReasonWide
		return MergeResult{}, errIncrementalFull
	}
	inc.total = res.SourceRows
	log.Info("incremental: window and deletes found", "window", len(wkeys), "new", len(inserted), "deleted", len(res.Deleted),
		"counts_only", res.CountsOnly, "buckets_differing", res.Differing, "keys_read", res.KeysRead,
		"window_keys_ms", readKeys.Milliseconds(), "looked_up_ms", (lookedUp - readKeys).Milliseconds(), "deletes_ms", (time.Since(start) - lookedUp).Milliseconds())
	lookup := append(present, res.Deleted...)
	sortKeys(lookup, key)
	opts.Incremental, opts.ByKey = true, lookup
	opts.TargetRows = res.SourceRows - int64(len(inserted)) + int64(len(res.Deleted))
	opts.SourceRows = res.SourceRows
	rows, err := s.Query(ctx, s.OrderedQuery(window, key), what)
	if err != nil {
		return MergeResult{}, AsSourceError(err)
	}
	defer rows.Close()
	out, err := mergeRows(ctx, m, inc.track(r.progress(rows, log)), opts)
	if err == nil && !out.Replaced {
		out.Rows = res.SourceRows
	}
	return out, err
}

// findDeletes is the delete detection: one COUNT per side first (equal
// totals, with the window's new keys counted, mean nothing was deleted: the
// common case costs two counts); otherwise the bucket plan is sized by the
// deletes the totals imply (BucketCount) over the target's key range, and
// BucketFindDeletes reads keys only in the buckets whose counts differ.
func findDeletes(ctx context.Context, src, dst BucketSide, it IncrementalTarget, table string, key []KeyColumn, inserted [][][]byte) (BucketResult, error) {
	var s, t int64
	err := incrementalBoth(func() (err error) { s, err = src.BucketTotal(ctx); return }, func() (err error) { t, err = dst.BucketTotal(ctx); return })
	if err != nil {
		return BucketResult{}, err
	}
	if s == t+int64(len(inserted)) {
		return BucketResult{SourceRows: s, CountsOnly: true}, nil
	}
	plan := BucketPlanWhole()
	if len(key) == 1 && key[0].Order == OrderNumber {
		lo, hi, ok, err := it.IntKeyRange(ctx, table, key[0].Name)
		if err != nil {
			return BucketResult{}, fmt.Errorf("read the key range of target table %s: %w", QuoteMySQL(table), err)
		}
		if ok {
			plan = BucketPlanInteger(lo, hi, BucketCount(t, t+int64(len(inserted))-s))
		}
	}
	return BucketFindDeletes(ctx, src, dst, BucketInput{Plan: plan, Inserted: inserted})
}

// sourceSide marks the source's errors in the delete detection as the
// source's, so that a failing primary still leads to the fallback.
type sourceSide struct{ BucketSide }

func (s sourceSide) BucketTotal(ctx context.Context) (int64, error) {
	n, err := s.BucketSide.BucketTotal(ctx)
	return n, asSourceErr(err)
}

func (s sourceSide) BucketCounts(ctx context.Context, p BucketPlan) ([]int64, error) {
	c, err := s.BucketSide.BucketCounts(ctx, p)
	return c, asSourceErr(err)
}

func (s sourceSide) BucketKeys(ctx context.Context, p BucketPlan, b []int) ([][][]byte, error) {
	k, err := s.BucketSide.BucketKeys(ctx, p, b)
	return k, asSourceErr(err)
}

func asSourceErr(err error) error {
	if err == nil {
		return nil
	}
	return AsSourceError(err)
}

// sortKeys sorts keys as the compare orders them.
func sortKeys(keys [][][]byte, key []KeyColumn) {
	slices.SortFunc(keys, func(a, b [][]byte) int { return compareKeys(a, b, key) })
}

// KeyChunk is how many keys one statement looks up (ReadKeys, KeysPresent).
const KeyChunk = 500

// byKeyReader is the target side of an incremental compare: the rows of
// sorted keys, read a chunk at a time (memory is one chunk of keys' rows).
type byKeyReader struct {
	ctx  context.Context
	km   TableMerge
	keys [][][]byte
	next int
	cur  RowReader
	err  error
}

func (b *byKeyReader) Columns() []Column { return nil }

func (b *byKeyReader) Values() [][]byte { return b.cur.Values() }

func (b *byKeyReader) Next() bool {
	for {
		if b.err != nil {
			return false
		}
		if b.cur != nil {
			if b.cur.Next() {
				return true
			}
			if err := b.cur.Err(); err != nil {
				b.err = err
				return false
			}
			b.cur.Close()
			b.cur = nil
		}
		if b.next >= len(b.keys) {
			return false
		}
		end := min(b.next+KeyChunk, len(b.keys))
		b.cur, b.err = b.km.ReadKeyCells(b.ctx, b.keys[b.next:end])
		b.next = end
	}
}

func (b *byKeyReader) Err() error { return b.err }

func (b *byKeyReader) Close() error {
	if b.cur != nil {
		return b.cur.Close()
	}
	return nil
}

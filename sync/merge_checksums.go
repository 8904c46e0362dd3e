package dbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// A merge with compare = checksums (DESIGN §2 step 4, §8; docs/verify.md):
// ChecksumCompare finds the keys that differ, only those rows are read
// from the source (in the run's snapshot) and from the target, and the
// merge's own compare, delta, thresholds and apply run on them exactly as
// on a full read (mergeRows), so a merge by checksums writes what a merge
// by rows writes.

// keyBatch is how many keys one keyed read asks for: a statement of a few
// tens of KB, well under max_allowed_packet.
const keyBatch = 1000

// keyCellID is a key's cells as a map key: integers without leading zeros
// (ZEROFILL columns print them), anything else by its bytes.
func keyCellID(cells [][]byte, key []KeyColumn) string {
	var b strings.Builder
	for i, c := range cells {
		if key[i].Order == OrderNumber {
			neg := len(c) > 0 && c[0] == '-'
			d := digits(c)
			if len(d) == 0 {
				d, neg = []byte("0"), false
			}
			if neg {
				d = append([]byte("-"), d...)
			}
			c = d
		}
		b.WriteString(strconv.Itoa(len(c)))
		b.WriteByte(':')
		b.Write(c)
	}
	return b.String()
}

// rangeKeyID is keyCellID of a RangeKey.
func rangeKeyID(k RangeKey) string {
	var b strings.Builder
	for _, v := range k {
		var c string
		switch v.Kind {
		case RangeInt:
			c = strconv.FormatInt(v.Int, 10)
		case RangeUint:
			c = strconv.FormatUint(v.Uint, 10)
		default:
			c = string(v.Bytes)
		}
		b.WriteString(strconv.Itoa(len(c)))
		b.WriteByte(':')
		b.WriteString(c)
	}
	return b.String()
}

// keyedRows reads the rows of keys (in key order) in batches, one reader
// after the other, and keeps only the rows whose key bytes are one of the
// batch's keys: under a _ci collation a key also matches its other cases.
type keyedRows struct {
	ctx  context.Context
	open func(ctx context.Context, keys []RangeKey) (RowReader, error)
	keys []RangeKey
	key  []KeyColumn
	pos  []int // the key's cells in a row
	cols []Column
	next int // the next batch's first key
	cur  RowReader
	want map[string]bool
	err  error
	cell [][]byte
}

func (r *keyedRows) Columns() []Column { return r.cols }
func (r *keyedRows) Values() [][]byte  { return r.cur.Values() }
func (r *keyedRows) Err() error        { return r.err }

func (r *keyedRows) Close() error {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	return nil
}

// openNext opens the next batch's reader; false when there is none or it
// failed (Err says).
func (r *keyedRows) openNext() bool {
	if r.err != nil || r.next >= len(r.keys) {
		return false
	}
	batch := r.keys[r.next:min(len(r.keys), r.next+keyBatch)]
	r.next += len(batch)
	cur, err := r.open(r.ctx, batch)
	if err != nil {
		r.err = err
		return false
	}
	r.cur = cur
	if r.want == nil {
		r.want = make(map[string]bool, len(batch))
	}
	clear(r.want)
	for _, k := range batch {
		r.want[rangeKeyID(k)] = true
	}
	return true
}

func (r *keyedRows) Next() bool {
	for r.err == nil {
		if r.cur == nil && !r.openNext() {
			return false
		}
		if r.cur.Next() {
			v := r.cur.Values()
			r.cell = r.cell[:0]
			for _, p := range r.pos {
				r.cell = append(r.cell, v[p])
			}
			if slices.ContainsFunc(r.cell, func(c []byte) bool { return c == nil }) || r.want[keyCellID(r.cell, r.key)] {
				return true // a NULL key is the compare's to report
			}
			continue
		}
		r.err = r.cur.Err()
		r.cur.Close()
		r.cur = nil
	}
	return false
}

// sortedKeys is the union of key lists, in key order.
func sortedKeys(lists ...[]RangeKey) []RangeKey {
	var out []RangeKey
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.SortFunc(out, CompareRangeKeys)
	return out
}

// checksumDiff runs the range-checksum compare of the source query q on s
// with target table on m. An error wrapping ErrRangeNotPushable means:
// compare by rows.
func (r *Runner) checksumDiff(ctx context.Context, s Session, m Merger, q, table string, key []KeyColumn) (*RangeDiff, error) {
	src, dst, err := m.ChecksumSides(ctx, s, q, table, key)
	if err != nil {
		return nil, err
	}
	diff, err := ChecksumCompare(ctx, src, dst, RangeOptions{})
	if err != nil && !errors.Is(err, ErrRangeNotPushable) {
		return nil, fmt.Errorf("compare %s by checksums: %w", QuoteMySQL(table), err)
	}
	return diff, err
}

// mergeByChecksums is mergeRows on only the rows that differ: diff's keys
// are read from the source session s (query q, in the run's snapshot) and
// from the target, compared by the merge's own compare, loaded into the
// delta table, and the thresholds and counts are those of the whole
// tables (diff.Stats' row counts). No difference writes nothing.
func mergeByChecksums(ctx context.Context, m Merger, s Session, q, what string, srcCols []Column, diff *RangeDiff, opts MergeOptions) (res MergeResult, err error) {
	opts = opts.WithDefaults()
	table := opts.Table
	tm, order, keyPos, handBack, err := openMerge(ctx, m, srcCols, opts)
	if tm != nil {
		defer tm.Close()
	}
	if handBack != nil || err != nil {
		return handBack.orZero(), err
	}
	srcKeys := sortedKeys(diff.Missing, diff.Different)
	dstKeys := sortedKeys(diff.Extra, diff.Different)
	src := &keyedRows{ctx: ctx, keys: srcKeys, key: opts.Key, pos: keyPos, cols: srcCols}
	defer src.Close() // before PrepareKeys too: its first batch is open on the snapshot connection
	binary := false
	src.open = func(ctx context.Context, keys []RangeKey) (RowReader, error) {
		rows, err := s.QueryKeys(ctx, q, what, opts.Key, keys)
		if err != nil {
			return nil, AsSourceError(err)
		}
		binary = rows.Binary()
		return rows, nil
	}
	// The first source batch picks the protocol (FLOAT needs the binary
	// one); the target is then read the same way, so both print alike.
	if len(srcKeys) > 0 && !src.openNext() {
		return res, src.Err()
	}
	if err := tm.PrepareKeys(ctx, MergePlan{Source: srcCols, Order: order, KeyPos: keyPos, Key: opts.Key, Binary: binary}); err != nil {
		return res, err
	}
	dst := &keyedRows{ctx: ctx, keys: dstKeys, key: opts.Key, pos: keyPos, open: tm.ReadKeys}
	defer dst.Close()
	d := NewDeltaReader(table,
		&KeyReader{Side: "source", Rows: src, Key: opts.Key, Pos: keyPos},
		&KeyReader{Side: "target", Rows: dst, Key: opts.Key, Pos: keyPos},
		tm.Equal)
	var read int64
	defer func() { res.RowsRead = read }()
	return applyDelta(ctx, tm, d, opts, func() int64 {
		read = d.Src.N // the differing keys' rows, all this merge read
		// The counts of the whole tables: every row not read is unchanged.
		d.Src.N, d.Dst.N = diff.Stats.SourceRows, diff.Stats.TargetRows
		d.Unchanged = d.Src.N - d.Inserts - d.Updates
		return d.Dst.N
	})
}

// mergeChecksums merges table t by checksums; why is not empty when the
// table must be compared by rows instead (nothing was written then).
func (r *Runner) mergeChecksums(ctx context.Context, s Session, m Merger, q, what string, srcCols []Column, opts MergeOptions, rep *Report, log *slog.Logger) (res MergeResult, why string, err error) {
	log.Info("merging from "+rep.Source+" by checksums", "columns", len(srcCols), "key", KeyNames(opts.Key))
	diff, err := r.checksumDiff(ctx, s, m, q, opts.Table, opts.Key)
	if err == nil {
		log.Info("checksums compared", "missing", len(diff.Missing), "extra", len(diff.Extra), "different", len(diff.Different),
			"buckets_differing", diff.Stats.BucketsDiffering, "rows_read", diff.Stats.RowsRead, "statements", diff.Stats.Statements)
		res, err = mergeByChecksums(ctx, m, s, q, what, srcCols, diff, opts)
	}
	if errors.Is(err, ErrRangeNotPushable) {
		log.Info("compare by checksums not possible; comparing by rows", "reason", OneLine(err.Error()))
		return MergeResult{}, notPushableReason(err), nil
	}
	return res, "", err
}

package dbsync

// The range-checksum compare (issue 22, DESIGN §2 step 4, §8): the policy,
// once. Each side (a MySQL source inside its snapshot, a MySQL target)
// supplies the primitives of ChecksumSide; this file decides which ranges
// to checksum, which to split and which rows to read. The measurements
// behind each choice are bench/studies/checksums-design.md (§3) and
// bench/studies/checksums-build.md.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"sync"
)

// RangeValueKind says what a RangeValue holds.
type RangeValueKind uint8

// Value kinds.
const (
	RangeBytes RangeValueKind = iota // text of a string, DECIMAL, temporal…: Bytes
	RangeInt                         // Int
	RangeUint                        // Uint (an unsigned value above the int64 range, or any unsigned)
	RangeFloat                       // Float (FLOAT widened to DOUBLE)
)

// RangeValue is one value of a key or a row as a side reads it, typed by
// its column (not by the protocol that carried it), so the core can compare
// it exactly.
type RangeValue struct {
	Null  bool
	Kind  RangeValueKind
	Int   int64
	Uint  uint64
	Float float64
	Bytes []byte
}

// RangeKey is one key: one value per key column (integers as numbers,
// strings as their utf8mb4 bytes). Keys are ordered by number, then by
// bytes, as the merge orders them.
type RangeKey []RangeValue

// ChecksumRange is a half-open key range [Lo, Hi); a nil end is open.
type ChecksumRange struct {
	Lo, Hi RangeKey
}

// RangeSum is the checksum of a set of rows: the row count, how many rows
// had a hash (a row whose canonical form the server could not build has
// none, and a range holding one is never trusted), and the two sums of the
// 64-bit halves of the row hashes, as decimal text.
type RangeSum struct {
	Count, Hashed int64
	Sum1, Sum2    string
}

// Trusted says the sums cover every row.
func (s RangeSum) Trusted() bool { return s.Hashed == s.Count }

// Agrees says two checksums prove their rows equal: same count, same sums,
// and every row hashed on both sides.
func (s RangeSum) Agrees(o RangeSum) bool {
	return s.Trusted() && o.Trusted() && s.Count == o.Count && s.Sum1 == o.Sum1 && s.Sum2 == o.Sum2
}

// RangeCount is the row count of a range and, for a one-column integer
// key, its smallest and largest key (nil when it has no rows).
type RangeCount struct {
	Rows     int64
	Min, Max RangeKey
}

// ChecksumBucketSpec cuts a range into buckets that depend only on a row's
// key, the same on both sides: an integer key's bucket is key DIV Width; any
// other key's is CRC32(key bytes) % Modulus.
type ChecksumBucketSpec struct {
	Width, Modulus int64
}

// RangeBucketSum is the checksum of one bucket.
type RangeBucketSum struct {
	Bucket int64
	Sum    RangeSum
}

// RangeKeyHash is one row's key and its 16-byte canonical hash (nil when
// the server could not build the row's canonical form: the row is read).
type RangeKeyHash struct {
	Key  RangeKey
	Hash []byte
}

// RangeRow is one full row: its key and its values in column order.
type RangeRow struct {
	Key    RangeKey
	Values []RangeValue
}

// ChecksumSide is one side of a range-checksum compare: a table or a
// source query on one server, read in one consistent state (the primary's
// snapshot transaction; the target under the run's lock). Every method is
// a read: a side never writes. Both sides of a compare must hash the same
// canonical form of the same columns.
type ChecksumSide interface {
	// RangeIntegerKey says the key is one integer column: ranges are cut by
	// arithmetic and buckets are key DIV width.
	RangeIntegerKey() bool
	// RangeKeyOrder names how the side orders and compares its key (the
	// collations of its string key columns). Ranges cut both sides alike
	// only when the two sides name the same order.
	RangeKeyOrder(ctx context.Context) (string, error)
	// KeyBounds returns the smallest and largest key and the row count of a
	// one-column integer key (nil keys when there are no rows).
	KeyBounds(ctx context.Context) (lo, hi RangeKey, rows int64, err error)
	// RangeBoundaries returns up to n-1 increasing keys that cut the rows
	// into n ranges of about the same number of rows, in the key's index order.
	RangeBoundaries(ctx context.Context, n int) ([]RangeKey, error)
	// RangeCounts counts the rows of each range (and, for a one-column
	// integer key, finds its smallest and largest key).
	RangeCounts(ctx context.Context, ranges []ChecksumRange) ([]RangeCount, error)
	// RangeChecksums checksums each range.
	RangeChecksums(ctx context.Context, ranges []ChecksumRange) ([]RangeSum, error)
	// BucketChecksums checksums each bucket of r that holds rows.
	BucketChecksums(ctx context.Context, r ChecksumRange, spec ChecksumBucketSpec) ([]RangeBucketSum, error)
	// KeyHashes reads key + row hash of the rows of r in the given buckets
	// (every row of r when buckets is nil).
	KeyHashes(ctx context.Context, r ChecksumRange, spec ChecksumBucketSpec, buckets []int64) ([]RangeKeyHash, error)
	// ReadRows reads the full rows of keys (rows that do not exist are absent).
	ReadRows(ctx context.Context, keys []RangeKey) ([]RangeRow, error)
	// RangePushdown says whether a predicate on r reaches an index of the
	// rows (expectedRows is about how many r holds); when it does not, each
	// range would be a full scan, and reason says why for the report.
	RangePushdown(ctx context.Context, r ChecksumRange, expectedRows int64) (ok bool, reason string, err error)
}

// ErrRangeNotPushable: key ranges cannot be read cheaply and exactly: the
// source query is a view or join that cannot take a key-range predicate, the
// target's key has no index, or the two sides' key collations differ. The
// caller compares by rows instead.
var ErrRangeNotPushable = errors.New("the source cannot take a key-range predicate cheaply")

// RangeOptions are the compare's sizes. The zero value is the default,
// chosen by measurement (bench/studies/checksums-build.md).
type RangeOptions struct {
	// TopRanges is how many ranges the key space is cut into first (16).
	TopRanges int
	// BucketRows is about how many rows one bucket holds (32): the width of
	// the split of a differing range.
	BucketRows int
	// ChecksumFirst checksums each top range before its buckets, so that a
	// range that agrees costs one result row instead of one per bucket. It
	// costs a second hash scan of every range that differs.
	ChecksumFirst bool
	// KeyHashBatch is how many buckets one key+hash statement reads (200).
	KeyHashBatch int
	// RowBatch is how many keys one full-row read asks for (500).
	RowBatch int
}

func (o RangeOptions) withDefaults() RangeOptions {
	if o.TopRanges <= 0 {
		o.TopRanges = 16
	}
	if o.BucketRows <= 0 {
		o.BucketRows = 32
	}
	if o.KeyHashBatch <= 0 {
		o.KeyHashBatch = 200
	}
	if o.RowBatch <= 0 {
		o.RowBatch = 500
	}
	return o
}

// RangeStats says what the compare did, for the report.
type RangeStats struct {
	TopRanges        int   // top ranges cut from the key space
	RangesEmpty      int   // top ranges with no row on either side
	RangesSkipped    int   // top ranges whose count and checksum agreed (ChecksumFirst)
	RangesSplit      int   // top ranges split into buckets
	Buckets          int   // buckets checksummed (on the larger side)
	BucketsDiffering int   // buckets whose count or checksum differed
	KeysHashed       int64 // key+hash rows read, both sides together
	RowsRead         int64 // full rows read, both sides together
	TextFormReads    int64 // keys whose hashes differed but whose values are equal
	Statements       int   // statements run, both sides together
	// SourceRows and TargetRows are each side's row count (a merge's
	// thresholds and counts need them; no row was read to count them).
	SourceRows, TargetRows int64
}

// RangeDiff is the result of a compare: the keys the target lacks, the keys
// only the target has and the keys whose rows differ, each in key order.
type RangeDiff struct {
	Missing, Extra, Different []RangeKey
	Stats                     RangeStats
}

// Identical says the two sides hold the same rows.
func (d *RangeDiff) Identical() bool {
	return len(d.Missing) == 0 && len(d.Extra) == 0 && len(d.Different) == 0
}

// ChecksumCompare compares src with dst by range checksums:
//
//  1. cut the key space into top ranges (integer keys by arithmetic over both
//     sides' MIN/MAX, other keys by walking the target's index);
//  2. check that the source can take a range predicate (else
//     ErrRangeNotPushable: the caller compares rows);
//  3. count each top range on both sides (an index-only read);
//  4. optionally checksum each top range and skip those that agree;
//  5. checksum the buckets of each remaining range on both sides, in one
//     statement per range and side;
//  6. read key + row hash of the buckets that differ, and match them by key
//     across every differing bucket (a row may fall into another range on the
//     other side when the key's collations differ);
//  7. read the full rows of the keys whose hashes differ and compare their
//     values byte-exact: equal values with different hashes (a text form that
//     differs between servers) cost a read, never a wrong answer.
//
// A range or bucket whose count and checksum agree is never read. Both
// sides work at the same time; each runs one statement at a time.
func ChecksumCompare(ctx context.Context, src, dst ChecksumSide, opt RangeOptions) (*RangeDiff, error) {
	opt = opt.withDefaults()
	if src.RangeIntegerKey() != dst.RangeIntegerKey() {
		return nil, errors.New("compare by checksums: the source's and the target's keys are of different kinds (integer and not)")
	}
	c := &rangeCompareRun{src: src, dst: dst, opt: opt, diff: &RangeDiff{}}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	return c.diff, nil
}

type rangeCompareRun struct {
	src, dst ChecksumSide
	opt      RangeOptions
	diff     *RangeDiff
	integer  bool
	// span is the integer key's [lo, hi] over both sides: the outer ends of
	// the first and last ranges, for bucket widths.
	spanLo, spanHi *big.Int
	total          int64 // rows of the larger side
	// Keys seen on one side only so far (matched across ranges at the
	// end), and keys on both sides whose hashes differ (read as rows).
	srcOnly, dstOnly []RangeKeyHash
	toRead           []RangeKey
}

// rangeBothSides runs f on both sides at once and returns the first error;
// a failure on one side cancels the other's statement.
func rangeBothSides(ctx context.Context, src, dst ChecksumSide, f func(ctx context.Context, s ChecksumSide, isSrc bool) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var errSrc, errDst error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if errSrc = f(ctx, src, true); errSrc != nil {
			cancel()
		}
	}()
	if errDst = f(ctx, dst, false); errDst != nil {
		cancel()
	}
	wg.Wait()
	// The side that failed first, not the one its failure cancelled.
	if errSrc != nil && (errDst == nil || !errors.Is(errSrc, context.Canceled)) {
		// The primary's failure, as a row read's: the run falls back.
		return AsSourceError(fmt.Errorf("source: %w", errSrc))
	}
	if errDst != nil {
		return fmt.Errorf("target: %w", errDst)
	}
	return nil
}

func (c *rangeCompareRun) run(ctx context.Context) error {
	c.integer = c.src.RangeIntegerKey()
	// A string key compared under another collation on each side puts rows
	// into other ranges, and ranges cut in one side's order are not even a
	// partition of the other side's rows (a row would be in two or none).
	if !c.integer {
		var orders [2]string
		if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
			o, err := s.RangeKeyOrder(ctx)
			if isSrc {
				orders[0] = o
			} else {
				orders[1] = o
			}
			return err
		}); err != nil {
			return fmt.Errorf("read the key's collations: %w", err)
		}
		c.diff.Stats.Statements += 2
		if orders[0] != orders[1] {
			return fmt.Errorf("%w: the key's collations differ (source %s, target %s), so key ranges would not hold the same rows on both sides", ErrRangeNotPushable, orders[0], orders[1])
		}
	}
	ranges, err := c.topRanges(ctx)
	if err != nil {
		return err
	}
	st := &c.diff.Stats
	st.TopRanges = len(ranges)
	if len(ranges) == 0 {
		return nil
	}

	// 2. A source query that hides the key behind an expression, a LIMIT or
	// a window function makes every range a full scan: say so before the
	// first range rather than pay it 16 times.
	// The target is a table, but its key may lack an index.
	if len(ranges) > 1 {
		probe := ranges[0]
		var reasons [2]string
		if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
			ok, reason, err := s.RangePushdown(ctx, probe, c.total/int64(len(ranges))+1)
			if err == nil && !ok {
				if isSrc {
					reasons[0] = "source: " + reason
				} else {
					reasons[1] = "target: " + reason
				}
			}
			return err
		}); err != nil {
			return fmt.Errorf("check that a key range reaches an index: %w", err)
		}
		st.Statements += 2
		for _, r := range reasons {
			if r != "" {
				return fmt.Errorf("%w: %s", ErrRangeNotPushable, r)
			}
		}
	}

	// 3. Counts size the buckets and settle empty ranges.
	var srcCounts, dstCounts []RangeCount
	if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
		n, err := s.RangeCounts(ctx, ranges)
		if err == nil && len(n) != len(ranges) {
			err = fmt.Errorf("counted %d ranges of %d", len(n), len(ranges))
		}
		if isSrc {
			srcCounts = n
		} else {
			dstCounts = n
		}
		return err
	}); err != nil {
		return fmt.Errorf("count key ranges: %w", err)
	}
	st.Statements += 2
	todo := make([]int, 0, len(ranges))
	for i := range ranges {
		if srcCounts[i].Rows == 0 && dstCounts[i].Rows == 0 {
			st.RangesEmpty++
			continue
		}
		todo = append(todo, i)
	}

	// 4. Checksum-first: a top range that agrees is done.
	if c.opt.ChecksumFirst && len(todo) > 0 {
		sub := make([]ChecksumRange, len(todo))
		for j, i := range todo {
			sub[j] = ranges[i]
		}
		var srcSums, dstSums []RangeSum
		if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
			sums, err := s.RangeChecksums(ctx, sub)
			if err == nil && len(sums) != len(sub) {
				err = fmt.Errorf("checksummed %d ranges of %d", len(sums), len(sub))
			}
			if isSrc {
				srcSums = sums
			} else {
				dstSums = sums
			}
			return err
		}); err != nil {
			return fmt.Errorf("checksum key ranges: %w", err)
		}
		st.Statements += 2
		kept := todo[:0]
		for j, i := range todo {
			if srcSums[j].Agrees(dstSums[j]) {
				st.RangesSkipped++
				continue
			}
			kept = append(kept, i)
		}
		todo = kept
	}

	// 5–6. Split what is left into buckets; read key + hash where they differ.
	for _, i := range todo {
		if err := c.splitRange(ctx, ranges, i, srcCounts[i], dstCounts[i]); err != nil {
			return err
		}
	}
	// 7. Match keys across every differing bucket, then read rows.
	return c.matchAndRead(ctx)
}

// topRanges cuts the key space (both sides' keys) into about TopRanges
// half-open ranges; the first is open below and the last above, so no key
// outside what was measured is ever lost.
func (c *rangeCompareRun) topRanges(ctx context.Context) ([]ChecksumRange, error) {
	n := c.opt.TopRanges
	if c.integer {
		var lo, hi [2]RangeKey
		var rows [2]int64
		if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
			i := 1
			if isSrc {
				i = 0
			}
			var err error
			lo[i], hi[i], rows[i], err = s.KeyBounds(ctx)
			return err
		}); err != nil {
			return nil, fmt.Errorf("read key bounds: %w", err)
		}
		c.diff.Stats.Statements += 2
		c.total = max(rows[0], rows[1])
		c.diff.Stats.SourceRows, c.diff.Stats.TargetRows = rows[0], rows[1]
		for i := range 2 {
			if lo[i] == nil {
				continue
			}
			l, h, err := rangeIntBig(lo[i][0]), rangeIntBig(hi[i][0]), error(nil)
			if l == nil || h == nil {
				err = fmt.Errorf("key bounds %v…%v are not integers", lo[i], hi[i])
			}
			if err != nil {
				return nil, err
			}
			if c.spanLo == nil || l.Cmp(c.spanLo) < 0 {
				c.spanLo = l
			}
			if c.spanHi == nil || h.Cmp(c.spanHi) > 0 {
				c.spanHi = h
			}
		}
		if c.spanLo == nil {
			return nil, nil // no rows on either side
		}
		// Boundaries lo + (span+1)·i/n, i = 1…n-1, without duplicates.
		span := new(big.Int).Sub(c.spanHi, c.spanLo)
		span.Add(span, big.NewInt(1))
		var cuts []RangeKey
		var prev *big.Int
		for i := 1; i < n; i++ {
			b := new(big.Int).Mul(span, big.NewInt(int64(i)))
			b.Quo(b, big.NewInt(int64(n)))
			b.Add(b, c.spanLo)
			if b.Cmp(c.spanLo) <= 0 || prev != nil && b.Cmp(prev) <= 0 {
				continue
			}
			prev = b
			cuts = append(cuts, RangeKey{rangeBigValue(b)})
		}
		return rangesFromCuts(cuts), nil
	}
	// Other keys: walk the target's index (always a table, so always
	// indexed, where the source may be a view); an empty target walks the
	// source.
	var counts [2]int64
	if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
		n, err := s.RangeCounts(ctx, []ChecksumRange{{}})
		if err == nil && len(n) != 1 {
			err = fmt.Errorf("counted %d ranges of 1", len(n))
		}
		if err != nil {
			return err
		}
		if isSrc {
			counts[0] = n[0].Rows
		} else {
			counts[1] = n[0].Rows
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	c.diff.Stats.Statements += 2
	c.total = max(counts[0], counts[1])
	c.diff.Stats.SourceRows, c.diff.Stats.TargetRows = counts[0], counts[1]
	if c.total == 0 {
		return nil, nil
	}
	walker := c.dst
	if counts[1] == 0 {
		walker = c.src
	}
	cuts, err := walker.RangeBoundaries(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("find key range boundaries: %w", err)
	}
	c.diff.Stats.Statements += len(cuts) + 1
	return rangesFromCuts(cuts), nil
}

func rangesFromCuts(cuts []RangeKey) []ChecksumRange {
	out := make([]ChecksumRange, 0, len(cuts)+1)
	var lo RangeKey
	for _, b := range cuts {
		out = append(out, ChecksumRange{Lo: lo, Hi: b})
		lo = b
	}
	return append(out, ChecksumRange{Lo: lo})
}

// bucketSpec sizes the buckets of one range for about BucketRows rows
// each, from both sides' counts of the range (and, for an integer key, the
// smallest and largest key either side has in it).
func (c *rangeCompareRun) bucketSpec(r ChecksumRange, a, b RangeCount) ChecksumBucketSpec {
	g := int64(c.opt.BucketRows)
	rows := max(a.Rows, b.Rows)
	if !c.integer {
		return ChecksumBucketSpec{Modulus: max(1, (rows+g-1)/g)}
	}
	var lo, hi *big.Int
	for _, n := range []RangeCount{a, b} {
		if n.Min == nil {
			continue
		}
		l, h := rangeIntBig(n.Min[0]), rangeIntBig(n.Max[0])
		if l == nil || h == nil {
			continue
		}
		if lo == nil || l.Cmp(lo) < 0 {
			lo = l
		}
		if hi == nil || h.Cmp(hi) > 0 {
			hi = h
		}
	}
	if lo == nil { // no MIN/MAX: the range's own ends
		lo, hi = c.spanLo, c.spanHi
		if r.Lo != nil {
			lo = rangeIntBig(r.Lo[0])
		}
		if r.Hi != nil {
			hi = new(big.Int).Sub(rangeIntBig(r.Hi[0]), big.NewInt(1))
		}
	}
	// width = ceil((max-min+1) · g / rows): buckets are sized where the
	// keys are, so a range with large key gaps gets few buckets, and each
	// holds about g rows.
	w := new(big.Int).Sub(hi, lo)
	w.Add(w, big.NewInt(1))
	w.Mul(w, big.NewInt(g))
	d := big.NewInt(max(rows, 1))
	w.Add(w, new(big.Int).Sub(d, big.NewInt(1)))
	w.Quo(w, d)
	width := int64(math.MaxInt64)
	if w.IsInt64() {
		width = max(1, w.Int64())
	}
	// Above 2^63 a width of 1 would give bucket numbers beyond int64.
	if width < 2 && c.spanHi.Cmp(big.NewInt(math.MaxInt64)) > 0 {
		width = 2
	}
	return ChecksumBucketSpec{Width: width}
}

func (c *rangeCompareRun) splitRange(ctx context.Context, ranges []ChecksumRange, i int, a, b RangeCount) error {
	st := &c.diff.Stats
	r := ranges[i]
	spec := c.bucketSpec(r, a, b)
	var srcB, dstB []RangeBucketSum
	if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
		b, err := s.BucketChecksums(ctx, r, spec)
		if isSrc {
			srcB = b
		} else {
			dstB = b
		}
		return err
	}); err != nil {
		return fmt.Errorf("checksum the buckets of key range %d: %w", i+1, err)
	}
	st.Statements += 2
	st.RangesSplit++
	st.Buckets += max(len(srcB), len(dstB))
	sums := make(map[int64]RangeSum, len(srcB))
	for _, b := range srcB {
		sums[b.Bucket] = b.Sum
	}
	var differ []int64
	seen := make(map[int64]bool, len(dstB))
	for _, b := range dstB {
		seen[b.Bucket] = true
		if s, ok := sums[b.Bucket]; !ok || !s.Agrees(b.Sum) {
			differ = append(differ, b.Bucket)
		}
	}
	for _, b := range srcB {
		if !seen[b.Bucket] {
			differ = append(differ, b.Bucket)
		}
	}
	st.BucketsDiffering += len(differ)
	if len(differ) == 0 {
		return nil
	}
	slices.Sort(differ)
	// When most buckets differ, one read of the whole range costs the same
	// bytes in fewer statements.
	batches := [][]int64{nil}
	if 2*len(differ) <= max(len(srcB), len(dstB)) {
		batches = batches[:0]
		for len(differ) > 0 {
			n := min(len(differ), c.opt.KeyHashBatch)
			batches = append(batches, differ[:n])
			differ = differ[n:]
		}
	}
	for _, batch := range batches {
		var sh, dh []RangeKeyHash
		if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
			h, err := s.KeyHashes(ctx, r, spec, batch)
			if isSrc {
				sh = h
			} else {
				dh = h
			}
			return err
		}); err != nil {
			return fmt.Errorf("read key hashes of key range %d: %w", i+1, err)
		}
		st.Statements += 2
		st.KeysHashed += int64(len(sh) + len(dh))
		c.match(sh, dh, false)
	}
	return nil
}

// match pairs the key hashes of the two sides by key. A key on both sides
// with equal hashes is equal and dropped at once, so memory holds only
// differences; differing hashes go to the row read. A key on one side only
// waits for the final match (final = true), across all ranges, since with
// different key collations a row can fall into another range on the other
// side; there it is missing or extra.
func (c *rangeCompareRun) match(s, d []RangeKeyHash, final bool) {
	byKey := func(a, b RangeKeyHash) int { return CompareRangeKeys(a.Key, b.Key) }
	slices.SortFunc(s, byKey)
	slices.SortFunc(d, byKey)
	for len(s) > 0 || len(d) > 0 {
		switch cmp := rangeCmpHeads(s, d); {
		case cmp < 0:
			if final {
				c.diff.Missing = append(c.diff.Missing, s[0].Key)
			} else {
				c.srcOnly = append(c.srcOnly, s[0])
			}
			s = s[1:]
		case cmp > 0:
			if final {
				c.diff.Extra = append(c.diff.Extra, d[0].Key)
			} else {
				c.dstOnly = append(c.dstOnly, d[0])
			}
			d = d[1:]
		default:
			if s[0].Hash == nil || d[0].Hash == nil || !bytes.Equal(s[0].Hash, d[0].Hash) {
				c.toRead = append(c.toRead, s[0].Key)
			}
			s, d = s[1:], d[1:]
		}
	}
}

func (c *rangeCompareRun) matchAndRead(ctx context.Context) error {
	src, dst := c.srcOnly, c.dstOnly
	c.srcOnly, c.dstOnly = nil, nil
	c.match(src, dst, true)
	read := c.toRead
	c.toRead = nil
	slices.SortFunc(read, CompareRangeKeys)
	for len(read) > 0 {
		n := min(len(read), c.opt.RowBatch)
		batch := read[:n]
		read = read[n:]
		var sr, dr []RangeRow
		if err := rangeBothSides(ctx, c.src, c.dst, func(ctx context.Context, s ChecksumSide, isSrc bool) error {
			rows, err := s.ReadRows(ctx, batch)
			if isSrc {
				sr = rows
			} else {
				dr = rows
			}
			return err
		}); err != nil {
			return fmt.Errorf("read rows whose hashes differ: %w", err)
		}
		c.diff.Stats.Statements += 2
		c.diff.Stats.RowsRead += int64(len(sr) + len(dr))
		if err := c.compareRows(batch, sr, dr); err != nil {
			return err
		}
	}
	return nil
}

// compareRows decides, value by value, the keys whose hashes differed.
// A row that vanished between the hash and the row read cannot happen
// inside one snapshot and one lock; it is an error, not a guess.
func (c *rangeCompareRun) compareRows(keys []RangeKey, sr, dr []RangeRow) error {
	find := func(rows []RangeRow, k RangeKey) *RangeRow {
		for i := range rows {
			if CompareRangeKeys(rows[i].Key, k) == 0 {
				return &rows[i]
			}
		}
		return nil
	}
	for _, k := range keys {
		a, b := find(sr, k), find(dr, k)
		if a == nil || b == nil {
			return fmt.Errorf("the row of key %v was hashed but could not be read again (source %t, target %t)", k, a != nil, b != nil)
		}
		if RangeValuesEqual(a.Values, b.Values) {
			c.diff.Stats.TextFormReads++
			continue
		}
		c.diff.Different = append(c.diff.Different, k)
	}
	return nil
}

func rangeCmpHeads(s, d []RangeKeyHash) int {
	switch {
	case len(s) == 0:
		return 1
	case len(d) == 0:
		return -1
	}
	return CompareRangeKeys(s[0].Key, d[0].Key)
}

// CompareRangeKeys orders keys column by column: NULL first, numbers by
// value, bytes by bytes.
func CompareRangeKeys(a, b RangeKey) int {
	for i := range min(len(a), len(b)) {
		if c := rangeCmpValue(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func rangeCmpValue(a, b RangeValue) int {
	if a.Null || b.Null {
		switch {
		case a.Null && b.Null:
			return 0
		case a.Null:
			return -1
		}
		return 1
	}
	x, y := rangeIntBig(a), rangeIntBig(b)
	if x != nil && y != nil {
		return x.Cmp(y)
	}
	return bytes.Compare(a.Bytes, b.Bytes)
}

// rangeIntBig is an integer value as a big.Int (nil when not an integer).
func rangeIntBig(v RangeValue) *big.Int {
	switch v.Kind {
	case RangeInt:
		return big.NewInt(v.Int)
	case RangeUint:
		return new(big.Int).SetUint64(v.Uint)
	}
	return nil
}

func rangeBigValue(b *big.Int) RangeValue {
	if b.IsInt64() {
		return RangeValue{Kind: RangeInt, Int: b.Int64()}
	}
	return RangeValue{Kind: RangeUint, Uint: b.Uint64()}
}

// RangeValuesEqual compares two rows' values exactly: NULL only equals
// NULL, integers by value, floats by their bits, bytes by bytes.
func RangeValuesEqual(a, b []RangeValue) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// Equal says two values are the same value exactly.
func (v RangeValue) Equal(o RangeValue) bool {
	if v.Null || o.Null {
		return v.Null && o.Null
	}
	if v.Kind == RangeFloat || o.Kind == RangeFloat {
		return v.Kind == o.Kind && math.Float64bits(v.Float) == math.Float64bits(o.Float)
	}
	if x, y := rangeIntBig(v), rangeIntBig(o); x != nil || y != nil {
		return x != nil && y != nil && x.Cmp(y) == 0
	}
	return bytes.Equal(v.Bytes, o.Bytes)
}

// String prints the value as a user reads it in a report.
func (v RangeValue) String() string {
	switch {
	case v.Null:
		return "NULL"
	case v.Kind == RangeInt:
		return strconv.FormatInt(v.Int, 10)
	case v.Kind == RangeUint:
		return strconv.FormatUint(v.Uint, 10)
	case v.Kind == RangeFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	}
	return string(v.Bytes)
}

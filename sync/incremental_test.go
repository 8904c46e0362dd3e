package dbsync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIncrementalDecide(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	ok := &IncrementalLastRun{Status: "succeeded", Source: SourcePrimary, Mode: ModeIncremental, Watermark: "2026-12-02 11:59:00.000000", Basis: "b"}
	with := func(f func(r *IncrementalLastRun)) *IncrementalLastRun { r := *ok; f(&r); return &r }
	recent := now.Add(-time.Hour)
	cases := []struct {
		name     string
		st       IncrementalState
		basis    string
		fallback bool
		want     string // "" = incremental; else in the reason
	}{
		{"incremental", IncrementalState{Last: ok, LastFull: recent}, "b", false, ""},
		{"first run", IncrementalState{}, "b", false, "first incremental run"},
		{"full_every passed", IncrementalState{Last: ok, LastFull: now.Add(-24 * time.Hour)}, "b", false, "full_every (24h) passed since the last full run at 2026-12-01T12:00:00Z"},
		{"just under full_every", IncrementalState{Last: ok, LastFull: now.Add(-24*time.Hour + time.Second)}, "b", false, ""},
		{"no full read yet", IncrementalState{Last: ok}, "b", false, "first incremental run"},
		{"basis changed", IncrementalState{Last: ok, LastFull: recent}, "c", false, "query, key, cursor or source columns changed"},
		{"failed", IncrementalState{Last: with(func(r *IncrementalLastRun) { r.Status = "failed" }), LastFull: recent}, "b", false, "ended failed"},
		{"abandoned (killed)", IncrementalState{Last: with(func(r *IncrementalLastRun) { r.Status = "abandoned" }), LastFull: recent}, "b", false, "ended abandoned"},
		{"running (killed, not yet marked)", IncrementalState{Last: with(func(r *IncrementalLastRun) { r.Status = "running" }), LastFull: recent}, "b", false, "ended running"},
		{"after the fallback", IncrementalState{Last: with(func(r *IncrementalLastRun) { r.Source = SourceFallback }), LastFull: recent}, "b", false, "last run read the fallback"},
		{"this run reads the fallback", IncrementalState{Last: ok, LastFull: recent}, "b", true, "this run reads the fallback"},
		{"was merge", IncrementalState{Last: with(func(r *IncrementalLastRun) { r.Mode = ModeMerge; r.Watermark = "" }), LastFull: recent}, "b", false, "in mode merge"},
		{"no watermark stored", IncrementalState{Last: with(func(r *IncrementalLastRun) { r.Watermark = "" }), LastFull: recent}, "b", false, "first incremental run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := IncrementalDecide(tc.st, tc.basis, 24*time.Hour, tc.fallback, now)
			if d.Full != (tc.want != "") || !strings.Contains(d.Reason, tc.want) {
				t.Errorf("got %+v, want full=%v with %q", d, tc.want != "", tc.want)
			}
			if d.Full && !strings.HasPrefix(d.Reason, "full run: ") {
				t.Errorf("reason %q does not start with \"full run: \"", d.Reason)
			}
		})
	}
}

func TestIncrementalBasis(t *testing.T) {
	cols := []Column{{Name: "id", Kind: KindInt, TypeName: "INT"}, {Name: "updated_at", Kind: KindDateTime, TypeName: "TIMESTAMP", Scale: 6}}
	base := IncrementalBasis("SELECT * FROM t", "updated_at", []string{"id"}, cols)
	if len(base) != 64 {
		t.Fatalf("basis %q, want 64 hex digits", base)
	}
	if again := IncrementalBasis("SELECT * FROM t", "UPDATED_AT", []string{"ID"}, cols); again != base {
		t.Errorf("the case of the cursor and key names changed the basis")
	}
	changed := func(f func(c []Column) []Column) []Column { return f(slices.Clone(cols)) }
	for name, b := range map[string]string{
		"query":          IncrementalBasis("SELECT * FROM t WHERE x = 1", "updated_at", []string{"id"}, cols),
		"cursor":         IncrementalBasis("SELECT * FROM t", "created_at", []string{"id"}, cols),
		"key":            IncrementalBasis("SELECT * FROM t", "updated_at", []string{"id", "n"}, cols),
		"key split":      IncrementalBasis("SELECT * FROM t", "updated_at", []string{"i", "d"}, cols),
		"a column type":  IncrementalBasis("SELECT * FROM t", "updated_at", []string{"id"}, changed(func(c []Column) []Column { c[0].TypeName = "BIGINT"; return c })),
		"a column scale": IncrementalBasis("SELECT * FROM t", "updated_at", []string{"id"}, changed(func(c []Column) []Column { c[1].Scale = 0; return c })),
		"a column name":  IncrementalBasis("SELECT * FROM t", "updated_at", []string{"id"}, changed(func(c []Column) []Column { c[0].Name = "Id"; return c })),
		"a column added": IncrementalBasis("SELECT * FROM t", "updated_at", []string{"id"}, append(slices.Clone(cols), Column{Name: "x", TypeName: "INT"})),
	} {
		if b == base {
			t.Errorf("changing the %s left the basis as it was", name)
		}
	}
}

func TestIncrementalCheckCursor(t *testing.T) {
	cfg := &Config{multi: true, origins: map[string]string{"table.a.cursor": "f.ini"}}
	tc := TableConfig{Name: "a", Target: "a", Cursor: "Updated_At"}
	cols := []Column{{Name: "id", Kind: KindInt, TypeName: "INT"}, {Name: "updated_at", Kind: KindDateTime, TypeName: "TIMESTAMP"}, {Name: "created", Kind: KindDate, TypeName: "DATE"}}
	col, err := IncrementalCheckCursor(cfg, tc, cols)
	if err != nil || col.Name != "updated_at" {
		t.Fatalf("got %v, %v", col, err)
	}
	for _, c := range []struct{ cursor, want string }{
		{"created", "is a column of type DATE"},
		{"updatedat", "is not a column of the query's result of table a (the nearest is updated_at): its columns are id, updated_at, created"},
	} {
		tc.Cursor = c.cursor
		_, err := IncrementalCheckCursor(cfg, tc, cols)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != "table.a.cursor" || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.ini") {
			t.Errorf("cursor %s: got %v, want a ConfigError of table.a.cursor saying %q", c.cursor, err, c.want)
		}
	}
	w := IncrementalCursorWarnings("a", Column{Name: "d", Kind: KindDateTime, TypeName: "DATETIME", Nullable: true}, 10*time.Minute)
	if len(w) != 2 || !strings.Contains(w[0], "prefer a TIMESTAMP") || !strings.Contains(w[1], "NULL are read by every incremental run") {
		t.Errorf("warnings %q", w)
	}
	if w := IncrementalCursorWarnings("a", Column{Name: "d", Kind: KindDateTime, TypeName: "DATETIME"}, time.Hour); len(w) != 0 {
		t.Errorf("a DATETIME with lookback 1h warned %q", w)
	}
}

func TestWatermark(t *testing.T) {
	at := func(s string) time.Time {
		v, err := WatermarkParse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	probe := WatermarkProbe{
		UTCNow: at("2026-12-01 22:31:40.250839"), SessionNow: at("2026-12-01 22:31:40.250839"),
		GlobalNow: at("2026-12-01 17:31:40.250839"), // a server in UTC−5: DATETIME cursors are its wall clock
		OldestTrx: at("2026-12-01 22:31:38"), Seen: true,
	}
	cases := []struct {
		name      string
		p         WatermarkProbe
		timestamp bool
		old, max  string
		want      string
	}{
		// The study's order B (§1.3): a transaction open since 22:31:38 caps the max read.
		{"capped by the open transaction", probe, true, "2026-12-01 00:00:00", "2026-12-01 22:31:40.043406", "2026-12-01 22:31:38.000000"},
		{"capped by a statement waiting on a lock", func() WatermarkProbe {
			p := probe
			p.OldestStmt = at("2026-12-01 22:31:30.5")
			return p
		}(), true, "", "2026-12-01 22:31:40", "2026-12-01 22:31:30.500000"},
		{"no transaction: S0 − 1 s", func() WatermarkProbe { p := probe; p.OldestTrx = time.Time{}; return p }(), true, "", "2026-12-01 22:31:40.2", "2026-12-01 22:31:39.250839"},
		{"without PROCESS: S0 − 1 s only", func() WatermarkProbe { p := probe; p.Seen = false; return p }(), true, "", "2026-12-01 22:31:40.2", "2026-12-01 22:31:39.250839"},
		{"the max read below the cap", probe, true, "2026-12-01 10:00:00", "2026-12-01 20:00:00.5", "2026-12-01 20:00:00.500000"},
		{"never below the old watermark", probe, true, "2026-12-01 21:00:00", "2026-12-01 20:00:00", "2026-12-01 21:00:00.000000"},
		{"a future-dated cursor is capped", probe, true, "", "2027-01-01 00:00:00", "2026-12-01 22:31:38.000000"},
		{"DATETIME: the cap as an age on the global zone's clock", probe, false, "", "2026-12-01 17:31:40", "2026-12-01 17:31:38.000000"},
		{"DATETIME without a zone: the max read only", func() WatermarkProbe { p := probe; p.GlobalNow = time.Time{}; return p }(), false, "", "2026-12-01 17:31:40", "2026-12-01 17:31:40.000000"},
		{"an empty table: none", probe, true, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var old, max time.Time
			if tc.old != "" {
				old = at(tc.old)
			}
			if tc.max != "" {
				max = at(tc.max)
			}
			limit, ok := WatermarkCap(tc.p, tc.timestamp)
			if got := WatermarkFormat(WatermarkNext(old, max, limit, ok)); got != tc.want {
				t.Errorf("watermark %q, want %q", got, tc.want)
			}
		})
	}
	if got := WatermarkFormat(WatermarkWindow(at("2026-12-01 22:31:38"), time.Second)); got != "2026-12-01 22:31:37.000000" {
		t.Errorf("window from %q", got)
	}
	if got := WatermarkFormat(WatermarkWindow(at("1000-01-01 00:05:00"), 10*time.Minute)); got != "1000-01-01 00:00:00.000000" {
		t.Errorf("window below DATETIME's range: %q", got)
	}
	if _, err := WatermarkParse("yesterday"); err == nil {
		t.Error("WatermarkParse took yesterday")
	}
	if age, held := WatermarkHeldBack(probe, time.Second); !held || age != 2250839*time.Microsecond {
		t.Errorf("held back %v %v, want 2.250839s true", age, held)
	}
	if _, held := WatermarkHeldBack(probe, 10*time.Minute); held {
		t.Error("held back beyond a 10m lookback")
	}
	if !IncrementalWindowTooWide(201, 1000) || IncrementalWindowTooWide(200, 1000) || IncrementalWindowTooWide(5, 0) {
		t.Error("IncrementalWindowTooWide")
	}
}

func TestBucketPlan(t *testing.T) {
	cases := []struct {
		name        string
		lo, hi      int64
		n           int
		wantLen     int
		keys        []string
		wantBuckets []int
	}{
		{"even", 1, 100, 10, 10, []string{"1", "10", "11", "91", "100", "0", "-5", "101", "18446744073709551615"}, []int{0, 0, 1, 9, 9, 0, 0, 9, 9}},
		{"uneven: the last bucket is short", 1, 10, 4, 4, []string{"1", "3", "4", "9", "10"}, []int{0, 0, 1, 2, 3}},
		{"more buckets than keys", 5, 7, 100, 3, []string{"5", "6", "7"}, []int{0, 1, 2}},
		{"width rounds up, no empty top bucket", 1, 10, 6, 5, []string{"10", "9"}, []int{4, 4}},
		{"the whole int64 range", math.MinInt64, math.MaxInt64, 4, 4, []string{"-9223372036854775808", "-1", "0", "9223372036854775807"}, []int{0, 1, 2, 3}},
		{"empty target", 0, -1, 64, 1, []string{"5"}, []int{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := BucketPlanInteger(tc.lo, tc.hi, tc.n)
			if p.Len != tc.wantLen {
				t.Fatalf("plan %+v, want %d buckets", p, tc.wantLen)
			}
			if p.Len > 1 && (p.Top() > tc.hi || p.Top() < tc.lo) {
				t.Errorf("top %d outside [%d, %d]", p.Top(), tc.lo, tc.hi)
			}
			for i, k := range tc.keys {
				b, err := p.Of([][]byte{[]byte(k)})
				if err != nil || b != tc.wantBuckets[i] {
					t.Errorf("key %s in bucket %d (%v), want %d", k, b, err, tc.wantBuckets[i])
				}
			}
		})
	}
	if _, err := BucketPlanInteger(1, 10, 2).Of([][]byte{[]byte("x")}); err == nil {
		t.Error("a text key in an integer plan")
	}
	if b, err := BucketPlanWhole().Of([][]byte{[]byte("a"), []byte("b")}); b != 0 || err != nil {
		t.Error("the whole plan")
	}
	for _, c := range []struct {
		rows, deletes int64
		want          int
	}{{1_000_000, 1000, 21447}, {1_000_000, 0, 678}, {500, 10, 64}, {100_000_000, 1_000_000, 1 << 20}} {
		if got := BucketCount(c.rows, c.deletes); got != c.want {
			t.Errorf("BucketCount(%d, %d) = %d, want %d", c.rows, c.deletes, got, c.want)
		}
	}
}

// memSide is a side of the delete detection over a set of integer keys in
// memory: it tests the algorithm's arithmetic; the backends' SQL is tested
// on real servers (incremental_sql_test.go).
type memSide struct {
	keys   []int64
	totals int // calls of BucketTotal
	counts int
	reads  int
}

func (m *memSide) BucketTotal(context.Context) (int64, error) {
	m.totals++
	return int64(len(m.keys)), nil
}

func (m *memSide) BucketCounts(_ context.Context, p BucketPlan) ([]int64, error) {
	m.counts++
	out := make([]int64, p.Len)
	for _, k := range m.keys {
		b, _ := p.Of([][]byte{[]byte(strconv.FormatInt(k, 10))})
		out[b]++
	}
	return out, nil
}

func (m *memSide) BucketKeys(_ context.Context, p BucketPlan, buckets []int) ([][][]byte, error) {
	m.reads++
	var out [][][]byte
	for _, k := range m.keys {
		cell := [][]byte{[]byte(strconv.FormatInt(k, 10))}
		if b, _ := p.Of(cell); slices.Contains(buckets, b) {
			out = append(out, cell)
		}
	}
	return out, nil
}

func TestBucketFindDeletes(t *testing.T) {
	seq := func(lo, hi int64, skip ...int64) []int64 {
		var out []int64
		for k := lo; k <= hi; k++ {
			if !slices.Contains(skip, k) {
				out = append(out, k)
			}
		}
		return out
	}
	cells := func(ks ...int64) [][][]byte {
		var out [][][]byte
		for _, k := range ks {
			out = append(out, [][]byte{[]byte(strconv.FormatInt(k, 10))})
		}
		return out
	}
	show := func(ks [][][]byte) string {
		var s []string
		for _, k := range ks {
			s = append(s, string(k[0]))
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		name          string
		target, src   []int64
		inserted      []int64 // window keys the target lacks
		countFirst    bool
		deleted, miss string
		countsOnly    bool
		differing     int
	}{
		{name: "no change, count first: two COUNTs", target: seq(1, 1000), src: seq(1, 1000), countFirst: true, countsOnly: true},
		{name: "inserts only, count first", target: seq(1, 1000), src: seq(1, 1010), inserted: seq(1001, 1010), countFirst: true, countsOnly: true},
		{name: "no change, buckets", target: seq(1, 1000), src: seq(1, 1000)},
		{name: "deletes spread out", target: seq(1, 1000), src: seq(1, 1000, 5, 500, 1000), countFirst: true, deleted: "5,500,1000", differing: 3},
		{name: "a key change: a delete and an insert", target: seq(1, 1000), src: append(seq(1, 1000, 7), 5000), inserted: []int64{5000}, deleted: "7", differing: 1},
		{name: "a delete and an insert in one bucket", target: seq(1, 1000), src: append(seq(1, 1000, 3), 1001), inserted: []int64{1001}, deleted: "3", differing: 1},
		{name: "a row the window missed is found", target: seq(1, 1000, 42), src: seq(1, 1000), miss: "42", differing: 1},
		{name: "a delete below the target's range", target: append([]int64{-50}, seq(1, 1000)...), src: seq(1, 1000), deleted: "-50", differing: 1},
		{name: "everything deleted", target: seq(1, 100), src: nil, countFirst: true, deleted: show(cells(seq(1, 100)...)), differing: 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := &memSide{keys: tc.src}, &memSide{keys: tc.target}
			lo, hi := slices.Min(tc.target), slices.Max(tc.target)
			plan := BucketPlanInteger(lo, hi, BucketCount(int64(len(tc.target)), 10))
			res, err := BucketFindDeletes(context.Background(), src, dst, BucketInput{Plan: plan, Inserted: cells(tc.inserted...), CountFirst: tc.countFirst})
			if err != nil {
				t.Fatal(err)
			}
			if got := show(res.Deleted); got != tc.deleted {
				t.Errorf("deleted %q, want %q", got, tc.deleted)
			}
			if got := show(res.Missing); got != tc.miss {
				t.Errorf("missing %q, want %q", got, tc.miss)
			}
			if res.CountsOnly != tc.countsOnly || res.Differing != tc.differing {
				t.Errorf("counts only %v, differing %d; want %v, %d", res.CountsOnly, res.Differing, tc.countsOnly, tc.differing)
			}
			if tc.countsOnly && (src.counts+dst.counts+src.reads+dst.reads != 0) {
				t.Errorf("beyond the two COUNTs: %d bucket counts, %d key reads", src.counts+dst.counts, src.reads+dst.reads)
			}
			if res.SourceRows != int64(len(tc.src)) {
				t.Errorf("source rows %d, want %d", res.SourceRows, len(tc.src))
			}
			if tc.differing > 0 && res.KeysRead > int64(tc.differing)*2*int64(plan.Width) {
				t.Errorf("read %d keys for %d differing buckets of %d", res.KeysRead, tc.differing, plan.Width)
			}
		})
	}
	_, err := BucketFindDeletes(context.Background(), &memSide{}, errSide{}, BucketInput{Plan: BucketPlanWhole()})
	if err == nil || !strings.Contains(err.Error(), "target down") {
		t.Errorf("a side's error: %v", err)
	}
}

type errSide struct{}

func (errSide) BucketTotal(context.Context) (int64, error) { return 0, fmt.Errorf("target down") }
func (errSide) BucketCounts(context.Context, BucketPlan) ([]int64, error) {
	return nil, fmt.Errorf("target down")
}
func (errSide) BucketKeys(context.Context, BucketPlan, []int) ([][][]byte, error) {
	return nil, fmt.Errorf("target down")
}

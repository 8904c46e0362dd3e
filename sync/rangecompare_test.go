package dbsync_test

import (
	"math"
	"testing"

	"github.com/dbsync/dbsync/sync"
)

func TestRangeValue_Equal(t *testing.T) {
	b := func(s string) dbsync.RangeValue { return dbsync.RangeValue{Bytes: []byte(s)} }
	i := func(n int64) dbsync.RangeValue { return dbsync.RangeValue{Kind: dbsync.RangeInt, Int: n} }
	f := func(x float64) dbsync.RangeValue { return dbsync.RangeValue{Kind: dbsync.RangeFloat, Float: x} }
	null := dbsync.RangeValue{Null: true}
	for _, tc := range []struct {
		name string
		a, b dbsync.RangeValue
		want bool
	}{
		{"NULL is NULL", null, null, true},
		{"NULL is not the empty string", null, b(""), false},
		{"a trailing space counts", b("a"), b("a "), false},
		{"case counts", b("a"), b("A"), false},
		{"same bytes", b("é"), b("é"), true},
		{"int64 and uint64 of one value", i(7), dbsync.RangeValue{Kind: dbsync.RangeUint, Uint: 7}, true},
		{"the last digit of a DOUBLE", f(0.1), f(0.10000000000000002), false},
		{"-0 is not 0 (bits)", f(0), f(math.Copysign(0, -1)), false},
		{"a float is not its text", f(1), b("1"), false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%s: Equal = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCompareRangeKeys(t *testing.T) {
	k := func(vs ...dbsync.RangeValue) dbsync.RangeKey { return vs }
	i := func(n int64) dbsync.RangeValue { return dbsync.RangeValue{Kind: dbsync.RangeInt, Int: n} }
	u := func(n uint64) dbsync.RangeValue { return dbsync.RangeValue{Kind: dbsync.RangeUint, Uint: n} }
	b := func(s string) dbsync.RangeValue { return dbsync.RangeValue{Bytes: []byte(s)} }
	for _, tc := range []struct {
		a, b dbsync.RangeKey
		want int
	}{
		{k(i(-1)), k(i(2)), -1},
		{k(i(math.MaxInt64)), k(u(math.MaxUint64)), -1},
		{k(b("B")), k(b("a")), -1}, // bytes, not a collation
		{k(i(1), b("x")), k(i(1), b("x")), 0},
		{k(i(1), b("y")), k(i(1), b("x")), 1},
	} {
		got := dbsync.CompareRangeKeys(tc.a, tc.b)
		if (got < 0) != (tc.want < 0) || (got > 0) != (tc.want > 0) {
			t.Errorf("CompareRangeKeys(%v, %v) = %d, want sign %d", tc.a, tc.b, got, tc.want)
		}
	}
}

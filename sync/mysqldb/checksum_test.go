package mysqldb

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestRowHashExpr(t *testing.T) {
	for _, tc := range []struct {
		name string
		cols []ChecksumColumn
		want string
	}{
		{"numbers and temporals are their text", []ChecksumColumn{{Name: "id", DataType: "int"}, {Name: "d", DataType: "double"}, {Name: "t", DataType: "datetime"}},
			"MD5(CONCAT_WS(',',CONCAT(ISNULL(s.`id`),ISNULL(s.`d`),ISNULL(s.`t`)),s.`id`,s.`d`,s.`t`))"},
		{"float is widened, bit is a number", []ChecksumColumn{{Name: "f", DataType: "float"}, {Name: "b", DataType: "bit"}},
			"MD5(CONCAT_WS(',',CONCAT(ISNULL(s.`f`),ISNULL(s.`b`)),CAST(s.`f` AS DOUBLE),CAST(s.`b` AS UNSIGNED)))"},
		{"strings are length-prefixed utf8mb4 bytes", []ChecksumColumn{{Name: "v", DataType: "varchar"}},
			"MD5(CONCAT_WS(',',CONCAT(ISNULL(s.`v`)),CONCAT(LENGTH(CAST(CONVERT(s.`v` USING utf8mb4) AS BINARY)),':',CAST(CONVERT(s.`v` USING utf8mb4) AS BINARY))))"},
		{"binary strings are length-prefixed bytes", []ChecksumColumn{{Name: "b", DataType: "varbinary"}},
			"MD5(CONCAT_WS(',',CONCAT(ISNULL(s.`b`)),CONCAT(LENGTH(s.`b`),':',s.`b`)))"},
		{"big values and JSON are digested", []ChecksumColumn{{Name: "m", DataType: "mediumtext"}, {Name: "j", DataType: "json"}, {Name: "l", DataType: "longblob"}},
			"MD5(CONCAT_WS(',',CONCAT(ISNULL(s.`m`),ISNULL(s.`j`),ISNULL(s.`l`)),MD5(CONVERT(s.`m` USING utf8mb4)),MD5(CONVERT(s.`j` USING utf8mb4)),MD5(s.`l`)))"},
		{"a digested VARCHAR (aligned with a MEDIUMTEXT)", []ChecksumColumn{{Name: "v", DataType: "varchar", Digest: true}},
			"MD5(CONCAT_WS(',',CONCAT(ISNULL(s.`v`)),MD5(CONVERT(s.`v` USING utf8mb4))))"},
		{"a backquote in a name", []ChecksumColumn{{Name: "a`b", DataType: "bigint unsigned"}},
			"MD5(CONCAT_WS(',',CONCAT(ISNULL(s.`a``b`)),s.`a``b`))"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RowHashExpr(tc.cols)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	for _, bad := range [][]ChecksumColumn{nil, {{Name: "g", DataType: "geometry"}}} {
		if _, err := RowHashExpr(bad); err == nil {
			t.Errorf("RowHashExpr(%v) accepted", bad)
		}
	}
}

func TestAlignChecksumColumns(t *testing.T) {
	a := []ChecksumColumn{{Name: "id", DataType: "int"}, {Name: "Note", DataType: "varchar"}}
	b := []ChecksumColumn{{Name: "note", DataType: "mediumtext"}, {Name: "ID", DataType: "int"}}
	ga, gb, err := AlignChecksumColumns(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !ga[1].Digest || !gb[1].Digest || ga[0].Digest || gb[0].Digest {
		t.Errorf("digest flags %v / %v: want the note digested on both sides only", ga, gb)
	}
	if gb[0].Name != "ID" || gb[1].Name != "note" {
		t.Errorf("target columns %v not in the source's order", gb)
	}
	if _, _, err := AlignChecksumColumns(a, b[:1]); err == nil {
		t.Error("different column counts accepted")
	}
	if _, _, err := AlignChecksumColumns(a, []ChecksumColumn{{Name: "id", DataType: "int"}, {Name: "other", DataType: "int"}}); err == nil {
		t.Error("a missing column accepted")
	}
}

var (
	intKey  = []ChecksumKeyPart{{Name: "id", DataType: "bigint"}}
	strKey  = []ChecksumKeyPart{{Name: "k", DataType: "varchar"}}
	pairKey = []ChecksumKeyPart{{Name: "a", DataType: "int"}, {Name: "b", DataType: "varchar"}}
)

func TestRangePredicate(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []ChecksumKeyPart
		r    ChecksumKeyRange
		want string
		args []any
	}{
		{"open at both ends", intKey, ChecksumKeyRange{}, "1=1", nil},
		{"integer bounds are literals", intKey, ChecksumKeyRange{Lo: []any{int64(-5)}, Hi: []any{uint64(18446744073709551615)}},
			"s.`id` >= -5 AND s.`id` < 18446744073709551615", nil},
		{"open below", intKey, ChecksumKeyRange{Hi: []any{int64(10)}}, "s.`id` < 10", nil},
		{"string bounds are placeholders, bound as strings", strKey, ChecksumKeyRange{Lo: []any{[]byte("é")}},
			"s.`k` >= ?", []any{"é"}},
		{"composite: expanded OR, each value bound where it appears", pairKey, ChecksumKeyRange{Lo: []any{int64(1), []byte("x")}, Hi: []any{int64(2), []byte("y")}},
			"(s.`a` > 1 OR (s.`a` = 1 AND s.`b` >= ?)) AND (s.`a` < 2 OR (s.`a` = 2 AND s.`b` < ?))", []any{"x", "y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, args, err := RangePredicate(tc.key, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || !reflect.DeepEqual(args, tc.args) {
				t.Errorf("\n got %s %v\nwant %s %v", got, args, tc.want, tc.args)
			}
		})
	}
	if _, _, err := RangePredicate(pairKey, ChecksumKeyRange{Lo: []any{int64(1)}}); err == nil {
		t.Error("a one-value bound of a two-column key accepted")
	}
}

const h = "MD5(x)" // a row hash stand-in: the builders only place it

func TestRangeChecksumQuery(t *testing.T) {
	q, args, err := RangeChecksumQuery("`t` AS s", h, intKey, []ChecksumKeyRange{{Hi: []any{int64(100)}}, {Lo: []any{int64(100)}}})
	if err != nil {
		t.Fatal(err)
	}
	agg := "COUNT(*),COUNT(h),IFNULL(SUM(CAST(CONV(SUBSTRING(h,1,16),16,10) AS UNSIGNED)),0),IFNULL(SUM(CAST(CONV(SUBSTRING(h,17,16),16,10) AS UNSIGNED)),0)"
	want := "SELECT 0," + agg + " FROM (SELECT MD5(x) AS h FROM `t` AS s WHERE s.`id` < 100 LIMIT 18446744073709551615) AS q" +
		" UNION ALL SELECT 1," + agg + " FROM (SELECT MD5(x) AS h FROM `t` AS s WHERE s.`id` >= 100 LIMIT 18446744073709551615) AS q"
	if q != want || args != nil {
		t.Errorf("\n got %s %v\nwant %s", q, args, want)
	}
	if strings.Contains(q, "BIT_XOR") {
		t.Error("XOR cancels equal changes on two rows")
	}
	if _, _, err := RangeChecksumQuery("`t` AS s", h, intKey, nil); err == nil {
		t.Error("no ranges accepted")
	}
}

func TestRangeCountQuery(t *testing.T) {
	q, args, err := RangeCountQuery("`t` AS s", strKey, []ChecksumKeyRange{{Hi: []any{[]byte("m")}}, {Lo: []any{[]byte("m")}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT 0,COUNT(*),NULL,NULL FROM `t` AS s WHERE s.`k` < ? UNION ALL SELECT 1,COUNT(*),NULL,NULL FROM `t` AS s WHERE s.`k` >= ?"
	if q != want || !reflect.DeepEqual(args, []any{"m", "m"}) {
		t.Errorf("\n got %s %v\nwant %s", q, args, want)
	}
	q, _, err = RangeCountQuery("`t` AS s", intKey, []ChecksumKeyRange{{Lo: []any{int64(5)}}})
	if want := "SELECT 0,COUNT(*),MIN(s.`id`),MAX(s.`id`) FROM `t` AS s WHERE s.`id` >= 5"; err != nil || q != want {
		t.Errorf("integer key\n got %s %v\nwant %s", q, err, want)
	}
}

func TestBucketQueries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     []ChecksumKeyPart
		b       ChecksumBuckets
		buckets []int64
		bucket  string
		keyHash string
	}{
		{"integer key: value buckets", intKey, ChecksumBuckets{Width: 32}, []int64{3, 7},
			"SELECT b,COUNT(*),COUNT(h),IFNULL(SUM(CAST(CONV(SUBSTRING(h,1,16),16,10) AS UNSIGNED)),0),IFNULL(SUM(CAST(CONV(SUBSTRING(h,17,16),16,10) AS UNSIGNED)),0) FROM (SELECT s.`id` DIV 32 AS b,MD5(x) AS h FROM `t` AS s WHERE s.`id` >= 0 AND s.`id` < 1000 LIMIT 18446744073709551615) AS q GROUP BY b",
			"SELECT s.`id`,UNHEX(MD5(x)) FROM `t` AS s WHERE s.`id` >= 0 AND s.`id` < 1000 AND ((s.`id` >= 96 AND s.`id` < 128) OR (s.`id` >= 224 AND s.`id` < 256)) AND s.`id` DIV 32 IN (3,7)"},
		{"string key: CRC32 buckets of the bytes", strKey, ChecksumBuckets{Modulus: 1953}, []int64{5},
			"SELECT b,COUNT(*),COUNT(h),IFNULL(SUM(CAST(CONV(SUBSTRING(h,1,16),16,10) AS UNSIGNED)),0),IFNULL(SUM(CAST(CONV(SUBSTRING(h,17,16),16,10) AS UNSIGNED)),0) FROM (SELECT CRC32(CAST(CONVERT(s.`k` USING utf8mb4) AS BINARY)) % 1953 AS b,MD5(x) AS h FROM `t` AS s WHERE s.`k` >= ? AND s.`k` < ? LIMIT 18446744073709551615) AS q GROUP BY b",
			"SELECT CAST(CONVERT(s.`k` USING utf8mb4) AS BINARY),UNHEX(MD5(x)) FROM `t` AS s WHERE s.`k` >= ? AND s.`k` < ? AND CRC32(CAST(CONVERT(s.`k` USING utf8mb4) AS BINARY)) % 1953 IN (5)"},
		{"whole range", intKey, ChecksumBuckets{Width: 32}, nil, "",
			"SELECT s.`id`,UNHEX(MD5(x)) FROM `t` AS s WHERE s.`id` >= 0 AND s.`id` < 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ChecksumKeyRange{Lo: []any{int64(0)}, Hi: []any{int64(1000)}}
			if !tc.key[0].Integer() {
				r = ChecksumKeyRange{Lo: []any{[]byte("a")}, Hi: []any{[]byte("n")}}
			}
			if tc.bucket != "" {
				q, _, err := BucketChecksumQuery("`t` AS s", h, tc.key, r, tc.b)
				if err != nil {
					t.Fatal(err)
				}
				if q != tc.bucket {
					t.Errorf("bucket query\n got %s\nwant %s", q, tc.bucket)
				}
			}
			q, _, err := KeyHashQuery("`t` AS s", h, tc.key, r, tc.b, tc.buckets)
			if err != nil {
				t.Fatal(err)
			}
			if q != tc.keyHash {
				t.Errorf("key hash query\n got %s\nwant %s", q, tc.keyHash)
			}
		})
	}
	e, err := BucketExpr(pairKey, ChecksumBuckets{Modulus: 10})
	if err != nil {
		t.Fatal(err)
	}
	if want := "CRC32(CONCAT_WS(',',LENGTH(s.`a`),s.`a`,LENGTH(CAST(CONVERT(s.`b` USING utf8mb4) AS BINARY)),CAST(CONVERT(s.`b` USING utf8mb4) AS BINARY))) % 10"; e != want {
		t.Errorf("composite bucket\n got %s\nwant %s", e, want)
	}
	for _, bad := range []struct {
		key []ChecksumKeyPart
		b   ChecksumBuckets
	}{{strKey, ChecksumBuckets{Width: 32}}, {pairKey, ChecksumBuckets{Width: 32}}, {intKey, ChecksumBuckets{}}} {
		if _, err := BucketExpr(bad.key, bad.b); err == nil {
			t.Errorf("BucketExpr(%v, %+v) accepted", bad.key, bad.b)
		}
	}
}

func TestKeyCollationQuery(t *testing.T) {
	if got, want := KeyCollationQuery("`t` AS s", pairKey), "SELECT COLLATION(s.`a`),COLLATION(s.`b`) FROM (SELECT 1) AS one LEFT JOIN `t` AS s ON 1=1 LIMIT 1"; got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestKeyBoundaryQueries(t *testing.T) {
	q, err := KeyBoundsQuery("`t` AS s", intKey)
	if err != nil || q != "SELECT MIN(s.`id`),MAX(s.`id`),COUNT(*) FROM `t` AS s" {
		t.Errorf("bounds: %s %v", q, err)
	}
	if _, err := KeyBoundsQuery("`t` AS s", strKey); err == nil {
		t.Error("bounds of a string key accepted")
	}
	q, args, err := KeyBoundaryQuery("`t` AS s", pairKey, nil, 1000)
	if want := "SELECT s.`a`,CAST(CONVERT(s.`b` USING utf8mb4) AS BINARY) FROM `t` AS s ORDER BY s.`a`,s.`b` LIMIT 1 OFFSET 1000"; err != nil || q != want || args != nil {
		t.Errorf("first walk\n got %s %v %v\nwant %s", q, args, err, want)
	}
	q, args, err = KeyBoundaryQuery("`t` AS s", pairKey, []any{int64(7), []byte("k")}, 1000)
	if want := "SELECT s.`a`,CAST(CONVERT(s.`b` USING utf8mb4) AS BINARY) FROM `t` AS s WHERE (s.`a` > 7 OR (s.`a` = 7 AND s.`b` >= ?)) ORDER BY s.`a`,s.`b` LIMIT 1 OFFSET 1000"; err != nil || q != want || !reflect.DeepEqual(args, []any{"k"}) {
		t.Errorf("next walk\n got %s %v %v\nwant %s", q, args, err, want)
	}
	if _, _, err := KeyBoundaryQuery("`t` AS s", intKey, nil, 0); err == nil {
		t.Error("step 0 accepted")
	}
}

func TestRowQueries(t *testing.T) {
	cols := []ChecksumColumn{{Name: "id", DataType: "int"}, {Name: "f", DataType: "float"}, {Name: "v", DataType: "varchar"}}
	q, args, err := RangeRowsQuery("(SELECT * FROM items) AS s", cols, intKey[:1], ChecksumKeyRange{Lo: []any{int64(10)}, Hi: []any{int64(20)}})
	if want := "SELECT s.`id`,s.`id`,CAST(s.`f` AS DOUBLE),s.`v` FROM (SELECT * FROM items) AS s WHERE s.`id` >= 10 AND s.`id` < 20 ORDER BY s.`id`"; err != nil || q != want || args != nil {
		t.Errorf("range rows\n got %s %v %v\nwant %s", q, args, err, want)
	}
	q, args, err = RangeRowsQuery("`t` AS s", cols, strKey, ChecksumKeyRange{Lo: []any{[]byte("a")}})
	if want := "SELECT CAST(CONVERT(s.`k` USING utf8mb4) AS BINARY),s.`id`,CAST(s.`f` AS DOUBLE),s.`v` FROM `t` AS s WHERE s.`k` >= ? ORDER BY CAST(CONVERT(s.`k` USING utf8mb4) AS BINARY)"; err != nil || q != want || !reflect.DeepEqual(args, []any{"a"}) {
		t.Errorf("range rows by bytes\n got %s %v %v\nwant %s", q, args, err, want)
	}
	q, args, err = RowsByKeyQuery("`t` AS s", cols, intKey, [][]any{{int64(1)}, {int64(5)}})
	if want := "SELECT s.`id`,s.`id`,CAST(s.`f` AS DOUBLE),s.`v` FROM `t` AS s WHERE s.`id` IN (1,5)"; err != nil || q != want || args != nil {
		t.Errorf("rows by integer key\n got %s %v %v\nwant %s", q, args, err, want)
	}
	q, args, err = RowsByKeyQuery("`t` AS s", cols, pairKey, [][]any{{int64(1), []byte("x")}, {int64(2), []byte("y")}})
	if want := "SELECT s.`a`,CAST(CONVERT(s.`b` USING utf8mb4) AS BINARY),s.`id`,CAST(s.`f` AS DOUBLE),s.`v` FROM `t` AS s WHERE (s.`a` = 1 AND s.`b` = ?) OR (s.`a` = 2 AND s.`b` = ?)"; err != nil || q != want || !reflect.DeepEqual(args, []any{"x", "y"}) {
		t.Errorf("rows by composite key\n got %s %v %v\nwant %s", q, args, err, want)
	}
	if _, _, err := RowsByKeyQuery("`t` AS s", cols, intKey, nil); err == nil {
		t.Error("no keys accepted")
	}
}

func TestChecksumFrom(t *testing.T) {
	if got := ChecksumFrom("items", ""); got != "`items` AS s" {
		t.Errorf("table: %s", got)
	}
	if got := ChecksumFrom("items", "SELECT * FROM v"); got != "(SELECT * FROM v) AS s" {
		t.Errorf("query: %s", got)
	}
}

func TestRangeScansWhole(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan []ExplainRow
		want bool
	}{
		{"range on the primary key", []ExplainRow{{Table: "items", Type: "range", Rows: 1998}}, false},
		{"a join's small lookup table scanned whole", []ExplainRow{{Table: "i", Type: "range", Rows: 1998}, {Table: "o", Type: "ALL", Rows: 1000}}, false},
		{"a derived table is not a base table", []ExplainRow{{Table: "<derived2>", Type: "ALL", Rows: 990024}, {Table: "items", Type: "range", Rows: 1998}}, false},
		{"a computed key scans everything", []ExplainRow{{Table: "<derived2>", Type: "ALL", Rows: 990024}, {Table: "items", Type: "ALL", Rows: 990024}}, true},
		{"a LIMIT reads the whole index", []ExplainRow{{Table: "items", Type: "index", Rows: 990024}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := RangeScansWhole(tc.plan, 2000)
			if got != tc.want || got != (reason != "") {
				t.Errorf("RangeScansWhole = %v %q, want %v", got, reason, tc.want)
			}
		})
	}
}

func TestExplainRangeQuery(t *testing.T) {
	q, _, err := ExplainRangeQuery("`t` AS s", h, intKey, ChecksumKeyRange{Hi: []any{int64(9)}})
	if err != nil || q != "EXPLAIN SELECT MD5(x) FROM `t` AS s WHERE s.`id` < 9" {
		t.Errorf("%s %v", q, err)
	}
}

func TestNewChecksumSide(t *testing.T) {
	cols := []ChecksumColumn{{Name: "id", DataType: "int"}, {Name: "e", DataType: "enum", ColumnType: "enum('b','a')"}}
	if _, err := NewChecksumSide(nil, "t", "", cols, []string{"e"}); err == nil || !strings.Contains(err.Error(), "ENUM") {
		t.Errorf("an ENUM key (ordered by number, compared by label): got %v, want refused", err)
	}
	if _, err := NewChecksumSide(nil, "t", "", cols, []string{"nope"}); err == nil {
		t.Error("a key that is not a column accepted")
	}
	if _, err := NewChecksumSide(nil, "t", "", cols, nil); err == nil {
		t.Error("no key accepted")
	}
	s, err := NewChecksumSide(nil, "t", "", cols, []string{"ID"})
	if err != nil || !s.RangeIntegerKey() {
		t.Errorf("integer key: %v %v", s, err)
	}
}

func TestBucketSpans(t *testing.T) {
	for _, tc := range []struct {
		w       int64
		buckets []int64
		want    string
	}{
		{32, []int64{5, 3, 4, 9}, "(k >= 96 AND k < 192) OR (k >= 288 AND k < 320)"},
		{10, []int64{-2, -1, 0, 1}, "(k >= -29 AND k < 20)"},
		{10, []int64{0}, "(k >= -9 AND k < 10)"},
		{10, []int64{-1}, "(k >= -19 AND k < -9)"},
		{4611686018427387904, []int64{3}, "(k >= 13835058055282163712 AND k < 18446744073709551616)"},
	} {
		if got := bucketSpans("k", tc.w, tc.buckets); got != tc.want {
			t.Errorf("bucketSpans(%d, %v)\n got %s\nwant %s", tc.w, tc.buckets, got, tc.want)
		}
		// The spans hold exactly the keys whose key DIV w is one of the buckets.
		if tc.w > 1000 {
			continue
		}
		spans := spanRE.FindAllStringSubmatch(tc.want, -1)
		for k := -3 * tc.w; k <= 3*tc.w; k++ {
			inSpan := false
			for _, m := range spans {
				lo, _ := strconv.ParseInt(m[1], 10, 64)
				hi, _ := strconv.ParseInt(m[2], 10, 64)
				inSpan = inSpan || lo <= k && k < hi
			}
			// Go's / truncates toward zero, as DIV does.
			if inBucket := slices.Contains(tc.buckets, k/tc.w); inSpan != inBucket {
				t.Errorf("width %d buckets %v: key %d in the spans %v, in a bucket %v", tc.w, tc.buckets, k, inSpan, inBucket)
			}
		}
	}
}

var spanRE = regexp.MustCompile(`k >= (-?\d+) AND k < (-?\d+)`)

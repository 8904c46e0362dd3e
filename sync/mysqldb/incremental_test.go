package mysqldb

import (
	"reflect"
	"strings"
	"testing"
)

func TestIncrementalQuery(t *testing.T) {
	got := IncrementalQuery("SELECT * FROM t -- all rows\n;", "up`d")
	want := "SELECT * FROM (\nSELECT * FROM t -- all rows\n) AS `dbsync_q` WHERE `dbsync_q`.`up``d` >= ? OR `dbsync_q`.`up``d` IS NULL"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCapQueries(t *testing.T) {
	for _, c := range []struct {
		mariadb bool
		want    []string
		not     string
	}{
		{true, []string{"TIME_MS * 1000", "ORDER BY TIME_MS DESC", "ID <> CONNECTION_ID()", "'Sleep'", "@@global.time_zone"}, "INTERVAL (TIME + 1) SECOND"},
		{false, []string{"INTERVAL (TIME + 1) SECOND", "ORDER BY TIME DESC"}, "TIME_MS"},
	} {
		q := CapStatementQuery(c.mariadb)
		for _, w := range c.want {
			if !strings.Contains(q, w) {
				t.Errorf("mariadb=%v: %s lacks %q", c.mariadb, q, w)
			}
		}
		if strings.Contains(q, c.not) {
			t.Errorf("mariadb=%v: %s has %q", c.mariadb, q, c.not)
		}
	}
	for _, w := range []string{"CONVERT_TZ(trx_started, 'SYSTEM', '+00:00')", "trx_is_read_only = 0", "trx_mysql_thread_id <> CONNECTION_ID()"} {
		if !strings.Contains(CapTrxQuery, w) {
			t.Errorf("CapTrxQuery lacks %q", w)
		}
	}
}

func TestBucketCountQuery(t *testing.T) {
	q, args := BucketCountQuery("SELECT id FROM t", "id", -10, 5, 4)
	if !strings.Contains(q, "CASE WHEN `dbsync_q`.`id` < ? THEN 0 WHEN `dbsync_q`.`id` >= ? THEN ? ELSE (`dbsync_q`.`id` - ?) DIV ? END") || !strings.HasSuffix(q, "GROUP BY `dbsync_b`") {
		t.Errorf("query %s", q)
	}
	if want := []any{int64(-10), int64(5), 3, int64(-10), int64(5)}; !reflect.DeepEqual(args, want) {
		t.Errorf("args %v, want %v", args, want)
	}
	if q, args := BucketCountQuery("SELECT id FROM t", "id", 0, 1, 1); !strings.HasPrefix(q, "SELECT 0, COUNT(*)") || args != nil {
		t.Errorf("one bucket: %s %v", q, args)
	}
}

func TestBucketRanges(t *testing.T) {
	cases := []struct {
		name    string
		buckets []int
		want    []KeyRange
	}{
		{"first and neighbours joined", []int{0, 1, 4}, []KeyRange{{From: 1, To: 21, OpenFrom: true}, {From: 41, To: 51}}},
		{"the last is open", []int{8, 9}, []KeyRange{{From: 81, To: 101, OpenTo: true}}},
		{"none", nil, nil},
	}
	for _, c := range cases {
		if got := BucketRanges(1, 10, 10, c.buckets); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := BucketRanges(0, 1, 1, []int{0}); !reflect.DeepEqual(got, []KeyRange{{From: 0, To: 1, OpenFrom: true, OpenTo: true}}) {
		t.Errorf("one bucket: %+v", got)
	}
}

func TestRangeKeysQueries(t *testing.T) {
	stmts, args := RangeKeysQueries("SELECT id FROM t", "id", []KeyRange{{To: 5, OpenFrom: true}, {From: 7, To: 9}, {From: 20, OpenTo: true}})
	want := "(SELECT `dbsync_q`.`id` FROM (\nSELECT id FROM t\n) AS `dbsync_q` WHERE `dbsync_q`.`id` < ?) UNION ALL " +
		"(SELECT `dbsync_q`.`id` FROM (\nSELECT id FROM t\n) AS `dbsync_q` WHERE `dbsync_q`.`id` >= ? AND `dbsync_q`.`id` < ?) UNION ALL " +
		"(SELECT `dbsync_q`.`id` FROM (\nSELECT id FROM t\n) AS `dbsync_q` WHERE `dbsync_q`.`id` >= ?)"
	if len(stmts) != 1 || stmts[0] != want || !reflect.DeepEqual(args[0], []any{int64(5), int64(7), int64(9), int64(20)}) {
		t.Errorf("got %q %v", stmts, args)
	}
	many := make([]KeyRange, 2500)
	for i := range many {
		many[i] = KeyRange{From: int64(i * 10), To: int64(i*10 + 5)}
	}
	stmts, args = RangeKeysQueries("SELECT id FROM t", "id", many)
	if len(stmts) != 3 || len(args[0]) != 2000 || len(args[2]) != 1000 {
		t.Errorf("2,500 ranges: %d statements, %d and %d args", len(stmts), len(args[0]), len(args[len(args)-1]))
	}
	if got := strings.Count(stmts[0], "UNION ALL"); got != 999 {
		t.Errorf("first statement has %d UNION ALLs, want 999", got)
	}
}

func TestExplain(t *testing.T) {
	if _, err := ExplainQuery("SELECT 1", "u", "2026-12-01' OR 1=1 -- "); err == nil {
		t.Error("ExplainQuery took a bound that is not a time")
	}
	q, err := ExplainQuery("SELECT * FROM t", "u", "2026-12-01 10:00:00.000000")
	if err != nil || !strings.Contains(q, ">= '2026-12-01 10:00:00.000000' OR") || !strings.HasPrefix(q, "EXPLAIN SELECT") {
		t.Errorf("%s %v", q, err)
	}
	plan := []ExplainRow{
		{Table: "<derived2>", Type: "ALL", Rows: 50000},
		{Table: "items", Type: "range", Key: "updated_idx", Rows: 200},
		{Table: "owners", Type: "ALL", Rows: 2},
		{Table: "big", Type: "index", Key: "PRIMARY", Rows: 985278},
	}
	scans := ExplainScans(plan, 10000)
	if len(scans) != 1 || scans[0].Table != "big" {
		t.Fatalf("scans %+v", scans)
	}
	if w := ExplainWarning("t", "u", scans); !strings.Contains(w, "cannot use an index (EXPLAIN: big type=index rows≈985278)") || !strings.Contains(w, "add an index on u to big") {
		t.Errorf("warning %q", w)
	}
	if ExplainWarning("t", "u", nil) != "" {
		t.Error("a warning without a scan")
	}
}

func TestKeysQuery(t *testing.T) {
	if got := KeysQuery("SELECT * FROM t", []string{"a", "b"}); got != "SELECT `dbsync_q`.`a`, `dbsync_q`.`b` FROM (\nSELECT * FROM t\n) AS `dbsync_q`" {
		t.Errorf("%s", got)
	}
}

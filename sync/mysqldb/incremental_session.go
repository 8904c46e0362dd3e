package mysqldb

// The primary's part of mode = incremental (dbsync.IncrementalSession):
// the watermark probe taken before the snapshot, the window query, and the
// delete detection's source side, all on the snapshot's connection.

import (
	"context"
	"fmt"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

var (
	_ dbsync.IncrementalSession = (*Session)(nil)
	_ dbsync.IncrementalTarget  = (*Target)(nil)
)

// Incremental: the primary reads incremental windows.
func (s *Session) Incremental() (dbsync.IncrementalSession, bool) { return s, true }

// probeCap runs ProbeCap on the session's connection; the snapshot starts
// right after it.
func (s *Session) probeCap(ctx context.Context) error {
	mariadb, err := IsMariaDB(ctx, s.conn)
	if err != nil {
		return err
	}
	if s.capProbe, err = ProbeCap(ctx, s.conn, mariadb); err != nil {
		return err
	}
	s.probed = true
	return nil
}

// WatermarkProbe is what probeCap saw before the snapshot.
func (s *Session) WatermarkProbe() (dbsync.WatermarkProbe, bool) {
	p := s.capProbe
	return dbsync.WatermarkProbe{UTCNow: p.UTCNow, SessionNow: p.SessionNow, GlobalNow: p.GlobalNow,
		OldestTrx: p.OldestTrx, OldestStmt: p.OldestStmt, Seen: p.Seen, Note: p.Note}, s.probed
}

// WindowQuery is IncrementalQuery with its bound written in: from is a
// dbsync.WatermarkFormat value (digits, '-', ':', '.', ' '), checked here
// so that nothing else can reach the SQL.
func (s *Session) WindowQuery(q, cursor, from string) string {
	if strings.Trim(from, "0123456789-:. ") != "" {
		from = "1000-01-01 00:00:00" // never: WatermarkFormat writes only those
	}
	return strings.Replace(IncrementalQuery(q, cursor), "?", "'"+from+"'", 1)
}

// Keys reads q's keys in the snapshot.
func (s *Session) Keys(ctx context.Context, q string, key []dbsync.KeyColumn) ([][][]byte, error) {
	return AllKeys(ctx, s.conn, q, dbsync.KeyNames(key))
}

// BucketSide is q's side of the delete detection, on the snapshot's
// connection.
func (s *Session) BucketSide(q string, key []dbsync.KeyColumn) dbsync.BucketSide {
	return bucketSide{q: s.conn, query: q, key: dbsync.KeyNames(key)}
}

// bucketSide counts and reads the keys of a query (the primary's in its
// snapshot, or a target table's).
type bucketSide struct {
	q     Queryer
	query string
	key   []string
}

func (b bucketSide) BucketTotal(ctx context.Context) (int64, error) {
	return CountRows(ctx, b.q, b.query)
}

func (b bucketSide) BucketCounts(ctx context.Context, p dbsync.BucketPlan) ([]int64, error) {
	if !p.Integer || p.Len <= 1 {
		n, err := CountRows(ctx, b.q, b.query)
		return []int64{n}, err
	}
	return BucketCounts(ctx, b.q, b.query, b.key[0], p.Lo, p.Width, p.Len)
}

func (b bucketSide) BucketKeys(ctx context.Context, p dbsync.BucketPlan, buckets []int) ([][][]byte, error) {
	if !p.Integer || p.Len <= 1 {
		return AllKeys(ctx, b.q, b.query, b.key)
	}
	return BucketKeys(ctx, b.q, b.query, b.key[0], p.Lo, p.Width, p.Len, buckets)
}

// tableQuery is the query a target table's bucket side counts.
func tableQuery(table string) string { return "SELECT * FROM " + dbsync.QuoteMySQL(table) }

// keyLiteral writes a key cell as SQL for the target's text protocol (so
// that the rows read by key print as the whole-table reader's do): an
// integer as itself, a binary string as a hex literal, anything else as a
// utf8mb4 string converted from hex (no escaping to get wrong under any
// sql_mode).
func keyLiteral(c mergeColumn, v []byte) (string, error) {
	if isIntegerType(c.DataType) {
		for i, b := range v {
			if (b < '0' || b > '9') && !(i == 0 && b == '-' && len(v) > 1) {
				return "", fmt.Errorf("key column %s: %q is not an integer", dbsync.QuoteMySQL(c.Name), v)
			}
		}
		if len(v) == 0 {
			return "", fmt.Errorf("key column %s: an empty integer", dbsync.QuoteMySQL(c.Name))
		}
		return string(v), nil
	}
	hex := fmt.Sprintf("X'%x'", v)
	if c.charset == "" && (strings.Contains(c.DataType, "binary") || strings.Contains(c.DataType, "blob")) {
		return hex, nil
	}
	return "CONVERT(" + hex + " USING utf8mb4)", nil
}

func isIntegerType(dataType string) bool {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return true
	}
	return false
}

// keysWhere is the WHERE condition selecting keys: k IN (…) for a
// one-column key, (a, b) IN ((…), …) for more.
func keysWhere(cols []mergeColumn, keys [][][]byte) (string, error) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = dbsync.QuoteMySQL(c.Name)
	}
	tuples := make([]string, len(keys))
	for i, k := range keys {
		if len(k) != len(cols) {
			return "", fmt.Errorf("a key of %d columns, want %d", len(k), len(cols))
		}
		parts := make([]string, len(k))
		for j, v := range k {
			lit, err := keyLiteral(cols[j], v)
			if err != nil {
				return "", err
			}
			parts[j] = lit
		}
		tuples[i] = strings.Join(parts, ", ")
		if len(cols) > 1 {
			tuples[i] = "(" + tuples[i] + ")"
		}
	}
	lhs := names[0]
	if len(cols) > 1 {
		lhs = "(" + strings.Join(names, ", ") + ")"
	}
	return lhs + " IN (" + strings.Join(tuples, ", ") + ")", nil
}

// CheckCursor counts q's rows whose cursor is NULL and explains the window
// read from from (a recent bound: an old one makes any plan a scan); a
// scan of at least 1,000 rows is warned about.
func (s *Session) CheckCursor(ctx context.Context, table, q, cursor, from string) (int64, string, error) {
	var nulls int64
	if err := queryOne(ctx, s.conn, []any{&nulls}, "SELECT COUNT(*) FROM "+derived(q)+" WHERE "+derivedCol(cursor)+" IS NULL"); err != nil {
		return 0, "", fmt.Errorf("count the rows whose cursor is NULL: %w", err)
	}
	plan, err := Explain(ctx, s.conn, q, cursor, from)
	if err != nil {
		return nulls, "", err
	}
	return nulls, ExplainWarning(table, cursor, ExplainScans(plan, 1000)), nil
}

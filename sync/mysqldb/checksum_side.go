package mysqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	dbsync "github.com/dbsync/dbsync/sync"
)

// Queryer is what a checksum side reads through: the primary's snapshot
// transaction (*sql.Tx), a target connection (*sql.Conn) or a pool
// (*sql.DB). Every statement is a SELECT or an EXPLAIN: a side writes nothing.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ChecksumSide is one MySQL or MariaDB side of a range-checksum compare:
// one table, or one source query, on one Queryer.
type ChecksumSide struct {
	q       Queryer
	from    string
	cols    []ChecksumColumn
	key     []ChecksumKeyPart
	hash    string
	checked bool
}

var _ dbsync.ChecksumSide = (*ChecksumSide)(nil)

// NewChecksumSide is the side of table (or, when query is not empty, of the
// rows of query) read through q. cols are the columns to hash, as
// AlignChecksumColumns returned them for this side; key names the key
// columns, which must be among cols. The session must be in time zone
// '+00:00' (dbsync's sessions are): TIMESTAMP text depends on it.
func NewChecksumSide(q Queryer, table, query string, cols []ChecksumColumn, key []string) (*ChecksumSide, error) {
	if len(key) == 0 {
		return nil, errors.New("a checksum compare needs a key")
	}
	hash, err := RowHashExpr(cols)
	if err != nil {
		return nil, err
	}
	s := &ChecksumSide{q: q, from: ChecksumFrom(table, query), cols: cols, hash: hash}
	for _, k := range key {
		found := false
		for _, c := range cols {
			if strings.EqualFold(c.Name, k) {
				s.key = append(s.key, ChecksumKeyPart{Name: c.Name, DataType: c.DataType})
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("key column %s is not a column of the rows", quote(k))
		}
		// An ENUM or SET is ordered by its index number but compared by its
		// label: its ranges would not cut the rows into parts.
		if t := baseType(s.key[len(s.key)-1].DataType); t == "enum" || t == "set" {
			return nil, fmt.Errorf("key column %s is an %s: compare by rows", quote(k), strings.ToUpper(t))
		}
	}
	return s, nil
}

// DescribeTable reads the columns of table in the current database from
// information_schema, in table order.
func DescribeTable(ctx context.Context, q Queryer, table string) ([]ChecksumColumn, error) {
	rows, err := q.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", table)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", quote(table), err)
	}
	defer rows.Close()
	var cols []ChecksumColumn
	for rows.Next() {
		var c ChecksumColumn
		if err := rows.Scan(&c.Name, &c.DataType, &c.ColumnType); err != nil {
			return nil, fmt.Errorf("describe %s: %w", quote(table), err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe %s: %w", quote(table), err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("describe %s: no such table in the current database", quote(table))
	}
	return ChecksumPieces(cols)
}

// DescribeQuery reads the columns of a source query's result (no row is
// read). The protocol names every size of TEXT and BLOB alike, so those are
// digested: one may be a LONGTEXT.
func DescribeQuery(ctx context.Context, q Queryer, query string) ([]ChecksumColumn, error) {
	rows, err := q.QueryContext(ctx, "SELECT * FROM ("+query+") AS "+ChecksumAlias+" LIMIT 0")
	if err != nil {
		return nil, fmt.Errorf("describe the source query: %w", err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("describe the source query: %w", err)
	}
	cols := make([]ChecksumColumn, len(types))
	for i, t := range types {
		dt := strings.ToLower(t.DatabaseTypeName())
		if u, ok := strings.CutPrefix(dt, "unsigned "); ok {
			dt = u
		}
		cols[i] = ChecksumColumn{Name: t.Name(), DataType: dt, ColumnType: dt, Digest: dt == "text" || dt == "blob"}
	}
	return ChecksumPieces(cols)
}

// checkSession makes sure the session's time zone is UTC once per side:
// TIMESTAMP values print in the session's zone, so two sides in different
// zones would never agree.
func (s *ChecksumSide) checkSession(ctx context.Context) error {
	if s.checked {
		return nil
	}
	var tz string
	if err := s.queryRow(ctx, "SELECT @@session.time_zone", nil, &tz); err != nil {
		return err
	}
	switch tz {
	case "+00:00", "+0:00", "UTC":
	default:
		return fmt.Errorf("the session's time zone is %q: checksums need '+00:00' (SET time_zone = '+00:00'), or TIMESTAMP values would differ", tz)
	}
	s.checked = true
	return nil
}

func (s *ChecksumSide) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	return queryOne(ctx, s.q, dest, q, args...)
}

// each runs a query and calls f for every row's values.
func (s *ChecksumSide) each(ctx context.Context, q string, args []any, f func(vals []any) error) error {
	if err := s.checkSession(ctx); err != nil {
		return err
	}
	rows, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := f(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// RangeIntegerKey implements dbsync.ChecksumSide.
func (s *ChecksumSide) RangeIntegerKey() bool { return len(s.key) == 1 && s.key[0].Integer() }

// RangeKeyOrder implements dbsync.ChecksumSide: the COLLATION() of each
// key column, read from the statement's metadata (the LEFT JOIN returns one
// row even when there are no rows).
func (s *ChecksumSide) RangeKeyOrder(ctx context.Context) (string, error) {
	q := KeyCollationQuery(s.from, s.key)
	var names []string
	err := s.each(ctx, q, nil, func(v []any) error {
		names = names[:0]
		for _, x := range v {
			names = append(names, asText(x))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read the key's collations: %w", err)
	}
	return strings.Join(names, ","), nil
}

// KeyBounds implements dbsync.ChecksumSide.
func (s *ChecksumSide) KeyBounds(ctx context.Context) (lo, hi dbsync.RangeKey, rows int64, err error) {
	q, err := KeyBoundsQuery(s.from, s.key)
	if err != nil {
		return nil, nil, 0, err
	}
	err = s.each(ctx, q, nil, func(v []any) error {
		if rows, err = asInt64(v[2]); err != nil {
			return err
		}
		if v[0] == nil {
			return nil
		}
		l, err := s.keyValue(0, v[0])
		if err != nil {
			return err
		}
		h, err := s.keyValue(0, v[1])
		lo, hi = dbsync.RangeKey{l}, dbsync.RangeKey{h}
		return err
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read key bounds: %w", err)
	}
	return lo, hi, rows, nil
}

// RangeBoundaries implements dbsync.ChecksumSide: n-1 index walks of
// COUNT(*)/n rows each.
func (s *ChecksumSide) RangeBoundaries(ctx context.Context, n int) ([]dbsync.RangeKey, error) {
	counts, err := s.RangeCounts(ctx, []dbsync.ChecksumRange{{}})
	if err != nil {
		return nil, err
	}
	step := counts[0].Rows / int64(max(n, 1))
	if step < 1 {
		return nil, nil
	}
	var cuts []dbsync.RangeKey
	var after dbsync.RangeKey
	for range n - 1 {
		q, args, err := KeyBoundaryQuery(s.from, s.key, boundValues(after), step)
		if err != nil {
			return nil, err
		}
		var next dbsync.RangeKey
		if err := s.each(ctx, q, args, func(v []any) error {
			k, err := s.keyOf(v)
			next = k
			return err
		}); err != nil {
			return nil, fmt.Errorf("walk the key index: %w", err)
		}
		if next == nil {
			break
		}
		cuts = append(cuts, next)
		after = next
	}
	return cuts, nil
}

func toRanges(rs []dbsync.ChecksumRange) []ChecksumKeyRange {
	out := make([]ChecksumKeyRange, len(rs))
	for i, r := range rs {
		out[i] = keyRange(r)
	}
	return out
}

func keyRange(r dbsync.ChecksumRange) ChecksumKeyRange {
	return ChecksumKeyRange{Lo: boundValues(r.Lo), Hi: boundValues(r.Hi)}
}

// boundValues is a key as the builders' bound values (nil stays nil: an
// open end).
func boundValues(k dbsync.RangeKey) []any {
	if k == nil {
		return nil
	}
	out := make([]any, len(k))
	for i, v := range k {
		switch v.Kind {
		case dbsync.RangeInt:
			out[i] = v.Int
		case dbsync.RangeUint:
			out[i] = v.Uint
		default:
			out[i] = v.Bytes
		}
	}
	return out
}

// RangeCounts implements dbsync.ChecksumSide.
func (s *ChecksumSide) RangeCounts(ctx context.Context, ranges []dbsync.ChecksumRange) ([]dbsync.RangeCount, error) {
	q, args, err := RangeCountQuery(s.from, s.key, toRanges(ranges))
	if err != nil {
		return nil, err
	}
	out := make([]dbsync.RangeCount, len(ranges))
	err = s.each(ctx, q, args, func(v []any) error {
		i, err := asInt64(v[0])
		if err != nil || i < 0 || int(i) >= len(out) {
			return fmt.Errorf("range number %v: %v", v[0], err)
		}
		if out[i].Rows, err = asInt64(v[1]); err != nil {
			return err
		}
		if v[2] != nil && s.RangeIntegerKey() {
			lo, err := s.keyValue(0, v[2])
			if err != nil {
				return err
			}
			hi, err := s.keyValue(0, v[3])
			if err != nil {
				return err
			}
			out[i].Min, out[i].Max = dbsync.RangeKey{lo}, dbsync.RangeKey{hi}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count key ranges: %w", err)
	}
	return out, nil
}

func sumOf(v []any) (dbsync.RangeSum, error) {
	var s dbsync.RangeSum
	var err error
	if s.Count, err = asInt64(v[0]); err != nil {
		return s, err
	}
	if s.Hashed, err = asInt64(v[1]); err != nil {
		return s, err
	}
	s.Sum1, s.Sum2 = asText(v[2]), asText(v[3])
	return s, nil
}

// RangeChecksums implements dbsync.ChecksumSide.
func (s *ChecksumSide) RangeChecksums(ctx context.Context, ranges []dbsync.ChecksumRange) ([]dbsync.RangeSum, error) {
	q, args, err := RangeChecksumQuery(s.from, s.hash, s.key, toRanges(ranges))
	if err != nil {
		return nil, err
	}
	out := make([]dbsync.RangeSum, len(ranges))
	err = s.each(ctx, q, args, func(v []any) error {
		i, err := asInt64(v[0])
		if err != nil || i < 0 || int(i) >= len(out) {
			return fmt.Errorf("range number %v: %v", v[0], err)
		}
		out[i], err = sumOf(v[1:])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("checksum key ranges: %w", err)
	}
	return out, nil
}

// BucketChecksums implements dbsync.ChecksumSide.
func (s *ChecksumSide) BucketChecksums(ctx context.Context, r dbsync.ChecksumRange, spec dbsync.ChecksumBucketSpec) ([]dbsync.RangeBucketSum, error) {
	q, args, err := BucketChecksumQuery(s.from, s.hash, s.key, keyRange(r), ChecksumBuckets(spec))
	if err != nil {
		return nil, err
	}
	var out []dbsync.RangeBucketSum
	err = s.each(ctx, q, args, func(v []any) error {
		b, err := asInt64(v[0])
		if err != nil {
			return err
		}
		sum, err := sumOf(v[1:])
		out = append(out, dbsync.RangeBucketSum{Bucket: b, Sum: sum})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("checksum buckets: %w", err)
	}
	return out, nil
}

// KeyHashes implements dbsync.ChecksumSide.
func (s *ChecksumSide) KeyHashes(ctx context.Context, r dbsync.ChecksumRange, spec dbsync.ChecksumBucketSpec, buckets []int64) ([]dbsync.RangeKeyHash, error) {
	q, args, err := KeyHashQuery(s.from, s.hash, s.key, keyRange(r), ChecksumBuckets(spec), buckets)
	if err != nil {
		return nil, err
	}
	var out []dbsync.RangeKeyHash
	n := len(s.key)
	err = s.each(ctx, q, args, func(v []any) error {
		k, err := s.keyOf(v[:n])
		if err != nil {
			return err
		}
		var h []byte
		if v[n] != nil {
			h = []byte(asText(v[n]))
		}
		out = append(out, dbsync.RangeKeyHash{Key: k, Hash: h})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read key hashes: %w", err)
	}
	return out, nil
}

// ReadRows implements dbsync.ChecksumSide. A string key under a _ci
// collation also finds keys that only compare equal; those rows are dropped.
func (s *ChecksumSide) ReadRows(ctx context.Context, keys []dbsync.RangeKey) ([]dbsync.RangeRow, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ks := make([][]any, len(keys))
	want := make(map[string]bool, len(keys))
	for i, k := range keys {
		ks[i] = boundValues(k)
		want[keyID(k)] = true
	}
	q, args, err := RowsByKeyQuery(s.from, s.cols, s.key, ks)
	if err != nil {
		return nil, err
	}
	out, err := s.rows(ctx, q, args, func(k dbsync.RangeKey) bool { return want[keyID(k)] })
	if err != nil {
		return nil, fmt.Errorf("read rows by key: %w", err)
	}
	return out, nil
}

// rows runs q (key columns first, then the row's) and returns the rows
// whose key keep accepts, in the order read.
func (s *ChecksumSide) rows(ctx context.Context, q string, args []any, keep func(dbsync.RangeKey) bool) ([]dbsync.RangeRow, error) {
	var out []dbsync.RangeRow
	n := len(s.key)
	err := s.each(ctx, q, args, func(v []any) error {
		k, err := s.keyOf(v[:n])
		if err != nil {
			return err
		}
		if !keep(k) {
			return nil
		}
		vals := make([]dbsync.RangeValue, len(v)-n)
		for i, x := range v[n:] {
			vals[i] = rowValue(s.cols[i], x)
		}
		out = append(out, dbsync.RangeRow{Key: k, Values: vals})
		return nil
	})
	return out, err
}

// ReadRange reads the full rows of one small range in key order by bytes
// (values as ReadRows gives them): for a caller that stages a differing
// range whole.
func (s *ChecksumSide) ReadRange(ctx context.Context, r dbsync.ChecksumRange) ([]dbsync.RangeRow, error) {
	q, args, err := RangeRowsQuery(s.from, s.cols, s.key, keyRange(r))
	if err != nil {
		return nil, err
	}
	out, err := s.rows(ctx, q, args, func(dbsync.RangeKey) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("read a key range's rows: %w", err)
	}
	return out, nil
}

// RangePushdown implements dbsync.ChecksumSide with EXPLAIN (§4).
func (s *ChecksumSide) RangePushdown(ctx context.Context, r dbsync.ChecksumRange, expectedRows int64) (bool, string, error) {
	q, args, err := ExplainRangeQuery(s.from, s.hash, s.key, keyRange(r))
	if err != nil {
		return false, "", err
	}
	plan, err := readExplain(ctx, s.q, q, args...)
	if err != nil {
		return false, "", fmt.Errorf("explain a key range: %w", err)
	}
	whole, reason := RangeScansWhole(plan, expectedRows)
	return !whole, reason, nil
}

// keyOf turns a statement's key outputs into a key.
func (s *ChecksumSide) keyOf(v []any) (dbsync.RangeKey, error) {
	k := make(dbsync.RangeKey, len(v))
	for i := range v {
		x, err := s.keyValue(i, v[i])
		if err != nil {
			return nil, err
		}
		k[i] = x
	}
	return k, nil
}

// keyValue is one key output: a number for an integer key, bytes otherwise.
func (s *ChecksumSide) keyValue(i int, v any) (dbsync.RangeValue, error) {
	if v == nil {
		return dbsync.RangeValue{}, fmt.Errorf("key column %s is NULL", quote(s.key[i].Name))
	}
	if !s.key[i].Integer() {
		return dbsync.RangeValue{Kind: dbsync.RangeBytes, Bytes: []byte(asText(v))}, nil
	}
	x, err := intValue(v)
	if err != nil {
		return x, fmt.Errorf("key column %s: %w", quote(s.key[i].Name), err)
	}
	return x, nil
}

// intValue is an integer as the driver gave it (a number, or its text).
func intValue(v any) (dbsync.RangeValue, error) {
	switch x := v.(type) {
	case int64:
		return dbsync.RangeValue{Kind: dbsync.RangeInt, Int: x}, nil
	case uint64:
		if x <= math.MaxInt64 {
			return dbsync.RangeValue{Kind: dbsync.RangeInt, Int: int64(x)}, nil
		}
		return dbsync.RangeValue{Kind: dbsync.RangeUint, Uint: x}, nil
	}
	t := asText(v)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return dbsync.RangeValue{Kind: dbsync.RangeInt, Int: n}, nil
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return dbsync.RangeValue{}, fmt.Errorf("%q is not an integer", t)
	}
	return dbsync.RangeValue{Kind: dbsync.RangeUint, Uint: n}, nil
}

// keyID is a map key for a key: its values with their lengths.
func keyID(k dbsync.RangeKey) string {
	var b strings.Builder
	for _, v := range k {
		t := v.String()
		b.WriteString(strconv.Itoa(len(t)))
		b.WriteByte(':')
		b.WriteString(t)
	}
	return b.String()
}

// rowValue types a driver value by its column, whichever protocol carried
// it: integers as numbers; FLOAT (read as DOUBLE) and DOUBLE as float64,
// parsed from the server's shortest round-trip text when it came as text;
// everything else as its bytes (time.Time, on a connection with parseTime,
// as its text).
func rowValue(c ChecksumColumn, v any) dbsync.RangeValue {
	if v == nil {
		return dbsync.RangeValue{Null: true}
	}
	switch baseType(c.DataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		if x, err := intValue(v); err == nil {
			return x
		}
	case "float", "double", "real":
		switch x := v.(type) {
		case float64:
			return dbsync.RangeValue{Kind: dbsync.RangeFloat, Float: x}
		case float32:
			return dbsync.RangeValue{Kind: dbsync.RangeFloat, Float: float64(x)}
		}
		if f, err := strconv.ParseFloat(asText(v), 64); err == nil {
			return dbsync.RangeValue{Kind: dbsync.RangeFloat, Float: f}
		}
	}
	if t, ok := v.(time.Time); ok {
		return dbsync.RangeValue{Bytes: []byte(t.Format("2006-01-02 15:04:05.999999999"))}
	}
	return dbsync.RangeValue{Bytes: []byte(asText(v))}
}

func asInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case uint64:
		return int64(x), nil
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("a count of type %T", v)
}

func asText(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// WholeChecksum is the count and checksum of all rows of table (or of
// query): what a table without a key is verified by. The sums are
// order-independent, and a duplicated row counts twice (a BIT_XOR would
// cancel it).
func WholeChecksum(ctx context.Context, q Queryer, table, query string, cols []ChecksumColumn) (dbsync.RangeSum, error) {
	hash, err := RowHashExpr(cols)
	if err != nil {
		return dbsync.RangeSum{}, err
	}
	stmt, _, err := RangeChecksumQuery(ChecksumFrom(table, query), hash, nil, []ChecksumKeyRange{{}})
	if err != nil {
		return dbsync.RangeSum{}, err
	}
	s := &ChecksumSide{q: q}
	var sum dbsync.RangeSum
	err = s.each(ctx, stmt, nil, func(v []any) error {
		sum, err = sumOf(v[1:])
		return err
	})
	if err != nil {
		return dbsync.RangeSum{}, fmt.Errorf("checksum all rows: %w", err)
	}
	return sum, nil
}

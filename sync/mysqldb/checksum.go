package mysqldb

// The SQL text of server-side range checksums (issue 22), built by small pure
// functions apart from where it runs (checksum_side.go), so that every
// statement can be read and tested as text. The design and its measurements
// are bench/studies/checksums-design.md; the section numbers below are its.

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// ChecksumAlias is the alias every checksum statement gives the rows it
// reads: a table or a source query alike is "… AS s".
const ChecksumAlias = "s"

// noMerge is the LIMIT that keeps MariaDB and MySQL from merging the derived
// table of row hashes into the aggregate: merged, the server computes the
// MD5 once per reference, which made the checksum cost 1.7–2× (§2.2).
const noMerge = " LIMIT 18446744073709551615"

// ChecksumColumn is one column of the rows a checksum covers: its name and
// its MySQL type as information_schema.COLUMNS gives it (DATA_TYPE such as
// "varchar", COLUMN_TYPE such as "varchar(100)"), or as the driver names a
// query's column ("VARCHAR", "UNSIGNED BIGINT", "TEXT").
type ChecksumColumn struct {
	Name       string
	DataType   string
	ColumnType string
	// Digest hashes the column on its own with MD5 instead of inlining its
	// bytes: big values (MEDIUM*/LONG* TEXT and BLOB, JSON) would make the
	// row's CONCAT_WS exceed max_allowed_packet, and the server then returns
	// NULL for it (§1.4). ChecksumPieces sets it; AlignChecksumColumns
	// makes both sides agree on it.
	Digest bool
}

// pieceKind is how one column enters the canonical row form.
type pieceKind int

const (
	pieceText    pieceKind = iota // number or temporal text: comma-free
	pieceFloat                    // FLOAT widened to DOUBLE (FLOAT text has 6 digits on MariaDB)
	pieceBit                      // BIT(n) as an unsigned integer
	pieceString                   // character string: length-prefixed utf8mb4 bytes
	pieceBytes                    // binary string: length-prefixed bytes
	pieceDigestS                  // big character string or JSON: MD5 of its utf8mb4 bytes
	pieceDigestB                  // big binary string: MD5 of its bytes
)

// baseType is the lower-case MySQL type name without "unsigned".
func baseType(dataType string) string {
	t := strings.ToLower(strings.TrimSpace(dataType))
	t = strings.TrimPrefix(t, "unsigned ")
	if i := strings.IndexAny(t, "( "); i >= 0 {
		t = t[:i]
	}
	return t
}

func pieceOf(c ChecksumColumn) (pieceKind, error) {
	t := baseType(c.DataType)
	switch t {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year",
		"decimal", "numeric", "double", "real", "date", "datetime", "timestamp", "time":
		return pieceText, nil
	case "float":
		return pieceFloat, nil
	case "bit":
		return pieceBit, nil
	case "char", "varchar", "tinytext", "text", "enum", "set":
		if c.Digest {
			return pieceDigestS, nil
		}
		return pieceString, nil
	case "binary", "varbinary", "tinyblob", "blob":
		if c.Digest {
			return pieceDigestB, nil
		}
		return pieceBytes, nil
	case "mediumtext", "longtext", "json":
		return pieceDigestS, nil
	case "mediumblob", "longblob":
		return pieceDigestB, nil
	}
	return 0, fmt.Errorf("column %s has type %s, which a checksum cannot cover (docs/types.md lists the supported types)", quote(c.Name), c.DataType)
}

// ChecksumPieces validates cols and sets Digest where the canonical form
// hashes a column on its own.
func ChecksumPieces(cols []ChecksumColumn) ([]ChecksumColumn, error) {
	out := make([]ChecksumColumn, len(cols))
	for i, c := range cols {
		k, err := pieceOf(c)
		if err != nil {
			return nil, err
		}
		c.Digest = k == pieceDigestS || k == pieceDigestB
		out[i] = c
	}
	return out, nil
}

// AlignChecksumColumns makes the two sides' column lists hash the same
// canonical form: the same columns in the same order (matched by name,
// case-insensitively), each digested on both sides when either side digests
// it. A source VARCHAR against a target MEDIUMTEXT then still agrees on equal
// values. It returns an error when the column sets differ: the caller
// compares rows instead.
func AlignChecksumColumns(a, b []ChecksumColumn) ([]ChecksumColumn, []ChecksumColumn, error) {
	a, err := ChecksumPieces(a)
	if err != nil {
		return nil, nil, err
	}
	b, err = ChecksumPieces(b)
	if err != nil {
		return nil, nil, err
	}
	if len(a) != len(b) {
		return nil, nil, fmt.Errorf("the source has %d columns and the target %d: checksums need the same columns", len(a), len(b))
	}
	byName := make(map[string]ChecksumColumn, len(b))
	for _, c := range b {
		byName[strings.ToLower(c.Name)] = c
	}
	nb := make([]ChecksumColumn, len(a))
	for i, c := range a {
		o, ok := byName[strings.ToLower(c.Name)]
		if !ok {
			return nil, nil, fmt.Errorf("the target has no column %s: checksums need the same columns", quote(c.Name))
		}
		d := c.Digest || o.Digest
		a[i].Digest, o.Digest = d, d
		nb[i] = o
	}
	return a, nb, nil
}

func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func col(name string) string { return ChecksumAlias + "." + quote(name) }

// RowHashExpr is the canonical row hash (§1, §0.1): 32 hex characters,
//
//	MD5(CONCAT_WS(',', <ISNULL bitmap of every column>, <piece per column>…))
//
// CONCAT_WS skips NULLs, and the leading bitmap says which columns are
// present, so NULL and the empty string differ. Every piece is comma-free (numbers,
// temporals, a hex MD5) or starts with its own byte length, so the form is
// injective. Strings are hashed as their utf8mb4 bytes through CAST(… AS
// BINARY): a _ci collation or PAD SPACE does not hide a case change or a
// trailing space, and no "illegal mix of collations" can arise. The same
// values give the same text on both servers whatever each column's charset.
func RowHashExpr(cols []ChecksumColumn) (string, error) {
	if len(cols) == 0 {
		return "", errors.New("a row hash needs at least one column")
	}
	bitmap := make([]string, len(cols))
	pieces := make([]string, len(cols))
	for i, c := range cols {
		k, err := pieceOf(c)
		if err != nil {
			return "", err
		}
		q := col(c.Name)
		bitmap[i] = "ISNULL(" + q + ")"
		switch k {
		case pieceText:
			pieces[i] = q
		case pieceFloat:
			pieces[i] = "CAST(" + q + " AS DOUBLE)"
		case pieceBit:
			pieces[i] = "CAST(" + q + " AS UNSIGNED)"
		case pieceString:
			b := "CAST(CONVERT(" + q + " USING utf8mb4) AS BINARY)"
			pieces[i] = "CONCAT(LENGTH(" + b + "),':'," + b + ")"
		case pieceBytes:
			pieces[i] = "CONCAT(LENGTH(" + q + "),':'," + q + ")"
		case pieceDigestS:
			pieces[i] = "MD5(CONVERT(" + q + " USING utf8mb4))"
		case pieceDigestB:
			pieces[i] = "MD5(" + q + ")"
		}
	}
	return "MD5(CONCAT_WS(',',CONCAT(" + strings.Join(bitmap, ",") + ")," + strings.Join(pieces, ",") + "))", nil
}

// sums is the aggregate of row hashes h (§2.1): the row count, the count of
// non-NULL hashes (COUNT(h) < COUNT(*) means a row's CONCAT was NULL, so the
// range cannot be trusted and is read), and the sums of both 64-bit halves of
// the MD5, summed exactly as DECIMAL: a SUM, not a BIT_XOR, so equal changes
// on two rows do not cancel. Without the CAST the SUM would be a DOUBLE.
const sums = "COUNT(*),COUNT(h)," +
	"IFNULL(SUM(CAST(CONV(SUBSTRING(h,1,16),16,10) AS UNSIGNED)),0)," +
	"IFNULL(SUM(CAST(CONV(SUBSTRING(h,17,16),16,10) AS UNSIGNED)),0)"

// ChecksumKeyPart is one column of the key the ranges are taken on.
type ChecksumKeyPart struct {
	Name     string
	DataType string // as in ChecksumColumn
}

// Integer says the key column is an integer (or YEAR): its ranges and
// buckets are taken by arithmetic.
func (k ChecksumKeyPart) Integer() bool {
	switch baseType(k.DataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return true
	}
	return false
}

// textual: a character-string key, bound as a string (so its index is used
// under its collation) and read as its utf8mb4 bytes.
func (k ChecksumKeyPart) textual() bool {
	switch baseType(k.DataType) {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return true
	}
	return false
}

func (k ChecksumKeyPart) binary() bool {
	switch baseType(k.DataType) {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return true
	}
	return false
}

// KeyOutputExpr is what a statement selects for a key column: integers as
// numbers, everything else as bytes (strings as their utf8mb4 bytes), which
// the compare orders by bytes, as the merge does.
func KeyOutputExpr(k ChecksumKeyPart) string {
	q := col(k.Name)
	switch {
	case k.Integer(), k.binary():
		return q
	case k.textual():
		return "CAST(CONVERT(" + q + " USING utf8mb4) AS BINARY)"
	}
	return "CAST(" + q + " AS BINARY)"
}

// ChecksumKeyRange is a half-open key range [Lo, Hi): one value per key
// column, nil for an open end. Values are int64, uint64, string or []byte.
type ChecksumKeyRange struct {
	Lo, Hi []any
}

// literal renders an integer inline (no prepared statement is needed, which
// costs 3 round trips, §2.1) and anything else as a placeholder.
func literal(k ChecksumKeyPart, v any, args *[]any) (string, error) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case []byte:
		if k.textual() {
			*args = append(*args, string(x)) // compared under the column's collation: its index is used
		} else {
			*args = append(*args, x)
		}
		return "?", nil
	case string:
		*args = append(*args, x)
		return "?", nil
	}
	return "", fmt.Errorf("key %s: a bound of type %T", quote(k.Name), v)
}

// boundPred is the expanded form of (k1,…,kn) >= (v1,…,vn) (ge) or
// (k1,…,kn) < (v1,…,vn): MariaDB uses no index for a row constructor
// inequality, but does for k1 > v1 OR (k1 = v1 AND …) (§2.4).
func boundPred(key []ChecksumKeyPart, vals []any, ge bool, args *[]any) (string, error) {
	if len(vals) != len(key) {
		return "", fmt.Errorf("a bound of %d values for a key of %d columns", len(vals), len(key))
	}
	last := "<"
	if ge {
		last = ">="
	}
	strict := "<"
	if ge {
		strict = ">"
	}
	var build func(i int) (string, error)
	build = func(i int) (string, error) {
		q := col(key[i].Name)
		if i == len(key)-1 {
			l, err := literal(key[i], vals[i], args)
			return q + " " + last + " " + l, err
		}
		l1, err := literal(key[i], vals[i], args)
		if err != nil {
			return "", err
		}
		l2, _ := literal(key[i], vals[i], args)
		rest, err := build(i + 1)
		if err != nil {
			return "", err
		}
		return "(" + q + " " + strict + " " + l1 + " OR (" + q + " = " + l2 + " AND " + rest + "))", nil
	}
	return build(0)
}

// RangePredicate is the WHERE condition of r ("1=1" for a range open at
// both ends) and its placeholder values.
func RangePredicate(key []ChecksumKeyPart, r ChecksumKeyRange) (string, []any, error) {
	var args []any
	var parts []string
	if r.Lo != nil {
		p, err := boundPred(key, r.Lo, true, &args)
		if err != nil {
			return "", nil, err
		}
		parts = append(parts, p)
	}
	if r.Hi != nil {
		p, err := boundPred(key, r.Hi, false, &args)
		if err != nil {
			return "", nil, err
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "1=1", nil, nil
	}
	return strings.Join(parts, " AND "), args, nil
}

// ChecksumFrom is the FROM clause of every checksum statement: a table, or a
// source query as a derived table (MariaDB pushes a range predicate into it
// when it can, §4).
func ChecksumFrom(table, query string) string {
	if query != "" {
		return "(" + query + ") AS " + ChecksumAlias
	}
	return quote(table) + " AS " + ChecksumAlias
}

// RangeChecksumQuery is one statement that checksums several ranges: one
// result row per range, (range index, count, count of hashes, sum1, sum2),
// as a UNION ALL of one aggregate per range, so each range keeps its own
// index range read.
func RangeChecksumQuery(from, rowHash string, key []ChecksumKeyPart, ranges []ChecksumKeyRange) (string, []any, error) {
	if len(ranges) == 0 {
		return "", nil, errors.New("no ranges to checksum")
	}
	return unionOfRanges(key, ranges, func(i, p string) string {
		return "SELECT " + i + "," + sums + " FROM (SELECT " + rowHash + " AS h FROM " + from + " WHERE " + p + noMerge + ") AS q"
	})
}

// unionOfRanges is one SELECT per range, built by part from the range's
// index and its predicate, joined by UNION ALL, with the predicates'
// arguments in order.
func unionOfRanges(key []ChecksumKeyPart, ranges []ChecksumKeyRange, part func(i, predicate string) string) (string, []any, error) {
	var args []any
	parts := make([]string, len(ranges))
	for i, r := range ranges {
		p, a, err := RangePredicate(key, r)
		if err != nil {
			return "", nil, err
		}
		args = append(args, a...)
		parts[i] = part(strconv.Itoa(i), p)
	}
	return strings.Join(parts, " UNION ALL "), args, nil
}

// RangeCountQuery counts the rows of each range in one statement: one
// result row per range, (range index, count, MIN(key), MAX(key)), the MIN
// and MAX only for a one-column integer key (NULL otherwise). It reads only
// the key index, so it is cheap; it sizes the buckets where the keys
// actually are, so large gaps in the key space make no wide buckets.
func RangeCountQuery(from string, key []ChecksumKeyPart, ranges []ChecksumKeyRange) (string, []any, error) {
	if len(ranges) == 0 {
		return "", nil, errors.New("no ranges to count")
	}
	minMax := ",NULL,NULL"
	if len(key) == 1 && key[0].Integer() {
		minMax = ",MIN(" + col(key[0].Name) + "),MAX(" + col(key[0].Name) + ")"
	}
	return unionOfRanges(key, ranges, func(i, p string) string {
		return "SELECT " + i + ",COUNT(*)" + minMax + " FROM " + from + " WHERE " + p
	})
}

// ChecksumBuckets says how a range is cut into buckets. The bucket of a row
// depends only on its key, so the same row is in the same bucket on both
// sides whatever other rows exist (row-number buckets would shift after one
// insert, §3.2 pitfall 22).
type ChecksumBuckets struct {
	// Width > 0: an integer key's bucket is key DIV Width.
	Width int64
	// Modulus > 0 (other keys): CRC32 of the key's bytes % Modulus. CRC32
	// only groups rows; the compare is still the 128-bit row hash.
	Modulus int64
}

// BucketExpr is the bucket number of a row.
func BucketExpr(key []ChecksumKeyPart, b ChecksumBuckets) (string, error) {
	switch {
	case b.Width > 0:
		if len(key) != 1 || !key[0].Integer() {
			return "", errors.New("width buckets need a one-column integer key")
		}
		return col(key[0].Name) + " DIV " + strconv.FormatInt(b.Width, 10), nil
	case b.Modulus > 0:
		if len(key) == 1 {
			return "CRC32(" + KeyOutputExpr(key[0]) + ") % " + strconv.FormatInt(b.Modulus, 10), nil
		}
		parts := make([]string, 0, 2*len(key))
		for _, k := range key {
			e := KeyOutputExpr(k)
			parts = append(parts, "LENGTH("+e+")", e)
		}
		return "CRC32(CONCAT_WS(','," + strings.Join(parts, ",") + ")) % " + strconv.FormatInt(b.Modulus, 10), nil
	}
	return "", errors.New("a bucket spec needs a width or a modulus")
}

// BucketChecksumQuery checksums every bucket of one range in one statement
// (§3.2): result rows (bucket, count, count of hashes, sum1, sum2), only for
// buckets that hold rows, so large key gaps cost nothing.
func BucketChecksumQuery(from, rowHash string, key []ChecksumKeyPart, r ChecksumKeyRange, b ChecksumBuckets) (string, []any, error) {
	p, args, err := RangePredicate(key, r)
	if err != nil {
		return "", nil, err
	}
	be, err := BucketExpr(key, b)
	if err != nil {
		return "", nil, err
	}
	return "SELECT b," + sums + " FROM (SELECT " + be + " AS b," + rowHash + " AS h FROM " + from + " WHERE " + p + noMerge + ") AS q GROUP BY b", args, nil
}

// KeyHashQuery reads key + 16-byte row hash (NULL when the row's CONCAT was
// NULL) of the rows of some buckets of one range (all its rows when buckets
// is empty). The bucket is selected by the same expression the bucket
// checksum used, inside the same range, so the rows are exactly the ones the
// bucket sums covered.
func KeyHashQuery(from, rowHash string, key []ChecksumKeyPart, r ChecksumKeyRange, b ChecksumBuckets, buckets []int64) (string, []any, error) {
	p, args, err := RangePredicate(key, r)
	if err != nil {
		return "", nil, err
	}
	if len(buckets) == 0 {
		return "SELECT " + keyOutputs(key) + ",UNHEX(" + rowHash + ") FROM " + from + " WHERE " + p, args, nil
	}
	be, err := BucketExpr(key, b)
	if err != nil {
		return "", nil, err
	}
	in := make([]string, len(buckets))
	for i, n := range buckets {
		in[i] = strconv.FormatInt(n, 10)
	}
	// The key ranges of width buckets, which say the same as the bucket
	// numbers but let the server read them by the key's index instead of
	// scanning the whole range.
	spans := ""
	if b.Width > 0 {
		spans = " AND (" + bucketSpans(col(key[0].Name), b.Width, buckets) + ")"
	}
	return "SELECT " + keyOutputs(key) + ",UNHEX(" + rowHash + ") FROM " + from + " WHERE " + p + spans + " AND " + be + " IN (" + strings.Join(in, ",") + ")", args, nil
}

// bucketSpans is the key condition of some buckets of key DIV w, merged
// where they touch. DIV truncates toward zero, so bucket b > 0 holds
// [b·w, (b+1)·w), b < 0 holds [b·w-w+1, b·w+1), and bucket 0 (-w, w).
func bucketSpans(q string, w int64, buckets []int64) string {
	bw := big.NewInt(w)
	one := big.NewInt(1)
	span := func(b int64) (lo, hi *big.Int) {
		bb := new(big.Int).Mul(big.NewInt(b), bw)
		switch {
		case b > 0:
			return bb, new(big.Int).Add(bb, bw)
		case b < 0:
			return new(big.Int).Add(new(big.Int).Sub(bb, bw), one), new(big.Int).Add(bb, one)
		}
		return new(big.Int).Add(new(big.Int).Neg(bw), one), new(big.Int).Set(bw)
	}
	sorted := slices.Clone(buckets)
	slices.Sort(sorted)
	var parts []string
	var lo, hi *big.Int
	flush := func() {
		if lo != nil {
			parts = append(parts, q+" >= "+lo.String()+" AND "+q+" < "+hi.String())
		}
	}
	for _, b := range sorted {
		l, h := span(b)
		if hi != nil && l.Cmp(hi) <= 0 {
			if h.Cmp(hi) > 0 {
				hi = h
			}
			continue
		}
		flush()
		lo, hi = l, h
	}
	flush()
	return "(" + strings.Join(parts, ") OR (") + ")"
}

func keyOutputs(key []ChecksumKeyPart) string {
	out := make([]string, len(key))
	for i, k := range key {
		out[i] = KeyOutputExpr(k)
	}
	return strings.Join(out, ",")
}

func keyOrder(key []ChecksumKeyPart) string {
	out := make([]string, len(key))
	for i, k := range key {
		out[i] = col(k.Name)
	}
	return strings.Join(out, ",")
}

// KeyCollationQuery reads the collation of each key column (binary for
// numbers), one row even when there are no rows.
func KeyCollationQuery(from string, key []ChecksumKeyPart) string {
	out := make([]string, len(key))
	for i, k := range key {
		out[i] = "COLLATION(" + col(k.Name) + ")"
	}
	return "SELECT " + strings.Join(out, ",") + " FROM (SELECT 1) AS one LEFT JOIN " + from + " ON 1=1 LIMIT 1"
}

// KeyBoundsQuery reads MIN, MAX and COUNT(*) of a one-column integer key:
// the top ranges are cut from them by arithmetic (0.04 s for 1 M rows, §3.1).
func KeyBoundsQuery(from string, key []ChecksumKeyPart) (string, error) {
	if len(key) != 1 || !key[0].Integer() {
		return "", errors.New("key bounds need a one-column integer key")
	}
	q := col(key[0].Name)
	return "SELECT MIN(" + q + "),MAX(" + q + "),COUNT(*) FROM " + from, nil
}

// KeyBoundaryQuery finds the next top-range boundary of any key by walking
// its index: the key of the row step rows after after (or after the first
// row, when after is nil), in the key's index order. Together the walks read
// the index once (§3.1).
func KeyBoundaryQuery(from string, key []ChecksumKeyPart, after []any, step int64) (string, []any, error) {
	if step < 1 {
		return "", nil, errors.New("a boundary step must be at least 1")
	}
	where, args := "", []any(nil)
	if after != nil {
		p, a, err := RangePredicate(key, ChecksumKeyRange{Lo: after})
		if err != nil {
			return "", nil, err
		}
		where, args = " WHERE "+p, a
	}
	return "SELECT " + keyOutputs(key) + " FROM " + from + where + " ORDER BY " + keyOrder(key) + " LIMIT 1 OFFSET " + strconv.FormatInt(step, 10), args, nil
}

// RowSelect is the select list of a full-row read: every column, FLOAT as
// DOUBLE (the text protocol prints FLOAT rounded to 6 digits), preceded by
// the key outputs so that each row is matched to its key by bytes.
func RowSelect(cols []ChecksumColumn, key []ChecksumKeyPart) string {
	out := make([]string, 0, len(cols)+len(key))
	out = append(out, keyOutputs(key))
	for _, c := range cols {
		q := col(c.Name)
		if baseType(c.DataType) == "float" {
			q = "CAST(" + q + " AS DOUBLE)"
		}
		out = append(out, q)
	}
	return strings.Join(out, ",")
}

// RangeRowsQuery reads the full rows of one small range in key order by
// bytes (numbers by value, strings by their utf8mb4 bytes), the order the
// merge compares in, whatever the key's collation.
func RangeRowsQuery(from string, cols []ChecksumColumn, key []ChecksumKeyPart, r ChecksumKeyRange) (string, []any, error) {
	p, args, err := RangePredicate(key, r)
	if err != nil {
		return "", nil, err
	}
	return "SELECT " + RowSelect(cols, key) + " FROM " + from + " WHERE " + p + " ORDER BY " + keyOutputs(key), args, nil
}

// RowsByKeyQuery reads the full rows of some keys. A string key under a _ci
// collation also matches other keys that compare equal (case): the reader
// keeps only the rows whose key bytes match.
func RowsByKeyQuery(from string, cols []ChecksumColumn, key []ChecksumKeyPart, keys [][]any) (string, []any, error) {
	if len(keys) == 0 {
		return "", nil, errors.New("no keys to read")
	}
	var args []any
	var where string
	if len(key) == 1 {
		in := make([]string, len(keys))
		for i, k := range keys {
			if len(k) != 1 {
				return "", nil, fmt.Errorf("a key of %d values for a key of 1 column", len(k))
			}
			l, err := literal(key[0], k[0], &args)
			if err != nil {
				return "", nil, err
			}
			in[i] = l
		}
		where = col(key[0].Name) + " IN (" + strings.Join(in, ",") + ")"
	} else {
		ors := make([]string, len(keys))
		for i, k := range keys {
			if len(k) != len(key) {
				return "", nil, fmt.Errorf("a key of %d values for a key of %d columns", len(k), len(key))
			}
			ands := make([]string, len(key))
			for j, part := range key {
				l, err := literal(part, k[j], &args)
				if err != nil {
					return "", nil, err
				}
				ands[j] = col(part.Name) + " = " + l
			}
			ors[i] = "(" + strings.Join(ands, " AND ") + ")"
		}
		where = strings.Join(ors, " OR ")
	}
	return "SELECT " + RowSelect(cols, key) + " FROM " + from + " WHERE " + where, args, nil
}

// ExplainRangeQuery is the statement whose EXPLAIN says whether a range
// predicate reaches an index of the rows under a source query (§4): the
// row hashes of one range.
func ExplainRangeQuery(from, rowHash string, key []ChecksumKeyPart, r ChecksumKeyRange) (string, []any, error) {
	p, args, err := RangePredicate(key, r)
	if err != nil {
		return "", nil, err
	}
	return "EXPLAIN SELECT " + rowHash + " FROM " + from + " WHERE " + p, args, nil
}

// RangeScansWhole says whether an EXPLAIN plan reads a whole base table (or
// its whole index) for one range, which then costs a full scan per range:
// a view or join the range predicate cannot reach (a computed key, a LIMIT,
// a window function, §4). A small table scanned whole (a join's lookup
// table) is not that: only a scan above max(4 × the range's expected rows,
// 10,000) counts. It returns a reason for the report.
func RangeScansWhole(plan []ExplainRow, expectedRows int64) (bool, string) {
	limit := max(4*expectedRows, 10000)
	for _, r := range plan {
		if strings.HasPrefix(r.Table, "<") { // <derivedN>, <unionN,M>, <subqueryN>: not a base table
			continue
		}
		if (r.Type == "ALL" || r.Type == "index") && r.Rows > limit {
			return true, fmt.Sprintf("a key range reads all of %s (type %s, about %d rows): the source query cannot take a range predicate", r.Table, r.Type, r.Rows)
		}
	}
	return false, ""
}

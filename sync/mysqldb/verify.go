package mysqldb

// What compare = checksums and handler verify need of the MySQL backend
// (issue 22): the two checksum sides of a table (the source query in the
// run's snapshot, the target table), reads of only some keys' rows on
// both sides, and a read-only probe of the run locks.

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

// CanChecksum implements dbsync.Merger: each MySQL server checksums its
// key ranges.
func (t *Target) CanChecksum() bool { return true }

// sides finds the backend's own session behind the core's interface: a
// checksum compare runs SQL on both the primary and the target.
func (t *Target) sides(s dbsync.Session) (*Session, *Target, error) {
	ss, ok := s.(*Session)
	if !ok {
		return nil, nil, dbsync.NotPushable("the source is not the MySQL primary")
	}
	if t.db == nil {
		return nil, nil, errors.New("the target is not connected")
	}
	return ss, t, nil
}

// describeBoth reads the columns of the source query (in the snapshot) and
// of the target table, aligned to hash the same canonical form.
func describeBoth(ctx context.Context, ss *Session, q string, tt *Target, table string) (src, dst []ChecksumColumn, err error) {
	src, err = DescribeQuery(ctx, ss.conn, dbsync.TrimQuery(q))
	if err != nil {
		return nil, nil, dbsync.AsSourceError(err)
	}
	dst, err = DescribeTable(ctx, tt.db, tt.stored(table))
	if err != nil {
		return nil, nil, fmt.Errorf("target: %w", err)
	}
	src, dst, err = AlignChecksumColumns(src, dst)
	if err != nil {
		// Columns that differ (a target column the source lacks) cannot
		// hash alike: the rows compare handles them as a merge does.
		return nil, nil, dbsync.NotPushable(err.Error())
	}
	return src, dst, nil
}

// ChecksumSides implements dbsync.Merger: the source side reads
// on the session's one connection, inside its snapshot; the target side
// reads the table through the target's pool.
func (t *Target) ChecksumSides(ctx context.Context, s dbsync.Session, q, table string, key []dbsync.KeyColumn) (dbsync.ChecksumSide, dbsync.ChecksumSide, error) {
	ss, tt, err := t.sides(s)
	if err != nil {
		return nil, nil, err
	}
	scols, dcols, err := describeBoth(ctx, ss, q, tt, table)
	if err != nil {
		return nil, nil, err
	}
	names := dbsync.KeyNames(key)
	src, err := NewChecksumSide(ss.conn, "", dbsync.TrimQuery(q), scols, names)
	if err != nil {
		return nil, nil, dbsync.NotPushable(err.Error())
	}
	dst, err := NewChecksumSide(tt.db, tt.stored(table), "", dcols, names)
	if err != nil {
		return nil, nil, dbsync.NotPushable(err.Error())
	}
	return src, dst, nil
}

// WholeSums implements dbsync.Merger for a table without a key.
func (t *Target) WholeSums(ctx context.Context, s dbsync.Session, q, table string) (src, dst dbsync.RangeSum, err error) {
	ss, tt, err := t.sides(s)
	if err != nil {
		return src, dst, err
	}
	scols, dcols, err := describeBoth(ctx, ss, q, tt, table)
	if err != nil {
		return src, dst, err
	}
	if src, err = WholeChecksum(ctx, ss.conn, "", dbsync.TrimQuery(q), scols); err != nil {
		return src, dst, dbsync.AsSourceError(fmt.Errorf("source: %w", err))
	}
	if dst, err = WholeChecksum(ctx, tt.db, tt.stored(table), "", dcols); err != nil {
		return src, dst, fmt.Errorf("target: %w", err)
	}
	return src, dst, nil
}

// rangeKeyLiteral is one key value as SQL text: integers as numbers, anything
// else as a hex literal with the utf8mb4 introducer, which takes the
// column's collation (so the key's index is used). Under a _ci collation
// it also matches keys that differ in case: the core keeps only the rows
// whose key bytes match (keyedRows in the core).
func rangeKeyLiteral(k dbsync.KeyColumn, v dbsync.RangeValue) (string, error) {
	switch {
	case v.Null:
		return "", fmt.Errorf("key column %s is NULL", dbsync.QuoteMySQL(k.Name))
	case v.Kind == dbsync.RangeInt:
		return strconv.FormatInt(v.Int, 10), nil
	case v.Kind == dbsync.RangeUint:
		return strconv.FormatUint(v.Uint, 10), nil
	case v.Kind == dbsync.RangeBytes:
		if len(v.Bytes) == 0 {
			return "_utf8mb4''", nil
		}
		return "_utf8mb4 X'" + hex.EncodeToString(v.Bytes) + "'", nil
	}
	return "", fmt.Errorf("key column %s: a value of kind %d", dbsync.QuoteMySQL(k.Name), v.Kind)
}

// keysPredicate is the WHERE condition that selects keys, on columns
// qualified by alias: k IN (…) for one column, an OR of ANDs for several
// (MariaDB uses no index for a row constructor IN).
func keysPredicate(alias string, key []dbsync.KeyColumn, keys []dbsync.RangeKey) (string, error) {
	if len(keys) == 0 {
		return "", errors.New("no keys to read")
	}
	colName := func(k dbsync.KeyColumn) string { return alias + "." + dbsync.QuoteMySQL(k.Name) }
	if len(key) == 1 {
		in := make([]string, len(keys))
		for i, k := range keys {
			l, err := rangeKeyLiteral(key[0], k[0])
			if err != nil {
				return "", err
			}
			in[i] = l
		}
		return colName(key[0]) + " IN (" + strings.Join(in, ",") + ")", nil
	}
	ors := make([]string, len(keys))
	for i, k := range keys {
		if len(k) != len(key) {
			return "", fmt.Errorf("a key of %d values for a key of %d columns", len(k), len(key))
		}
		ands := make([]string, len(key))
		for j, part := range key {
			l, err := rangeKeyLiteral(part, k[j])
			if err != nil {
				return "", err
			}
			ands[j] = colName(part) + " = " + l
		}
		ors[i] = "(" + strings.Join(ands, " AND ") + ")"
	}
	return strings.Join(ors, " OR "), nil
}

// QueryKeys implements dbsync.Session: q's rows of keys, ordered by
// key, in the session's snapshot and with the protocol Query picks, so
// that they are the very cells a full read would have delivered.
func (s *Session) QueryKeys(ctx context.Context, q, what string, key []dbsync.KeyColumn, keys []dbsync.RangeKey) (dbsync.SourceRows, error) {
	where, err := keysPredicate("`dbsync_k`", key, keys)
	if err != nil {
		return nil, err
	}
	filtered := "SELECT * FROM (\n" + dbsync.TrimQuery(q) + "\n) AS `dbsync_k` WHERE " + where
	return s.Query(ctx, orderedQuery(filtered, key), what)
}

// PrepareKeys implements dbsync.TableMerge: Prepare's plan, without the
// full read; ReadKeys then reads the rows of some keys.
func (m *tableMerge) PrepareKeys(ctx context.Context, p dbsync.MergePlan) error {
	m.cols, m.key, m.keyPos = make([]mergeColumn, len(p.Order)), p.Key, p.KeyPos
	for i, o := range p.Order {
		m.cols[i] = m.existing[o]
		if n := strings.ToLower(m.cols[i].Name); n == "dbsync_op" || n == "dbsync_seq" {
			return fmt.Errorf("merge %s: column %s has a name the merge's delta table uses itself; rename it in the query", dbsync.QuoteMySQL(m.table), dbsync.QuoteMySQL(m.cols[i].Name))
		}
	}
	m.equal = rowsEqual(m.cols)
	m.binary = p.Binary
	return nil
}

// ReadKeys implements dbsync.TableMerge: the target's rows of keys, ordered
// by key and read like Prepare's full read.
func (m *tableMerge) ReadKeys(ctx context.Context, keys []dbsync.RangeKey) (dbsync.RowReader, error) {
	where, err := keysPredicate(dbsync.QuoteMySQL(m.table), m.key, keys)
	if err != nil {
		return nil, err
	}
	return m.t.openTableReaderWhere(ctx, m.table, m.cols, m.key, m.binary, where)
}

// BeginRead implements dbsync.TargetDB: verify reads the target through
// the pool, one statement at a time, like any reader; nothing to begin.
func (t *Target) BeginRead(context.Context) error { return nil }

// RunLocked implements dbsync.TargetDB: whether a run holds the lock of
// any of tables. IS_USED_LOCK only reads: it never takes the lock, so a
// run never waits on verify.
func (t *Target) RunLocked(ctx context.Context, tables []string) (bool, error) {
	for _, table := range tables {
		var holder sql.NullInt64
		if err := t.db.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", t.lockName(table)).Scan(&holder); err != nil {
			return false, fmt.Errorf("read the run lock of %s: %w", dbsync.QuoteMySQL(table), err)
		}
		if holder.Valid {
			return true, nil
		}
	}
	return false, nil
}

package sqlitedb

// The SQLite target's part of mode = incremental (dbsync.IncrementalTarget,
// dbsync.KeyedMerge): rows and keys read by key, the delete detection's
// target side, and the watermark written in the run's one transaction. The
// fallback source has no incremental read: a run that reads it reads every
// incremental table in full.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

var _ dbsync.IncrementalTarget = (*Target)(nil)

// Incremental: the fallback has no watermark of its own to read by; a run
// that reads it reads every incremental table in full.
func (s *Session) Incremental() (dbsync.IncrementalSession, bool) { return nil, false }

// watermarkRow is one incremental table's new watermark.
// SetWatermark queues table's watermark for the run's transaction.
func (t *Target) SetWatermark(table, watermark, basis string) {
	t.watermarks.Set(table, watermark, basis)
}

// keyArgs is the condition selecting keys and its arguments: "k" IN (?, …)
// or ("a", "b") IN (VALUES (?, ?), …); SQLite applies the columns'
// affinity to the text arguments.
func keyArgs(names []string, blob []bool, keys [][][]byte) (string, []any, error) {
	var args []any
	tuples := make([]string, len(keys))
	for i, k := range keys {
		if len(k) != len(names) {
			return "", nil, fmt.Errorf("a key of %d columns, want %d", len(k), len(names))
		}
		for j, v := range k {
			if blob[j] {
				args = append(args, append([]byte{}, v...))
			} else {
				args = append(args, string(v))
			}
		}
		tuples[i] = "?" + strings.Repeat(", ?", len(k)-1)
		if len(names) > 1 {
			tuples[i] = "(" + tuples[i] + ")"
		}
	}
	if len(names) == 1 {
		return names[0] + " IN (" + strings.Join(tuples, ", ") + ")", args, nil
	}
	return "(" + strings.Join(names, ", ") + ") IN (VALUES " + strings.Join(tuples, ", ") + ")", args, nil
}

// keyNames are the quoted names of key and whether each is a BLOB column of
// table.
func (t *Target) keyNames(ctx context.Context, table string, key []dbsync.KeyColumn) ([]string, []bool, error) {
	cols, _, err := t.columns(ctx, t.reader(), table)
	if err != nil {
		return nil, nil, fmt.Errorf("read columns of %s: %w", quote(table), explainError(err))
	}
	return keyNamesOf(cols, key, table)
}

func keyNamesOf(cols []dbsync.TargetColumn, key []dbsync.KeyColumn, table string) ([]string, []bool, error) {
	names, blob := make([]string, len(key)), make([]bool, len(key))
	for i, k := range key {
		found := false
		for _, c := range cols {
			if strings.EqualFold(c.Name, k.Name) {
				names[i], blob[i], found = quote(c.Name), strings.Contains(c.DataType, "blob"), true
			}
		}
		if !found {
			return nil, nil, fmt.Errorf("table %s has no key column %s", quote(table), quote(k.Name))
		}
	}
	return names, blob, nil
}

// KeysPresent returns those of keys that table holds, printed as the merge
// reader prints them.
func (t *Target) KeysPresent(ctx context.Context, table string, key []dbsync.KeyColumn, keys [][][]byte) ([][][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	names, blob, err := t.keyNames(ctx, table, key)
	if err != nil {
		return nil, err
	}
	var out [][][]byte
	for i := 0; i < len(keys); i += dbsync.KeyChunk {
		where, args, err := keyArgs(names, blob, keys[i:min(i+dbsync.KeyChunk, len(keys))])
		if err != nil {
			return nil, err
		}
		got, err := t.readKeys(ctx, len(names), "SELECT "+strings.Join(names, ", ")+" FROM "+quote(table)+" WHERE "+where, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// readKeys reads rows of key cells, printed as the merge reader prints
// values.
func (t *Target) readKeys(ctx context.Context, width int, q string, args ...any) ([][][]byte, error) {
	rows, err := t.reader().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, explainError(err)
	}
	defer rows.Close()
	r := newTableReader(rows, width)
	var out [][][]byte
	for r.Next() {
		k := make([][]byte, width)
		for i, c := range r.Values() {
			k[i] = append([]byte{}, c...)
		}
		out = append(out, k)
	}
	return out, r.Err()
}

// TargetBucketSide is table's side of the delete detection.
func (t *Target) TargetBucketSide(table string, key []dbsync.KeyColumn) dbsync.BucketSide {
	return bucketSide{t: t, table: table, key: key}
}

// IntKeyRange is the smallest and largest key of table.
func (t *Target) IntKeyRange(ctx context.Context, table, key string) (lo, hi int64, ok bool, err error) {
	var a, b sql.NullInt64
	rows, err := t.reader().QueryContext(ctx, "SELECT MIN("+quote(key)+"), MAX("+quote(key)+") FROM "+quote(table))
	if err != nil {
		return 0, 0, false, explainError(err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&a, &b); err != nil {
			return 0, 0, false, err
		}
	}
	return a.Int64, b.Int64, a.Valid && b.Valid, rows.Err()
}

type bucketSide struct {
	t     *Target
	table string
	key   []dbsync.KeyColumn
}

func (b bucketSide) BucketTotal(ctx context.Context) (int64, error) {
	var n int64
	rows, err := b.t.reader().QueryContext(ctx, "SELECT COUNT(*) FROM "+quote(b.table))
	if err != nil {
		return 0, explainError(err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

func (b bucketSide) BucketCounts(ctx context.Context, p dbsync.BucketPlan) ([]int64, error) {
	if !p.Integer || p.Len <= 1 {
		n, err := b.BucketTotal(ctx)
		return []int64{n}, err
	}
	k := quote(b.key[0].Name)
	rows, err := b.t.reader().QueryContext(ctx, "SELECT CASE WHEN "+k+" < ? THEN 0 WHEN "+k+" >= ? THEN ? ELSE ("+k+" - ?) / ? END AS \"dbsync_b\", COUNT(*) FROM "+
		quote(b.table)+" GROUP BY \"dbsync_b\"", p.Lo, p.Top(), p.Len-1, p.Lo, p.Width)
	if err != nil {
		return nil, explainError(err)
	}
	defer rows.Close()
	out := make([]int64, p.Len)
	for rows.Next() {
		var i, n int64
		if err := rows.Scan(&i, &n); err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(p.Len) {
			return nil, fmt.Errorf("count the keys per bucket: bucket %d of %d", i, p.Len)
		}
		out[i] = n
	}
	return out, rows.Err()
}

func (b bucketSide) BucketKeys(ctx context.Context, p dbsync.BucketPlan, buckets []int) ([][][]byte, error) {
	names, _, err := b.t.keyNames(ctx, b.table, b.key)
	if err != nil {
		return nil, err
	}
	sel := "SELECT " + strings.Join(names, ", ") + " FROM " + quote(b.table)
	if !p.Integer || p.Len <= 1 {
		return b.t.readKeys(ctx, len(names), sel)
	}
	var out [][][]byte
	for _, i := range buckets {
		var cond []string
		var args []any
		if i > 0 {
			cond, args = append(cond, names[0]+" >= ?"), append(args, p.Lo+int64(i)*p.Width)
		}
		if i < p.Len-1 {
			cond, args = append(cond, names[0]+" < ?"), append(args, p.Lo+int64(i+1)*p.Width)
		}
		q := sel
		if len(cond) > 0 {
			q += " WHERE " + strings.Join(cond, " AND ")
		}
		keys, err := b.t.readKeys(ctx, 1, q, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
	}
	return out, nil
}

// ReadKeyCells reads the target's rows of keys ordered as the whole-table
// reader orders them; Equal compares against them.
func (m *tableMerge) ReadKeyCells(ctx context.Context, keys [][][]byte) (dbsync.RowReader, error) {
	names, blob, err := keyNamesOf(m.cols, m.key, m.table)
	if err != nil {
		return nil, err
	}
	where, args, err := keyArgs(names, blob, keys)
	if err != nil {
		return nil, err
	}
	rows, err := m.t.conn.QueryContext(ctx, "SELECT "+m.sel+" FROM "+quote(m.table)+" WHERE "+where+" ORDER BY "+m.by, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s by key: %w", quote(m.table), explainError(err))
	}
	if m.reader != nil {
		m.reader.Close()
	}
	m.reader = newTableReader(rows, len(m.cols))
	return m.reader, nil
}

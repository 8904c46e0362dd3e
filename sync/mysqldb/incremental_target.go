package mysqldb

// The MySQL target's part of mode = incremental (dbsync.IncrementalTarget,
// dbsync.KeyedMerge): rows and keys read by key, the delete detection's
// target side, and the watermark written in the merges' transaction.

import (
	"context"
	"fmt"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

// watermarkRow is one incremental table's new watermark, waiting for the
// swap's transaction.
// SetWatermark queues table's watermark for the merges' transaction.
func (t *Target) SetWatermark(table, watermark, basis string) {
	t.watermarks.Set(table, watermark, basis)
}

// keyColumns are table's columns of key, in key order.
func (t *Target) keyColumns(ctx context.Context, table string, key []dbsync.KeyColumn) ([]mergeColumn, error) {
	cols, err := t.mergeColumns(ctx, table)
	if err != nil {
		return nil, err
	}
	return pickKeyColumns(cols, key, table)
}

func pickKeyColumns(cols []mergeColumn, key []dbsync.KeyColumn, table string) ([]mergeColumn, error) {
	out := make([]mergeColumn, len(key))
	for i, k := range key {
		found := false
		for _, c := range cols {
			if strings.EqualFold(c.Name, k.Name) {
				out[i], found = c, true
			}
		}
		if !found {
			return nil, fmt.Errorf("target table %s has no key column %s", dbsync.QuoteMySQL(table), dbsync.QuoteMySQL(k.Name))
		}
	}
	return out, nil
}

// KeysPresent returns those of keys that table holds.
func (t *Target) KeysPresent(ctx context.Context, table string, key []dbsync.KeyColumn, keys [][][]byte) ([][][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	kc, err := t.keyColumns(ctx, table, key)
	if err != nil {
		return nil, err
	}
	sel := make([]string, len(kc))
	for i, c := range kc {
		sel[i] = dbsync.QuoteMySQL(c.Name)
	}
	var out [][][]byte
	for i := 0; i < len(keys); i += dbsync.KeyChunk {
		where, err := keysWhere(kc, keys[i:min(i+dbsync.KeyChunk, len(keys))])
		if err != nil {
			return nil, err
		}
		got, err := readKeys(ctx, t.db, len(kc), "SELECT "+strings.Join(sel, ", ")+" FROM "+dbsync.QuoteMySQL(table)+" WHERE "+where)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// TargetBucketSide is table's side of the delete detection, on the pool.
func (t *Target) TargetBucketSide(table string, key []dbsync.KeyColumn) dbsync.BucketSide {
	return bucketSide{q: t.db, query: tableQuery(table), key: dbsync.KeyNames(key)}
}

// IntKeyRange is the key range of table (an index dive on the target).
func (t *Target) IntKeyRange(ctx context.Context, table, key string) (lo, hi int64, ok bool, err error) {
	return IntKeyRange(ctx, t.db, tableQuery(table), key)
}

// ReadKeyCells reads the target's rows of keys ordered by the key as the
// whole-table reader orders them, through the same protocol, so that both
// print every value alike.
func (m *tableMerge) ReadKeyCells(ctx context.Context, keys [][][]byte) (dbsync.RowReader, error) {
	kc, err := pickKeyColumns(m.cols, m.key, m.table)
	if err != nil {
		return nil, err
	}
	where, err := keysWhere(kc, keys)
	if err != nil {
		return nil, err
	}
	return m.t.openTableReaderWhere(ctx, m.table, m.cols, m.key, m.binary, where)
}

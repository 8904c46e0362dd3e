package dbsync

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// KeyIndexer is a target that can tell whether a merge key has an index
// on its table. A merge reads the target table ordered by the key and
// applies its differences joined on it; without an index on the key each
// of those scans and sorts the whole table (a bench merge of 50,000 rows
// by an unindexed key took 50 times as long, and a million rows never
// ended), so check and the run warn.
type KeyIndexer interface {
	KeyIndexed(ctx context.Context, table string, key []KeyColumn) (bool, error)
	// QuoteName quotes an identifier as the target's SQL does.
	QuoteName(name string) string
}

// IndexCovers reports whether an index of these columns, in order, serves
// a key: its leading columns are the key's columns, in any order (the
// comparison's ORDER BY and the join both use it).
func IndexCovers(index []string, key []KeyColumn) bool {
	if len(index) < len(key) {
		return false
	}
	lead := make([]string, len(key))
	for i := range key {
		lead[i] = strings.ToLower(index[i])
	}
	for _, k := range key {
		if !slices.Contains(lead, strings.ToLower(k.Name)) {
			return false
		}
	}
	return true
}

// unindexedKeyWarning is the warning check prints and the run logs.
func unindexedKeyWarning(table string, key []KeyColumn, quote func(string) string) string {
	cols := make([]string, len(key))
	for i, k := range key {
		cols[i] = quote(k.Name)
	}
	return fmt.Sprintf("merge key (%s) of target table %s has no index: every merge then scans and sorts the whole table, which at a million rows does not finish in any sensible time; add one: CREATE INDEX %s ON %s (%s)",
		strings.Join(cols, ", "), quote(table), quote(table+"_merge_key"), quote(table), strings.Join(cols, ", "))
}

// keyIndexWarning is unindexedKeyWarning when the target has no index on
// key, "" when it has one or cannot tell.
func keyIndexWarning(ctx context.Context, ki KeyIndexer, table string, key []KeyColumn) string {
	indexed, err := ki.KeyIndexed(ctx, table, key)
	if err != nil || indexed {
		return ""
	}
	return unindexedKeyWarning(table, key, ki.QuoteName)
}

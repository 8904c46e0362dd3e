package dbsync

import (
	"context"
	"fmt"
)

// How a merge (and verify) compares a table with its target: [sync] compare
// and [table.<name>] compare (docs/verify.md).
const (
	// CompareAuto is checksums when the source and the target are MySQL,
	// rows otherwise (the SQLite fallback source, a SQLite target).
	CompareAuto = "auto"
	// CompareRows streams every row of both sides in key order and
	// compares them in Go.
	CompareRows = "rows"
	// CompareChecksums has each MySQL server checksum ranges of the key
	// (rangecompare.go): only the ranges that differ are read.
	CompareChecksums = "checksums"
	// CompareCount is what the report says of a table without a key that
	// verify compared by its count and an order-independent checksum.
	CompareCount = "count"
)

// compareKinds is what a compare key takes, in the order messages list them.
var compareKinds = []string{CompareAuto, CompareRows, CompareChecksums}

// validateCompare refuses compare = checksums on a SQLite target: SQLite
// computes no checksum, so the setting could never be honoured. (A run
// that falls back to the SQLite source compares by rows whatever the
// setting, and says so: the fallback is not chosen in the config.)
func (c *Config) validateCompare() error {
	if c.Target != TargetSQLite {
		return nil
	}
	for _, t := range c.Tables {
		if t.Compare != CompareChecksums {
			continue
		}
		key := c.TableKey(t, "compare")
		return &ConfigError{Key: key, Value: t.Compare, Origin: c.Origin(key),
			Reason: "needs MySQL on both sides (each server checksums its key ranges), and this run's target is sqlite: set compare = auto or rows, or use --target azure"}
	}
	return nil
}

// compareFor is the compare a table's merge or verify uses: checksums
// when asked for (or auto) and both sides are MySQL, else rows; reason
// says why a table asked to use checksums does not.
func compareFor(t TableConfig, target Target, source string) (compare, reason string) {
	if t.Compare == CompareRows {
		return CompareRows, ""
	}
	switch {
	case target == TargetSQLite:
		return CompareRows, ""
	case source == SourceFallback:
		if t.Compare == CompareChecksums {
			return CompareRows, "compared by rows: compare = checksums needs MySQL on both sides, and this run read the SQLite fallback"
		}
		return CompareRows, ""
	}
	return CompareChecksums, ""
}

// ChecksumBackend is a backend whose source and target can checksum key
// ranges on their servers (mysqldb.Backend).
type ChecksumBackend interface {
	// ChecksumSides are the two sides of a range-checksum compare of the
	// source query q, read on s in its snapshot, with target table on tgt,
	// by the key's columns. An error wrapping ErrRangeNotPushable means
	// the table must be compared by rows.
	ChecksumSides(ctx context.Context, s Session, q string, tgt Merger, table string, key []KeyColumn) (src, dst ChecksumSide, err error)
	// WholeSums checksum every row of q on s and of table on tgt, for a
	// table without a key: count and an order-independent sum of row hashes.
	WholeSums(ctx context.Context, s Session, q string, tgt Merger, table string) (src, dst RangeSum, err error)
}

// KeyedSession is a source session that reads only some keys' rows of a
// query (mysqldb.Session): a merge by checksums reads only the differences.
type KeyedSession interface {
	// QueryKeys reads the rows of q whose key is one of keys (in key order,
	// as ChecksumCompare returns them), ordered by key like OrderedQuery,
	// as Query would have delivered them.
	QueryKeys(ctx context.Context, q, what string, key []KeyColumn, keys []RangeKey) (SourceRows, error)
}

// KeyedMerge is a TableMerge that can read only some keys' rows of its
// target table (mysqldb's).
type KeyedMerge interface {
	// PrepareKeys is Prepare without its full read of the target.
	PrepareKeys(ctx context.Context, p MergePlan) error
	// ReadKeys reads the target's rows of keys (in key order), ordered by
	// key and read as Prepare reads them.
	ReadKeys(ctx context.Context, keys []RangeKey) (RowReader, error)
}

// LockProbe is a target that can tell, without taking them, whether a run
// holds the run locks of tables (mysqldb's IS_USED_LOCK): verify reports
// busy instead of comparing a table a run is writing.
type LockProbe interface {
	RunLocked(ctx context.Context, tables []string) (bool, error)
}

// formatRangeKey prints a key as a user reads it: "7", "a|7".
func formatRangeKey(k RangeKey) string {
	s := ""
	for i, v := range k {
		if i > 0 {
			s += "|"
		}
		s += v.String()
	}
	return s
}

// notPushable is an ErrRangeNotPushable that says only its reason.
type notPushable struct{ reason string }

func (e notPushable) Error() string        { return e.reason }
func (e notPushable) Is(target error) bool { return target == ErrRangeNotPushable }

// NotPushable is ErrRangeNotPushable for reason ("the target has no column
// x"): the table is compared by rows, and the report says reason.
func NotPushable(reason string) error { return notPushable{reason} }

// notPushableReason is the report's note of a table compared by rows
// because its key ranges could not be read cheaply and exactly.
func notPushableReason(err error) string {
	return fmt.Sprintf("compared by rows: %s", OneLine(err.Error()))
}

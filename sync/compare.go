package dbsync

import (
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

// compareFor is the compare a table's merge or verify uses: checksums
// when asked for (or auto) and both sides are MySQL (the target can
// checksum and the source is the primary), else rows; reason says why a
// table asked to use checksums does not.
func compareFor(t TableConfig, canChecksum bool, source string) (compare, reason string) {
	if t.Compare == CompareRows {
		return CompareRows, ""
	}
	switch {
	case !canChecksum: // a SQLite target (compare = checksums is refused at config time)
		return CompareRows, ""
	case source == SourceFallback:
		if t.Compare == CompareChecksums {
			return CompareRows, "compared by rows: compare = checksums needs MySQL on both sides, and this run read the SQLite fallback"
		}
		return CompareRows, ""
	}
	return CompareChecksums, ""
}

// What compare = checksums and verify add to the backends' interfaces
// (Merger, Session, TableMerge and TargetDB carry these methods):
//
//   - Merger.CanChecksum, ChecksumSides, WholeSums: the target's server
//     checksums key ranges (MySQL); SQLite cannot, and says so.
//   - Session.QueryKeys: a source reads only some keys' rows.
//   - TableMerge.PrepareKeys, ReadKeys: the target reads only some keys' rows.
//   - TargetDB.BeginRead, RunLocked: verify reads without writing, and sees
//     a run's lock without taking it.

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

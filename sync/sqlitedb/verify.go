package sqlitedb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	dbsync "github.com/dbsync/dbsync/sync"
)

// What handler verify needs of the SQLite target (issue 22): a read of the
// file that writes nothing, and a look at the run lock that never holds it.

// CanChecksum implements dbsync.Merger: SQLite computes no range
// checksums, so a SQLite target is compared by rows.
func (t *Target) CanChecksum() bool { return false }

// errNoChecksums: what SQLite cannot do for compare = checksums.
var errNoChecksums = dbsync.NotPushable("a SQLite database computes no key-range checksums")

// ChecksumSides implements dbsync.Merger: none.
func (t *Target) ChecksumSides(context.Context, dbsync.Session, string, string, []dbsync.KeyColumn) (dbsync.ChecksumSide, dbsync.ChecksumSide, error) {
	return nil, nil, errNoChecksums
}

// WholeSums implements dbsync.Merger: none.
func (t *Target) WholeSums(context.Context, dbsync.Session, string, string) (src, dst dbsync.RangeSum, err error) {
	return src, dst, errNoChecksums
}

// PrepareKeys and ReadKeys implement dbsync.TableMerge: a SQLite target is
// merged by rows (CanChecksum), so they are never asked for.
func (m *tableMerge) PrepareKeys(context.Context, dbsync.MergePlan) error { return errNoChecksums }

func (m *tableMerge) ReadKeys(context.Context, []dbsync.RangeKey) (dbsync.RowReader, error) {
	return nil, errNoChecksums
}

// QueryKeys implements dbsync.Session: the fallback is merged by rows
// (compareFor), so it is never asked for.
func (s *Session) QueryKeys(context.Context, string, string, []dbsync.KeyColumn, []dbsync.RangeKey) (dbsync.SourceRows, error) {
	return nil, errNoChecksums
}

// BeginRead implements dbsync.TargetDB: it opens the file read-only and starts one read transaction on
// it, which the merge's reads (OpenMerge, Prepare) then use instead of the
// run's write transaction: every table is read at one point in time, and
// nothing is written. A run's commit waits for it (busy_timeout) as for
// any reader of the file.
func (t *Target) BeginRead(ctx context.Context) error {
	if _, err := os.Stat(t.realPath); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite target %s does not exist: run handler sync first", t.path)
	}
	db, err := Open(t.realPath, true)
	if err != nil {
		return fmt.Errorf("open sqlite target %s read-only: %w", t.path, explainError(err))
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return fmt.Errorf("open sqlite target %s: %w", t.path, explainError(err))
	}
	// BEGIN alone is deferred: the first read takes the snapshot.
	var n int
	if _, err = conn.ExecContext(ctx, "BEGIN"); err == nil {
		err = conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master").Scan(&n)
	}
	if err != nil {
		conn.Close()
		db.Close()
		return fmt.Errorf("start a read transaction on %s: %w", t.path, explainError(err))
	}
	t.db, t.conn = db, conn
	return nil
}

// RunLocked implements dbsync.TargetDB: whether a run holds the file's
// lock. It asks for a shared flock without waiting and lets it go at once;
// a missing lock file means no run has ever locked the file (it is not
// created: verify writes nothing).
func (t *Target) RunLocked(context.Context, []string) (bool, error) {
	f, err := os.Open(t.lockPath())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open lock file of %s: %w", t.path, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("read the lock of %s: %w", t.path, err)
	}
	return false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

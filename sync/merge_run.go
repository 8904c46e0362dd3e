package dbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Merger is a target that can merge a table (both targets can; a dry
// run's counter cannot, so a dry run only counts the source's rows).
type Merger interface {
	Sink
	KeyIndexer
	TableExists(ctx context.Context, table string) (bool, error)
	MergeKey(ctx context.Context, table string, configured []string, setting string) ([]KeyColumn, error)
	// Links reads the table's triggers, foreign keys (both ways) and
	// unique keys.
	Links(ctx context.Context, table string) (TableLinks, error)
	// TargetColumns reads the table's columns as the run sees them.
	TargetColumns(ctx context.Context, table string) ([]TargetColumn, error)
	// OpenMerge starts the merge of table: mergeRows runs its steps.
	OpenMerge(ctx context.Context, table string) (TableMerge, error)
	// StageKeepingKey stages like stage; when it builds the table from the
	// source's types (on_schema_change = recreate) it gives it key as its
	// PRIMARY KEY, so that the next runs can merge it again.
	StageKeepingKey(ctx context.Context, table string, src SourceRows, policy string, key []string) (int64, string, error)
	// CanChecksum says the target's server checksums key ranges (MySQL):
	// compare = auto then compares by checksums (compare.go).
	CanChecksum() bool
	// ChecksumSides are the two sides of a range-checksum compare of the
	// source query q, read on s in its snapshot, with the target table, by
	// key; an error wrapping ErrRangeNotPushable means: compare by rows.
	ChecksumSides(ctx context.Context, s Session, q, table string, key []KeyColumn) (src, dst ChecksumSide, err error)
	// WholeSums are the row count and an order-independent checksum of
	// all rows of q on s and of table (verify of a table without a key).
	WholeSums(ctx context.Context, s Session, q, table string) (src, dst RangeSum, err error)
	// IncrementalTarget: the primitives of mode = incremental
	// (incremental_run.go).
	IncrementalTarget
}

// TableMerge is one table's merge on its target: the primitives that the
// one merge sequence (mergeRows) calls, in this order: Columns; Prepare;
// Rows and Equal while the compare walks both sides; LoadDelta when there
// are differences; then Apply, or Drop when the table is replaced instead
// or the merge failed; Close.
type TableMerge interface {
	// Columns are the target table's columns; none when it does not exist.
	Columns() []TargetColumn
	// Prepare fixes the merge's columns by p and opens the target's rows
	// ordered by the key, read the way the source was (p.Binary), so that
	// both sides print every value alike.
	Prepare(ctx context.Context, p MergePlan) error
	// Rows are the target's rows that Prepare opened.
	Rows() RowReader
	// Equal reports whether source row src equals the target's current
	// row dst as the target stores values.
	Equal(src, dst [][]byte) bool
	// LoadDelta creates the merge's delta table and loads every
	// difference d yields into it, returning how many rows it loaded and
	// how (the report's load_method).
	LoadDelta(ctx context.Context, d *DeltaReader) (loaded int64, method string, err error)
	// Drop drops what the merge made (its delta table), if anything.
	Drop(ctx context.Context) error
	// Apply applies the differences (found: there is a delta table) with
	// the compare's counts in d, and returns how many updates it applied.
	// SQLite applies them now, in the run's one transaction; MySQL
	// applies them at swap in one transaction with every merged table,
	// returns the compare's count and corrects it then (AppliedUpdates).
	Apply(ctx context.Context, d *DeltaReader, opts MergeOptions, found bool) (updated int64, err error)
	// PrepareKeys is Prepare without its full read of the target, and
	// ReadKeys reads the rows of keys (in key order), ordered by key and
	// read as Prepare reads them: a merge by checksums reads only the
	// differences (merge_checksums.go).
	PrepareKeys(ctx context.Context, p MergePlan) error
	ReadKeys(ctx context.Context, keys []RangeKey) (RowReader, error)
	// ReadKeyCells (mode = incremental), after Prepare with MergePlan.ByKey:
	// the target's rows of keys (sorted as the compare orders them), in
	// key order, printed as Rows prints them.
	ReadKeyCells(ctx context.Context, keys [][][]byte) (RowReader, error)
	Close() error
}

// MergePlan is how a table's merge matched the source with the target.
type MergePlan struct {
	Source []Column // the source's columns
	// Order[i] is source column i's place among TableMerge.Columns;
	// KeyPos[k] is the source column of key column k.
	Order, KeyPos []int
	Key           []KeyColumn
	// Binary: the source was read with the binary protocol
	// (SourceRows.Binary).
	Binary bool
	// ByKey: open no reader of the whole table; the merge reads the
	// target's rows by key (TableMerge.ReadKeyCells: mode = incremental).
	ByKey bool
}

// mergeRows is the one merge sequence of every target: read the target's
// columns (none: the first run replaces), match them with the source's
// and find the key, compare both sides in key order, load the
// differences into a delta table, apply the thresholds (a replace
// instead, or a failure), then apply the differences.
func mergeRows(ctx context.Context, m Merger, src SourceRows, opts MergeOptions) (res MergeResult, err error) {
	opts = opts.WithDefaults()
	table := opts.Table
	srcCols := src.Columns()
	tm, order, keyPos, handBack, err := openMerge(ctx, m, srcCols, opts)
	if tm != nil {
		defer tm.Close()
	}
	if handBack != nil || err != nil {
		return handBack.orZero(), err
	}
	if err := tm.Prepare(ctx, MergePlan{Source: srcCols, Order: order, KeyPos: keyPos, Key: opts.Key, Binary: src.Binary(), ByKey: opts.Incremental}); err != nil {
		return res, err
	}
	dstRows := tm.Rows()
	if opts.Incremental {
		byKey := &byKeyReader{ctx: ctx, km: tm, keys: opts.ByKey}
		defer byKey.Close()
		dstRows = byKey
	}
	d := NewDeltaReader(table,
		&KeyReader{Side: "source", Rows: src, Key: opts.Key, Pos: keyPos},
		&KeyReader{Side: "target", Rows: dstRows, Key: opts.Key, Pos: keyPos},
		tm.Equal)
	return applyDelta(ctx, tm, d, opts, func() (targetRows int64) {
		if opts.Incremental {
			// The whole table's counts, as a merge reports them: every
			// row outside the window is unchanged.
			d.Unchanged = opts.SourceRows - d.Inserts - d.Updates
			return opts.TargetRows
		}
		return d.Dst.N
	})
}

// openMerge is the start of every merge: open the table's merge on the
// target and match its columns with the source's. A table that has no
// columns yet is the first run's (a replace), and a mismatch MatchMerge
// hands back ends the merge too: both come back as handBack, with tm
// open when it is not nil (the caller closes it).
func openMerge(ctx context.Context, m Merger, srcCols []Column, opts MergeOptions) (tm TableMerge, order, keyPos []int, handBack *MergeResult, err error) {
	if tm, err = m.OpenMerge(ctx, opts.Table); err != nil {
		return nil, nil, nil, nil, err
	}
	if len(tm.Columns()) == 0 {
		first := FirstRun(opts.Table)
		return tm, nil, nil, &first, nil
	}
	order, keyPos, handBack, err = MatchMerge(opts.Table, srcCols, tm.Columns(), opts)
	return tm, order, keyPos, handBack, err
}

// orZero is the result r points to, or none.
func (r *MergeResult) orZero() MergeResult {
	if r == nil {
		return MergeResult{}
	}
	return *r
}

// applyDelta is the end of every merge, whatever read its two sides (all
// rows, a window, or only the keys checksums found): compare them in key
// order, load the differences into the delta table, apply the thresholds
// (a replace instead, or a failure), then apply the differences.
// targetRows, asked once the compare has ended, is the target table's row
// count the thresholds weigh the changes against.
func applyDelta(ctx context.Context, tm TableMerge, d *DeltaReader, opts MergeOptions, targetRows func() int64) (res MergeResult, err error) {
	table := opts.Table
	found := d.Prime()
	if err := d.CompareError(table); err != nil {
		return res, err
	}
	kept := false
	defer func() {
		if !kept {
			tm.Drop(context.WithoutCancel(ctx))
		}
	}()
	if found {
		loaded, method, err := tm.LoadDelta(ctx, d)
		res.LoadMethod = method
		if cerr := d.CompareError(table); cerr != nil {
			return res, cerr
		}
		if err != nil {
			return res, err
		}
		if loaded != d.Changes() {
			return res, fmt.Errorf("verify the delta table of %s: it holds %d rows but the compare found %d differences", QuoteMySQL(table), loaded, d.Changes())
		}
	}
	dstRows := targetRows()
	res.Rows = d.Src.N
	reason, note, err := CheckThresholds(table, dstRows, d.Inserts, d.Updates, d.Deletes, opts)
	if err != nil || reason != "" {
		if err == nil {
			// The run replaces the table instead: its delta goes first.
			kept = true
			if err := tm.Drop(ctx); err != nil {
				return res, err
			}
		}
		return MergeResult{Rows: res.Rows, Replaced: reason != "", Reason: reason}, err
	}
	res.Note = note
	res.Inserted, res.Deleted = d.Inserts, d.Deletes
	if res.Updated, err = tm.Apply(ctx, d, opts, found); err != nil {
		return res, err
	}
	kept = true
	res.Unchanged = d.Unchanged + d.Updates - res.Updated
	return res, nil
}

// mergeSetting names the config section that sets a table's key, for
// messages: "[table.<name>]", or "[sync]" in a one-table job.
func (c *Config) mergeSetting(t TableConfig) string {
	if c.multi {
		return "[table." + t.Name + "]"
	}
	return "[sync]"
}

// runMerges are the target tables of the run's merge tables.
func runMerges(cfg *Config) []string {
	var out []string
	for _, t := range cfg.RunTables() {
		if t.Mode.mergesByKey() {
			out = append(out, t.Target)
		}
	}
	return out
}

// mergeTable runs one merge table of a run on the source session s (the
// run's one snapshot): choose the key from the target table, check it
// against the query's columns, read the query ordered by it, compare and
// load the differences. A table that does not exist yet is replaced (the
// first run). An existing one is always merged when it has triggers,
// foreign keys or columns the source lacks, which a replace would drop
// (DESIGN §2 step 6); without them merge_max_changes hands it to a
// replace, and on_schema_change = recreate does unless it has triggers or
// foreign keys (then the run fails): its query runs again in the same
// session and the rows are staged as a replace (recreate keeping the
// merge key as the rebuilt table's primary key). The report says which
// rule applied.
func (r *Runner) mergeTable(ctx context.Context, cfg *Config, s Session, m Merger, t TableConfig, q, what string, rep *Report, log *slog.Logger) (TableReport, error) {
	tr := TableReport{Table: t.Target, Mode: ModeMerge}
	if t.Mode == ModeIncremental {
		tr.Mode = ModeIncremental
	}
	tlog := log.With(LogTable, t.Target)
	replace := func(reason string, key []string) (TableReport, error) {
		tlog.Info("merge table replaced instead", "reason", reason)
		rows, err := s.Query(ctx, q, what)
		if err != nil {
			return tr, AsSourceError(err)
		}
		defer rows.Close()
		n, method, err := m.StageKeepingKey(ctx, t.Target, r.progress(rows, tlog), t.OnSchemaChange, key)
		return TableReport{Table: t.Target, Rows: n, LoadMethod: method, StagePlan: m.StagePlan(t.Target), Mode: ModeReplace, ModeReason: reason}, err
	}
	exists, err := m.TableExists(ctx, t.Target)
	if err != nil {
		return tr, fmt.Errorf("inspect target table %s: %w", t.Target, err)
	}
	if !exists {
		// Created with the configured key as its primary key: a table
		// built from a query result has no key of its own, and the merges
		// after this first run would look rows up by an unindexed key.
		return replace(FirstRun(t.Target).Reason, t.Key)
	}
	setting := cfg.mergeSetting(t)
	key, err := m.MergeKey(ctx, t.Target, t.Key, setting)
	if err != nil {
		return tr, err
	}
	if w := keyIndexWarning(ctx, m, t.Target, key); w != "" {
		tlog.Warn(w)
	}
	links, err := m.Links(ctx, t.Target)
	if err != nil {
		return tr, err
	}
	// The key must be among the query's columns: a key only the target
	// has (a surrogate AUTO_INCREMENT id) is a configuration error, never a
	// failure of the source that would send the run to the fallback.
	srcCols, err := s.Columns(ctx, q, what)
	if err != nil {
		return tr, AsSourceError(err)
	}
	if _, err := keyPositions(key, srcCols, t.Target); err != nil {
		return tr, keyNotInSource(t.Target, setting, what, key, t.Key, srcCols, links.Unique)
	}
	opts := MergeOptions{
		Key: key, MaxChanges: cfg.Sync.MergeMaxChanges, MaxDelete: cfg.Sync.MaxDelete,
		Policy: t.OnSchemaChange, Table: t.Target, Setting: setting, Links: links,
	}
	dst, err := m.TargetColumns(ctx, t.Target)
	if err != nil {
		return tr, fmt.Errorf("read columns of target table %s: %w", t.Target, err)
	}
	opts.Keeps = links.keeps(srcCols, dst)
	var safe bool
	if safe, opts.NoMove, opts.MoveKeysOff = links.reinsertSafe(srcCols, dst, key); safe {
		opts.Move = links.moveColumns(t.Target, key, srcCols, runMerges(cfg))
	}
	var inc *incrementalRun
	var res MergeResult
	// compare = checksums reads only the rows that differ
	// (merge_checksums.go); a table whose key ranges cannot be read
	// cheaply and exactly is compared by rows, and the report says why.
	// An incremental table compares its window by rows, and its full
	// runs by rows too: they track the cursor's maximum as they read.
	compare, why := compareFor(t, m.CanChecksum(), rep.Source)
	if t.Mode == ModeIncremental {
		compare, why = CompareRows, ""
		if inc, err = r.incrementalStart(cfg, s, t, q, key, srcCols, rep); err != nil {
			return tr, err
		}
		if !inc.full {
			res, err = r.incrementalRows(ctx, s, m, t, q, what, opts, inc, tlog)
			if errors.Is(err, errIncrementalFull) {
				tlog.Info("incremental table reads in full", "reason", inc.reason)
				err = nil
			}
			if err != nil {
				return tr, err
			}
		}
	}
	if compare == CompareChecksums {
		if res, why, err = r.mergeChecksums(ctx, s, m, q, what, srcCols, opts, rep, tlog); why != "" {
			compare = CompareRows // the rows compare below decides
		} else if err != nil {
			return tr, err
		}
	}
	if compare == CompareRows && (inc == nil || inc.full) {
		rows, qerr := s.Query(ctx, s.OrderedQuery(q, key), what)
		if qerr != nil {
			return tr, AsSourceError(qerr)
		}
		tlog.Info("merging from "+rep.Source, "columns", len(rows.Columns()), "key", KeyNames(key))
		var src SourceRows = r.progress(rows, tlog)
		if inc != nil {
			inc.rowsRead, inc.maxRead = 0, time.Time{}
			src = inc.track(src)
		}
		res, err = mergeRows(ctx, m, src, opts)
		rows.Close()
		if err != nil {
			return tr, err
		}
	}
	if why != "" {
		res.Note = strings.TrimPrefix(res.Note+"; "+why, "; ")
	}
	if res.Replaced {
		// Only recreate hands a table with something to keep back (the
		// thresholds merge it): on_schema_change = recreate asked for the
		// columns to change, not for its triggers and foreign keys to go.
		if linked := links.Describe(); linked != "" {
			return tr, fmt.Errorf("merge %s: %s; a replace would drop the table's %s, and a merge table keeps them: change the target table to match the source (ALTER TABLE …), then run again; the table was left unchanged",
				QuoteMySQL(t.Target), res.Reason, linked)
		}
		return replace(res.Reason, KeyNames(key))
	}
	tr.Rows, tr.LoadMethod, tr.ModeReason = res.Rows, res.LoadMethod, res.Note
	tr.Compare = compare
	tr.Inserted, tr.Updated, tr.Deleted, tr.Unchanged = res.Inserted, res.Updated, res.Deleted, res.Unchanged
	if inc != nil {
		inc.finish(m, &tr, tlog)
	} else {
		tr.RowsRead = res.Rows
		if compare == CompareChecksums {
			tr.RowsRead = res.RowsRead // only the differing keys' rows
		}
	}
	tlog.Info("merge compared", "inserted", res.Inserted, "updated", res.Updated, "deleted", res.Deleted, "unchanged", res.Unchanged)
	if res.Note != "" {
		tlog.Info("merge rule", "reason", res.Note)
	}
	return tr, nil
}

func KeyNames(key []KeyColumn) []string {
	names := make([]string, len(key))
	for i, k := range key {
		names[i] = k.Name
	}
	return names
}

package dbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// handler verify (DESIGN §4, issue 22; docs/verify.md): compare every
// table of the job between the primary, read in one snapshot, and the
// target, and write nothing anywhere: no history row, no helper table, no
// run lock. A run in progress makes verify report busy; a run that
// starts while verify reads makes it fail ("could not verify"), never
// give an answer that mixes the target's before and after.

// VerifyReport is verify's outcome: handler verify --json prints it.
type VerifyReport struct {
	Identical bool          `json:"identical"`
	Tables    []VerifyTable `json:"tables"`
	// Error says why verify could not finish (exit 1); empty otherwise.
	Error string `json:"error,omitempty"`
}

// VerifyTable is one table's outcome.
type VerifyTable struct {
	Table string `json:"table"`
	// Missing counts rows the target lacks, Extra rows only the target
	// has, Different rows of one key whose values differ.
	Missing   int64 `json:"missing"`
	Extra     int64 `json:"extra"`
	Different int64 `json:"different"`
	// Examples are up to MaxVerifyExamples differing keys, in key order
	// (a key of several columns as its values joined with ", ").
	Examples []string `json:"examples"`
	// Compare is how the table was compared: rows, checksums, or count
	// (a table without a key: its count and an order-independent checksum
	// of all its rows; its differences are counts only).
	Compare string `json:"compare"`
	// BucketsDiffering is how many key-range buckets differed (checksums).
	BucketsDiffering int `json:"buckets_differing"`
	// Note says why a table was compared by rows when checksums were asked
	// for, or how a count compare found its difference.
	Note string `json:"note,omitempty"`
}

// Identical says the table's two sides hold the same rows.
func (t VerifyTable) Identical() bool { return t.Missing == 0 && t.Extra == 0 && t.Different == 0 }

// MaxVerifyExamples is how many differing keys verify names per table.
const MaxVerifyExamples = 10

// errRunDuringVerify: a run took a table's lock or recorded itself while
// verify read; its answer could mix two states of the target.
var errRunDuringVerify = errors.New("a run wrote to the target while verify was reading it, so its answer could mix the tables before and after that run; run verify again")

// Verify compares cfg's run tables between the primary and the target.
// It returns the report and nil when it could compare every table (the
// report says whether they are identical); ErrBusy when a run holds a
// table's lock; any other error when it could not verify.
func (r *Runner) Verify(ctx context.Context, cfg *Config, log *slog.Logger) (*VerifyReport, error) {
	if log == nil {
		log = r.Logger
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Sync.Timeout)
	defer cancel()
	tables := cfg.RunTables()
	names := targetNames(tables)
	if id := r.ActiveRun(cfg); id != "" {
		return nil, fmt.Errorf("%w (run %s of this process); verify when it has ended", ErrBusy, id)
	}
	tgt, err := r.newTarget(cfg, log)
	if err != nil {
		return nil, err
	}
	if _, err := tgt.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect to target: %w", err)
	}
	defer tgt.Close()
	if err := tgt.BeginRead(ctx); err != nil {
		return nil, err
	}
	locked := func() error {
		held, err := tgt.RunLocked(ctx, names)
		if err != nil {
			return err
		}
		if held {
			return fmt.Errorf("%w (of one of %s); verify when the run has ended", ErrBusy, strings.Join(names, ", "))
		}
		return nil
	}
	if err := locked(); err != nil {
		return nil, err
	}
	before, err := runsSignature(ctx, tgt)
	if err != nil {
		return nil, err
	}
	m, ok := tgt.AsMerger()
	if !ok {
		return nil, errors.New("the target cannot be compared")
	}
	// One snapshot of the primary for every table; no fallback: verify
	// answers about the primary or not at all.
	s, err := r.openPrimary(ctx, cfg, &Report{}, log)
	if err != nil {
		return nil, fmt.Errorf("read primary: %w", err)
	}
	defer s.Close()
	rep := &VerifyReport{Identical: true, Tables: []VerifyTable{}}
	for _, t := range tables {
		vt, err := r.verifyTable(ctx, cfg, s, m, t, log.With(LogTable, t.Target))
		if err != nil {
			return rep, fmt.Errorf("table %s: %w", t.Target, err)
		}
		rep.Tables = append(rep.Tables, vt)
		rep.Identical = rep.Identical && vt.Identical()
	}
	if r.verifyRead != nil {
		r.verifyRead()
	}
	// A run that took a lock or recorded itself meanwhile may have
	// changed what verify read: say so rather than answer.
	if err := locked(); err != nil {
		return rep, fmt.Errorf("%w (%v)", errRunDuringVerify, err) // exit 1, not busy: verify read while it ran
	}
	after, err := runsSignature(ctx, tgt)
	if err != nil {
		return rep, err
	}
	if after != before {
		return rep, errRunDuringVerify
	}
	return rep, nil
}

// runsSignature sums up the target's history table: its row count and its
// latest start and finish. A run records itself when it starts and when it
// ends, so a run between two signatures changes it. Reading it writes
// nothing (no history table yet: an empty signature).
func runsSignature(ctx context.Context, tgt TargetDB) (string, error) {
	h, found, err := tgt.OpenHistory(ctx, false)
	if err != nil {
		return "", fmt.Errorf("read the run history: %w", err)
	}
	if !found {
		return "", nil
	}
	if cols, err := h.Columns(ctx); err != nil || len(cols) == 0 {
		return "", err // no history table yet
	}
	q := h.Dialect.Quote
	var n int64
	var started, finished any
	if err := h.Db.QueryRowContext(ctx, "SELECT COUNT(*), MAX("+q("started_at")+"), MAX("+q("finished_at")+") FROM "+h.Table()).Scan(&n, &started, &finished); err != nil {
		return "", fmt.Errorf("read the run history %s: %w", h.Name, err)
	}
	return fmt.Sprintf("%d|%s|%s", n, started, finished), nil
}

// verifyTable compares one table: by checksums or rows when the target
// table has a key (the configured one, else its own), else by count and
// an order-independent checksum.
func (r *Runner) verifyTable(ctx context.Context, cfg *Config, s Session, m Merger, t TableConfig, log *slog.Logger) (VerifyTable, error) {
	vt := VerifyTable{Table: t.Target, Examples: []string{}}
	q, what := t.Query, iniKey(cfg.TableKey(t, "query"))
	exists, err := m.TableExists(ctx, t.Target)
	if err != nil {
		return vt, fmt.Errorf("inspect target table: %w", err)
	}
	if !exists {
		return vt, fmt.Errorf("target table %s does not exist: run handler sync first", QuoteMySQL(t.Target))
	}
	key, kerr := m.MergeKey(ctx, t.Target, t.Key, cfg.mergeSetting(t))
	if kerr != nil && len(t.Key) > 0 {
		return vt, kerr
	}
	if kerr != nil {
		return r.verifyWhole(ctx, cfg, s, m, t, vt)
	}
	srcCols, err := s.Columns(ctx, q, what)
	if err != nil {
		return vt, AsSourceError(err)
	}
	if _, err := keyPositions(key, srcCols, t.Target); err != nil {
		return vt, fmt.Errorf("the target's key %s is not among the columns of %s: set key to columns both have", strings.Join(KeyNames(key), ", "), what)
	}
	compare, why := compareFor(t, m.CanChecksum(), SourcePrimary)
	if compare == CompareChecksums {
		diff, err := r.checksumDiff(ctx, s, m, q, t.Target, key)
		switch {
		case errors.Is(err, ErrRangeNotPushable):
			compare, why = CompareRows, notPushableReason(err)
		case err != nil:
			return vt, err
		default:
			vt.Compare = CompareChecksums
			vt.Missing, vt.Extra, vt.Different = int64(len(diff.Missing)), int64(len(diff.Extra)), int64(len(diff.Different))
			vt.BucketsDiffering = diff.Stats.BucketsDiffering
			for _, k := range sortedKeys(diff.Missing, diff.Extra, diff.Different) {
				if len(vt.Examples) == MaxVerifyExamples {
					break
				}
				vt.Examples = append(vt.Examples, exampleKey(k))
			}
			log.Info("verified by checksums", "missing", vt.Missing, "extra", vt.Extra, "different", vt.Different,
				"buckets_differing", diff.Stats.BucketsDiffering, "rows_read", diff.Stats.RowsRead, "statements", diff.Stats.Statements)
			return vt, nil
		}
	}
	vt.Compare, vt.Note = CompareRows, why
	if err := verifyRows(ctx, s, m, q, what, srcCols, t.Target, key, &vt); err != nil {
		return vt, err
	}
	log.Info("verified by rows", "missing", vt.Missing, "extra", vt.Extra, "different", vt.Different)
	return vt, nil
}

// exampleKey prints a key for the report: its values joined with ", ".
func exampleKey(k RangeKey) string {
	parts := make([]string, len(k))
	for i, v := range k {
		parts[i] = v.String()
	}
	return strings.Join(parts, ", ")
}

// verifyRows is the merge's ordered compare of both sides (the source
// query ordered by key, the target table read as a merge reads it), with
// no delta and no apply.
func verifyRows(ctx context.Context, s Session, m Merger, q, what string, srcCols []Column, table string, key []KeyColumn, vt *VerifyTable) error {
	tm, err := m.OpenMerge(ctx, table)
	if err != nil {
		return err
	}
	defer tm.Close()
	opts := MergeOptions{Key: key, Table: table, Policy: SchemaFail}
	order, keyPos, handBack, err := MatchMerge(table, srcCols, tm.Columns(), opts)
	if err == nil && handBack != nil {
		err = fmt.Errorf("the source's and the target's columns differ: %s", handBack.Reason)
	}
	if err != nil {
		return err
	}
	rows, err := s.Query(ctx, s.OrderedQuery(q, key), what)
	if err != nil {
		return AsSourceError(err)
	}
	defer rows.Close()
	if err := tm.Prepare(ctx, MergePlan{Source: srcCols, Order: order, KeyPos: keyPos, Key: key, Binary: rows.Binary()}); err != nil {
		return err
	}
	d := NewDeltaReader(table,
		&KeyReader{Side: "source", Rows: rows, Key: key, Pos: keyPos},
		&KeyReader{Side: "target", Rows: tm.Rows(), Key: key, Pos: keyPos},
		tm.Equal)
	for d.Next() {
		if len(vt.Examples) == MaxVerifyExamples {
			continue
		}
		cells := d.Src.cur
		if d.lastOp == opDelete {
			cells = d.Dst.cur
		}
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = string(c)
		}
		vt.Examples = append(vt.Examples, strings.Join(parts, ", "))
	}
	if err := d.CompareError(table); err != nil {
		return err
	}
	vt.Missing, vt.Extra, vt.Different = d.Inserts, d.Deletes, d.Updates
	return nil
}

// verifyWhole compares a table without a key by its row count and an
// order-independent checksum of all its rows (each server computes both),
// so its differences are counts only: rows missing or extra by the
// counts, and, when the counts agree but the checksums do not, at least
// one different row (different = 1).
func (r *Runner) verifyWhole(ctx context.Context, cfg *Config, s Session, m Merger, t TableConfig, vt VerifyTable) (VerifyTable, error) {
	vt.Compare = CompareCount
	if !m.CanChecksum() {
		return vt, fmt.Errorf("target table %s has no key (no PRIMARY KEY or NOT NULL UNIQUE key), and a table without a key is verified by server-side checksums, which need MySQL on both sides: set key = to columns that identify a row in %s (verify uses it for a replace table too)", QuoteMySQL(t.Target), cfg.mergeSetting(t))
	}
	src, dst, err := m.WholeSums(ctx, s, t.Query, t.Target)
	if err != nil {
		return vt, err
	}
	if !src.Trusted() || !dst.Trusted() {
		return vt, fmt.Errorf("a row of table %s has no checksum on one side (its canonical form exceeds the server's max_allowed_packet), so its checksum cannot be trusted; give the table a key so that verify can compare its rows", QuoteMySQL(t.Target))
	}
	switch {
	case src.Count > dst.Count:
		vt.Missing = src.Count - dst.Count
	case dst.Count > src.Count:
		vt.Extra = dst.Count - src.Count
	}
	if src.Count == dst.Count && !src.Agrees(dst) {
		vt.Different = 1
		vt.Note = "the row counts agree but the checksums of all rows do not: at least one row differs (a table without a key is compared as a whole)"
	}
	return vt, nil
}

package sync

import (
	"context"
	"fmt"
	"log/slog"
)

// merger is a target that can merge a table (both targets can; a dry
// run's counter cannot, so a dry run only counts the source's rows).
type merger interface {
	sink
	tableExists(ctx context.Context, table string) (bool, error)
	mergeKey(ctx context.Context, table string, configured []string, setting string) ([]keyColumn, error)
	// merge compares src with the table and loads the differences. The
	// MySQL target applies them at swap, in one transaction with every
	// other merged table; SQLite applies them in the run's transaction.
	merge(ctx context.Context, src rowReader, opts mergeOptions) (mergeResult, error)
}

// mergeSetting names the config section that sets a table's key, for
// messages: "[table.<name>]", or "[sync]" in a one-table job.
func (c *Config) mergeSetting(t TableConfig) string {
	if c.multi {
		return "[table." + t.Name + "]"
	}
	return "[sync]"
}

// mergeTable runs one merge table of a run on the source session s (the
// run's one snapshot): choose the key from the target table, read the
// query ordered by it, compare and load the differences. A table that does
// not exist yet, or that merge hands back (merge_max_changes, on_schema_
// change = recreate), is replaced instead: its query runs again in the
// same session and the rows are staged as a replace; the report says why.
func (r *Runner) mergeTable(ctx context.Context, cfg *Config, s session, m merger, t TableConfig, q, what string, rep *Report, log *slog.Logger) (TableReport, error) {
	tr := TableReport{Table: t.Target, Mode: ModeMerge}
	tlog := log.With(LogTable, t.Target)
	replace := func(reason string) (TableReport, error) {
		tlog.Info("merge table replaced instead", "reason", reason)
		rows, err := s.query(ctx, q, what)
		if err != nil {
			return tr, asSourceError(err)
		}
		defer rows.Close()
		n, method, err := m.stage(ctx, t.Target, r.progress(rows, tlog), t.OnSchemaChange)
		return TableReport{Table: t.Target, Rows: n, LoadMethod: method, StagePlan: stagePlanOf(m, t.Target), Mode: ModeReplace, ModeReason: reason}, err
	}
	exists, err := m.tableExists(ctx, t.Target)
	if err != nil {
		return tr, fmt.Errorf("inspect target table %s: %w", t.Target, err)
	}
	if !exists {
		return replace(fmt.Sprintf("target table %s does not exist yet: the first run of a merge table is a replace", t.Target))
	}
	setting := cfg.mergeSetting(t)
	key, err := m.mergeKey(ctx, t.Target, t.Key, setting)
	if err != nil {
		return tr, err
	}
	if w := keyIndexWarning(ctx, m, t.Target, key); w != "" {
		tlog.Warn(w)
	}
	_, fallback := s.(*sqliteSession)
	rows, err := s.query(ctx, orderedQuery(q, key, fallback), what)
	if err != nil {
		return tr, asSourceError(err)
	}
	tlog.Info("merging from "+rep.Source, "columns", len(rows.Columns()), "key", keyNames(key))
	res, err := m.merge(ctx, r.progress(rows, tlog), mergeOptions{
		Key: key, MaxChanges: cfg.Sync.MergeMaxChanges, MaxDelete: cfg.Sync.MaxDelete,
		Policy: t.OnSchemaChange, Table: t.Target, Setting: setting,
	})
	rows.Close()
	if err != nil {
		return tr, err
	}
	if res.Replaced {
		return replace(res.Reason)
	}
	tr.Rows, tr.LoadMethod = res.Rows, res.LoadMethod
	tr.Inserted, tr.Updated, tr.Deleted, tr.Unchanged = res.Inserted, res.Updated, res.Deleted, res.Unchanged
	tlog.Info("merge compared", "inserted", res.Inserted, "updated", res.Updated, "deleted", res.Deleted, "unchanged", res.Unchanged)
	return tr, nil
}

func keyNames(key []keyColumn) []string {
	names := make([]string, len(key))
	for i, k := range key {
		names[i] = k.Name
	}
	return names
}

package sync

import (
	"context"
	"fmt"
	"log/slog"
)

// MergeResult is a merge's outcome, for the external tests.
type MergeResult = mergeResult

// MergeOptions are the settings a merge test varies.
type MergeOptions struct {
	Key        []string // the configured key (key = …)
	MaxChanges float64
	MaxDelete  float64
	Fallback   bool // read the [fallback] SQLite source instead of the primary
}

// Merge runs one merge of cfg's source into its target table the way the
// run will: choose the key from the target, read the source ordered by it,
// merge. It takes no run lock and records no history.
func Merge(ctx context.Context, cfg *Config, o MergeOptions, log *slog.Logger) (MergeResult, error) {
	opts := mergeOptions{MaxChanges: o.MaxChanges, MaxDelete: o.MaxDelete, Setting: "[table.items]"}
	if cfg.Target == TargetSQLite {
		t, err := openSQLiteTarget(cfg.SQLite, cfg.Sync.HistoryTable, log)
		if err != nil {
			return MergeResult{}, err
		}
		defer t.close()
		if err := t.lock(ctx); err != nil {
			return MergeResult{}, err
		}
		if opts.Key, err = t.mergeKey(ctx, t.table, o.Key, opts.Setting); err != nil {
			return MergeResult{}, err
		}
		src, err := openMergeSource(ctx, cfg, opts.Key, o.Fallback)
		if err != nil {
			return MergeResult{}, err
		}
		defer src.Close()
		res, err := t.merge(ctx, src, opts)
		if err != nil || res.Replaced {
			t.discard(ctx)
			return res, err
		}
		return res, t.commitMerge(ctx)
	}
	t, err := openMySQLTarget(ctx, cfg.AzureMySQL, cfg.Sync.HistoryTable, nil, log)
	if err != nil {
		return MergeResult{}, err
	}
	defer t.close()
	t.runID = newRunID()
	if opts.Key, err = t.mergeKey(ctx, cfg.AzureMySQL.Table, o.Key, opts.Setting); err != nil {
		return MergeResult{}, err
	}
	src, err := openMergeSource(ctx, cfg, opts.Key, o.Fallback)
	if err != nil {
		return MergeResult{}, err
	}
	defer src.Close()
	return t.merge(ctx, src, opts)
}

func openMergeSource(ctx context.Context, cfg *Config, key []keyColumn, fallback bool) (rowReader, error) {
	if fallback {
		fc := cfg.Fallback
		fc.Query = orderedQuery(fc.Query, key, true)
		return openSQLiteSource(ctx, fc)
	}
	sc := cfg.Source
	sc.Query = orderedQuery(sc.Query, key, false)
	s, err := openMySQLSource(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}
	return s, nil
}

package dbsync

import (
	"context"
	"fmt"
	"log/slog"
)

// MergeRun are the settings a merge test varies.
type MergeRun struct {
	Key        []string // the configured key (key = …)
	MaxChanges float64
	MaxDelete  float64
	Fallback   bool // read the [fallback] SQLite source instead of the primary
}

// Merge runs one merge of cfg's source into its target table the way the
// run will: choose the key from the target, read the source ordered by it,
// merge. It takes no run lock and records no history.
func Merge(ctx context.Context, cfg *Config, o MergeRun, log *slog.Logger) (MergeResult, error) {
	opts := MergeOptions{MaxChanges: o.MaxChanges, MaxDelete: o.MaxDelete, Setting: "[table.items]", Table: cfg.TargetTable()}
	// A test that leaves a threshold out gets the config's (DefaultConfig's
	// unless its file sets one): the engine itself takes 0 as a value.
	if o.MaxChanges == 0 {
		opts.MaxChanges = cfg.Sync.MergeMaxChanges
	}
	if o.MaxDelete == 0 {
		opts.MaxDelete = cfg.Sync.MaxDelete
	}
	if cfg.Target == TargetSQLite {
		t := newSQLiteTarget(cfg.SQLite, cfg.Sync.HistoryTable, log)
		defer t.Close()
		if _, err := t.Connect(ctx); err != nil {
			return MergeResult{}, err
		}
		if err := t.Lock(ctx, []string{opts.Table}); err != nil {
			return MergeResult{}, err
		}
		var err error
		if opts.Key, err = t.MergeKey(ctx, opts.Table, o.Key, opts.Setting); err != nil {
			return MergeResult{}, err
		}
		src, err := openMergeSource(ctx, cfg, opts.Key, o.Fallback)
		if err != nil {
			return MergeResult{}, err
		}
		defer src.Close()
		if opts, err = withLinks(ctx, t, opts, src); err != nil {
			return MergeResult{}, err
		}
		res, err := t.Merge(ctx, src, opts)
		if err != nil || res.Replaced {
			t.Discard(ctx)
			return res, err
		}
		return res, t.commitMerge(ctx)
	}
	t := newMySQLTarget(cfg.AzureMySQL, cfg.Sync.HistoryTable, nil, log)
	defer t.Close()
	if _, err := t.Connect(ctx); err != nil {
		return MergeResult{}, err
	}
	t.runID = newRunID()
	var err error
	if opts.Key, err = t.MergeKey(ctx, cfg.AzureMySQL.Table, o.Key, opts.Setting); err != nil {
		return MergeResult{}, err
	}
	src, err := openMergeSource(ctx, cfg, opts.Key, o.Fallback)
	if err != nil {
		return MergeResult{}, err
	}
	defer src.Close()
	if opts, err = withLinks(ctx, t, opts, src); err != nil {
		return MergeResult{}, err
	}
	res, err := t.Merge(ctx, src, opts)
	if err != nil || res.Replaced {
		return res, err
	}
	// A run applies the differences at its commit step.
	tx, err := t.applyMerges(ctx)
	if err != nil {
		t.discardMerges(ctx)
		return res, err
	}
	if err := t.commitMerges(ctx, tx); err != nil {
		return res, err
	}
	if n, ok := t.AppliedUpdates()[opts.Table]; ok {
		res.Unchanged += res.Updated - n
		res.Updated = n
	}
	return res, nil
}

// withLinks fills the options a run derives from the table's links.
func withLinks(ctx context.Context, m Merger, opts MergeOptions, src RowReader) (MergeOptions, error) {
	links, err := m.Links(ctx, opts.Table)
	if err != nil {
		return opts, err
	}
	opts.Links = links
	dst, err := m.TargetColumns(ctx, opts.Table)
	if err != nil {
		return opts, err
	}
	opts.Keeps = links.keeps(src.Columns(), dst)
	var safe bool
	if safe, opts.NoMove, opts.MoveKeysOff = links.reinsertSafe(src.Columns(), dst, opts.Key); safe {
		opts.Move = links.moveColumns(opts.Table, opts.Key, src.Columns(), nil)
	}
	return opts, nil
}

func openMergeSource(ctx context.Context, cfg *Config, key []KeyColumn, fallback bool) (SourceRows, error) {
	var s Session
	var err error
	q := orderedQuery(cfg.Source.Query, key)
	if fallback {
		q = orderedSQLiteQuery(cfg.Fallback.Query, key)
		s, err = openSQLiteSession(ctx, cfg.Fallback.Path)
	} else {
		s, err = connectMySQLSource(ctx, cfg.Source)
	}
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}
	rows, err := s.Query(ctx, q, "[source] query")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open source: %w", err)
	}
	return sessionRows{rows, s}, nil
}

// sessionRows are one query's rows that close their session with them.
type sessionRows struct {
	SourceRows
	s Session
}

func (r sessionRows) Close() error {
	r.SourceRows.Close()
	return r.s.Close()
}

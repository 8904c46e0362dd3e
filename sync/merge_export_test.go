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
// run will, on r's backends: choose the key from the target, read the
// source ordered by it, merge, commit (swap). It records the run as running in the history table and no outcome.
func Merge(ctx context.Context, r *Runner, cfg *Config, o MergeRun, log *slog.Logger) (MergeResult, error) {
	opts := MergeOptions{MaxChanges: o.MaxChanges, MaxDelete: o.MaxDelete, Setting: "[table.items]", Table: cfg.TargetTable()}
	// A test that leaves a threshold out gets the config's (DefaultConfig's
	// unless its file sets one): the engine itself takes 0 as a value.
	if o.MaxChanges == 0 {
		opts.MaxChanges = cfg.Sync.MergeMaxChanges
	}
	if o.MaxDelete == 0 {
		opts.MaxDelete = cfg.Sync.MaxDelete
	}
	tgt, err := r.openTarget(ctx, cfg, log)
	if err != nil {
		return MergeResult{}, err
	}
	defer tgt.Close()
	if err := tgt.Lock(ctx, []string{opts.Table}); err != nil {
		return MergeResult{}, err
	}
	if err := tgt.RunHistory().ensure(ctx); err != nil {
		return MergeResult{}, err
	}
	rep := NewReport(cfg, TriggerCLI)
	if err := tgt.Begin(ctx, rep.RunID, cfg.Target, []string{opts.Table}); err != nil {
		return MergeResult{}, err
	}
	if err := tgt.RunHistory().start(ctx, rep, log); err != nil {
		return MergeResult{}, err
	}
	t, ok := tgt.AsMerger()
	if !ok {
		return MergeResult{}, fmt.Errorf("target %s cannot merge", tgt.Describe())
	}
	if opts.Key, err = t.MergeKey(ctx, opts.Table, o.Key, opts.Setting); err != nil {
		return MergeResult{}, err
	}
	src, err := openMergeSource(ctx, r, cfg, opts.Key, o.Fallback)
	if err != nil {
		return MergeResult{}, err
	}
	defer src.Close()
	if opts, err = withLinks(ctx, t, opts, src); err != nil {
		return MergeResult{}, err
	}
	res, err := mergeRows(ctx, t, src, opts)
	if err != nil || res.Replaced {
		tgt.Discard(ctx)
		return res, err
	}
	// A run applies the differences at its commit step.
	if _, err := tgt.Swap(ctx); err != nil {
		tgt.Discard(ctx)
		return res, err
	}
	if n, ok := tgt.AppliedUpdates()[opts.Table]; ok {
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

func openMergeSource(ctx context.Context, r *Runner, cfg *Config, key []KeyColumn, fallback bool) (SourceRows, error) {
	var s Session
	var err error
	q := cfg.Source.Query
	if fallback {
		q = cfg.Fallback.Query
		s, err = r.openFallback(ctx, cfg)
	} else {
		s, err = r.MySQL.OpenSource(ctx, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}
	rows, err := s.Query(ctx, s.OrderedQuery(q, key), "[source] query")
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

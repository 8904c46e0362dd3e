package dbsync

import "context"

// RecordRun writes rep to cfg's history table the way a run does: the
// target cleans up for it (begin), the run records itself as running
// (start), then its outcome (finish).
func RecordRun(ctx context.Context, r *Runner, cfg *Config, rep *Report) error {
	tgt, err := r.openTarget(ctx, cfg, r.Logger)
	if err != nil {
		return err
	}
	defer tgt.Close()
	if err := tgt.Lock(ctx, targetNames(cfg.RunTables())); err != nil {
		return err
	}
	var tables []string
	for _, row := range historyRows(rep) {
		tables = append(tables, row.Table)
	}
	h := tgt.RunHistory()
	if err := h.ensure(ctx); err != nil {
		return err
	}
	if err := tgt.Begin(ctx, rep.RunID, rep.Target, tables); err != nil {
		return err
	}
	if err := h.start(ctx, rep, r.Logger); err != nil {
		return err
	}
	return h.finish(ctx, rep)
}

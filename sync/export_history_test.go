package dbsync

import "context"

// RecordRun writes rep to cfg's history table the way a run does: the
// target records it as running (begin), then records its outcome (finish).
func RecordRun(ctx context.Context, r *Runner, cfg *Config, rep *Report) error {
	tgt, err := r.openTarget(ctx, cfg, r.Logger)
	if err != nil {
		return err
	}
	defer tgt.close()
	if err := tgt.lock(ctx, targetNames(cfg.RunTables())); err != nil {
		return err
	}
	if err := tgt.begin(ctx, rep); err != nil {
		return err
	}
	return tgt.finish(ctx, rep)
}

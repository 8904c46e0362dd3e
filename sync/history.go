package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// History returns the most recent runs recorded in cfg's target, newest
// first. A target without a history table has no runs yet.
func (r *Runner) History(ctx context.Context, cfg *Config, limit int) ([]Report, error) {
	var db *sql.DB
	var q string
	switch cfg.Target {
	case TargetSQLite:
		if _, err := os.Stat(cfg.SQLite.Path); errors.Is(err, fs.ErrNotExist) {
			return []Report{}, nil
		}
		conn, err := openSQLite(cfg.SQLite.Path, true)
		if err != nil {
			return nil, fmt.Errorf("open sqlite target %s: %w", cfg.SQLite.Path, err)
		}
		db = conn
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name=?`, cfg.Sync.HistoryTable).Scan(&n); err != nil || n == 0 {
			db.Close()
			return []Report{}, err
		}
		q = `SELECT "run_id","trigger","status",COALESCE("source",''),COALESCE("fallback_reason",''),"target","table",COALESCE("rows",0),COALESCE("load_method",''),"started_at",COALESCE("finished_at",''),COALESCE("duration_ms",0),COALESCE("rows_per_sec",0),COALESCE("error",'')
			FROM ` + quoteSQLite(cfg.Sync.HistoryTable) + ` ORDER BY "started_at" DESC LIMIT ?`
	default:
		t, err := r.openTarget(ctx, cfg, r.Logger)
		if err != nil {
			return nil, err
		}
		mt := t.(*mysqlTarget)
		defer mt.close()
		db = mt.db
		exists, err := mt.tableExists(ctx, cfg.Sync.HistoryTable)
		if err != nil || !exists {
			return []Report{}, err
		}
		q = "SELECT `run_id`,`trigger`,`status`,COALESCE(`source`,''),COALESCE(`fallback_reason`,''),`target`,`table`,COALESCE(`rows`,0),COALESCE(`load_method`,''),DATE_FORMAT(`started_at`,'%Y-%m-%dT%H:%i:%s.%fZ'),COALESCE(DATE_FORMAT(`finished_at`,'%Y-%m-%dT%H:%i:%s.%fZ'),''),COALESCE(`duration_ms`,0),COALESCE(`rows_per_sec`,0),COALESCE(`error`,'')" +
			" FROM " + quoteMySQL(cfg.Sync.HistoryTable) + " ORDER BY `started_at` DESC LIMIT ?"
	}
	if cfg.Target == TargetSQLite {
		defer db.Close()
	}
	rows, err := db.QueryContext(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("read history table %s: %w", cfg.Sync.HistoryTable, err)
	}
	defer rows.Close()
	out := []Report{}
	for rows.Next() {
		var rep Report
		var target, started, finished string
		if err := rows.Scan(&rep.RunID, &rep.Trigger, &rep.Status, &rep.Source, &rep.FallbackReason, &target, &rep.Table,
			&rep.Rows, &rep.LoadMethod, &started, &finished, &rep.DurationMS, &rep.RowsPerSec, &rep.Error); err != nil {
			return nil, fmt.Errorf("read history table %s: %w", cfg.Sync.HistoryTable, err)
		}
		rep.Target = Target(target)
		rep.StartedAt, _ = time.Parse(time.RFC3339Nano, started)
		rep.FinishedAt, _ = time.Parse(time.RFC3339Nano, finished)
		out = append(out, rep)
	}
	return out, rows.Err()
}

// RunningRunID returns the id of a run recorded as running on cfg's target
// (by this or another instance), or "" when none is known.
func (r *Runner) RunningRunID(ctx context.Context, cfg *Config) string {
	if id := r.ActiveRun(cfg); id != "" {
		return id
	}
	runs, err := r.History(ctx, cfg, 5)
	if err != nil {
		return ""
	}
	for _, run := range runs {
		if run.Status == StatusRunning {
			return run.RunID
		}
	}
	return ""
}

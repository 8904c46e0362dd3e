package dbsync

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// checkIncremental is check's part of the incremental tables on the
// primary (issue 21 "check"): the cursor is a column of the query's result
// and temporal (else a configuration error), its NULLs are counted, the
// window read's EXPLAIN is warned about when it cannot use an index, and
// one line says whether open transactions on the primary can be seen
// (PROCESS) or late commits are guarded by lookback only.
func checkIncremental(ctx context.Context, cfg *Config, src Session, tables []TableConfig) (details, warnings []string, err error) {
	var inc []TableConfig
	for _, t := range tables {
		if t.Mode == ModeIncremental {
			inc = append(inc, t)
		}
	}
	if len(inc) == 0 {
		return nil, nil, nil
	}
	is, ok := src.Incremental()
	if !ok {
		return nil, nil, nil
	}
	p, probed := is.WatermarkProbe()
	switch {
	case !probed:
	case p.Seen:
		details = append(details, "incremental: open transactions on the primary are visible (PROCESS), so the watermark stops at the oldest one and late commits are read")
	default:
		warnings = append(warnings, "incremental: "+p.Note)
	}
	for _, t := range inc {
		what := iniKey(cfg.TableKey(t, "query"))
		cols, err := src.CheckColumns(ctx, t.Query, what)
		if err != nil {
			return nil, nil, err
		}
		col, err := IncrementalCheckCursor(cfg, t, cols)
		if err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, IncrementalCursorWarnings(t.Target, col, t.Lookback)...)
		now := p.SessionNow
		if !WatermarkIsTimestamp(col) && !p.GlobalNow.IsZero() {
			now = p.GlobalNow
		}
		if now.IsZero() {
			now = time.Now().UTC()
		}
		nulls, warn, err := is.CheckCursor(ctx, t.Target, t.Query, col.Name, now.Add(-t.Lookback).Format(WatermarkLayout))
		if err != nil {
			return nil, nil, fmt.Errorf("table %s: check cursor %s: %w", t.Target, col.Name, err)
		}
		d := fmt.Sprintf("table %s: cursor %s (%s) fits mode = incremental", t.Target, col.Name, strings.ToLower(col.TypeName))
		if nulls > 0 {
			d += fmt.Sprintf(", %d rows with a NULL cursor (read by every run)", nulls)
		}
		details = append(details, d)
		if warn != "" {
			warnings = append(warnings, warn)
		}
	}
	return details, warnings, nil
}

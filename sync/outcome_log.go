package dbsync

import "log/slog"

// LogRunEnded is the message of the one log line per table that ends a
// run (DESIGN §6): its attributes are the report's figures for that
// table, so a log query (Application Insights KQL) reads them as fields,
// never by parsing text.
const LogRunEnded = "run ended"

// logTableOutcomes writes one LogRunEnded line per table of rep. log must
// not carry the run's own keys already (run_id, target, table): each line
// names them once. Every line is Info, whatever the outcome: it is the
// run's record, kept on one stream; the run's error is logged at its
// boundary.
func logTableOutcomes(log *slog.Logger, rep *Report) {
	for _, row := range historyRows(rep) {
		attrs := []any{
			LogRunID, row.RunID,
			LogTarget, string(row.Target),
			LogTable, row.Table,
			"trigger", row.Trigger,
			"status", row.Status,
			"mode", row.Mode,
			"rows", row.Rows,
			"inserted", row.Inserted,
			"updated", row.Updated,
			"deleted", row.Deleted,
			"unchanged", row.Unchanged,
			"duration_ms", row.DurationMS,
			"rows_per_sec", row.RowsPerSec,
			"load_method", row.LoadMethod,
			"source", row.Source,
			"fallback", row.Source == SourceFallback,
			"retries", row.Retries,
			"version", row.Version,
		}
		if row.FallbackReason != "" {
			attrs = append(attrs, "fallback_reason", row.FallbackReason)
		}
		if row.Error != "" {
			attrs = append(attrs, "error", row.Error)
		}
		log.Info(LogRunEnded, attrs...)
	}
}

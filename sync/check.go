package sync

import (
	"context"
	"fmt"
	"strings"
)

// CheckResult is one line of `handler check`.
type CheckResult struct {
	Name   string
	OK     bool
	Detail string
}

// Check connects to everything a run of cfg would use, without writing:
// the primary (and its query), the fallback, the target (TLS, LOAD DATA
// LOCAL). The [source] query is never run: its columns come from a LIMIT 0
// probe inside the primary's read-only transaction. Each source's columns
// are matched against the target table as a run would match them. Secrets
// are never part of a detail.
func (r *Runner) Check(ctx context.Context, cfg *Config) []CheckResult {
	// The target first: its table's columns are what each source must fill.
	tgt, table := r.checkTarget(ctx, cfg)
	return []CheckResult{r.checkPrimary(ctx, cfg, table), r.checkFallback(ctx, cfg, table), tgt}
}

// targetTable is the target table as check found it.
type targetTable struct {
	name string
	cols []targetColumn
}

func failed(name string, err error) CheckResult {
	return CheckResult{Name: name, Detail: err.Error()}
}

func (r *Runner) checkPrimary(ctx context.Context, cfg *Config, table *targetTable) CheckResult {
	src, err := connectMySQLSource(ctx, cfg.Source)
	if err != nil {
		return failed("primary", err)
	}
	defer src.Close()
	cols, err := src.probeColumns(ctx)
	if err != nil {
		return failed("primary", err)
	}
	fit, err := fitTarget(cols, table, cfg.Sync.OnSchemaChange)
	if err != nil {
		return failed("primary", fmt.Errorf("[source] query: %w", err))
	}
	tls := sessionTLS(ctx, src.conn, "source", cfg.Source.SSLMode)
	return CheckResult{Name: "primary", OK: true, Detail: fmt.Sprintf("%s:%d database %s, %s, query returns %d columns%s", cfg.Source.Host, cfg.Source.Port, cfg.Source.Database, tls, len(cols), fit)}
}

func (r *Runner) checkFallback(ctx context.Context, cfg *Config, table *targetTable) CheckResult {
	if !cfg.Sync.FallbackEnabled {
		return CheckResult{Name: "fallback", OK: true, Detail: "disabled ([sync] fallback_enabled = false)"}
	}
	src, err := openSQLiteSource(ctx, cfg.Fallback)
	if err != nil {
		return failed("fallback", err)
	}
	defer src.Close()
	fit, err := fitTarget(src.Columns(), table, cfg.Sync.OnSchemaChange)
	if err != nil {
		return failed("fallback", fmt.Errorf("[fallback] query: %w", err))
	}
	return CheckResult{Name: "fallback", OK: true, Detail: fmt.Sprintf("%s, query returns %d columns%s", cfg.Fallback.Path, len(src.Columns()), fit)}
}

// fitTarget matches a source's columns against the target table by the
// run's own rule (planStage). With on_schema_change = fail a difference
// fails the run, so it is an error here, listing the columns; with
// recreate it is a note. No table yet: the first run creates it.
func fitTarget(cols []Column, table *targetTable, policy string) (string, error) {
	if table == nil {
		return "", nil
	}
	plan, err := planStage(table.name, cols, table.cols, policy, nil)
	if err != nil {
		return "", err
	}
	if len(plan.differences) == 0 {
		return ", columns fit the target table", nil
	}
	return ", columns differ from the target table, which on_schema_change = recreate rebuilds: " + strings.Join(plan.differences, "; "), nil
}

// checkTarget connects to the target and reads its table's columns (nil
// when there is no table yet, or the target cannot be reached).
func (r *Runner) checkTarget(ctx context.Context, cfg *Config) (CheckResult, *targetTable) {
	t, err := r.openTarget(ctx, cfg, r.Logger)
	if err != nil {
		return failed("target", err), nil
	}
	defer t.close()
	detail, err := t.probe(ctx)
	if err != nil {
		return failed("target", err), nil
	}
	cols, err := t.tableColumns(ctx)
	if err != nil {
		return failed("target", err), nil
	}
	res := CheckResult{Name: "target", OK: true, Detail: detail + ", " + tableState(len(cols) > 0)}
	if len(cols) == 0 {
		return res, nil
	}
	return res, &targetTable{name: cfg.TargetTable(), cols: cols}
}

func tableState(exists bool) string {
	if exists {
		return "table exists"
	}
	return "table does not exist yet: the first run creates it from the source's column types"
}

// sessionTLS describes the TLS of a session, as the server sees it, and
// says plainly when there is none.
func sessionTLS(ctx context.Context, q rowQueryer, section string, mode SSLMode) string {
	var name, version, cipher string
	if err := q.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_version'").Scan(&name, &version); err != nil {
		return "TLS unknown"
	}
	_ = q.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher)
	if version == "" {
		if mode == SSLPreferred {
			return fmt.Sprintf("UNENCRYPTED, no TLS (plaintext): [%s] ssl_mode = preferred and the server offers no TLS; set ssl_mode = verify_identity (or required) to refuse plaintext", section)
		}
		return fmt.Sprintf("UNENCRYPTED, no TLS (plaintext): [%s] ssl_mode = %s", section, mode)
	}
	return "TLS " + version + " " + cipher
}

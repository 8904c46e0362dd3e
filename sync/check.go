package dbsync

import (
	"cmp"
	"context"
	"fmt"
	"strings"
)

// CheckResult is one line of `handler check`.
type CheckResult struct {
	Name   string
	OK     bool
	Detail string
	// Warnings are what works but should be fixed (a merge key without
	// an index); they do not fail check.
	Warnings []string
}

// Check connects to everything a run of cfg would use, without writing:
// the primary (and its query), the fallback, the target (TLS, LOAD DATA
// LOCAL). The [source] query is never run: its columns come from a LIMIT 0
// probe inside the primary's read-only transaction. Each source's columns
// are matched against the target table as a run would match them. Secrets
// are never part of a detail.
func (r *Runner) Check(ctx context.Context, cfg *Config) []CheckResult {
	// The target first: its tables' columns are what each source must fill.
	tables := cfg.RunTables()
	tgt, found := r.checkTarget(ctx, cfg, tables)
	return []CheckResult{r.checkPrimary(ctx, cfg, tables, found), r.checkFallback(ctx, cfg, tables, found), tgt}
}

// targetTable is a target table as check found it.
type targetTable struct {
	name string
	cols []TargetColumn
}

func failed(name string, err error) CheckResult {
	return CheckResult{Name: name, Detail: err.Error()}
}

// checkTables matches each table's query on a source against its target
// table; the detail lists them, named when the job has several.
func checkTables(tables []TableConfig, found map[string]*targetTable,
	columns func(t TableConfig) ([]Column, string, error)) (string, error) {
	var details []string
	for _, t := range tables {
		cols, what, err := columns(t)
		if err == nil {
			var fit string
			if fit, err = fitTarget(cols, found[t.Target], t.OnSchemaChange); err == nil {
				d := fmt.Sprintf("query returns %d columns%s", len(cols), fit)
				if len(tables) > 1 {
					d = "table " + t.Target + ": " + d
				}
				details = append(details, d)
				continue
			}
			err = fmt.Errorf("%s: %w", what, err)
		}
		if len(tables) > 1 {
			err = fmt.Errorf("table %s: %w", t.Target, err)
		}
		return "", err
	}
	return strings.Join(details, "; "), nil
}

func (r *Runner) checkPrimary(ctx context.Context, cfg *Config, tables []TableConfig, found map[string]*targetTable) CheckResult {
	// One try: check says at once what is wrong, without the run's
	// retries.
	if r.MySQL == nil {
		return failed("primary", errNoMySQL(cfg))
	}
	src, err := r.MySQL.OpenSource(ctx, cfg)
	if err != nil {
		return failed("primary", err)
	}
	incDetails, incWarnings, err := checkIncremental(ctx, cfg, src, tables)
	if err != nil {
		src.Close()
		return failed("primary", err)
	}
	res := checkSource(ctx, "primary", src, tables, found, func(t TableConfig) (string, string) {
		return t.Query, iniKey(cfg.TableKey(t, "query"))
	})
	if res.OK {
		res.Detail = strings.Join(append([]string{res.Detail}, incDetails...), "; ")
		res.Warnings = append(res.Warnings, incWarnings...)
	}
	return res
}

func (r *Runner) checkFallback(ctx context.Context, cfg *Config, tables []TableConfig, found map[string]*targetTable) CheckResult {
	if !cfg.Sync.FallbackEnabled {
		return CheckResult{Name: "fallback", OK: true, Detail: "disabled ([sync] fallback_enabled = false)"}
	}
	src, err := r.openFallback(ctx, cfg)
	if err != nil {
		return failed("fallback", err)
	}
	return checkSource(ctx, "fallback", src, tables, found, func(t TableConfig) (string, string) {
		return t.FallbackQuery, iniKey(cfg.TableKey(t, "fallback_query"))
	})
}

// checkSource is check's line of one source: where it is and whether each
// table's query fits its target table. It closes src.
func checkSource(ctx context.Context, name string, src Session, tables []TableConfig, found map[string]*targetTable, query func(TableConfig) (q, what string)) CheckResult {
	defer src.Close()
	detail, err := checkTables(tables, found, func(t TableConfig) ([]Column, string, error) {
		q, what := query(t)
		cols, err := src.CheckColumns(ctx, q, what)
		return cols, what, err
	})
	if err != nil {
		return failed(name, err)
	}
	return CheckResult{Name: name, OK: true, Detail: src.Describe(ctx) + ", " + detail}
}

// fitTarget matches a source's columns against the target table by the
// run's own rule (planStage). With on_schema_change = fail a difference
// fails the run, so it is an error here, listing the columns; with
// recreate it is a note. No table yet: the first run creates it.
func fitTarget(cols []Column, table *targetTable, policy string) (string, error) {
	if table == nil {
		return "", nil
	}
	plan, err := PlanStage(table.name, cols, table.cols, policy, nil)
	if err != nil {
		return "", err
	}
	if len(plan.differences) == 0 {
		return ", columns fit the target table", nil
	}
	return ", columns differ from the target table, which on_schema_change = recreate rebuilds: " + strings.Join(plan.differences, "; "), nil
}

// checkTarget connects to the target and reads its tables' columns (none
// for a table that does not exist yet, or when the target cannot be
// reached), and the key each existing merge table would be merged by.
func (r *Runner) checkTarget(ctx context.Context, cfg *Config, tables []TableConfig) (CheckResult, map[string]*targetTable) {
	found := map[string]*targetTable{}
	t, err := r.openTarget(ctx, cfg, r.Logger)
	if err != nil {
		return failed("target", err), found
	}
	defer t.Close()
	detail, err := t.Probe(ctx)
	if err != nil {
		return failed("target", err), found
	}
	// A merge key's absence fails check, but only after every table was
	// read: the sources' checks match each table that exists.
	var keyErr error
	var warnings []string
	for _, tc := range tables {
		cols, err := t.TableColumns(ctx, tc.Target)
		if err != nil {
			return failed("target", err), found
		}
		detail += ", " + tc.Target + ": " + tableState(len(cols) > 0)
		if len(cols) == 0 {
			continue
		}
		found[tc.Target] = &targetTable{name: tc.Target, cols: cols}
		// A merge table needs a key, and the run would stop without one.
		if tc.Mode.mergesByKey() {
			key, err := t.MergeKey(ctx, tc.Target, tc.Key, cfg.mergeSetting(tc))
			if err != nil {
				keyErr = cmp.Or(keyErr, err)
				continue
			}
			detail += ", merged by key (" + strings.Join(KeyNames(key), ", ") + ")"
			if w := keyIndexWarning(ctx, t, tc.Target, key); w != "" {
				warnings = append(warnings, w)
			}
		}
	}
	if keyErr != nil {
		return failed("target", keyErr), found
	}
	return CheckResult{Name: "target", OK: true, Detail: detail, Warnings: warnings}, found
}

func tableState(exists bool) string {
	if exists {
		return "table exists"
	}
	return "table does not exist yet: the first run creates it from the source's column types"
}

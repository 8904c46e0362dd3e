package sync

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
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
// run's own rule (matchColumns). With on_schema_change = fail a difference
// fails the run, so it is an error here, listing the columns; with
// recreate it is a note. No table yet: the first run creates it.
func fitTarget(cols []Column, table *targetTable, policy string) (string, error) {
	if table == nil {
		return "", nil
	}
	_, diffs := matchColumns(cols, table.cols)
	switch {
	case len(diffs) == 0:
		return ", columns fit the target table", nil
	case policy == SchemaRecreate:
		return ", columns differ from the target table, which on_schema_change = recreate rebuilds: " + strings.Join(diffs, "; "), nil
	}
	return "", &SchemaError{Table: table.name, Differences: diffs}
}

// checkTarget connects to the target and reads its table's columns (nil
// when there is no table yet, or the target cannot be reached).
func (r *Runner) checkTarget(ctx context.Context, cfg *Config) (CheckResult, *targetTable) {
	switch cfg.Target {
	case TargetAzure:
		t, err := r.openTarget(ctx, cfg, r.Logger)
		if err != nil {
			return failed("target", err), nil
		}
		defer t.close()
		mt := t.(*mysqlTarget)
		var local sql.NullString
		_ = mt.db.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&local)
		method := "LOAD DATA LOCAL allowed (load_method load_data)"
		if local.String != "1" && !strings.EqualFold(local.String, "ON") {
			method = "local_infile is OFF: rows will be loaded with multi-row INSERTs (load_method insert); set local_infile=ON on the server for the fastest load"
		}
		cols, err := mt.columns(ctx, cfg.AzureMySQL.Table)
		if err != nil {
			return failed("target", fmt.Errorf("read columns of target table %s: %w", quoteMySQL(cfg.AzureMySQL.Table), err)), nil
		}
		res := CheckResult{Name: "target", OK: true, Detail: fmt.Sprintf("%s, %s, %s, %s", mt.describe(), sessionTLS(ctx, mt.db, "azure_mysql", cfg.AzureMySQL.SSLMode), method, tableState(len(cols) > 0))}
		if len(cols) == 0 {
			return res, nil
		}
		return res, &targetTable{name: cfg.AzureMySQL.Table, cols: cols}
	case TargetSQLite:
		dir := filepath.Dir(cfg.SQLite.Path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return failed("target", fmt.Errorf("sqlite target folder %s does not exist", dir)), nil
		}
		f, err := os.CreateTemp(dir, ".dbsync-check-*")
		if err != nil {
			return failed("target", fmt.Errorf("sqlite target folder %s is not writable: %w", dir, err)), nil
		}
		f.Close()
		os.Remove(f.Name())
		cols, err := sqliteTableColumns(ctx, cfg.SQLite)
		if err != nil {
			return failed("target", err), nil
		}
		res := CheckResult{Name: "target", OK: true, Detail: fmt.Sprintf("sqlite %s table %s, folder writable, %s", cfg.SQLite.Path, quoteSQLite(cfg.SQLite.Table), tableState(len(cols) > 0))}
		if len(cols) == 0 {
			return res, nil
		}
		return res, &targetTable{name: cfg.SQLite.Table, cols: cols}
	}
	return failed("target", fmt.Errorf("unknown target %q", cfg.Target)), nil
}

func tableState(exists bool) string {
	if exists {
		return "table exists"
	}
	return "table does not exist yet: the first run creates it from the source's column types"
}

// sqliteTableColumns reads the SQLite target table's columns, read-only;
// none when the file or the table does not exist yet.
func sqliteTableColumns(ctx context.Context, c SQLiteConfig) ([]targetColumn, error) {
	if _, err := os.Stat(c.Path); os.IsNotExist(err) {
		return nil, nil
	}
	db, err := openSQLite(c.Path, true)
	if err != nil {
		return nil, fmt.Errorf("open sqlite target %s: %w", c.Path, err)
	}
	defer db.Close()
	cols, _, err := (&sqliteTarget{}).columns(ctx, db, c.Table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s in %s: %w", quoteSQLite(c.Table), c.Path, err)
	}
	return cols, nil
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

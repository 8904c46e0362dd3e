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
// LOCAL). Secrets are never part of a detail.
func (r *Runner) Check(ctx context.Context, cfg *Config) []CheckResult {
	var out []CheckResult
	add := func(name string, err error, detail string) {
		if err != nil {
			out = append(out, CheckResult{Name: name, Detail: err.Error()})
			return
		}
		out = append(out, CheckResult{Name: name, OK: true, Detail: detail})
	}

	src, err := openMySQLSource(ctx, cfg.Source)
	if err == nil {
		tls := sessionTLS(ctx, src.db)
		add("primary", nil, fmt.Sprintf("%s:%d database %s, %s, query returns %d columns", cfg.Source.Host, cfg.Source.Port, cfg.Source.Database, tls, len(src.Columns())))
		src.Close()
	} else {
		add("primary", err, "")
	}

	if cfg.Sync.FallbackEnabled {
		fsrc, err := openSQLiteSource(ctx, cfg.Fallback)
		if err == nil {
			add("fallback", nil, fmt.Sprintf("%s, query returns %d columns", cfg.Fallback.Path, len(fsrc.Columns())))
			fsrc.Close()
		} else {
			add("fallback", err, "")
		}
	} else {
		out = append(out, CheckResult{Name: "fallback", OK: true, Detail: "disabled ([sync] fallback_enabled = false)"})
	}

	switch cfg.Target {
	case TargetAzure:
		t, err := r.openTarget(ctx, cfg, r.Logger)
		if err != nil {
			add("target", err, "")
			break
		}
		mt := t.(*mysqlTarget)
		var local sql.NullString
		_ = mt.db.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&local)
		method := "LOAD DATA LOCAL allowed (load_method load_data)"
		if local.String != "1" && !strings.EqualFold(local.String, "ON") {
			method = "local_infile is OFF: rows will be loaded with multi-row INSERTs (load_method insert); set local_infile=ON on the server for the fastest load"
		}
		exists, _ := mt.tableExists(ctx, cfg.AzureMySQL.Table)
		table := "table exists"
		if !exists {
			table = "table does not exist yet: the first run creates it from the source's column types"
		}
		add("target", nil, fmt.Sprintf("%s, %s, %s, %s", mt.describe(), sessionTLS(ctx, mt.db), method, table))
		t.close()
	case TargetSQLite:
		dir := filepath.Dir(cfg.SQLite.Path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			add("target", fmt.Errorf("sqlite target folder %s does not exist", dir), "")
		} else if f, err := os.CreateTemp(dir, ".dbsync-check-*"); err != nil {
			add("target", fmt.Errorf("sqlite target folder %s is not writable: %w", dir, err), "")
		} else {
			f.Close()
			os.Remove(f.Name())
			add("target", nil, fmt.Sprintf("sqlite %s table %s, folder writable", cfg.SQLite.Path, quoteSQLite(cfg.SQLite.Table)))
		}
	}
	return out
}

// sessionTLS describes the TLS of a pool's connection, as the server sees it.
func sessionTLS(ctx context.Context, db *sql.DB) string {
	var name, version, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_version'").Scan(&name, &version); err != nil {
		return "TLS unknown"
	}
	_ = db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher)
	if version == "" {
		return "no TLS (plaintext)"
	}
	return "TLS " + version + " " + cipher
}

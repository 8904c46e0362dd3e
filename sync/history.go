package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// historyType is what a history column holds; each dialect declares it.
type historyType int

const (
	historyKey   historyType = iota // the run id, the primary key
	historyWord                     // a short word: trigger, status, source…
	historyName                     // a table name
	historyText                     // free text: an error, a reason
	historyInt                      // an integer
	historyFloat                    // a float
	historyTime                     // an instant, NULL when not set
	historyBool                     // true or false
)

// historyColumn is one column of the history table and the Report field it
// stores.
type historyColumn struct {
	name  string
	typ   historyType
	field func(r *Report) any // a pointer to the field
}

// historyColumns is the history table: one line per Report field, in the
// table's order. A new field is a new line here; historyStore.ensure adds its
// column to tables made before it. Report.DryRun has no column: a dry run
// never touches the target, so it is never recorded.
var historyColumns = []historyColumn{
	{"run_id", historyKey, func(r *Report) any { return &r.RunID }},
	{"trigger", historyWord, func(r *Report) any { return &r.Trigger }},
	{"status", historyWord, func(r *Report) any { return &r.Status }},
	{"source", historyWord, func(r *Report) any { return &r.Source }},
	{"fallback_reason", historyText, func(r *Report) any { return &r.FallbackReason }},
	{"target", historyWord, func(r *Report) any { return &r.Target }},
	{"table", historyName, func(r *Report) any { return &r.Table }},
	{"rows", historyInt, func(r *Report) any { return &r.Rows }},
	{"load_method", historyWord, func(r *Report) any { return &r.LoadMethod }},
	{"started_at", historyTime, func(r *Report) any { return &r.StartedAt }},
	{"finished_at", historyTime, func(r *Report) any { return &r.FinishedAt }},
	{"duration_ms", historyInt, func(r *Report) any { return &r.DurationMS }},
	{"rows_per_sec", historyFloat, func(r *Report) any { return &r.RowsPerSec }},
	{"error", historyText, func(r *Report) any { return &r.Error }},
	{"retries", historyInt, func(r *Report) any { return &r.Retries }},
	{"swap_wait_ms", historyInt, func(r *Report) any { return &r.SwapWaitMS }},
	{"unencrypted", historyWord, func(r *Report) any { return &r.Unencrypted }},
	{"stage_plan", historyWord, func(r *Report) any { return &r.StagePlan }},
}

// historyDialect is what differs between the targets' history tables.
type historyDialect struct {
	quote func(string) string
	types map[historyType]string // column types for CREATE and ALTER
	// time is how an instant is stored (never the zero time: that is NULL).
	time func(time.Time) any
	// tableOptions follow the column list in CREATE TABLE.
	tableOptions string
	// columnsSQL lists a table's column names (none: no such table); its
	// one parameter is the table name.
	columnsSQL string
}

var mysqlHistory = historyDialect{
	quote: quoteMySQL,
	types: map[historyType]string{
		historyKey: "VARCHAR(64) NOT NULL PRIMARY KEY", historyWord: "VARCHAR(16)", historyName: "VARCHAR(64)",
		historyText: "TEXT", historyInt: "BIGINT", historyFloat: "DOUBLE", historyTime: "DATETIME(6) NULL", historyBool: "BOOLEAN",
	},
	// The session's time zone is UTC; DATETIME(6) keeps microseconds (MySQL
	// 8 would round finer digits, MariaDB truncates: truncate for both).
	time:         func(v time.Time) any { return v.UTC().Truncate(time.Microsecond) },
	tableOptions: ", KEY `started_at` (`started_at`)) DEFAULT CHARSET=utf8mb4",
	columnsSQL:   "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
}

var sqliteHistory = historyDialect{
	quote: quoteSQLite,
	types: map[historyType]string{
		historyKey: "TEXT PRIMARY KEY", historyWord: "TEXT", historyName: "TEXT",
		historyText: "TEXT", historyInt: "INTEGER", historyFloat: "REAL", historyTime: "TEXT", historyBool: "INTEGER",
	},
	// Fixed width, so that text order is time order.
	time:         func(v time.Time) any { return v.UTC().Format(sqliteHistoryTime) },
	tableOptions: ")",
	columnsSQL:   `SELECT "name" FROM pragma_table_info(?)`,
}

// sqliteHistoryTime is RFC 3339 with exactly six fractional digits.
const sqliteHistoryTime = "2006-01-02T15:04:05.000000Z"

// historyStore reads and writes one history table.
type historyStore struct {
	db      *sql.DB
	name    string // the history table
	where   string // the database or file it is in, for messages
	dialect historyDialect
}

func (h historyStore) table() string { return h.dialect.quote(h.name) }

// columns lists the history table's column names in lower case; none when
// there is no such table.
func (h historyStore) columns(ctx context.Context) (map[string]bool, error) {
	rows, err := h.db.QueryContext(ctx, h.dialect.columnsSQL, h.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		have[strings.ToLower(name)] = true
	}
	return have, rows.Err()
}

// ensure creates the history table, or adds the columns that a table made
// by an earlier version lacks.
func (h historyStore) ensure(ctx context.Context) error {
	defs := make([]string, len(historyColumns))
	for i, c := range historyColumns {
		defs[i] = h.dialect.quote(c.name) + " " + h.dialect.types[c.typ]
	}
	if _, err := h.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+h.table()+" ("+strings.Join(defs, ", ")+h.dialect.tableOptions); err != nil {
		return fmt.Errorf("create history table %s in %s: %w", h.table(), h.where, err)
	}
	have, err := h.columns(ctx)
	if err != nil {
		return fmt.Errorf("read columns of history table %s in %s: %w", h.table(), h.where, err)
	}
	for i, c := range historyColumns {
		if have[c.name] || c.typ == historyKey {
			continue
		}
		if _, err := h.db.ExecContext(ctx, "ALTER TABLE "+h.table()+" ADD COLUMN "+defs[i]); err != nil {
			return fmt.Errorf("add column %s to history table %s in %s: %w", c.name, h.table(), h.where, err)
		}
	}
	return nil
}

// start readies the history table and records r as running; runs of the
// same table still recorded as running are closed as abandoned first (the
// caller holds the run lock, so none of them is alive).
func (h historyStore) start(ctx context.Context, r *Report, log *slog.Logger) error {
	if err := h.ensure(ctx); err != nil {
		return err
	}
	if n, err := h.markAbandoned(ctx, r.Target, r.Table, time.Now()); err != nil {
		return fmt.Errorf("close abandoned runs in %s: %w", h.table(), err)
	} else if n > 0 {
		log.Warn("earlier runs never finished; marked abandoned", "runs", n)
	}
	running := *r
	running.Status = StatusRunning
	names := make([]string, len(historyColumns))
	marks := make([]string, len(historyColumns))
	values := make([]any, len(historyColumns))
	for i, c := range historyColumns {
		names[i], marks[i] = h.dialect.quote(c.name), "?"
		v, err := h.value(c.field(&running))
		if err != nil {
			return fmt.Errorf("record run in %s: column %s: %w", h.table(), c.name, err)
		}
		values[i] = v
	}
	if _, err := h.db.ExecContext(ctx, "INSERT INTO "+h.table()+" ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(marks, ", ")+")", values...); err != nil {
		return fmt.Errorf("record run in %s: %w", h.table(), err)
	}
	return nil
}

// finish records r's outcome: every column of its row.
func (h historyStore) finish(ctx context.Context, r *Report) error {
	var sets []string
	var values []any
	for _, c := range historyColumns {
		if c.typ == historyKey {
			continue
		}
		v, err := h.value(c.field(r))
		if err != nil {
			return fmt.Errorf("record run outcome in %s: column %s: %w", h.table(), c.name, err)
		}
		sets = append(sets, h.dialect.quote(c.name)+" = ?")
		values = append(values, v)
	}
	values = append(values, r.RunID)
	if _, err := h.db.ExecContext(ctx, "UPDATE "+h.table()+" SET "+strings.Join(sets, ", ")+" WHERE "+h.dialect.quote("run_id")+" = ?", values...); err != nil {
		return fmt.Errorf("record run outcome in %s: %w", h.table(), err)
	}
	return nil
}

// markAbandoned closes the history rows of the table's runs that were
// still "running". The caller holds the run lock, so no such run is alive:
// the process running it was killed or timed out. It returns how many.
func (h historyStore) markAbandoned(ctx context.Context, target Target, table string, now time.Time) (int, error) {
	q := h.dialect.quote
	rows, err := h.db.QueryContext(ctx, "SELECT "+q("run_id")+", "+q("started_at")+" FROM "+h.table()+
		" WHERE "+q("status")+" = ? AND "+q("target")+" = ? AND "+q("table")+" = ?", StatusRunning, string(target), table)
	if err != nil {
		return 0, err
	}
	var dead []Report
	for rows.Next() {
		var d Report
		var started any
		if err := rows.Scan(&d.RunID, &started); err != nil {
			rows.Close()
			return 0, err
		}
		d.StartedAt = parseHistoryTime(started)
		dead = append(dead, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, d := range dead {
		ran := now.Sub(d.StartedAt)
		msg := fmt.Sprintf("abandoned: the process running it stopped (killed, crashed or timed out) after %.1f s; the target kept its previous data", ran.Seconds())
		if _, err := h.db.ExecContext(ctx, "UPDATE "+h.table()+" SET "+q("status")+" = ?, "+q("finished_at")+" = ?, "+q("duration_ms")+" = ?, "+q("error")+" = ? WHERE "+q("run_id")+" = ?",
			StatusAbandoned, h.dialect.time(now), ran.Milliseconds(), msg, d.RunID); err != nil {
			return 0, err
		}
	}
	return len(dead), nil
}

// recent returns the newest runs of one target table, newest first; none
// when there is no history table yet.
func (h historyStore) recent(ctx context.Context, target Target, table string, limit int) ([]Report, error) {
	have, err := h.columns(ctx)
	if err != nil {
		return nil, fmt.Errorf("read history table %s in %s: %w", h.table(), h.where, err)
	}
	out := []Report{}
	if len(have) == 0 {
		return out, nil
	}
	q := h.dialect.quote
	names := make([]string, len(historyColumns))
	for i, c := range historyColumns {
		names[i] = q(c.name)
	}
	rows, err := h.db.QueryContext(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+h.table()+
		" WHERE "+q("target")+" = ? AND "+q("table")+" = ? ORDER BY "+q("started_at")+" DESC LIMIT ?", string(target), table, limit)
	if err != nil {
		return nil, fmt.Errorf("read history table %s in %s: %w", h.table(), h.where, err)
	}
	defer rows.Close()
	raw := make([]any, len(historyColumns))
	dest := make([]any, len(historyColumns))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read history table %s in %s: %w", h.table(), h.where, err)
		}
		var rep Report
		for i, c := range historyColumns {
			if err := setHistoryValue(c.field(&rep), raw[i]); err != nil {
				return nil, fmt.Errorf("read history table %s in %s: run %s: column %s: %w", h.table(), h.where, rep.RunID, c.name, err)
			}
		}
		out = append(out, rep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history table %s in %s: %w", h.table(), h.where, err)
	}
	return out, nil
}

// value is how the store writes a Report field, given a pointer to it.
func (h historyStore) value(p any) (any, error) {
	switch p := p.(type) {
	case *string:
		return *p, nil
	case *Target:
		return string(*p), nil
	case *int:
		return int64(*p), nil
	case *int64:
		return *p, nil
	case *float64:
		return *p, nil
	case *bool:
		return *p, nil
	case *time.Time:
		if p.IsZero() {
			return nil, nil
		}
		return h.dialect.time(*p), nil
	}
	return nil, fmt.Errorf("unsupported field type %T", p)
}

// setHistoryValue stores a value read from the history table (as either
// driver returns it; NULL is the zero value) in the field p points to.
func setHistoryValue(p any, v any) error {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil
	}
	switch p := p.(type) {
	case *string:
		*p = fmt.Sprint(v)
	case *Target:
		*p = Target(fmt.Sprint(v))
	case *time.Time:
		*p = parseHistoryTime(v)
	case *int, *int64, *bool:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case bool:
			if x {
				n = 1
			}
		case float64:
			n = int64(x)
		case string:
			i, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", x)
			}
			n = i
		default:
			return fmt.Errorf("want an integer, got %T", v)
		}
		switch p := p.(type) {
		case *int:
			*p = int(n)
		case *int64:
			*p = n
		case *bool:
			*p = n != 0
		}
	case *float64:
		switch x := v.(type) {
		case float64:
			*p = x
		case int64:
			*p = float64(x)
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return fmt.Errorf("want a number, got %q", x)
			}
			*p = f
		default:
			return fmt.Errorf("want a number, got %T", v)
		}
	default:
		return fmt.Errorf("unsupported field type %T", p)
	}
	return nil
}

// parseHistoryTime reads a time as either target stores it (MySQL: a
// DATETIME, as time.Time or text; SQLite: RFC 3339 text).
func parseHistoryTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case []byte:
		return parseHistoryTime(string(x))
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC()
			}
		}
	}
	return time.Time{}
}

// History returns the most recent runs of cfg's target table (runs of
// other tables sharing the history table are not included), newest first.
// A target without a history table has no runs yet.
func (r *Runner) History(ctx context.Context, cfg *Config, limit int) ([]Report, error) {
	var h historyStore
	switch cfg.Target {
	case TargetSQLite:
		if _, err := os.Stat(cfg.SQLite.Path); errors.Is(err, fs.ErrNotExist) {
			return []Report{}, nil
		}
		db, err := openSQLite(cfg.SQLite.Path, true)
		if err != nil {
			return nil, fmt.Errorf("open sqlite target %s: %w", cfg.SQLite.Path, err)
		}
		defer db.Close()
		h = historyStore{db: db, name: cfg.Sync.HistoryTable, where: cfg.SQLite.Path, dialect: sqliteHistory}
	default:
		t, err := r.openTarget(ctx, cfg, r.Logger)
		if err != nil {
			return nil, err
		}
		mt := t.(*mysqlTarget)
		defer mt.close()
		h = mt.historyStore()
	}
	return h.recent(ctx, cfg.Target, cfg.TargetTable(), limit)
}

// RunningRunID returns the id of a run of cfg's target table recorded as
// running (by this or another instance), or "" when none is known.
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

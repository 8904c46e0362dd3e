package dbsync

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// HistoryType is what a history column holds; each dialect declares it.
type HistoryType int

const (
	HistoryKey   HistoryType = iota // the run id, the primary key
	HistoryWord                     // a short word: trigger, status, source…
	HistoryName                     // a table name
	HistoryText                     // free text: an error, a reason
	HistoryInt                      // an integer
	HistoryFloat                    // a float
	HistoryTime                     // an instant, NULL when not set
	HistoryBool                     // true or false
)

// historyColumn is one column of the history table and the Report field it
// stores.
type historyColumn struct {
	Name  string
	Typ   HistoryType
	field func(r *Report) any // a pointer to the field
}

// HistoryColumns is the history table: one line per Report field, in the
// table's order. A new field is a new line here; historyStore.ensure adds its
// column to tables made before it. Report.DryRun has no column: a dry run
// never touches the target, so it is never recorded.
var HistoryColumns = []historyColumn{
	{"run_id", HistoryKey, func(r *Report) any { return &r.RunID }},
	{"trigger", HistoryWord, func(r *Report) any { return &r.Trigger }},
	{"status", HistoryWord, func(r *Report) any { return &r.Status }},
	{"source", HistoryWord, func(r *Report) any { return &r.Source }},
	{"fallback_reason", HistoryText, func(r *Report) any { return &r.FallbackReason }},
	{"target", HistoryWord, func(r *Report) any { return &r.Target }},
	{"table", HistoryName, func(r *Report) any { return &r.Table }},
	{"rows", HistoryInt, func(r *Report) any { return &r.Rows }},
	{"load_method", HistoryWord, func(r *Report) any { return &r.LoadMethod }},
	{"started_at", HistoryTime, func(r *Report) any { return &r.StartedAt }},
	{"finished_at", HistoryTime, func(r *Report) any { return &r.FinishedAt }},
	{"duration_ms", HistoryInt, func(r *Report) any { return &r.DurationMS }},
	{"rows_per_sec", HistoryFloat, func(r *Report) any { return &r.RowsPerSec }},
	{"error", HistoryText, func(r *Report) any { return &r.Error }},
	{"retries", HistoryInt, func(r *Report) any { return &r.Retries }},
	{"swap_wait_ms", HistoryInt, func(r *Report) any { return &r.SwapWaitMS }},
	{"unencrypted", HistoryWord, func(r *Report) any { return &r.Unencrypted }},
	{"snapshot", HistoryWord, func(r *Report) any { return &r.Snapshot }},
	{"stage_plan", HistoryWord, func(r *Report) any { return &r.StagePlan }},
	{"mode", HistoryWord, func(r *Report) any { return &r.Mode }},
	{"mode_reason", HistoryText, func(r *Report) any { return &r.ModeReason }},
	{"inserted", HistoryInt, func(r *Report) any { return &r.Inserted }},
	{"updated", HistoryInt, func(r *Report) any { return &r.Updated }},
	{"deleted", HistoryInt, func(r *Report) any { return &r.Deleted }},
	{"unchanged", HistoryInt, func(r *Report) any { return &r.Unchanged }},
	{"version", HistoryText, func(r *Report) any { return &r.Version }},
	{"compare", HistoryWord, func(r *Report) any { return &r.Compare }},
	{"rows_read", HistoryInt, func(r *Report) any { return &r.RowsRead }},
	{"cursor_from", HistoryText, func(r *Report) any { return &r.CursorFrom }},
	{"cursor_to", HistoryText, func(r *Report) any { return &r.CursorTo }},
	{"watermark", HistoryText, func(r *Report) any { return &r.Watermark }},
	{"basis", HistoryText, func(r *Report) any { return &r.Basis }},
}

// A history row is one table of one run: its key is (run_id, table), and
// the columns table, rows, load_method, rows_per_sec, mode, mode_reason,
// inserted, updated, deleted, unchanged, rows_read, cursor_from, cursor_to,
// watermark and basis are that table's entry of
// Report.Tables. A report is read back by joining its rows.

// historyRows are the rows that record r: one per table.
func historyRows(r *Report) []Report {
	if len(r.Tables) == 0 {
		return []Report{*r}
	}
	rows := make([]Report, len(r.Tables))
	for i, t := range r.Tables {
		row := *r
		row.Tables = nil
		row.Table, row.Rows, row.LoadMethod, row.RowsPerSec, row.StagePlan = t.Table, t.Rows, t.LoadMethod, t.RowsPerSec, t.StagePlan
		row.Mode, row.ModeReason, row.Compare = string(t.Mode), t.ModeReason, t.Compare
		row.Inserted, row.Updated, row.Deleted, row.Unchanged = t.Inserted, t.Updated, t.Deleted, t.Unchanged
		row.RowsRead, row.CursorFrom, row.CursorTo, row.Watermark, row.Basis = t.RowsRead, t.CursorFrom, t.CursorTo, t.Watermark, t.Basis
		rows[i] = row
	}
	return rows
}

// joinHistoryRows is the report that rows of one run record (see historyRows).
func joinHistoryRows(rows []Report) Report {
	r := rows[0]
	r.Tables = nil
	for _, row := range rows {
		r.Tables = append(r.Tables, TableReport{Table: row.Table, Rows: row.Rows, LoadMethod: row.LoadMethod, RowsPerSec: row.RowsPerSec,
			Mode: Mode(row.Mode), ModeReason: row.ModeReason, Inserted: row.Inserted, Updated: row.Updated, Deleted: row.Deleted, Unchanged: row.Unchanged, StagePlan: row.StagePlan, Compare: row.Compare,
			RowsRead: row.RowsRead, CursorFrom: row.CursorFrom, CursorTo: row.CursorTo, Watermark: row.Watermark, Basis: row.Basis})
	}
	if len(rows) > 1 {
		r.Table = ""
		r.sumTables()
	}
	return r
}

// HistoryDialect is what differs between the targets' history tables.
type HistoryDialect struct {
	Quote func(string) string
	Types map[HistoryType]string // column types for CREATE and ALTER
	// time is how an instant is stored (never the zero time: that is NULL).
	Time func(time.Time) any
	// tableOptions follow the column list in CREATE TABLE.
	TableOptions string
	// columnsSQL lists a table's column names (none: no such table); its
	// one parameter is the table name.
	ColumnsSQL string
	// keySQL lists the columns of a table's primary key; rekey changes an
	// older table's key (run_id) to (run_id, table).
	KeySQL string
	Rekey  func(ctx context.Context, h HistoryStore) error
}

// HistoryStore reads and writes one history table.
type HistoryStore struct {
	Db      *sql.DB
	Name    string // the history table
	Where   string // the database or file it is in, for messages
	Dialect HistoryDialect
}

func (h HistoryStore) Table() string { return h.Dialect.Quote(h.Name) }

// columns lists the history table's column names in lower case; none when
// there is no such table.
func (h HistoryStore) Columns(ctx context.Context) (map[string]bool, error) {
	return h.names(ctx, h.Dialect.ColumnsSQL)
}

// names runs a query of column names of the history table, in lower case.
func (h HistoryStore) names(ctx context.Context, query string) (map[string]bool, error) {
	rows, err := h.Db.QueryContext(ctx, query, h.Name)
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
func (h HistoryStore) ensure(ctx context.Context) error {
	defs := make([]string, len(HistoryColumns))
	for i, c := range HistoryColumns {
		defs[i] = h.Dialect.Quote(c.Name) + " " + h.Dialect.Types[c.Typ]
	}
	if _, err := h.Db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+h.Table()+" ("+strings.Join(defs, ", ")+h.Dialect.TableOptions); err != nil {
		return fmt.Errorf("create history table %s in %s: %w", h.Table(), h.Where, err)
	}
	have, err := h.Columns(ctx)
	if err != nil {
		return fmt.Errorf("read columns of history table %s in %s: %w", h.Table(), h.Where, err)
	}
	for i, c := range HistoryColumns {
		if have[c.Name] || c.Typ == HistoryKey {
			continue
		}
		if _, err := h.Db.ExecContext(ctx, "ALTER TABLE "+h.Table()+" ADD COLUMN "+defs[i]); err != nil {
			return fmt.Errorf("add column %s to history table %s in %s: %w", c.Name, h.Table(), h.Where, err)
		}
	}
	// Tables made before one run could record several tables are keyed
	// by run_id alone.
	key, err := h.names(ctx, h.Dialect.KeySQL)
	if err != nil {
		return fmt.Errorf("read the key of history table %s in %s: %w", h.Table(), h.Where, err)
	}
	if !key["table"] {
		if err := h.Dialect.Rekey(ctx, h); err != nil {
			return fmt.Errorf("key history table %s in %s by run_id and table: %w", h.Table(), h.Where, err)
		}
	}
	return nil
}

// start records r as running, one row per table, in the table ensure
// readied; runs of the same tables still recorded as running are closed as
// abandoned first (the caller holds their run locks, so none is alive).
func (h HistoryStore) start(ctx context.Context, r *Report, log *slog.Logger) error {
	running := *r
	running.Status = StatusRunning
	// A queued run (POST /api/sync) already has its row: this run's rows
	// take its place.
	if _, err := h.claim(ctx, r.RunID); err != nil {
		return err
	}
	for _, row := range historyRows(&running) {
		if n, err := h.markAbandoned(ctx, r.Target, row.Table, time.Now()); err != nil {
			return fmt.Errorf("close abandoned runs in %s: %w", h.Table(), err)
		} else if n > 0 {
			log.Warn("earlier runs never finished; marked abandoned", "runs", n, LogTable, row.Table)
		}
		err := h.insertRow(ctx, &row)
		if err != nil {
			// So does a busy row of this run_id: another delivery of the
			// same queue message found the lock this run holds and
			// recorded busy just now. It writes each table's row once, so
			// the second insert holds.
			if gone, cerr := h.dropBusy(ctx, row.RunID, row.Table); cerr == nil && gone {
				err = h.insertRow(ctx, &row)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dropBusy deletes run runID's busy row of table, and says whether there
// was one.
func (h HistoryStore) dropBusy(ctx context.Context, runID, table string) (bool, error) {
	q := h.Dialect.Quote
	res, err := h.Db.ExecContext(ctx, "DELETE FROM "+h.Table()+" WHERE "+q("run_id")+" = ? AND "+q("table")+" = ? AND "+q("status")+" = ?", runID, table, StatusBusy)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// finish records r's outcome: every column of its rows.
func (h HistoryStore) finish(ctx context.Context, r *Report) error {
	q := h.Dialect.Quote
	for _, row := range historyRows(r) {
		var sets []string
		var values []any
		for _, c := range HistoryColumns {
			if c.Typ == HistoryKey || c.Typ == HistoryName {
				continue
			}
			v, err := h.value(c.field(&row))
			if err != nil {
				return fmt.Errorf("record run outcome in %s: column %s: %w", h.Table(), c.Name, err)
			}
			sets = append(sets, q(c.Name)+" = ?")
			values = append(values, v)
		}
		values = append(values, row.RunID, row.Table)
		if _, err := h.Db.ExecContext(ctx, "UPDATE "+h.Table()+" SET "+strings.Join(sets, ", ")+" WHERE "+q("run_id")+" = ? AND "+q("table")+" = ?", values...); err != nil {
			return fmt.Errorf("record run outcome in %s: %w", h.Table(), err)
		}
	}
	return nil
}

// RunningRuns lists the runs of the table recorded as running.
func (h HistoryStore) RunningRuns(ctx context.Context, target Target, table string) ([]string, error) {
	q := h.Dialect.Quote
	return QueryStrings(ctx, h.Db, "SELECT "+q("run_id")+" FROM "+h.Table()+" WHERE "+q("status")+" = ? AND "+q("target")+" = ? AND "+q("table")+" = ? ORDER BY "+q("run_id"),
		StatusRunning, string(target), table)
}

// markAbandoned closes the history rows of the table's runs that were
// still "running". The caller holds the run lock, so no such run is alive:
// the process running it was killed or timed out. It returns how many.
func (h HistoryStore) markAbandoned(ctx context.Context, target Target, table string, now time.Time) (int, error) {
	q := h.Dialect.Quote
	rows, err := h.Db.QueryContext(ctx, "SELECT "+q("run_id")+", "+q("started_at")+" FROM "+h.Table()+
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
		// A kill may land after the swap and before finish: the target
		// then holds this run's rows, so the message does not claim either.
		msg := fmt.Sprintf("abandoned: the process running it stopped (killed, crashed or timed out) after %.1f s, before recording its outcome; a table holds either its rows from before or this run's (on MySQL, a kill between the RENAME of a job's replaced tables and the COMMIT of its merged ones leaves the replaced tables new and the merged ones old)", ran.Seconds())
		if _, err := h.Db.ExecContext(ctx, "UPDATE "+h.Table()+" SET "+q("status")+" = ?, "+q("finished_at")+" = ?, "+q("duration_ms")+" = ?, "+q("error")+" = ? WHERE "+q("run_id")+" = ? AND "+q("table")+" = ?",
			StatusAbandoned, h.Dialect.Time(now), ran.Milliseconds(), msg, d.RunID, table); err != nil {
			return 0, err
		}
	}
	return len(dead), nil
}

// recent returns the newest runs of some target tables, newest first,
// each joined from its rows of those tables; none when there is no history
// table yet.
func (h HistoryStore) recent(ctx context.Context, target Target, tables []string, limit int) ([]Report, error) {
	return h.runs(ctx, historyFilter{target: target, tables: tables}, limit)
}

// historyFilter says which rows of the history table a read takes.
type historyFilter struct {
	target Target
	tables []string
	// status, when set, takes only runs that ended so.
	status Status
	// clip, when above 0, cuts every text column (errors, reasons) to that
	// many characters, in the query: a read's size is bounded whatever
	// the table holds (the status page).
	clip int
}

// runs returns the newest runs (at most limit) that f takes, newest
// first, each joined from its rows of f's tables; none when there is no
// history table yet. It only reads.
func (h HistoryStore) runs(ctx context.Context, f historyFilter, limit int) ([]Report, error) {
	have, err := h.Columns(ctx)
	if err != nil {
		return nil, fmt.Errorf("read history table %s in %s: %w", h.Table(), h.Where, err)
	}
	out := []Report{}
	if len(have) == 0 || len(f.tables) == 0 || limit <= 0 {
		return out, nil
	}
	q := h.Dialect.Quote
	args := []any{string(f.target)}
	for _, t := range f.tables {
		args = append(args, t)
	}
	where := q("target") + " = ? AND " + q("table") + " IN (?" + strings.Repeat(", ?", len(f.tables)-1) + ")"
	if f.status != "" {
		where += " AND " + q("status") + " = ?"
		args = append(args, string(f.status))
	}
	// Each run has at most one row per table.
	args = append(args, limit*len(f.tables))
	rows, err := h.Db.QueryContext(ctx, "SELECT "+h.selectList(f.clip)+" FROM "+h.Table()+
		" WHERE "+where+" ORDER BY "+q("started_at")+" DESC, "+q("run_id")+", "+q("table")+" LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("read history table %s in %s: %w", h.Table(), h.Where, err)
	}
	defer rows.Close()
	raw := make([]any, len(HistoryColumns))
	dest := make([]any, len(HistoryColumns))
	for i := range raw {
		dest[i] = &raw[i]
	}
	var runs [][]Report
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read history table %s in %s: %w", h.Table(), h.Where, err)
		}
		var rep Report
		for i, c := range HistoryColumns {
			if err := setHistoryValue(c.field(&rep), raw[i]); err != nil {
				return nil, fmt.Errorf("read history table %s in %s: run %s: column %s: %w", h.Table(), h.Where, rep.RunID, c.Name, err)
			}
			if c.Typ == HistoryText && f.clip > 0 {
				if p, ok := c.field(&rep).(*string); ok {
					*p = Clip(*p, f.clip)
				}
			}
		}
		if n := len(runs); n > 0 && runs[n-1][0].RunID == rep.RunID {
			runs[n-1] = append(runs[n-1], rep)
		} else {
			runs = append(runs, []Report{rep})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history table %s in %s: %w", h.Table(), h.Where, err)
	}
	for _, run := range runs[:min(len(runs), limit)] {
		out = append(out, joinHistoryRows(run))
	}
	return out, nil
}

// selectList is every history column, in historyColumns' order; with clip
// above 0, text columns are cut to clip+1 characters by the server (one
// more than kept, so that Clip sees the cut). SUBSTR counts characters on
// both MySQL and SQLite.
func (h HistoryStore) selectList(clip int) string {
	names := make([]string, len(HistoryColumns))
	for i, c := range HistoryColumns {
		names[i] = h.Dialect.Quote(c.Name)
		if c.Typ == HistoryText && clip > 0 {
			names[i] = "SUBSTR(" + names[i] + ", 1, " + strconv.Itoa(clip+1) + ")"
		}
	}
	return strings.Join(names, ", ")
}

// Clip cuts s to at most n characters, the last of them "…" when it cut.
func Clip(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// value is how the store writes a Report field, given a pointer to it.
func (h HistoryStore) value(p any) (any, error) {
	switch p := p.(type) {
	case *string:
		return *p, nil
	case *Target:
		return string(*p), nil
	case *Status:
		return string(*p), nil
	case *Trigger:
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
		return h.Dialect.Time(*p), nil
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
	case *Status:
		*p = Status(fmt.Sprint(v))
	case *Trigger:
		*p = Trigger(fmt.Sprint(v))
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

// History returns the most recent runs of cfg's run tables, newest first,
// each with its rows of those tables (runs of other tables sharing the
// history table are not included).
// A target without a history table has no runs yet.
func (r *Runner) History(ctx context.Context, cfg *Config, limit int) ([]Report, error) {
	t, err := r.openTarget(ctx, cfg, r.Logger)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	h, found, err := t.OpenHistory(ctx, false)
	if err != nil {
		return nil, err
	}
	if !found {
		return []Report{}, nil
	}
	return h.recent(ctx, cfg.Target, targetNames(cfg.RunTables()), limit)
}

// TableHistory is one table's recent history, as the status page shows
// it.
type TableHistory struct {
	Table string
	// Runs are the table's newest runs, newest first, each with the
	// table's own figures (its row of the run).
	Runs []Report
	// LastSuccess is the table's newest succeeded run, also when it is
	// older than every run in Runs; nil when the table never succeeded.
	LastSuccess *Report
}

// TableHistories reads, per run table of cfg in the config's order, its
// newest runs (at most limit) and its last success, with every text
// (errors, reasons) cut to at most clip characters: what is read is
// bounded whatever the history holds. It only reads: a target without a
// history table gives tables with no runs.
func (r *Runner) TableHistories(ctx context.Context, cfg *Config, limit, clip int) ([]TableHistory, error) {
	h, done, err := r.historyFor(ctx, cfg, false, r.Logger)
	if err != nil {
		return nil, err
	}
	defer done()
	var out []TableHistory
	for _, name := range targetNames(cfg.RunTables()) {
		th := TableHistory{Table: name, Runs: []Report{}}
		if h.Db != nil {
			f := historyFilter{target: cfg.Target, tables: []string{name}, clip: clip}
			if th.Runs, err = h.runs(ctx, f, limit); err != nil {
				return nil, err
			}
			for i := range th.Runs {
				if th.Runs[i].Status == StatusSucceeded {
					th.LastSuccess = &th.Runs[i]
					break
				}
			}
			if th.LastSuccess == nil {
				f.status = StatusSucceeded
				last, err := h.runs(ctx, f, 1)
				if err != nil {
					return nil, err
				}
				if len(last) == 1 {
					th.LastSuccess = &last[0]
				}
			}
		}
		out = append(out, th)
	}
	return out, nil
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
	return runningIn(runs)
}

// runningIn is the id of the first of runs recorded as running, or "".
func runningIn(runs []Report) string {
	for _, run := range runs {
		if run.Status == StatusRunning {
			return run.RunID
		}
	}
	return ""
}

// insert adds r's rows (one per table): every column.
func (h HistoryStore) insert(ctx context.Context, r *Report) error {
	for _, row := range historyRows(r) {
		if err := h.insertRow(ctx, &row); err != nil {
			return err
		}
	}
	return nil
}

// insertRow adds one history row (one of historyRows).
func (h HistoryStore) insertRow(ctx context.Context, row *Report) error {
	names := make([]string, len(HistoryColumns))
	marks := make([]string, len(HistoryColumns))
	values := make([]any, len(HistoryColumns))
	for i, c := range HistoryColumns {
		names[i], marks[i] = h.Dialect.Quote(c.Name), "?"
		v, err := h.value(c.field(row))
		if err != nil {
			return fmt.Errorf("record run in %s: column %s: %w", h.Table(), c.Name, err)
		}
		values[i] = v
	}
	if _, err := h.Db.ExecContext(ctx, "INSERT INTO "+h.Table()+" ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(marks, ", ")+")", values...); err != nil {
		return fmt.Errorf("record run in %s: %w", h.Table(), err)
	}
	return nil
}

// recordQueued readies the history table and records r as queued.
func (h HistoryStore) recordQueued(ctx context.Context, r *Report) error {
	if err := h.ensure(ctx); err != nil {
		return err
	}
	queued := *r
	queued.Status = StatusQueued
	return h.insert(ctx, &queued)
}

// claim takes over the queued row of run runID, if it is still queued,
// by removing it (the run then writes its own rows, one per table), and
// says whether it did: of two runs that claim one queued row, exactly one
// gets it.
func (h HistoryStore) claim(ctx context.Context, runID string) (bool, error) {
	q := h.Dialect.Quote
	res, err := h.Db.ExecContext(ctx, "DELETE FROM "+h.Table()+" WHERE "+q("run_id")+" = ? AND "+q("status")+" = ?", runID, StatusQueued)
	if err != nil {
		return false, fmt.Errorf("claim queued run %s in %s: %w", runID, h.Table(), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim queued run %s in %s: %w", runID, h.Table(), err)
	}
	return n > 0, nil
}

// settle records r's outcome when the run itself did not: a run that
// ended before it reached the history table (busy, a dry run, a failure
// to connect) leaves its queued row, or none. A run in any other state is
// left as it is.
func (h HistoryStore) settle(ctx context.Context, r *Report) error {
	if err := h.ensure(ctx); err != nil {
		return err
	}
	claimed, err := h.claim(ctx, r.RunID)
	if err != nil {
		return err
	}
	if !claimed {
		if _, found, err := h.lookup(ctx, r.RunID); err != nil || found {
			return err
		}
	}
	return h.insert(ctx, r)
}

// lookup returns the run with this id, whatever table it loaded.
func (h HistoryStore) lookup(ctx context.Context, runID string) (Report, bool, error) {
	var rep Report
	have, err := h.Columns(ctx)
	if err != nil {
		return rep, false, fmt.Errorf("read history table %s in %s: %w", h.Table(), h.Where, err)
	}
	if len(have) == 0 {
		return rep, false, nil
	}
	q := h.Dialect.Quote
	names := make([]string, len(HistoryColumns))
	for i, c := range HistoryColumns {
		names[i] = q(c.Name)
	}
	raw := make([]any, len(HistoryColumns))
	dest := make([]any, len(HistoryColumns))
	for i := range raw {
		dest[i] = &raw[i]
	}
	rows, err := h.Db.QueryContext(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+h.Table()+" WHERE "+q("run_id")+" = ? ORDER BY "+q("table"), runID)
	if err != nil {
		return rep, false, fmt.Errorf("read run %s from history table %s in %s: %w", runID, h.Table(), h.Where, err)
	}
	defer rows.Close()
	var run []Report
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return rep, false, fmt.Errorf("read run %s from history table %s in %s: %w", runID, h.Table(), h.Where, err)
		}
		var row Report
		for i, c := range HistoryColumns {
			if err := setHistoryValue(c.field(&row), raw[i]); err != nil {
				return rep, false, fmt.Errorf("read run %s from history table %s in %s: column %s: %w", runID, h.Table(), h.Where, c.Name, err)
			}
		}
		run = append(run, row)
	}
	if err := rows.Err(); err != nil {
		return rep, false, fmt.Errorf("read run %s from history table %s in %s: %w", runID, h.Table(), h.Where, err)
	}
	if len(run) == 0 {
		return rep, false, nil
	}
	return joinHistoryRows(run), true, nil
}

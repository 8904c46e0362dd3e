package dbsync_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// notInHistory are the Report fields the history table does not keep, and
// why. Every other field must come back from the history as it was written.
var notInHistory = map[string]string{
	"DryRun": "a dry run never touches the target, so it is never recorded",
}

// fullReport is a report of cfg's target table with every field set to a
// value no other field has, so a column mixed up with another shows.
func fullReport(t *testing.T, cfg *dbsync.Config, runID string) dbsync.Report {
	t.Helper()
	var rep dbsync.Report
	v := reflect.ValueOf(&rep).Elem()
	at := time.Date(2026, 11, 25, 17, 12, 30, 123456000, time.UTC)
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		if _, skip := notInHistory[name]; skip {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			// Short: some columns are VARCHAR(16).
			f.SetString(fmt.Sprintf("f%d ✓'\\`", i))
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(1000 + 37*i))
		case reflect.Float64:
			f.SetFloat(1234.5 + float64(i))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice: // Tables: set below, from the top-level figures
		default:
			switch f.Interface().(type) {
			case time.Time:
				f.Set(reflect.ValueOf(at.Add(time.Duration(i) * time.Second)))
			default:
				t.Fatalf("Report.%s has type %s: teach fullReport (and the history store) about it", name, f.Type())
			}
		}
	}
	rep.RunID, rep.Status, rep.Target, rep.Table = runID, dbsync.StatusFailed, cfg.Target, cfg.TargetTable()
	// A one-table run: its one table's figures are the run's.
	rep.Tables = []dbsync.TableReport{{Table: rep.Table, Rows: rep.Rows, LoadMethod: rep.LoadMethod, RowsPerSec: rep.RowsPerSec,
		Mode: dbsync.Mode(rep.Mode), ModeReason: rep.ModeReason, Inserted: rep.Inserted, Updated: rep.Updated, Deleted: rep.Deleted, Unchanged: rep.Unchanged, StagePlan: rep.StagePlan, Compare: rep.Compare,
		RowsRead: rep.RowsRead, CursorFrom: rep.CursorFrom, CursorTo: rep.CursorTo, Watermark: rep.Watermark, Basis: rep.Basis}}
	return rep
}

// TestHistory_RoundTrip writes a report with every field set through the
// targets' history code and reads it back through History, on both
// targets: nothing may be lost or mixed up.
func TestHistory_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			e := newEnv(t, azure)
			cfg, err := e.config(dbsync.RunOptions{Target: dbsync.Target(target)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			r := newRunner(testLogger(t))
			want := fullReport(t, cfg, "round-trip-"+target)
			rep := want
			if err := dbsync.RecordRun(ctx, r, cfg, &rep); err != nil {
				t.Fatalf("record run: %v", err)
			}
			runs, err := r.History(ctx, cfg, 20)
			if err != nil {
				t.Fatalf("history: %v", err)
			}
			if len(runs) != 1 {
				t.Fatalf("history holds %d runs, want 1: %+v", len(runs), runs)
			}
			got := runs[0]
			gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
			for i := 0; i < gv.NumField(); i++ {
				name := gv.Type().Field(i).Name
				g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
				if gt, ok := g.(time.Time); ok {
					if !gt.Equal(w.(time.Time)) {
						t.Errorf("%s: got %v, want %v", name, gt, w)
					}
					continue
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s: got %#v, want %#v", name, g, w)
				}
			}
		})
	}
}

// TestHistory_OnlyThisTable: two jobs share one history table (the
// default dbsync_runs) with different target tables; each sees only its
// own runs, on both targets.
func TestHistory_OnlyThisTable(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			e := newEnv(t, azure)
			ctx := context.Background()
			r := newRunner(testLogger(t))
			record := func(table, runID string) {
				t.Helper()
				e.extra = fmt.Sprintf("[azure_mysql]\ntable = %s\n[sqlite]\ntable = %s\n", table, table)
				cfg, err := e.config(dbsync.RunOptions{Target: dbsync.Target(target)})
				if err != nil {
					t.Fatal(err)
				}
				rep := fullReport(t, cfg, runID)
				if err := dbsync.RecordRun(ctx, r, cfg, &rep); err != nil {
					t.Fatalf("record run of %s: %v", table, err)
				}
			}
			record("items", "items-1")
			record("other", "other-1")
			record("items", "items-2")
			e.extra = ""
			cfg, err := e.config(dbsync.RunOptions{Target: dbsync.Target(target)})
			if err != nil {
				t.Fatal(err)
			}
			runs, err := r.History(ctx, cfg, 20)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, run := range runs {
				ids = append(ids, run.RunID)
			}
			if fmt.Sprint(ids) != "[items-1 items-2]" && fmt.Sprint(ids) != "[items-2 items-1]" {
				t.Fatalf("history of items lists %v, want only items-1 and items-2", ids)
			}
		})
	}
}

// TestHistory_PreviousTable: a history table created by the previous
// version (16 columns, NULLs where a run had not finished) keeps working:
// its rows are read, and new runs are recorded in it.
func TestHistory_PreviousTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, azure)
	seedItems(t, e.srcDBConn(), 3)
	dst := e.dstDBConn()
	mustExec(t, dst, "CREATE TABLE dbsync_runs ("+
		"`run_id` VARCHAR(64) NOT NULL PRIMARY KEY, `trigger` VARCHAR(16), `status` VARCHAR(16), `source` VARCHAR(16),"+
		"`fallback_reason` TEXT, `target` VARCHAR(16), `table` VARCHAR(64), `rows` BIGINT, `load_method` VARCHAR(16),"+
		"`started_at` DATETIME(6), `finished_at` DATETIME(6) NULL, `duration_ms` BIGINT, `rows_per_sec` DOUBLE, `error` TEXT,"+
		"`retries` INT, `swap_wait_ms` BIGINT, KEY `started_at` (`started_at`)) DEFAULT CHARSET=utf8mb4",
		"INSERT INTO dbsync_runs (run_id, `trigger`, status, target, `table`, started_at) VALUES ('old-run', 'timer', 'failed', 'azure', 'items', '2020-01-02 03:04:05.000006')")
	rep := e.mustSync(dbsync.RunOptions{})
	cfg, err := e.config(dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := newRunner(testLogger(t)).History(context.Background(), cfg, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].RunID != rep.RunID || runs[0].Rows != 3 || runs[1].RunID != "old-run" {
		t.Fatalf("history %+v", runs)
	}
	if old := runs[1]; old.Status != "failed" || !old.StartedAt.Equal(time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC)) || !old.FinishedAt.IsZero() || old.Source != "" {
		t.Errorf("old run read back as %+v", old)
	}
}

// TestHistory_MissingColumn: a history table lacking a column the report
// has (made by an older version) gets the column, on both targets.
func TestHistory_MissingColumn(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"azure", "sqlite"} {
		t.Run(target, func(t *testing.T) {
			e := newEnv(t, azure)
			cfg, err := e.config(dbsync.RunOptions{Target: dbsync.Target(target)})
			if err != nil {
				t.Fatal(err)
			}
			var db *sql.DB
			if target == "sqlite" {
				db = openSQLiteT(t, filepath.Join(e.dir, "replica.db"))
			} else {
				db = e.dstDBConn()
			}
			mustExec(t, db, `CREATE TABLE dbsync_runs (run_id VARCHAR(64) NOT NULL PRIMARY KEY, status VARCHAR(16), target VARCHAR(16), started_at DATETIME(6))`)
			ctx := context.Background()
			r := newRunner(testLogger(t))
			want := fullReport(t, cfg, "added-columns")
			rep := want
			if err := dbsync.RecordRun(ctx, r, cfg, &rep); err != nil {
				t.Fatalf("record run: %v", err)
			}
			runs, err := r.History(ctx, cfg, 20)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 || runs[0].Retries != want.Retries || runs[0].Error != want.Error || !runs[0].FinishedAt.Equal(want.FinishedAt) {
				t.Fatalf("history %+v, want %+v", runs, want)
			}
		})
	}
}

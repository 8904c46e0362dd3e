package dbsync

import (
	"errors"
	"testing"
	"time"
)

// TestStatus_Final: the statuses a run ends with are final (its queue
// message must not run it again); queued, running and abandoned are not.
func TestStatus_Final(t *testing.T) {
	for status, want := range map[Status]bool{
		StatusSucceeded: true, StatusFailed: true, StatusBusy: true, StatusSkipped: true,
		StatusQueued: false, StatusRunning: false, StatusAbandoned: false, "": false,
	} {
		if got := status.Final(); got != want {
			t.Errorf("%q.Final() = %v, want %v", status, got, want)
		}
	}
}

// TestReport_SumTables: a run's totals are its tables' sums; methods,
// plans and modes are each listed once, in order; reasons name their
// table, except a one-table run's, which is the table's own.
func TestReport_SumTables(t *testing.T) {
	cases := []struct {
		name   string
		tables []TableReport
		want   Report
	}{
		{"one table", []TableReport{{Table: "a", Rows: 10, LoadMethod: LoadData, Mode: ModeReplace, ModeReason: "first run", StagePlan: "indexed"}},
			Report{Rows: 10, LoadMethod: LoadData, Mode: "replace", ModeReason: "first run", StagePlan: "indexed"}},
		{"two tables, two modes", []TableReport{
			{Table: "a", Rows: 10, LoadMethod: LoadData, Mode: ModeReplace},
			{Table: "b", Rows: 5, LoadMethod: LoadData, Mode: ModeMerge, Inserted: 1, Updated: 2, Deleted: 3, Unchanged: 4, ModeReason: "empty target"},
		}, Report{Rows: 15, LoadMethod: LoadData, Mode: "replace,merge", ModeReason: "b: empty target", Inserted: 1, Updated: 2, Deleted: 3, Unchanged: 4}},
		{"methods listed once each", []TableReport{
			{Table: "a", LoadMethod: LoadData, Mode: ModeMerge}, {Table: "b", LoadMethod: LoadInsert, Mode: ModeMerge}, {Table: "c", LoadMethod: LoadData, Mode: ModeMerge},
		}, Report{LoadMethod: "load_data,insert", Mode: "merge"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Tables: tc.tables, Rows: 99, Inserted: 99}
			r.sumTables()
			got := Report{Rows: r.Rows, LoadMethod: r.LoadMethod, Mode: r.Mode, ModeReason: r.ModeReason, StagePlan: r.StagePlan,
				Inserted: r.Inserted, Updated: r.Updated, Deleted: r.Deleted, Unchanged: r.Unchanged}
			if got.Rows != tc.want.Rows || got.LoadMethod != tc.want.LoadMethod || got.Mode != tc.want.Mode || got.ModeReason != tc.want.ModeReason ||
				got.StagePlan != tc.want.StagePlan || got.Inserted != tc.want.Inserted || got.Updated != tc.want.Updated || got.Deleted != tc.want.Deleted || got.Unchanged != tc.want.Unchanged {
				t.Errorf("sumTables: %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestReport_FinishNow: an error fails a run still under way and is kept
// on one line; a status already set (busy) stays.
func TestReport_FinishNow(t *testing.T) {
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	r := Report{Status: StatusRunning, StartedAt: start}
	r.finishNow(errors.New("load items:\nlost connection"))
	if r.Status != StatusFailed || r.Error != "load items: lost connection" || r.FinishedAt.IsZero() || r.DurationMS < 0 {
		t.Errorf("after an error: %+v", r)
	}
	busy := Report{Status: StatusBusy, StartedAt: start}
	busy.finishNow(ErrBusy)
	if busy.Status != StatusBusy {
		t.Errorf("busy became %q", busy.Status)
	}
	// Unencrypted sides are listed primary first, each once.
	var u Report
	u.noteUnencrypted("target")
	u.noteUnencrypted(SourcePrimary)
	u.noteUnencrypted("target")
	if u.Unencrypted != "primary,target" {
		t.Errorf("unencrypted %q", u.Unencrypted)
	}
}

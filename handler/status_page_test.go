package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// TestStatusPage_EscapesEveryValue renders a page whose every text from
// the history — table, run id, trigger, status, mode, source, version,
// error, reasons — is markup, in each place the page shows it: none of it
// may come out as markup.
func TestStatusPage_EscapesEveryValue(t *testing.T) {
	const evil = `"'><img src=x onerror=alert(1)><script>alert(2)</script>`
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	run := func(status dbsync.Status, ago time.Duration) dbsync.Report {
		var r dbsync.Report
		v := reflect.ValueOf(&r).Elem()
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Kind() == reflect.String {
				f.SetString(v.Type().Field(i).Name + evil)
			}
		}
		r.Status, r.Target = status, dbsync.TargetAzure
		r.StartedAt, r.FinishedAt, r.DurationMS = now.Add(-ago), now.Add(-ago+time.Second), 1000
		r.Tables = []dbsync.TableReport{{Table: r.Table}}
		return r
	}
	ok := run(dbsync.StatusSucceeded, time.Hour)
	hist := []dbsync.TableHistory{{Table: "t" + evil, Runs: []dbsync.Report{run(dbsync.StatusFailed, time.Minute), ok}, LastSuccess: &ok}}
	page, err := renderStatusPage(buildStatusPage(dbsync.TargetAzure, hist, fmt.Errorf("target says %s", evil), now))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, bad := range []string{"<img", "<script", `"'>`} {
		if strings.Contains(html, bad) {
			t.Errorf("page holds %q from a value:\n%s", bad, html)
		}
	}
	for _, want := range []string{"Error&#34;&#39;&gt;&lt;img", "RunID&#34;&#39;&gt;&lt;img", "FallbackReason&#34;", "ModeReason&#34;", "Version&#34;", "target says &#34;&#39;&gt;&lt;img"} {
		if !strings.Contains(html, want) {
			t.Errorf("page does not show %q as text", want)
		}
	}
}

func TestStatusPage_Words(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{duration(850), "850 ms"},
		{duration(12_340), "12.3 s"},
		{duration(245_000), "4 min 5 s"},
		{ago(30 * time.Second), "30 s ago"},
		{ago(5 * time.Minute), "5 min ago"},
		{ago(26*time.Hour + 3*time.Minute), "26 h 3 min ago"},
		{ago(75 * time.Hour), "3 days ago"},
		{ago(-time.Minute), "in the future (clock skew)"},
		{changes(dbsync.Report{Status: dbsync.StatusSucceeded, Mode: string(dbsync.ModeMerge), Inserted: 2, Updated: 3, Deleted: 1, Unchanged: 9}), "+2 ~3 -1 (9 unchanged)"},
		{changes(dbsync.Report{Status: dbsync.StatusSucceeded, Mode: string(dbsync.ModeReplace), Rows: 40}), "replaced: 40 rows written"},
		{changes(dbsync.Report{Status: dbsync.StatusFailed, Mode: string(dbsync.ModeMerge), Inserted: 2}), "none: the target was left as it was (failed)"},
		{changes(dbsync.Report{Status: dbsync.StatusAbandoned}), "unknown: the run stopped before it recorded its outcome"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestStatusPage_Chart lays runs out oldest left, one point each, failed
// ones marked, and scales to the largest duration and change.
func TestStatusPage_Chart(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	runs := []dbsync.Report{ // newest first, as read
		{Status: dbsync.StatusFailed, StartedAt: at.Add(2 * time.Hour), DurationMS: 500},
		{Status: dbsync.StatusSucceeded, Mode: string(dbsync.ModeMerge), StartedAt: at.Add(time.Hour), DurationMS: 2000, Inserted: 10},
		{Status: dbsync.StatusSucceeded, Mode: string(dbsync.ModeReplace), StartedAt: at, DurationMS: 1000, Rows: 40},
	}
	c := buildChart(runs)
	var got []string
	for _, p := range c.Points {
		got = append(got, fmt.Sprintf("%s x=%s y=%s bar=%s failed=%v", p.Status, p.X, p.Y, p.BarH, p.Failed))
	}
	want := []string{
		"succeeded x=10.0 y=74.0 bar=112.0 failed=false", // 1 s of 2, 40 rows changed of 40
		"succeeded x=300.0 y=18.0 bar=28.0 failed=false", // the longest, 10 of 40
		"failed x=590.0 y=102.0 bar=0.0 failed=true",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("chart points\n got %q\nwant %q", got, want)
	}
	if c.Line != "10.0,74.0 300.0,18.0 590.0,102.0" || c.MaxDuration != "max 2.0 s" || c.MaxChanged != "max 40 rows changed" {
		t.Errorf("chart line %q, %q, %q", c.Line, c.MaxDuration, c.MaxChanged)
	}
}

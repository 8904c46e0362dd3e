package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// repeatedKeys lists the keys a JSON object (at any depth) holds more than
// once; encoding/json would keep only the last of them.
func repeatedKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	var repeated []string
	var value func() error
	value = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		delim, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		seen := map[string]bool{}
		for dec.More() {
			if delim == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if seen[key] {
					repeated = append(repeated, key)
				}
				seen[key] = true
			}
			if err := value(); err != nil {
				return err
			}
		}
		_, err = dec.Token() // the closing } or ]
		return err
	}
	return repeated, value()
}

func TestRepeatedKeys(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"msg":"a","table":"t","rows":1}`, ""},
		{`{"msg":"a","table":"t","table":"t"}`, "table"},
		{`{"a":{"b":1,"b":2},"c":[{"d":1,"d":1}],"b":3}`, "b,d"},
	} {
		got, err := repeatedKeys(tc.line)
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.line, got, err, tc.want)
		}
	}
}

// writeFallback copies the primary's tables into the app's fallback
// SQLite database.
func writeFallback(t *testing.T, a *app, tables ...string) {
	t.Helper()
	fb, err := sql.Open("sqlite", "file:"+filepath.Join(a.dir, "fallback.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	for _, table := range tables {
		if _, err := fb.Exec("DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)"); err != nil {
			t.Fatal(err)
		}
		rows, err := a.src.Query("SELECT id, name, note FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var name string
			var note sql.NullString
			if err := rows.Scan(&id, &name, &note); err != nil {
				t.Fatal(err)
			}
			if _, err := fb.Exec("INSERT INTO "+table+" VALUES (?, ?, ?)", id, name, note); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
	}
}

// TestHost_LogLines runs the real binary as the Functions host does
// through one-table and many-table jobs, merge and replace, primary and
// fallback, both targets, and reads every JSON log line it wrote: no line
// holds a key twice (#19.10: table=m table=m), a run that only replaced
// never says "merged" and a merge's summary says what it did (#19.11),
// and the config sources line is not at info level (#19.12).
func TestHost_LogLines(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	mixedJob(a, 100, "")
	a.seed(a.src, 100)
	writeFallback(t, a, "m", "r", "items")
	h := startHandler(t, a)
	blank := "[source]\nquery =\n[fallback]\nquery =\n[azure_mysql]\ntable =\nload_streams = 2\n[sqlite]\ntable =\n"
	merge := "[table.m]\nquery = SELECT id, name, note FROM m\nmode = merge\nkey = id\n"
	replace := "[table.r]\nquery = SELECT id, name, note FROM r\n"
	// The one-table keys: the run's logger carries the table.
	legacy := "[azure_mysql]\nload_streams = 2\n"
	legacyMerge := legacy + "[sync]\nmode = merge\nkey = id\n"
	fallback := "[sync]\nfallback_enabled = true\n[source]\nport = 1\nconnect_timeout = 1s\n"
	runs := []struct {
		name, extra, change string
		summary             []string // in the run's summary, in order
		merged              bool     // whether the run merged a table
	}{
		{"first run of a merge and a replace table", blank + merge + replace, "",
			[]string{"succeeded: 200 rows from primary into azure tables m, r", "merge table replaced instead: m: target table m does not exist yet"}, false},
		{"merge and replace", blank + merge + replace, "UPDATE m SET name = 'changed' WHERE id <= 3",
			[]string{"succeeded: azure tables m, r from primary in ", "\n  m: merged: +0 ~3 -0 =97 (", "\n  r: replaced: 100 rows ("}, true},
		{"one merge table", blank + merge, "DELETE FROM m WHERE id = 100",
			[]string{"succeeded: azure table m from primary in ", "s: merged: +0 ~0 -1 =99"}, true},
		{"one merge table, no change", blank + merge, "",
			[]string{"succeeded: azure table m from primary in ", "s: merged: +0 ~0 -0 =99 (no change, nothing written)"}, true},
		{"one replace table", blank + replace, "",
			[]string{"succeeded: 100 rows from primary into azure table r in "}, false},
		{"one-table job, first merge", legacyMerge, "",
			[]string{"succeeded: 100 rows from primary into azure table items in ", "\n  merge table replaced instead: target table items does not exist yet"}, false},
		{"one-table job, replace", legacy, "",
			[]string{"succeeded: 100 rows from primary into azure table items in "}, false},
		{"one-table job, merge", legacyMerge, "UPDATE items SET name = 'x' WHERE id = 7",
			[]string{"succeeded: azure table items from primary in ", "s: merged: +0 ~1 -0 =99 ("}, true},
		{"one-table job, merge from the fallback", legacyMerge + fallback, "",
			[]string{"succeeded: azure table items from fallback in ", "s: merged: +0 ~1 -0 =99 (", "\n  fallback used because: "}, true},
		{"one merge table from the fallback", blank + merge + fallback, "",
			[]string{"succeeded: azure table m from fallback in ", "s: merged: +1 ~3 -0 =96", "\n  fallback used because: "}, true},
		{"merge and replace from the fallback into sqlite", blank + merge + replace + fallback + "[sync]\ndefault_target = sqlite\n", "",
			[]string{"succeeded: 200 rows from fallback into sqlite tables m, r", "\n  fallback used because: "}, false},
	}
	for i, run := range runs {
		if run.change != "" {
			a.exec(run.change)
		}
		a.extra = run.extra
		a.writeConfig()
		code, ir := h.timerRun("timer.json", fmt.Sprintf("inv-logs-%d", i))
		summary := strings.Join(ir.Logs, "\n")
		if code != 200 {
			t.Fatalf("%s: %d %s", run.name, code, summary)
		}
		// A queued run's report names its build too (#19.7).
		if rep, _ := ir.Outputs["report"].(map[string]any); rep == nil || rep["version"] == "" || rep["version"] == nil {
			t.Errorf("%s: the report has no version: %v", run.name, ir.Outputs["report"])
		}
		at := 0
		for _, want := range run.summary {
			j := strings.Index(summary[at:], want)
			if j < 0 {
				t.Errorf("%s: summary lacks %q (after offset %d):\n%s", run.name, want, at, summary)
				break
			}
			at += j + len(want)
		}
		if !run.merged && strings.Contains(strings.ReplaceAll(summary, "merge table replaced instead", ""), "merged") {
			t.Errorf("%s: a run that merged nothing says merged:\n%s", run.name, summary)
		}
		if h.hasLine(false, fmt.Sprintf("inv-logs-%d-queue", i), `"msg":"run ended: succeeded"`) {
			for _, l := range h.lines(false) {
				if strings.Contains(l, fmt.Sprintf(`"inv-logs-%d-queue"`, i)) && !run.merged && strings.Contains(l, "merged") {
					t.Errorf("%s: a run that merged nothing logs %s", run.name, l)
				}
			}
		} else {
			t.Errorf("%s: no run ended line", run.name)
		}
	}
	all := append(h.lines(false), h.lines(true)...)
	for _, l := range all {
		keys, err := repeatedKeys(l)
		if err != nil {
			t.Errorf("log line is not JSON (%v): %s", err, l)
		}
		if len(keys) > 0 {
			t.Errorf("log line repeats %v: %s", keys, l)
		}
		if strings.Contains(l, `"config sources"`) {
			t.Errorf("config sources logged at info level: %s", l)
		}
	}
	if !containsLine(all, `"msg":"merged tables' differences applied"`) || !containsLine(all, `"msg":"replaced tables swapped"`) {
		t.Errorf("the runs did not log what they wrote")
	}
}

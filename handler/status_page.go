package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dbsync/dbsync/sync"
)

// The status page (DESIGN §6): GET /api/status and handler history
// --html FILE. One self-contained HTML document — no script at all, one
// inline style sheet allowed by its hash, charts as inline SVG — built
// with html/template, so every value from the history (an error can quote
// a source row an attacker wrote) is escaped. Its size is bounded whatever
// the history holds: statusRuns runs per table, statusFailures failures,
// every text cut to statusClip characters (in the query already).
const (
	statusRuns     = 30   // runs per table in the chart
	statusFailures = 20   // recent failures listed, over all tables
	statusClip     = 1000 // characters of an error or reason
)

// statusCSS is the page's one style sheet; the Content-Security-Policy
// allows exactly it, by its hash.
const statusCSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#1b1f24;background:#fff}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:0 0 .4em}
.meta{color:#57606a;margin:0 0 1em}
.problem{border:2px solid #cf222e;background:#ffebe9;padding:.6em .8em;margin:0 0 1em;white-space:pre-wrap;word-break:break-word}
section.tbl{border:1px solid #d0d7de;border-radius:6px;padding:.8em 1em;margin:0 0 1em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:0 0 .6em}dt{color:#57606a}dd{margin:0}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85em;color:#fff;background:#6e7781;vertical-align:middle}
.badge.ok{background:#1a7f37}.badge.failed{background:#cf222e}
svg.chart{display:block;width:100%;max-width:640px;height:auto;background:#f6f8fa;border-radius:4px}
svg .bar{fill:#54aeff;opacity:.55}svg .line{fill:none;stroke:#0969da;stroke-width:1.5}
svg .ok{fill:#1a7f37}svg .failed{fill:#cf222e}svg .other{fill:#6e7781}svg .mark{stroke:#cf222e;stroke-width:1}
svg text{font-size:10px;fill:#57606a}
.legend{color:#57606a;font-size:.85em;margin:.3em 0 0}.legend .k{display:inline-block;width:.8em;height:.8em;border-radius:50%;vertical-align:middle;margin:0 .2em 0 .8em}
.legend .k.ok{background:#1a7f37}.legend .k.failed{background:#cf222e;border-radius:0}.legend .k.bar{background:#54aeff;border-radius:0}
table.failures{border-collapse:collapse;width:100%}table.failures th,table.failures td{border-top:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top}
.err{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}
`

// statusCSP is the page's Content-Security-Policy: nothing may load or
// run but the page's own style sheet and data: images (none is used; the
// empty icon keeps the browser from asking for /favicon.ico).
var statusCSP = func() string {
	sum := sha256.Sum256([]byte(statusCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src data:; base-uri 'none'; form-action 'none'"
}()

// statusHeaders are the answer's headers; frame-ancestors works only as
// a header, not in the page's meta element.
func statusHeaders() map[string]string {
	return map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": statusCSP + "; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
}

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"csp": func() string { return statusCSP },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{csp}}">
<meta name="viewport" content="width=device-width,initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<link rel="icon" href="data:,">
<title>dbsync status: {{.Target}}</title>
<style>` + statusCSS + `</style></head>
<body>
<h1>dbsync status</h1>
<p class="meta">target <b>{{.Target}}</b> · {{.Summary}} · dbsync {{.Version}} · generated {{.Generated}}</p>
{{if .Problem}}<div class="problem" id="problem">{{.Problem}}</div>{{end}}
{{range .Tables}}<section class="tbl" id="table-{{.Name}}" data-table="{{.Name}}">
<h2>{{.Name}} {{with .Last}}<span class="badge {{.Class}}" data-status="{{.Status}}">{{.Status}}</span>{{end}}</h2>
{{if .Last}}{{with .Last}}<dl>
<dt>last run</dt><dd>{{.Status}} {{.Ago}} ({{.Started}}), {{.Trigger}}, {{.Duration}}{{if .Mode}}, {{.Mode}}{{end}}{{if .Source}}, from {{.Source}}{{end}}{{if .Version}}, by dbsync {{.Version}}{{end}}</dd>
<dt>rows</dt><dd>{{.RowsText}}</dd>
<dt>changes</dt><dd>{{.Changes}}</dd>
{{if .Error}}<dt>error</dt><dd class="err">{{.Error}}</dd>{{end}}
{{if .Note}}<dt>note</dt><dd>{{.Note}}</dd>{{end}}
{{end}}<dt>last success</dt><dd>{{with .LastSuccess}}{{.Ago}} ({{.Started}}), {{.Rows}} rows{{else}}none recorded{{end}}</dd>
</dl>
{{with .Chart}}<svg class="chart" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="duration and rows changed of the last {{len .Points}} runs">
{{range .Points}}<rect class="bar" x="{{.BarX}}" y="{{.BarY}}" width="{{.BarW}}" height="{{.BarH}}"></rect>
{{end}}<polyline class="line" points="{{.Line}}"></polyline>
{{range .Points}}{{if .Failed}}<line class="mark" x1="{{.X}}" y1="{{.Top}}" x2="{{.X}}" y2="{{.Bottom}}"></line><rect class="run failed" data-status="{{.Status}}" x="{{.Left}}" y="{{.Upper}}" width="7" height="7"><title>{{.Title}}</title></rect>
{{else}}<circle class="run {{.Class}}" data-status="{{.Status}}" cx="{{.X}}" cy="{{.Y}}" r="3.5"><title>{{.Title}}</title></circle>
{{end}}{{end}}<text x="4" y="12">{{.MaxDuration}}</text><text x="{{.Right}}" y="12" text-anchor="end">{{.MaxChanged}}</text>
</svg>
<p class="legend"><span class="k ok"></span>run: duration<span class="k failed"></span>failed run<span class="k bar"></span>rows changed (a replace rewrites every row) · oldest left, newest right</p>
{{end}}{{else}}<p class="none">{{if $.Problem}}not known: the run history could not be read{{else}}no runs recorded yet{{end}}</p>
{{end}}</section>
{{end}}
<section class="tbl" id="failures"><h2>recent failures</h2>
{{if .Failures}}<table class="failures"><thead><tr><th>started</th><th>table</th><th>status</th><th>run</th><th>error</th></tr></thead><tbody>
{{range .Failures}}<tr class="failure"><td>{{.Started}}<br>{{.Ago}}</td><td>{{.Table}}</td><td>{{.Status}}</td><td>{{.RunID}}</td><td class="err">{{.Error}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="none">none in the recent runs</p>{{end}}
</section>
</body></html>
`))

// statusPage is what the template shows.
type statusPage struct {
	Target    string
	Version   string
	Generated string
	Refresh   int    // seconds between reloads; 0: none (a file)
	Problem   string // why the history could not be read
	Summary   string // how many tables are in which state
	Tables    []tableView
	Failures  []runView
}

// tableView is one table of the page.
type tableView struct {
	Name        string
	Last        *runView
	LastSuccess *runView
	Chart       *chartView
}

// runView is one run of one table, as the page writes it.
type runView struct {
	Table, RunID, Class, Mode, Source, Version   string
	Status                                       dbsync.Status
	Trigger                                      dbsync.Trigger
	Started, Ago, Duration, Changes, Error, Note string
	Rows                                         int64
	// RowsText is the table's rows after the run: the run's, or, when it
	// changed nothing, the last success's.
	RowsText string
}

// chartView is a table's chart: duration (line and points) and rows
// changed (bars) of its last runs, oldest left.
type chartView struct {
	Width, Height int
	Line          string
	Points        []chartPoint
	MaxDuration   string
	MaxChanged    string
	Right         int
}

type chartPoint struct {
	X, Y, Left, Upper, Top, Bottom string
	BarX, BarY, BarW, BarH         string
	Failed                         bool
	Status                         dbsync.Status
	Class, Title                   string
}

// buildStatusPage turns the tables' histories into the page; problem
// (when not nil) is why they could not be read.
func buildStatusPage(target dbsync.Target, histories []dbsync.TableHistory, problem error, now time.Time) statusPage {
	p := statusPage{Target: string(target), Version: dbsync.Version(), Generated: now.UTC().Format(time.RFC3339)}
	if target == "" {
		p.Target = "(the configured default)"
	}
	if problem != nil {
		p.Problem = "could not read the run history of target " + string(target) + ": " + dbsync.Clip(dbsync.OneLine(problem.Error()), statusClip)
	}
	var failures []dbsync.Report
	counts := map[string]int{}
	for _, h := range histories {
		tv := tableView{Name: h.Table}
		if len(h.Runs) > 0 {
			v := viewRun(h.Runs[0], now)
			tv.Last = &v
			tv.Chart = buildChart(h.Runs)
		}
		if h.LastSuccess != nil {
			v := viewRun(*h.LastSuccess, now)
			tv.LastSuccess = &v
		}
		if tv.Last != nil && tv.Last.Status != dbsync.StatusSucceeded {
			tv.Last.RowsText = "unknown: no run has succeeded"
			if tv.LastSuccess != nil {
				tv.Last.RowsText = fmt.Sprintf("%d at the last success", tv.LastSuccess.Rows)
			}
			if tv.Last.Status == dbsync.StatusSkipped {
				tv.Last.RowsText += fmt.Sprintf(" (%d read by this dry run)", tv.Last.Rows)
			}
		}
		counts[stateOf(tv.Last)]++
		for _, r := range h.Runs {
			if failed(r.Status) {
				failures = append(failures, r)
			}
		}
		p.Tables = append(p.Tables, tv)
	}
	var summary []string
	for _, state := range []string{"failed", "succeeded", "other", "never run"} {
		if n := counts[state]; n > 0 {
			summary = append(summary, fmt.Sprintf("%d %s", n, state))
		}
	}
	p.Summary = fmt.Sprintf("%d table(s)", len(histories))
	if len(summary) > 0 {
		p.Summary += ", last run: " + strings.Join(summary, ", ")
	}
	// Newest first, over all tables.
	sortRunsNewestFirst(failures)
	for _, r := range failures[:min(len(failures), statusFailures)] {
		p.Failures = append(p.Failures, viewRun(r, now))
	}
	return p
}

// renderStatusPage writes the page.
func renderStatusPage(p statusPage) ([]byte, error) {
	var b bytes.Buffer
	if err := statusTemplate.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("render status page: %w", err)
	}
	return b.Bytes(), nil
}

// failed says whether a run's status is a failure to list.
func failed(status dbsync.Status) bool {
	return status == dbsync.StatusFailed || status == dbsync.StatusAbandoned
}

// stateOf is how the page's summary counts a table by its last run.
func stateOf(last *runView) string {
	switch {
	case last == nil:
		return "never run"
	case last.Class == "ok":
		return "succeeded"
	case last.Class == "failed":
		return "failed"
	}
	return "other"
}

func statusClass(status dbsync.Status) string {
	switch {
	case status == dbsync.StatusSucceeded:
		return "ok"
	case failed(status):
		return "failed"
	}
	return "other"
}

func sortRunsNewestFirst(runs []dbsync.Report) {
	slices.SortStableFunc(runs, func(a, b dbsync.Report) int { return b.StartedAt.Compare(a.StartedAt) })
}

func viewRun(r dbsync.Report, now time.Time) runView {
	v := runView{
		Table: r.Table, RunID: r.RunID, Status: r.Status, Class: statusClass(r.Status), Trigger: r.Trigger, Mode: r.Mode, Source: r.Source, Version: r.Version,
		Rows: r.Rows, RowsText: strconv.FormatInt(r.Rows, 10), Error: r.Error, Changes: changes(r),
	}
	if !r.StartedAt.IsZero() {
		v.Started = r.StartedAt.UTC().Format("2006-01-02 15:04:05Z")
		v.Ago = ago(now.Sub(r.StartedAt))
	}
	v.Duration = "running"
	if !r.FinishedAt.IsZero() || r.DurationMS > 0 {
		v.Duration = duration(r.DurationMS)
	}
	var notes []string
	if r.FallbackReason != "" {
		notes = append(notes, "fallback used: "+r.FallbackReason)
	}
	if r.ModeReason != "" {
		notes = append(notes, "replaced instead of merged: "+r.ModeReason)
	}
	v.Note = strings.Join(notes, "; ")
	return v
}

// changes is a run's changes as "+inserted ~updated -deleted"; a replace
// rewrites the table.
func changes(r dbsync.Report) string {
	switch r.Status {
	case dbsync.StatusFailed, dbsync.StatusBusy, dbsync.StatusSkipped:
		return "none: the target was left as it was (" + string(r.Status) + ")"
	case dbsync.StatusAbandoned:
		return "unknown: the run stopped before it recorded its outcome"
	case dbsync.StatusRunning, dbsync.StatusQueued:
		return "not yet known (" + string(r.Status) + ")"
	}
	if r.Mode == string(dbsync.ModeReplace) && r.Inserted+r.Updated+r.Deleted == 0 {
		return fmt.Sprintf("replaced: %d rows written", r.Rows)
	}
	return fmt.Sprintf("+%d ~%d -%d (%d unchanged)", r.Inserted, r.Updated, r.Deleted, r.Unchanged)
}

// rowsChanged is what the chart's bars show: a merge's changed rows, or
// every row of a replaced table.
func rowsChanged(r dbsync.Report) int64 {
	if n := r.Inserted + r.Updated + r.Deleted; n > 0 || r.Mode != string(dbsync.ModeReplace) {
		return n
	}
	return r.Rows
}

// buildChart lays out runs (newest first, as read) oldest left.
func buildChart(runs []dbsync.Report) *chartView {
	const w, h, pad, top = 600, 140, 10, 18
	c := &chartView{Width: w, Height: h, Right: w - 4}
	var maxD, maxC int64
	for _, r := range runs {
		maxD, maxC = max(maxD, r.DurationMS), max(maxC, rowsChanged(r))
	}
	n := len(runs)
	step := float64(w-2*pad) / float64(max(n-1, 1))
	barW := min(14, step*0.6)
	bottom := float64(h - pad)
	scale := func(v, maxV int64) float64 {
		if maxV <= 0 {
			return 0
		}
		return float64(v) / float64(maxV) * (bottom - top)
	}
	var line []string
	for i := range runs {
		r := runs[n-1-i] // oldest first
		x := float64(pad) + float64(i)*step
		if n == 1 {
			x = w / 2
		}
		y := bottom - scale(r.DurationMS, maxD)
		bh := scale(rowsChanged(r), maxC)
		line = append(line, num(x)+","+num(y))
		title := fmt.Sprintf("%s %s: %s, %s, %d rows, %s", r.StartedAt.UTC().Format("2006-01-02 15:04:05Z"), r.Table, r.Status, duration(r.DurationMS), r.Rows, changes(r))
		if r.Error != "" {
			title += "; error: " + dbsync.Clip(r.Error, 200)
		}
		c.Points = append(c.Points, chartPoint{
			X: num(x), Y: num(y), Left: num(x - 3.5), Upper: num(y - 3.5), Top: num(top), Bottom: num(bottom),
			BarX: num(x - barW/2), BarY: num(bottom - bh), BarW: num(barW), BarH: num(bh),
			Failed: failed(r.Status), Status: r.Status, Class: statusClass(r.Status), Title: title,
		})
	}
	c.Line = strings.Join(line, " ")
	c.MaxDuration = "max " + duration(maxD)
	c.MaxChanged = fmt.Sprintf("max %d rows changed", maxC)
	return c
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// duration writes milliseconds for a reader: 850 ms, 12.3 s, 4 min 5 s.
func duration(ms int64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%d ms", ms)
	case ms < 60_000:
		return fmt.Sprintf("%.1f s", float64(ms)/1000)
	}
	return fmt.Sprintf("%d min %d s", ms/60_000, ms%60_000/1000)
}

// ago writes how long ago something happened.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "in the future (clock skew)"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dbsync/dbsync/sync"
	azureid "github.com/dbsync/dbsync/sync/azure"
)

const syncUsage = `Usage: handler sync [--config FILE] [--target azure|sqlite] [--tables a,b] [--group g] [--dry-run] [--json]

Runs one sync of the job's tables: reads their queries on the primary (or the
[fallback] SQLite database if the primary fails and fallback_enabled is true)
and replaces or merges (mode) every target table's rows, committing them all
at once. Without --tables or --group, a job whose tables are split into
groups runs each group in turn.

Examples:
  handler sync --config config.ini --target sqlite
  handler sync --target azure --json > report.json
  handler sync --tables orders,order_lines   # some of the job's tables
  handler sync --group nightly
  handler sync --dry-run          # read and count the source only

Flags:
`

type syncCommand struct {
	configPath string
	target     dbsync.Target
	tables     string
	group      string
	dryRun     bool
	jsonOut    bool
	verbose    bool
}

func (c *syncCommand) parseFlags(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.StringVar(&c.configPath, "config", "", "config file (default: $DBSYNC_CONFIG, else ./config.ini)")
	fs.Var((*targetFlag)(&c.target), "target", "azure or sqlite (default: [sync] default_target)")
	fs.StringVar(&c.tables, "tables", "", "comma-separated [table.<name>] names: run only these tables of the job")
	fs.StringVar(&c.group, "group", "", "run only this group of the job's tables (default: each group in turn)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "read and count the source; do not touch the target")
	fs.BoolVar(&c.jsonOut, "json", false, "print the run report as one JSON document on stdout (several groups: {\"status\":…,\"groups\":[{\"group\":…, report…}]})")
	fs.BoolVar(&c.verbose, "v", false, "debug logging (where each config key came from)")
	return parseFlags(fs, args, syncUsage, stdout, stderr)
}

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c syncCommand
	if err := c.parseFlags(args, stdout, stderr); err != nil {
		return err
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	az := azureid.NewAzure(os.Getenv)
	log := newCLILogger(stderr, level)
	opts := dbsync.RunOptions{Target: c.target, DryRun: c.dryRun, Group: c.group}
	if c.tables != "" {
		opts.Tables = strings.Split(c.tables, ",")
	}
	// The config is loaded once (Key Vault read once, every warning logged
	// once); each group's run is selected from it.
	cfg, err := loadConfig(ctx, c.configPath, opts, log, az)
	if err != nil {
		if c.jsonOut {
			writeJSON(stdout, dbsync.RefusedReport("", dbsync.TriggerCLI, c.target, err))
		}
		return err
	}
	runner := newRunner(log, az)
	// A run covers one group: without a choice, each group in turn.
	runs := []*dbsync.Config{cfg}
	groups := []string{c.group}
	if all := cfg.Groups(); c.group == "" && c.tables == "" && len(all) > 1 {
		runs, groups = nil, all
		for _, g := range all {
			gcfg, err := cfg.Select(g, nil)
			if err != nil {
				return err
			}
			runs = append(runs, gcfg)
		}
	}
	var firstErr error
	var reports []*dbsync.Report
	for _, cfg := range runs {
		rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
		err := runner.Run(ctx, cfg, rep, log)
		reports = append(reports, rep)
		if !c.jsonOut {
			fmt.Fprintln(stdout, summary(rep))
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if c.jsonOut {
		if len(reports) == 1 {
			writeJSON(stdout, reports[0])
		} else {
			writeJSON(stdout, groupsDocument(groups, reports))
		}
	}
	return firstErr
}

// groupReport is one group's report in a several-group --json document.
type groupReport struct {
	Group string `json:"group"`
	*dbsync.Report
}

// groupsJSON is what sync --json prints for a run of several groups: one
// document (DESIGN §4) holding each group's report in the order they ran.
// Status is the first status other than succeeded (or skipped, for a dry
// run), the one the exit code says; else that of the first group.
type groupsJSON struct {
	Status dbsync.Status `json:"status"`
	Groups []groupReport `json:"groups"`
}

func groupsDocument(groups []string, reports []*dbsync.Report) groupsJSON {
	doc := groupsJSON{Status: reports[0].Status}
	settled := false
	for i, rep := range reports {
		doc.Groups = append(doc.Groups, groupReport{Group: groups[i], Report: rep})
		if !settled && rep.Status != dbsync.StatusSucceeded && rep.Status != dbsync.StatusSkipped {
			doc.Status, settled = rep.Status, true
		}
	}
	return doc
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// summary is the human result of a run: one line, and for a run that
// merged, what each table got. A replaced table reports the rows it now
// holds; a merged one what the merge did (+inserted ~updated -deleted
// =unchanged): a merge writes only the differences, so "N rows into" and
// a load's rows/s would misstate it.
func summary(r *dbsync.Report) string {
	what := "table " + r.Table
	if len(r.Tables) == 1 {
		what = "table " + r.Tables[0].Table
	} else if r.Table == "" {
		names := make([]string, len(r.Tables))
		for i, t := range r.Tables {
			names[i] = t.Table
		}
		what = "tables " + strings.Join(names, ", ")
		if len(names) == 0 {
			what = "tables" // a run refused before it knew its tables
		}
	}
	switch r.Status {
	case dbsync.StatusSucceeded:
		var s string
		if !strings.Contains(r.Mode, string(dbsync.ModeMerge)) {
			s = fmt.Sprintf("succeeded: %d rows from %s into %s %s in %.1fs (%s, %.0f rows/s)",
				r.Rows, r.Source, r.Target, what, float64(r.DurationMS)/1000, r.LoadMethod, r.RowsPerSec)
			if r.ModeReason != "" {
				s += "\n  merge table replaced instead: " + r.ModeReason
			}
		} else {
			s = fmt.Sprintf("succeeded: %s %s from %s in %.1fs", r.Target, what, r.Source, float64(r.DurationMS)/1000)
			if len(r.Tables) == 1 {
				s += ": " + tableSummary(r.Tables[0])
			} else {
				for _, t := range r.Tables {
					s += "\n  " + t.Table + ": " + tableSummary(t)
				}
			}
		}
		if r.FallbackReason != "" {
			s += "\n  fallback used because: " + r.FallbackReason
		}
		return s
	case dbsync.StatusSkipped:
		return fmt.Sprintf("dry run: %d rows readable from %s; target %s %s untouched", r.Rows, r.Source, r.Target, what)
	case dbsync.StatusBusy:
		return fmt.Sprintf("busy: another run is loading %s %s; nothing done", r.Target, what)
	}
	return fmt.Sprintf("failed: target %s %s left unchanged", r.Target, what)
}

// tableSummary is what a run did to one table.
func tableSummary(t dbsync.TableReport) string {
	if t.Mode == dbsync.ModeMerge {
		s := fmt.Sprintf("merged: +%d ~%d -%d =%d", t.Inserted, t.Updated, t.Deleted, t.Unchanged)
		switch {
		case t.Inserted+t.Updated+t.Deleted == 0:
			s += " (no change, nothing written)"
		case t.LoadMethod != "":
			s += " (" + t.LoadMethod + ")"
		}
		return s
	}
	s := fmt.Sprintf("replaced: %d rows", t.Rows)
	if t.LoadMethod != "" {
		s += fmt.Sprintf(" (%s, %.0f rows/s)", t.LoadMethod, t.RowsPerSec)
	}
	if t.ModeReason != "" {
		s += "; " + t.ModeReason
	}
	return s
}

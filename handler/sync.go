package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"

	dbsync "github.com/dbsync/dbsync/sync"
)

const syncUsage = `Usage: handler sync [--config FILE] [--target azure|sqlite] [--dry-run] [--json]

Runs one sync: reads the [source] query (or the [fallback] SQLite database if
the primary fails and fallback_enabled is true) and replaces the target
table's rows atomically.

Examples:
  handler sync --config config.ini --target sqlite
  handler sync --target azure --json > report.json
  handler sync --dry-run          # read and count the source only

Flags:
`

type syncCommand struct {
	configPath string
	target     string
	dryRun     bool
	jsonOut    bool
	verbose    bool
}

func (c *syncCommand) parseFlags(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.configPath, "config", "", "config file (default: $DBSYNC_CONFIG, else ./config.ini)")
	fs.StringVar(&c.target, "target", "", "azure or sqlite (default: [sync] default_target)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "read and count the source; do not touch the target")
	fs.BoolVar(&c.jsonOut, "json", false, "print the run report as one JSON object on stdout")
	fs.BoolVar(&c.verbose, "v", false, "debug logging (where each config key came from)")
	fs.Usage = func() { fmt.Fprint(stderr, syncUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q (see handler sync -h)", fs.Arg(0))}
	}
	switch c.target {
	case "", "azure", "sqlite":
	default:
		return &usageError{fmt.Sprintf("--target %q: want azure or sqlite", c.target)}
	}
	return nil
}

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c syncCommand
	if err := c.parseFlags(args, stderr); err != nil {
		return err
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	ident := &azureIdentity{}
	log := newCLILogger(stderr, level)
	cfg, err := loadConfig(ctx, c.configPath, dbsync.RunOptions{Target: c.target, DryRun: c.dryRun}, log, ident)
	if err != nil {
		if c.jsonOut {
			writeJSON(stdout, &dbsync.Report{Trigger: dbsync.TriggerCLI, Status: dbsync.StatusFailed, Target: dbsync.Target(c.target), Error: err.Error()})
		}
		return err
	}
	runner := dbsync.NewRunner(log)
	runner.Token = ident.token
	rep := dbsync.NewReport(cfg, dbsync.TriggerCLI)
	err = runner.Run(ctx, cfg, rep, log)
	if c.jsonOut {
		writeJSON(stdout, rep)
	} else {
		fmt.Fprintln(stdout, summary(rep))
	}
	if err != nil {
		return err
	}
	return nil
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// summary is the one-line human result of a run.
func summary(r *dbsync.Report) string {
	switch r.Status {
	case dbsync.StatusSucceeded:
		s := fmt.Sprintf("succeeded: %d rows from %s into %s table %s in %.1fs (%s, %.0f rows/s)",
			r.Rows, r.Source, r.Target, r.Table, float64(r.DurationMS)/1000, r.LoadMethod, r.RowsPerSec)
		if r.FallbackReason != "" {
			s += "\n  fallback used because: " + r.FallbackReason
		}
		return s
	case dbsync.StatusSkipped:
		return fmt.Sprintf("dry run: %d rows readable from %s; target %s table %s untouched", r.Rows, r.Source, r.Target, r.Table)
	case dbsync.StatusBusy:
		return fmt.Sprintf("busy: another run is loading %s table %s; nothing done", r.Target, r.Table)
	}
	return fmt.Sprintf("failed: target %s table %s left unchanged", r.Target, r.Table)
}

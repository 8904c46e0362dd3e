package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dbsync/dbsync/sync"
	azureid "github.com/dbsync/dbsync/sync/azure"
)

const historyUsage = `Usage: handler history [--config FILE] [--target azure|sqlite] [--tables a,b] [--limit N] [--json | --html FILE]

Prints the job's recent runs from the target's history table, newest first,
one line per table and run: start time (UTC), table, trigger, status, mode,
rows, changes (+inserted ~updated -deleted), duration and the error, on one
line. It only reads: with no history yet it prints "no runs recorded yet"
and creates nothing.

--json prints one JSON document: {"target", "tables", "runs"}, each run a
full run report. --html FILE writes the status page that GET /api/status
serves (the last 30 runs of each table, with charts) to FILE, a
self-contained HTML file to open in any browser; --limit does not apply to
it.

Examples:
  handler history --config config.ini
  handler history --target sqlite --tables orders --limit 5
  handler history --json | jq '.runs[0].status'
  handler history --html status.html

Flags:
`

// historyLimitMax bounds --limit: the lines and the JSON stay readable.
const historyLimitMax = 10000

// historyErrorChars is how much of an error a line shows; --json has all.
const historyErrorChars = 160

type historyCommand struct {
	configPath string
	target     dbsync.Target
	tables     string
	limit      int
	jsonOut    bool
	htmlFile   string
}

func (c *historyCommand) parseFlags(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.configPath, "config", "", "config file (default: $DBSYNC_CONFIG, else ./config.ini)")
	fs.Var((*targetFlag)(&c.target), "target", "azure or sqlite (default: [sync] default_target)")
	fs.StringVar(&c.tables, "tables", "", "comma-separated [table.<name>] names: only these tables of the job")
	fs.IntVar(&c.limit, "limit", 20, fmt.Sprintf("how many recent runs (1–%d)", historyLimitMax))
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON document")
	fs.StringVar(&c.htmlFile, "html", "", "write the status page to this file")
	fs.Usage = func() { fmt.Fprint(stderr, historyUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelpShown
		}
		return &usageError{err.Error()}
	}
	switch {
	case fs.NArg() > 0:
		return &usageError{fmt.Sprintf("unexpected argument %q (see handler history -h)", fs.Arg(0))}
	case c.limit < 1 || c.limit > historyLimitMax:
		return &usageError{fmt.Sprintf("--limit %d: want 1 to %d runs", c.limit, historyLimitMax)}
	case c.jsonOut && c.htmlFile != "":
		return &usageError{"--json and --html: give one (--json prints the runs, --html writes the status page)"}
	}
	return nil
}

// errHelpShown: -h printed the usage; the command does nothing else and
// exits 0 (DESIGN §4).
var errHelpShown = errors.New("help shown")

func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c historyCommand
	if err := c.parseFlags(args, stderr); err != nil {
		if errors.Is(err, errHelpShown) {
			return nil
		}
		return err
	}
	az := azureid.NewAzure(os.Getenv)
	log := newCLILogger(stderr, slog.LevelWarn)
	opts := dbsync.RunOptions{Target: c.target, Tables: splitTables(c.tables)}
	cfg, err := loadConfig(ctx, c.configPath, opts, log, az)
	if err != nil {
		return err
	}
	runner := newRunner(log, az)
	if c.htmlFile != "" {
		return writeStatusFile(ctx, runner, cfg, c.htmlFile, stdout)
	}
	runs, err := runner.History(ctx, cfg, c.limit)
	if err != nil {
		return err
	}
	tables := make([]string, 0)
	for _, t := range cfg.RunTables() {
		tables = append(tables, t.Target)
	}
	if c.jsonOut {
		writeJSON(stdout, struct {
			Target dbsync.Target   `json:"target"`
			Tables []string        `json:"tables"`
			Runs   []dbsync.Report `json:"runs"`
		}{cfg.Target, tables, runs})
		return nil
	}
	if len(runs) == 0 {
		fmt.Fprintf(stdout, "no runs recorded yet (target %s, tables %s)\n", cfg.Target, strings.Join(tables, ", "))
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED (UTC)\tTABLE\tTRIGGER\tSTATUS\tMODE\tROWS\tCHANGES\tDURATION\tERROR")
	for _, r := range runs {
		for _, line := range historyLines(r) {
			fmt.Fprintln(tw, line)
		}
	}
	return tw.Flush()
}

// historyLines are a run's lines, one per table: a run of several tables
// has their figures in Tables and its outcome (status, duration, error)
// once, for all of them.
func historyLines(r dbsync.Report) []string {
	tables := r.Tables
	if len(tables) == 0 {
		tables = []dbsync.TableReport{{Table: r.Table, Rows: r.Rows, Mode: dbsync.Mode(r.Mode), Inserted: r.Inserted, Updated: r.Updated, Deleted: r.Deleted}}
	}
	started := "-"
	if !r.StartedAt.IsZero() {
		started = r.StartedAt.UTC().Format("2006-01-02 15:04:05")
	}
	dur := "-"
	if !r.FinishedAt.IsZero() {
		dur = duration(r.DurationMS)
	}
	errText := dbsync.Clip(dbsync.OneLine(r.Error), historyErrorChars)
	var lines []string
	for _, t := range tables {
		mode := t.Mode
		if mode == "" {
			mode = "-"
		}
		lines = append(lines, strings.Join([]string{started, t.Table, dash(string(r.Trigger)), dash(string(r.Status)), string(mode),
			fmt.Sprint(t.Rows), fmt.Sprintf("+%d ~%d -%d", t.Inserted, t.Updated, t.Deleted), dur, errText}, "\t"))
	}
	return lines
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeStatusFile writes the status page to path (through a temporary
// file, so a reader never sees half a page). A target whose history
// cannot be read still gets its page, which says so, and the command
// fails.
func writeStatusFile(ctx context.Context, runner *dbsync.Runner, cfg *dbsync.Config, path string, stdout io.Writer) error {
	p, readErr := statusPageOf(ctx, runner, cfg, time.Now())
	body, err := renderStatusPage(p)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write status page %s: %w", path, err)
	}
	_, werr := tmp.Write(body)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write status page %s: %w", path, werr)
	}
	fmt.Fprintf(stdout, "status page of %d table(s) written to %s (%d bytes)\n", len(p.Tables), path, len(body))
	if readErr != nil {
		return errors.New(p.Problem + " (the page written says so)")
	}
	return nil
}

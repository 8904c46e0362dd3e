package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dbsync/dbsync/sync"
	azureid "github.com/dbsync/dbsync/sync/azure"
)

const verifyUsage = `Usage: handler verify [--config FILE] [--target azure|sqlite] [--tables a,b] [--group g] [--json]

Compares each table of the job between the primary, read in one snapshot,
and the target, and writes nothing anywhere: no history row, no helper table,
no lock. With MySQL on both sides each server checksums ranges of the key
and only the ranges that differ are read (compare = auto or checksums);
otherwise, or with compare = rows, both sides are read in key order and
compared byte-exact. A table without a key is compared by its row count and
a checksum of all its rows. There is no fallback: verify answers about the
primary. A run in progress makes verify exit 3 (busy); a run that starts
while verify reads makes it exit 1. See docs/verify.md.

Exit codes: 0 identical, 4 differences found (per table the rows missing,
extra and different, with up to 10 example keys), 1 could not verify, 2
usage or configuration error, 3 a run holds a table's lock.

Examples:
  handler verify --config config.ini --target azure
  handler verify --tables orders --json

Flags:
`

// errDifferent: verify found differences (exit 4).
var errDifferent = errors.New("verify found differences")

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	configPath := fs.String("config", "", "config file (default: $DBSYNC_CONFIG, else ./config.ini)")
	var target dbsync.Target
	fs.Var((*targetFlag)(&target), "target", "azure or sqlite (default: [sync] default_target)")
	tables := fs.String("tables", "", "comma-separated [table.<name>] names: verify only these tables of the job")
	group := fs.String("group", "", "verify only this group of the job's tables (default: every table)")
	jsonOut := fs.Bool("json", false, `print one JSON document on stdout: {"identical": bool, "tables": [{"table", "missing", "extra", "different", "examples", "compare"}…]}`)
	verbose := fs.Bool("v", false, "log each step on stderr")
	if err := parseFlags(fs, args, verifyUsage, stdout, stderr); err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	az := azureid.NewAzure(os.Getenv)
	log := newCLILogger(stderr, level)
	opts := dbsync.RunOptions{Target: target, Group: *group}
	if *tables != "" {
		opts.Tables = strings.Split(*tables, ",")
	}
	cfg, err := loadConfig(ctx, *configPath, opts, log, az)
	if err != nil {
		if *jsonOut {
			writeJSON(stdout, dbsync.VerifyReport{Tables: []dbsync.VerifyTable{}, Error: dbsync.OneLine(err.Error())})
		}
		return err
	}
	rep, err := newRunner(log, az).Verify(ctx, cfg, log)
	if rep == nil {
		rep = &dbsync.VerifyReport{Tables: []dbsync.VerifyTable{}}
	}
	if err != nil {
		rep.Identical = false
		rep.Error = dbsync.OneLine(err.Error())
	}
	if *jsonOut {
		writeJSON(stdout, rep)
	} else {
		for _, t := range rep.Tables {
			fmt.Fprintln(stdout, verifyLine(t))
		}
	}
	switch {
	case err != nil:
		if errors.Is(err, dbsync.ErrBusy) {
			return err
		}
		return fmt.Errorf("could not verify: %w", err)
	case !rep.Identical:
		if !*jsonOut {
			fmt.Fprintln(stdout, "verify: differences found")
		}
		return reportedError{errDifferent}
	}
	if !*jsonOut {
		fmt.Fprintln(stdout, "verify: identical")
	}
	return nil
}

// verifyLine is one table's outcome, as a line.
func verifyLine(t dbsync.VerifyTable) string {
	if t.Identical() {
		return fmt.Sprintf("identical  %s (compared by %s)", t.Table, t.Compare)
	}
	line := fmt.Sprintf("DIFFERENT  %s: %d missing, %d extra, %d different (compared by %s)", t.Table, t.Missing, t.Extra, t.Different, t.Compare)
	if len(t.Examples) > 0 {
		line += "; keys: " + strings.Join(t.Examples, " · ")
	}
	if t.Note != "" {
		line += "; " + t.Note
	}
	return line
}

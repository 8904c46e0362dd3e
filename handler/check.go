package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/dbsync/dbsync/sync"
	azureid "github.com/dbsync/dbsync/sync/azure"
)

const checkUsage = `Usage: handler check [--config FILE] [--target azure|sqlite]

Validates the configuration and secrets, then connects to the primary, the
fallback and the target without writing anything. The [source] query is not
run: its columns are asked for with a LIMIT 0 probe in a read-only
transaction. Each source's columns are matched against the target table as a
run matches them. Prints where each key's value came from (file, environment,
Key Vault; never the value), the TLS version and cipher of each MySQL
connection (or UNENCRYPTED), and whether the target allows LOAD DATA LOCAL.
Exits 0 when everything is reachable and fits, 1 when something does not, 2
on a configuration error.

Example:
  handler check --config config.ini --target azure

Flags:
`

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	configPath := fs.String("config", "", "config file (default: $DBSYNC_CONFIG, else ./config.ini)")
	var target dbsync.Target
	fs.Var((*targetFlag)(&target), "target", "azure or sqlite (default: [sync] default_target)")
	if err := parseFlags(fs, args, checkUsage, stdout, stderr); err != nil {
		return err
	}
	az := azureid.NewAzure(os.Getenv)
	log := newCLILogger(stderr, slog.LevelWarn)
	cfg, err := loadConfig(ctx, *configPath, dbsync.RunOptions{Target: target}, log, az)
	if err != nil {
		return err
	}
	file := cfg.File
	if file == "" {
		file = "(none; environment only)"
	}
	fmt.Fprintf(stdout, "config: %s, target %s\n", file, cfg.Target)
	if cfg.Dir() != "" {
		fmt.Fprintf(stdout, "  relative paths in it are read from %s (the config file's folder)\n", cfg.Dir())
	}
	for _, o := range cfg.Origins() {
		fmt.Fprintf(stdout, "  %-28s from %s\n", o[0], o[1])
	}
	runner := newRunner(log, az)
	results := runner.Check(ctx, cfg)
	failed := 0
	for _, r := range results {
		mark := "ok  "
		if !r.OK {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "%s %-9s %s\n", mark, r.Name, r.Detail)
		for _, w := range r.Warnings {
			fmt.Fprintf(stdout, "warn %-9s %s\n", r.Name, w)
		}
	}
	if failed > 0 {
		return errors.New(fmt.Sprint(failed, " check(s) failed"))
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/dbsync/dbsync/sync"
	azureid "github.com/dbsync/dbsync/sync/azure"
	"github.com/dbsync/dbsync/sync/sqlitedb"
)

const demoUsage = `Usage: handler demo-data [--config FILE] [--rows N]

Creates (or re-creates) the sample table "items" in the SQLite database named
by [fallback] path, so that the demo config's sync has a fallback to read.
This is the only command that writes source data; "handler sync" never does.

Example:
  handler demo-data --config demo/config.ini && handler sync --config demo/config.ini

Flags:
`

func runDemoData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo-data", flag.ContinueOnError)
	configPath := fs.String("config", "", "config file (default: $DBSYNC_CONFIG, else ./config.ini)")
	rows := fs.Int("rows", 1000, "number of sample rows")
	if err := parseFlags(fs, args, demoUsage, stdout, stderr); err != nil {
		return err
	}
	if *rows < 0 {
		return &usageError{"--rows must not be negative"}
	}
	log := newCLILogger(stderr, slog.LevelWarn)
	cfg, err := loadConfig(ctx, *configPath, dbsync.RunOptions{}, log, azureid.NewAzure(os.Getenv))
	if err != nil {
		return err
	}
	if cfg.Fallback.Path == "" {
		return &dbsync.ConfigError{Key: "fallback.path", Reason: "is required: demo-data writes the sample table there"}
	}
	if err := sqlitedb.WriteDemoData(ctx, cfg.Fallback.Path, *rows); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d sample rows to table items in %s\n", *rows, cfg.Fallback.Path)
	return nil
}

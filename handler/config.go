package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dbsync/dbsync/sync"
	azureid "github.com/dbsync/dbsync/sync/azure"
	"github.com/dbsync/dbsync/sync/mysqldb"
	"github.com/dbsync/dbsync/sync/sqlitedb"
)

// loadConfig runs the engine's config pipeline for this process and logs
// what it found: the file, warnings, and where each key came from (never a
// secret's value).
func loadConfig(ctx context.Context, flagPath string, opts dbsync.RunOptions, log *slog.Logger, az *azureid.Azure) (*dbsync.Config, error) {
	path, explicit := dbsync.ConfigPath(flagPath, os.Getenv)
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{
		Path: path, Explicit: explicit, Environ: os.Environ(), Options: opts,
		Secrets: az.VaultSecrets(ctx, log),
	})
	if err != nil {
		return nil, err
	}
	if cfg.File == "" {
		log.Info("no config file; settings come from the environment", "looked_for", path)
	} else {
		log.Info("config loaded", "file", cfg.File)
	}
	for _, w := range cfg.Warnings {
		log.Warn("config warning: " + w)
	}
	// Where every key came from, in one line; never a value. Debug (sync
	// -v): check prints the same, a line per key.
	from := make([]string, 0, len(cfg.Origins()))
	for _, o := range cfg.Origins() {
		from = append(from, o[0]+"="+o[1])
	}
	log.Debug("config sources", "keys", strings.Join(from, ", "))
	return cfg, nil
}

// newRunner is the engine's Runner with the process's one Azure identity,
// the same that loadConfig's Key Vault step uses.
func newRunner(log *slog.Logger, az *azureid.Azure) *dbsync.Runner {
	r := dbsync.NewRunner(log)
	r.Tokens = az
	r.MySQL, r.SQLite = mysqldb.Backend{}, sqlitedb.Backend{}
	return r
}

// targetFlag is --target, read with dbsync.ParseTarget.
type targetFlag dbsync.Target

func (f *targetFlag) String() string { return string(*f) }

func (f *targetFlag) Set(v string) error {
	t, err := dbsync.ParseTarget(v)
	if err != nil {
		// The flag package says which value of which flag.
		return errors.New("want azure or sqlite")
	}
	*f = targetFlag(t)
	return nil
}

// newCLILogger logs human-readable lines to stderr, keeping stdout for the
// result.
func newCLILogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

// loadConfig runs the engine's config pipeline for this process and logs
// what it found: the file, warnings, and where each key came from (never a
// secret's value).
func loadConfig(ctx context.Context, flagPath string, opts dbsync.RunOptions, log *slog.Logger, ident *azureIdentity) (*dbsync.Config, error) {
	path, explicit := dbsync.ConfigPath(flagPath, os.Getenv)
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{
		Path: path, Explicit: explicit, Environ: os.Environ(), Options: opts,
		Secrets: vaultSecrets(ctx, ident, log),
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
	// Where every key came from, in one line; never a value.
	from := make([]string, 0, len(cfg.Origins()))
	for _, o := range cfg.Origins() {
		from = append(from, o[0]+"="+o[1])
	}
	log.Info("config sources", "keys", strings.Join(from, ", "))
	return cfg, nil
}

// newCLILogger logs human-readable lines to stderr, keeping stdout for the
// result.
func newCLILogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

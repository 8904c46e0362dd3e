package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	dbsync "github.com/dbsync/dbsync/sync"
)

// loadConfig runs the engine's config pipeline for this process and logs
// what it found: the file, warnings, and where each key came from (never a
// secret's value).
func loadConfig(ctx context.Context, flagPath string, opts dbsync.RunOptions, log *slog.Logger) (*dbsync.Config, error) {
	path, explicit := dbsync.ConfigPath(flagPath, os.Getenv)
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{
		Path: path, Explicit: explicit, Environ: os.Environ(), Options: opts,
		Secrets: vaultSecrets(ctx, log),
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
	for _, o := range cfg.Origins() {
		log.Debug("config key", "key", o[0], "from", o[1])
	}
	return cfg, nil
}

// newCLILogger logs human-readable lines to stderr, keeping stdout for the
// result.
func newCLILogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

package main

import (
	"context"
	"io"
	"log/slog"
)

// newServeLogger writes JSON lines, Info and below to stdout and Warn and
// above to stderr: the Functions host logs stdout lines as Information and
// stderr lines as Error (Warning when the line contains "warn", which
// slog's "level":"WARN" does).
func newServeLogger(stdout, stderr io.Writer) *slog.Logger {
	return slog.New(levelSplit{
		low:  slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}),
		high: slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}),
	})
}

// levelSplit sends records below Warn to low and the rest to high.
type levelSplit struct{ low, high slog.Handler }

func (h levelSplit) Enabled(ctx context.Context, l slog.Level) bool {
	if l >= slog.LevelWarn {
		return h.high.Enabled(ctx, l)
	}
	return h.low.Enabled(ctx, l)
}

func (h levelSplit) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.high.Handle(ctx, r)
	}
	return h.low.Handle(ctx, r)
}

func (h levelSplit) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelSplit{h.low.WithAttrs(attrs), h.high.WithAttrs(attrs)}
}

func (h levelSplit) WithGroup(name string) slog.Handler {
	return levelSplit{h.low.WithGroup(name), h.high.WithGroup(name)}
}

package dbsync

import (
	"context"
	"log/slog"
)

// uniqueKeys is a slog.Handler that writes an attribute key at most once
// per line. A run's logger carries run_id, target and, for a one-table
// run, table; code deeper down serves one-table and many-table runs alike
// and names its table on its lines, so a one-table run would say
// table=customers twice. A repeated key with the same value is dropped. A
// repeat with another value is a line that should use a key of its own
// (staging_table, delta_table): it is kept, and the handler tests' log
// check fails on it.
type uniqueKeys struct {
	h slog.Handler
	// with is the logger's attributes outside any group. After WithGroup
	// keys are qualified by the group and nothing is dropped (grouped).
	with    map[string]slog.Value
	grouped bool
}

// uniqueKeysLogger wraps log's handler in uniqueKeys (once).
func uniqueKeysLogger(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(uniqueKeys); ok {
		return log
	}
	return slog.New(uniqueKeys{h: log.Handler()})
}

func (u uniqueKeys) Enabled(ctx context.Context, l slog.Level) bool { return u.h.Enabled(ctx, l) }

// seen reports whether a is already on the line with the same value, and
// records it otherwise.
func seen(line map[string]slog.Value, a slog.Attr) bool {
	if v, ok := line[a.Key]; ok && v.Equal(a.Value) {
		return true
	}
	line[a.Key] = a.Value
	return false
}

func (u uniqueKeys) Handle(ctx context.Context, r slog.Record) error {
	if u.grouped {
		return u.h.Handle(ctx, r)
	}
	line := make(map[string]slog.Value, len(u.with)+r.NumAttrs())
	for k, v := range u.with {
		line[k] = v
	}
	var kept []slog.Attr
	dropped := false
	r.Attrs(func(a slog.Attr) bool {
		if seen(line, a) {
			dropped = true
		} else {
			kept = append(kept, a)
		}
		return true
	})
	if !dropped {
		return u.h.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(kept...)
	return u.h.Handle(ctx, out)
}

func (u uniqueKeys) WithAttrs(attrs []slog.Attr) slog.Handler {
	if u.grouped {
		return uniqueKeys{h: u.h.WithAttrs(attrs), grouped: true}
	}
	with := make(map[string]slog.Value, len(u.with)+len(attrs))
	for k, v := range u.with {
		with[k] = v
	}
	var kept []slog.Attr
	for _, a := range attrs {
		if !seen(with, a) {
			kept = append(kept, a)
		}
	}
	return uniqueKeys{h: u.h.WithAttrs(kept), with: with}
}

func (u uniqueKeys) WithGroup(name string) slog.Handler {
	if name == "" {
		return u
	}
	return uniqueKeys{h: u.h.WithGroup(name), grouped: true}
}

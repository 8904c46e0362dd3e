package main

import (
	"context"
	"io"
	"log/slog"
)

// newServeLogger writes JSON lines, Info and below to stdout and Warn and
// above to stderr. The Functions host logs stdout lines as Information and
// stderr lines as Error, or as Warning when the line contains "warn" in
// any case (slog's "level":"WARN" does). So an Error line must not contain
// "warn" anywhere, not even in a message or a value (a table called
// warnings, an error quoting a server's warning): errorLines writes the
// "a" of every such "warn" as the JSON escape \u0061, which any JSON reader
// reads back as the same text.
func newServeLogger(stdout, stderr io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	return slog.New(levelSplit{
		low:  slog.NewJSONHandler(stdout, opts),
		warn: slog.NewJSONHandler(stderr, opts),
		err:  slog.NewJSONHandler(errorLines{stderr}, opts),
	})
}

// levelSplit sends records below Warn to low, Warn records to warn and
// the rest to err.
type levelSplit struct{ low, warn, err slog.Handler }

func (h levelSplit) pick(l slog.Level) slog.Handler {
	switch {
	case l >= slog.LevelError:
		return h.err
	case l >= slog.LevelWarn:
		return h.warn
	}
	return h.low
}

func (h levelSplit) Enabled(ctx context.Context, l slog.Level) bool {
	return h.pick(l).Enabled(ctx, l)
}

func (h levelSplit) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

func (h levelSplit) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelSplit{h.low.WithAttrs(attrs), h.warn.WithAttrs(attrs), h.err.WithAttrs(attrs)}
}

func (h levelSplit) WithGroup(name string) slog.Handler {
	return levelSplit{h.low.WithGroup(name), h.warn.WithGroup(name), h.err.WithGroup(name)}
}

// errorLines writes JSON lines with every "warn", in any case, spelt
// with its "a" escaped. Outside strings a JSON line holds no letters but
// those of true, false and null, so every match is inside a string, where
// the escape means the same letter.
type errorLines struct{ w io.Writer }

func (e errorLines) Write(p []byte) (int, error) {
	var out []byte
	last := 0
	for i := 1; i+2 < len(p); i++ {
		if lowerASCII(p[i-1]) == 'w' && lowerASCII(p[i]) == 'a' && lowerASCII(p[i+1]) == 'r' && lowerASCII(p[i+2]) == 'n' {
			out = append(out, p[last:i]...)
			if p[i] == 'a' {
				out = append(out, `\u0061`...)
			} else {
				out = append(out, `\u0041`...)
			}
			last = i + 1
		}
	}
	if out == nil {
		return e.w.Write(p)
	}
	out = append(out, p[last:]...)
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

package main

import (
	"context"
	"io"
)

func runServe(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	return &usageError{"serving as a custom handler is not built yet; use handler sync\n\n" + mainUsage}
}

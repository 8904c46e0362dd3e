package dbsync

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers branch on.
var (
	// ErrBusy means another run holds the run lock for the same target table.
	ErrBusy = errors.New("another run holds the lock for this target table")
	// ErrTooFewRows means the source returned fewer rows than [sync] min_rows.
	ErrTooFewRows = errors.New("source returned fewer rows than min_rows")
)

// ConfigError is a configuration problem: a missing or unreadable file, or a
// key with a bad value. The CLI exits 2 and the HTTP trigger answers 400.
type ConfigError struct {
	File   string // config file, when the problem is in it
	Line   int    // line of File, when the problem is on one line
	Key    string // "section.key", when one key is at fault
	Value  string // the bad value; empty for secrets
	Origin string // where the value came from: the file, an env var, a Key Vault secret, a run option
	Reason string // what is wrong and what to do
	Err    error  // underlying error, if any
}

func (e *ConfigError) Error() string {
	msg := "config"
	where := e.File
	if e.File != "" && e.Line > 0 {
		where += fmt.Sprintf(" line %d", e.Line)
	}
	if e.Key == "" && where != "" {
		msg += " " + where
	}
	if e.Key != "" {
		msg += " " + e.Key
		if e.Value != "" {
			msg += fmt.Sprintf(" = %q", e.Value)
		}
		origin := e.Origin
		if e.Line > 0 {
			origin = where
		}
		if origin != "" {
			msg += " (from " + origin + ")"
		}
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ConfigError) Unwrap() error { return e.Err }

// schemaError lists how the source's columns differ from the target table's
// when [sync] on_schema_change = fail.
type schemaError struct {
	Table       string
	Differences []string
}

func (e *schemaError) Error() string {
	msg := fmt.Sprintf("source columns do not match target table %s (set [sync] on_schema_change = recreate to rebuild the table from the source's types):", e.Table)
	for _, d := range e.Differences {
		msg += " " + d + ";"
	}
	return msg[:len(msg)-1]
}

// sourceError marks a failure of the source (connect, query, read), which is
// what makes a run switch to the fallback source.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func AsSourceError(err error) error {
	if err == nil {
		return nil
	}
	var se *sourceError
	if errors.As(err, &se) {
		return err
	}
	return &sourceError{err: err}
}

// isSourceError reports whether err came from reading the source.
func isSourceError(err error) bool {
	var se *sourceError
	return errors.As(err, &se)
}

// OneLine folds a multi-line error message (the Azure SDK's errors are
// boxes of dashes over several lines) into one line for logs, reports and
// the CLI's error line.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r") {
		return s
	}
	var parts []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.Trim(line, "-") == "" {
			continue
		}
		parts = append(parts, strings.Join(strings.Fields(line), " "))
	}
	return strings.Join(parts, " ")
}

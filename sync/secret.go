package dbsync

import (
	"fmt"
	"log/slog"
)

// Secret holds a password or token. It never prints its value: String,
// GoString, Format and LogValue all give "REDACTED", so a Secret that ends up
// in a log line, an error or a %+v dump leaks nothing. Call Reveal only where
// the value goes to the server.
type Secret struct{ value string }

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the value itself.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

const redacted = "REDACTED"

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb, %x and %q included,
// prints REDACTED.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps encoders (JSON included) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

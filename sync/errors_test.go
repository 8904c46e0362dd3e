package dbsync

import (
	"errors"
	"fmt"
	"testing"
)

// TestErrors_ConfigError: a config error says where (file and line, or
// the key with its value and origin), what is wrong, and the cause.
func TestErrors_ConfigError(t *testing.T) {
	cases := []struct {
		err  ConfigError
		want string
	}{
		{ConfigError{File: "/app/config.ini", Line: 7, Reason: "section opened twice"}, "config /app/config.ini line 7: section opened twice"},
		{ConfigError{Key: "source.port", Value: "x", Origin: "DBSYNC_SOURCE_PORT", Reason: "want a number"}, `config source.port = "x" (from DBSYNC_SOURCE_PORT): want a number`},
		{ConfigError{File: "/app/config.ini", Line: 3, Key: "sync.mode", Value: "copy", Origin: "env", Reason: "want one of replace, merge"}, `config sync.mode = "copy" (from /app/config.ini line 3): want one of replace, merge`},
		{ConfigError{Key: "azure_mysql.password", Reason: "is required", Err: errors.New("not in Key Vault")}, "config azure_mysql.password: is required: not in Key Vault"},
	}
	for _, tc := range cases {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	wrapped := fmt.Errorf("load: %w", &ConfigError{Key: "k", Reason: "r", Err: ErrBusy})
	if !errors.Is(wrapped, ErrBusy) {
		t.Error("ConfigError does not unwrap to its cause")
	}
}

// TestErrors_OneLine: a multi-line message (the Azure SDK's boxes of
// dashes) becomes one line; a one-line message is kept as it is.
func TestErrors_OneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain  message": "plain  message",
		"GET https://v\n----\nRESPONSE 403\r\n  Forbidden  here \n----": "GET https://v RESPONSE 403 Forbidden here",
		"a\n\n\nb": "a b",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestErrors_SourceError: only errors marked as the source's lead to the
// fallback; the mark survives wrapping and is not added twice.
func TestErrors_SourceError(t *testing.T) {
	base := errors.New("connection refused")
	se := AsSourceError(base)
	if !isSourceError(se) || !isSourceError(fmt.Errorf("table items: %w", se)) || !errors.Is(se, base) {
		t.Errorf("source error not seen through wrapping: %v", se)
	}
	if isSourceError(base) || AsSourceError(nil) != nil {
		t.Error("an unmarked error counts as the source's, or nil was marked")
	}
}

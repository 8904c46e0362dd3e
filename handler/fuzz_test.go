package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeInvocation: any payload the host (or anyone on the port) sends
// decodes or fails with an error; options are only ever a valid target and
// dry_run, and nothing panics.
func FuzzDecodeInvocation(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "functions-host", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"req":{"Query":"a=%zz","Body":"{\"dry_run\":[1]}"}}}`))
	f.Add([]byte(`{"Data":{"timer":null,"req":null}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		req, err := decodeInvocation(payload)
		if err != nil {
			return
		}
		if timer, err := decodeTimer(req); err == nil {
			timer.next()
		}
		hr, err := decodeHTTPRequest(req)
		if err != nil || hr == nil {
			return
		}
		opts, err := hr.runOptions()
		if err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("runOptions error %T %v is not a *badRequest", err, err)
			}
			return
		}
		switch opts.Target {
		case "", "azure", "sqlite":
		default:
			t.Fatalf("target %q accepted", opts.Target)
		}
	})
}

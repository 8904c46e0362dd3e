package sqlitedb

import (
	"reflect"
	"strings"
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

// TestKeyArgs: an incremental window's keys are read from a SQLite target
// with placeholders only, a BLOB key's bytes as a blob (so its affinity
// does not turn them into text) and the rest as text.
func TestKeyArgs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		names    []string
		blob     []bool
		keys     [][][]byte
		want     string
		wantArgs []any
		err      string
	}{
		{"one column", []string{`"id"`}, []bool{false}, [][][]byte{{[]byte("1")}, {[]byte("2")}}, `"id" IN (?, ?)`, []any{"1", "2"}, ""},
		{"a blob key as bytes", []string{`"raw"`}, []bool{true}, [][][]byte{{{0, 0xff}}}, `"raw" IN (?)`, []any{[]byte{0, 0xff}}, ""},
		{"composite as row values", []string{`"a"`, `"b"`}, []bool{false, true}, [][][]byte{{[]byte("x"), []byte("y")}},
			`("a", "b") IN (VALUES (?, ?))`, []any{"x", []byte("y")}, ""},
		{"a key of the wrong width refused", []string{`"a"`, `"b"`}, []bool{false, false}, [][][]byte{{[]byte("x")}}, "", nil, "a key of 1 columns, want 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, args, err := keyArgs(tc.names, tc.blob, tc.keys)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || !reflect.DeepEqual(args, tc.wantArgs) {
				t.Fatalf("keyArgs = %q %#v, %v\nwant %q %#v", got, args, err, tc.want, tc.wantArgs)
			}
		})
	}
}

// TestKeyNamesOf: the key's columns by name, case-insensitively, quoted
// as SQLite quotes them, with which are BLOBs; a missing one is an error
// naming the table and the column.
func TestKeyNamesOf(t *testing.T) {
	cols := []dbsync.TargetColumn{{Name: "ID", DataType: "integer"}, {Name: "raw", DataType: "blob"}}
	names, blob, err := keyNamesOf(cols, []dbsync.KeyColumn{{Name: "raw"}, {Name: "id"}}, "items")
	if err != nil || !reflect.DeepEqual(names, []string{`"raw"`, `"ID"`}) || !reflect.DeepEqual(blob, []bool{true, false}) {
		t.Fatalf("keyNamesOf = %v %v, %v", names, blob, err)
	}
	if _, _, err := keyNamesOf(cols, []dbsync.KeyColumn{{Name: "sku"}}, "items"); err == nil || !strings.Contains(err.Error(), `"items"`) || !strings.Contains(err.Error(), `"sku"`) {
		t.Fatalf("err %v; want one naming table items and column sku", err)
	}
}

package mysqldb

import (
	"strings"
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

// TestKeysWhere: the condition that reads an incremental window's keys
// from the target writes every key as a literal no sql_mode can misread
// (integers checked to be integers, everything else as hex), and refuses
// what is not a key of the table's columns.
func TestKeysWhere(t *testing.T) {
	id := mergeColumn{TargetColumn: dbsync.TargetColumn{Name: "id", DataType: "bigint"}}
	name := mergeColumn{TargetColumn: dbsync.TargetColumn{Name: "name", DataType: "varchar"}, charset: "utf8mb4"}
	raw := mergeColumn{TargetColumn: dbsync.TargetColumn{Name: "raw", DataType: "varbinary"}}
	for _, tc := range []struct {
		name      string
		cols      []mergeColumn
		keys      [][][]byte
		want, err string
	}{
		{"integers as themselves", []mergeColumn{id}, [][][]byte{{[]byte("1")}, {[]byte("-20")}}, "`id` IN (1, -20)", ""},
		{"text as hex, converted", []mergeColumn{name}, [][][]byte{{[]byte("a'b")}}, "`name` IN (CONVERT(X'612762' USING utf8mb4))", ""},
		{"binary as hex", []mergeColumn{raw}, [][][]byte{{{0, 0xff}}}, "`raw` IN (X'00ff')", ""},
		{"composite keys as tuples", []mergeColumn{id, name}, [][][]byte{{[]byte("1"), []byte("x")}, {[]byte("2"), []byte("")}},
			"(`id`, `name`) IN ((1, CONVERT(X'78' USING utf8mb4)), (2, CONVERT(X'' USING utf8mb4)))", ""},
		{"SQL in an integer key refused", []mergeColumn{id}, [][][]byte{{[]byte("1 OR 1=1")}}, "", "is not an integer"},
		{"a lone minus refused", []mergeColumn{id}, [][][]byte{{[]byte("-")}}, "", "is not an integer"},
		{"an empty integer refused", []mergeColumn{id}, [][][]byte{{[]byte("")}}, "", "an empty integer"},
		{"a key of the wrong width refused", []mergeColumn{id, name}, [][][]byte{{[]byte("1")}}, "", "a key of 1 columns, want 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keysWhere(tc.cols, tc.keys)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("keysWhere = %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("keysWhere = %q, %v\nwant %q", got, err, tc.want)
			}
		})
	}
}

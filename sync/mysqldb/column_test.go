package mysqldb

import (
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

// TestColumn_KindAndDefinition: the driver's type names map to the kinds
// the rows are carried as, and a table built from the source's columns
// gets a MySQL type that keeps every value: the exact source type when
// known, else a type wide enough for the kind.
func TestColumn_KindAndDefinition(t *testing.T) {
	for _, tc := range []struct {
		typeName string
		kind     dbsync.ColumnKind
	}{
		{"INT", dbsync.KindInt}, {"unsigned bigint", dbsync.KindUint}, {"FLOAT", dbsync.KindFloat},
		{"DOUBLE", dbsync.KindDouble}, {"DECIMAL", dbsync.KindDecimal}, {"TIMESTAMP", dbsync.KindDateTime},
		{"TIME", dbsync.KindTime}, {"YEAR", dbsync.KindYear}, {"BIT", dbsync.KindBit}, {"JSON", dbsync.KindText},
		{"MEDIUMBLOB", dbsync.KindBinary}, {"GEOMETRY", dbsync.KindUnsupported},
	} {
		if got := kind(tc.typeName); got != tc.kind {
			t.Errorf("kind(%q) = %v, want %v", tc.typeName, got, tc.kind)
		}
	}
	for _, tc := range []struct {
		col  dbsync.Column
		want string
	}{
		{dbsync.Column{MySQLType: "enum('a','b')", Kind: dbsync.KindText}, "enum('a','b')"},
		{dbsync.Column{Kind: dbsync.KindText}, "longtext"},
		{dbsync.Column{Kind: dbsync.KindInt, TypeName: "SMALLINT"}, "smallint"},
		{dbsync.Column{Kind: dbsync.KindInt, TypeName: "INTEGER"}, "bigint"},
		{dbsync.Column{Kind: dbsync.KindUint, TypeName: "UNSIGNED INT"}, "int unsigned"},
		{dbsync.Column{Kind: dbsync.KindDecimal, Precision: 10, Scale: 2}, "decimal(10,2)"},
		{dbsync.Column{Kind: dbsync.KindDecimal, TypeName: "DECIMAL(12,4)", Scale: -1}, "decimal(12,4)"},
		{dbsync.Column{Kind: dbsync.KindDecimal, TypeName: "NUMERIC", Scale: -1}, "decimal(65,30)"},
		{dbsync.Column{Kind: dbsync.KindDateTime, TypeName: "TIMESTAMP", Scale: 3}, "timestamp(3) NULL"},
		{dbsync.Column{Kind: dbsync.KindDateTime, TypeName: "DATETIME", Scale: -1}, "datetime(6)"},
		{dbsync.Column{Kind: dbsync.KindTime, Scale: 9}, "time(6)"},
		{dbsync.Column{Kind: dbsync.KindBit}, "bit(64)"},
	} {
		got, err := definition(tc.col)
		if err != nil || got != tc.want {
			t.Errorf("definition(%+v) = %q, %v; want %q", tc.col, got, err, tc.want)
		}
	}
	if _, err := definition(dbsync.Column{Name: "shape", Kind: dbsync.KindUnsupported, TypeName: "GEOMETRY"}); err == nil {
		t.Error("an unsupported type got a definition")
	}
	if got := quoteString("it's a \\ and \x00"); got != `'it\'s a \\ and \0'` {
		t.Errorf("quoteString = %s", got)
	}
}

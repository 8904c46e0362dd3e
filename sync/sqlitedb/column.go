package sqlitedb

import dbsync "github.com/dbsync/dbsync/sync"

import "strings"

// kind maps a SQLite declared type to a Kind, by SQLite's affinity
// rules (https://sqlite.org/datatype3.html §3.1) refined for the names
// MySQL-minded schemas use, so that DATE/DATETIME/DECIMAL keep their meaning.
func kind(declType string) dbsync.ColumnKind {
	t := strings.ToUpper(declType)
	switch {
	case t == "":
		return dbsync.KindText // no declared type: each value carries its own
	case strings.HasPrefix(t, "DATETIME"), strings.HasPrefix(t, "TIMESTAMP"):
		return dbsync.KindDateTime
	case strings.HasPrefix(t, "DATE"):
		return dbsync.KindDate
	case strings.HasPrefix(t, "TIME"):
		return dbsync.KindTime
	case strings.Contains(t, "UNSIGNED") && strings.Contains(t, "INT"):
		return dbsync.KindUint
	case strings.Contains(t, "INT"), t == "BOOLEAN", t == "BOOL", strings.HasPrefix(t, "YEAR"):
		return dbsync.KindInt
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"), t == "JSON":
		return dbsync.KindText
	case strings.Contains(t, "BLOB"), strings.Contains(t, "BINARY"):
		return dbsync.KindBinary
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return dbsync.KindDouble
	case strings.HasPrefix(t, "DECIMAL"), strings.HasPrefix(t, "NUMERIC"):
		return dbsync.KindDecimal
	}
	return dbsync.KindText
}

// definition is the SQLite column type used when dbsync creates a
// SQLite target table. Exact values are kept: DECIMAL and date/time values
// are TEXT (a NUMERIC column would round DECIMALs to 15 digits), integers
// INTEGER, floats REAL, bytes BLOB. See docs/types.md.
func definition(c dbsync.Column) string {
	switch c.Kind {
	case dbsync.KindInt, dbsync.KindUint, dbsync.KindYear, dbsync.KindBit:
		return "INTEGER"
	case dbsync.KindFloat, dbsync.KindDouble:
		return "REAL"
	case dbsync.KindBinary:
		return "BLOB"
	}
	return "TEXT"
}

// quote quotes a SQLite identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

package dbsync

import "strings"

// sqliteKind maps a SQLite declared type to a Kind, by SQLite's affinity
// rules (https://sqlite.org/datatype3.html §3.1) refined for the names
// MySQL-minded schemas use, so that DATE/DATETIME/DECIMAL keep their meaning.
func sqliteKind(declType string) ColumnKind {
	t := strings.ToUpper(declType)
	switch {
	case t == "":
		return KindText // no declared type: each value carries its own
	case strings.HasPrefix(t, "DATETIME"), strings.HasPrefix(t, "TIMESTAMP"):
		return KindDateTime
	case strings.HasPrefix(t, "DATE"):
		return KindDate
	case strings.HasPrefix(t, "TIME"):
		return KindTime
	case strings.Contains(t, "UNSIGNED") && strings.Contains(t, "INT"):
		return KindUint
	case strings.Contains(t, "INT"), t == "BOOLEAN", t == "BOOL", strings.HasPrefix(t, "YEAR"):
		return KindInt
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"), t == "JSON":
		return KindText
	case strings.Contains(t, "BLOB"), strings.Contains(t, "BINARY"):
		return KindBinary
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return KindDouble
	case strings.HasPrefix(t, "DECIMAL"), strings.HasPrefix(t, "NUMERIC"):
		return KindDecimal
	}
	return KindText
}

// sqliteDefinition is the SQLite column type used when dbsync creates a
// SQLite target table. Exact values are kept: DECIMAL and date/time values
// are TEXT (a NUMERIC column would round DECIMALs to 15 digits), integers
// INTEGER, floats REAL, bytes BLOB. See docs/types.md.
func sqliteDefinition(c Column) string {
	switch c.Kind {
	case KindInt, KindUint, KindYear, KindBit:
		return "INTEGER"
	case KindFloat, KindDouble:
		return "REAL"
	case KindBinary:
		return "BLOB"
	}
	return "TEXT"
}

// quoteSQLite quotes a SQLite identifier.
func quoteSQLite(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

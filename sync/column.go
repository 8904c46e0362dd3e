package dbsync

import (
	"fmt"
	"regexp"
	"strings"
)

// columnKind says how a column's values are carried from source to target. Every
// value travels in MySQL's text form (what a SELECT prints), except binary
// values, which travel as raw bytes.
type columnKind int

// Column kinds.
const (
	kindText     columnKind = iota // CHAR, VARCHAR, TEXT, ENUM, SET, JSON
	kindBinary                     // BINARY, VARBINARY, BLOB
	kindInt                        // signed integers, TINYINT(1)/BOOL
	kindUint                       // unsigned integers
	kindFloat                      // FLOAT (32-bit)
	kindDouble                     // DOUBLE, REAL
	kindDecimal                    // DECIMAL, NUMERIC: exact digits
	kindDate                       // DATE
	kindDateTime                   // DATETIME, TIMESTAMP
	kindTime                       // TIME (may be negative or over 24 h)
	kindYear                       // YEAR
	kindBit                        // BIT(n): big-endian bytes
	kindUnsupported
)

var kindNames = [...]string{"text", "binary", "int", "uint", "float", "double", "decimal", "date", "datetime", "time", "year", "bit", "unsupported"}

func (k columnKind) String() string { return kindNames[k] }

// Column describes one column of the rows being copied.
type Column struct {
	Name     string
	Kind     columnKind
	TypeName string // the source's name for the type, for messages ("UNSIGNED BIGINT", "DECIMAL")
	Nullable bool
	// Precision and Scale: DECIMAL digits, or fractional-second digits
	// (Scale) of DATETIME/TIMESTAMP/TIME.
	Precision, Scale int64
	// MySQLType is the exact MySQL column definition when the source knows
	// it (e.g. "enum('a','b') COLLATE utf8mb4_bin"); empty otherwise.
	MySQLType string
}

// mysqlKind maps go-sql-driver's DatabaseTypeName to a Kind.
func mysqlKind(typeName string) columnKind {
	t := strings.ToUpper(typeName)
	switch {
	case strings.HasPrefix(t, "UNSIGNED "):
		return kindUint
	}
	switch t {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT":
		return kindInt
	case "FLOAT":
		return kindFloat
	case "DOUBLE":
		return kindDouble
	case "DECIMAL":
		return kindDecimal
	case "DATE":
		return kindDate
	case "DATETIME", "TIMESTAMP":
		return kindDateTime
	case "TIME":
		return kindTime
	case "YEAR":
		return kindYear
	case "BIT":
		return kindBit
	case "CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET", "JSON", "NULL":
		return kindText
	case "BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB":
		return kindBinary
	}
	return kindUnsupported
}

// sqliteKind maps a SQLite declared type to a Kind, by SQLite's affinity
// rules (https://sqlite.org/datatype3.html §3.1) refined for the names
// MySQL-minded schemas use, so that DATE/DATETIME/DECIMAL keep their meaning.
func sqliteKind(declType string) columnKind {
	t := strings.ToUpper(declType)
	switch {
	case t == "":
		return kindText // no declared type: each value carries its own
	case strings.HasPrefix(t, "DATETIME"), strings.HasPrefix(t, "TIMESTAMP"):
		return kindDateTime
	case strings.HasPrefix(t, "DATE"):
		return kindDate
	case strings.HasPrefix(t, "TIME"):
		return kindTime
	case strings.Contains(t, "UNSIGNED") && strings.Contains(t, "INT"):
		return kindUint
	case strings.Contains(t, "INT"), t == "BOOLEAN", t == "BOOL", strings.HasPrefix(t, "YEAR"):
		return kindInt
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"), t == "JSON":
		return kindText
	case strings.Contains(t, "BLOB"), strings.Contains(t, "BINARY"):
		return kindBinary
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return kindDouble
	case strings.HasPrefix(t, "DECIMAL"), strings.HasPrefix(t, "NUMERIC"):
		return kindDecimal
	}
	return kindText
}

var decimalArgs = regexp.MustCompile(`\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)`)

// mysqlDefinition is the MySQL column type used when dbsync creates the
// target table from the source (the target table did not exist, or
// on_schema_change = recreate). The exact source type wins when known.
func (c Column) mysqlDefinition() (string, error) {
	if c.MySQLType != "" {
		return c.MySQLType, nil
	}
	switch c.Kind {
	case kindText:
		return "longtext", nil
	case kindBinary:
		return "longblob", nil
	case kindInt:
		switch strings.ToUpper(c.TypeName) {
		case "TINYINT", "SMALLINT", "MEDIUMINT", "INT":
			return strings.ToLower(c.TypeName), nil
		}
		return "bigint", nil
	case kindUint:
		t := strings.ToLower(strings.TrimPrefix(strings.ToUpper(c.TypeName), "UNSIGNED "))
		switch t {
		case "tinyint", "smallint", "mediumint", "int", "bigint":
			return t + " unsigned", nil
		}
		return "bigint unsigned", nil
	case kindFloat:
		return "float", nil
	case kindDouble:
		return "double", nil
	case kindDecimal:
		if c.Precision > 0 && c.Precision <= 65 && c.Scale <= 30 && c.Scale <= c.Precision {
			return fmt.Sprintf("decimal(%d,%d)", c.Precision, c.Scale), nil
		}
		if m := decimalArgs.FindStringSubmatch(c.TypeName); m != nil {
			if m[2] == "" {
				m[2] = "0"
			}
			return fmt.Sprintf("decimal(%s,%s)", m[1], m[2]), nil
		}
		return "decimal(65,30)", nil
	case kindDate:
		return "date", nil
	case kindDateTime:
		if strings.EqualFold(c.TypeName, "TIMESTAMP") {
			// Explicit NULL: without it MariaDB makes the first TIMESTAMP
			// column NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE ….
			return fmt.Sprintf("timestamp(%d) NULL", fsp(c.Scale)), nil
		}
		return fmt.Sprintf("datetime(%d)", fsp(c.Scale)), nil
	case kindTime:
		return fmt.Sprintf("time(%d)", fsp(c.Scale)), nil
	case kindYear:
		return "year", nil
	case kindBit:
		return "bit(64)", nil
	}
	return "", fmt.Errorf("column %s: type %s cannot be carried by dbsync", quoteMySQL(c.Name), c.TypeName)
}

// fsp clamps fractional-second digits to MySQL's 0..6; sources that do not
// say (SQLite) get 6 so no fraction is lost.
func fsp(scale int64) int64 {
	if scale < 0 || scale > 6 {
		return 6
	}
	return scale
}

// sqliteDefinition is the SQLite column type used when dbsync creates a
// SQLite target table. Exact values are kept: DECIMAL and date/time values
// are TEXT (a NUMERIC column would round DECIMALs to 15 digits), integers
// INTEGER, floats REAL, bytes BLOB. See docs/types.md.
func (c Column) sqliteDefinition() string {
	switch c.Kind {
	case kindInt, kindUint, kindYear, kindBit:
		return "INTEGER"
	case kindFloat, kindDouble:
		return "REAL"
	case kindBinary:
		return "BLOB"
	}
	return "TEXT"
}

// quoteMySQL quotes a MySQL identifier: backticks doubled, never spliced raw.
func quoteMySQL(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// quoteSQLite quotes a SQLite identifier.
func quoteSQLite(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteMySQLString makes a SQL string literal that is safe in both MySQL (with
// backslash escapes on, as dbsync's sessions set) and in messages.
func quoteMySQLString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

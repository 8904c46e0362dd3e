package dbsync

import (
	"regexp"
	"strings"
)

// ColumnKind says how a column's values are carried from source to target. Every
// value travels in MySQL's text form (what a SELECT prints), except binary
// values, which travel as raw bytes.
type ColumnKind int

// Column kinds.
const (
	KindText     ColumnKind = iota // CHAR, VARCHAR, TEXT, ENUM, SET, JSON
	KindBinary                     // BINARY, VARBINARY, BLOB
	KindInt                        // signed integers, TINYINT(1)/BOOL
	KindUint                       // unsigned integers
	KindFloat                      // FLOAT (32-bit)
	KindDouble                     // DOUBLE, REAL
	KindDecimal                    // DECIMAL, NUMERIC: exact digits
	KindDate                       // DATE
	KindDateTime                   // DATETIME, TIMESTAMP
	KindTime                       // TIME (may be negative or over 24 h)
	KindYear                       // YEAR
	KindBit                        // BIT(n): big-endian bytes
	KindUnsupported
)

var kindNames = [...]string{"text", "binary", "int", "uint", "float", "double", "decimal", "date", "datetime", "time", "year", "bit", "unsupported"}

func (k ColumnKind) String() string { return kindNames[k] }

// Column describes one column of the rows being copied.
type Column struct {
	Name     string
	Kind     ColumnKind
	TypeName string // the source's name for the type, for messages ("UNSIGNED BIGINT", "DECIMAL")
	Nullable bool
	// Precision and Scale: DECIMAL digits, or fractional-second digits
	// (Scale) of DATETIME/TIMESTAMP/TIME.
	Precision, Scale int64
	// MySQLType is the exact MySQL column definition when the source knows
	// it (e.g. "enum('a','b') COLLATE utf8mb4_bin"); empty otherwise.
	MySQLType string
}

var DecimalArgs = regexp.MustCompile(`\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)`)

// QuoteMySQL quotes a MySQL identifier: backticks doubled, never spliced raw.
func QuoteMySQL(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

package dbsync

import (
	"fmt"
	"strings"
)

// mysqlKind maps go-sql-driver's DatabaseTypeName to a Kind.
func mysqlKind(typeName string) ColumnKind {
	t := strings.ToUpper(typeName)
	switch {
	case strings.HasPrefix(t, "UNSIGNED "):
		return KindUint
	}
	switch t {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT":
		return KindInt
	case "FLOAT":
		return KindFloat
	case "DOUBLE":
		return KindDouble
	case "DECIMAL":
		return KindDecimal
	case "DATE":
		return KindDate
	case "DATETIME", "TIMESTAMP":
		return KindDateTime
	case "TIME":
		return KindTime
	case "YEAR":
		return KindYear
	case "BIT":
		return KindBit
	case "CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET", "JSON", "NULL":
		return KindText
	case "BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB":
		return KindBinary
	}
	return KindUnsupported
}

// mysqlDefinition is the MySQL column type used when dbsync creates the
// target table from the source (the target table did not exist, or
// on_schema_change = recreate). The exact source type wins when known.
func mysqlDefinition(c Column) (string, error) {
	if c.MySQLType != "" {
		return c.MySQLType, nil
	}
	switch c.Kind {
	case KindText:
		return "longtext", nil
	case KindBinary:
		return "longblob", nil
	case KindInt:
		switch strings.ToUpper(c.TypeName) {
		case "TINYINT", "SMALLINT", "MEDIUMINT", "INT":
			return strings.ToLower(c.TypeName), nil
		}
		return "bigint", nil
	case KindUint:
		t := strings.ToLower(strings.TrimPrefix(strings.ToUpper(c.TypeName), "UNSIGNED "))
		switch t {
		case "tinyint", "smallint", "mediumint", "int", "bigint":
			return t + " unsigned", nil
		}
		return "bigint unsigned", nil
	case KindFloat:
		return "float", nil
	case KindDouble:
		return "double", nil
	case KindDecimal:
		if c.Precision > 0 && c.Precision <= 65 && c.Scale <= 30 && c.Scale <= c.Precision {
			return fmt.Sprintf("decimal(%d,%d)", c.Precision, c.Scale), nil
		}
		if m := DecimalArgs.FindStringSubmatch(c.TypeName); m != nil {
			if m[2] == "" {
				m[2] = "0"
			}
			return fmt.Sprintf("decimal(%s,%s)", m[1], m[2]), nil
		}
		return "decimal(65,30)", nil
	case KindDate:
		return "date", nil
	case KindDateTime:
		if strings.EqualFold(c.TypeName, "TIMESTAMP") {
			// Explicit NULL: without it MariaDB makes the first TIMESTAMP
			// column NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE ….
			return fmt.Sprintf("timestamp(%d) NULL", fsp(c.Scale)), nil
		}
		return fmt.Sprintf("datetime(%d)", fsp(c.Scale)), nil
	case KindTime:
		return fmt.Sprintf("time(%d)", fsp(c.Scale)), nil
	case KindYear:
		return "year", nil
	case KindBit:
		return "bit(64)", nil
	}
	return "", fmt.Errorf("column %s: type %s cannot be carried by dbsync", QuoteMySQL(c.Name), c.TypeName)
}

// fsp clamps fractional-second digits to MySQL's 0..6; sources that do not
// say (SQLite) get 6 so no fraction is lost.
func fsp(scale int64) int64 {
	if scale < 0 || scale > 6 {
		return 6
	}
	return scale
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

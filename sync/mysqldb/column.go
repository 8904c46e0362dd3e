package mysqldb

import (
	"fmt"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

// kind maps go-sql-driver's DatabaseTypeName to a Kind.
func kind(typeName string) dbsync.ColumnKind {
	t := strings.ToUpper(typeName)
	switch {
	case strings.HasPrefix(t, "UNSIGNED "):
		return dbsync.KindUint
	}
	switch t {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT":
		return dbsync.KindInt
	case "FLOAT":
		return dbsync.KindFloat
	case "DOUBLE":
		return dbsync.KindDouble
	case "DECIMAL":
		return dbsync.KindDecimal
	case "DATE":
		return dbsync.KindDate
	case "DATETIME", "TIMESTAMP":
		return dbsync.KindDateTime
	case "TIME":
		return dbsync.KindTime
	case "YEAR":
		return dbsync.KindYear
	case "BIT":
		return dbsync.KindBit
	case "CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET", "JSON", "NULL":
		return dbsync.KindText
	case "BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB":
		return dbsync.KindBinary
	}
	return dbsync.KindUnsupported
}

// definition is the MySQL column type used when dbsync creates the
// target table from the source (the target table did not exist, or
// on_schema_change = recreate). The exact source type wins when known.
func definition(c dbsync.Column) (string, error) {
	if c.MySQLType != "" {
		return c.MySQLType, nil
	}
	switch c.Kind {
	case dbsync.KindText:
		return "longtext", nil
	case dbsync.KindBinary:
		return "longblob", nil
	case dbsync.KindInt:
		switch strings.ToUpper(c.TypeName) {
		case "TINYINT", "SMALLINT", "MEDIUMINT", "INT":
			return strings.ToLower(c.TypeName), nil
		}
		return "bigint", nil
	case dbsync.KindUint:
		t := strings.ToLower(strings.TrimPrefix(strings.ToUpper(c.TypeName), "UNSIGNED "))
		switch t {
		case "tinyint", "smallint", "mediumint", "int", "bigint":
			return t + " unsigned", nil
		}
		return "bigint unsigned", nil
	case dbsync.KindFloat:
		return "float", nil
	case dbsync.KindDouble:
		return "double", nil
	case dbsync.KindDecimal:
		if c.Precision > 0 && c.Precision <= 65 && c.Scale <= 30 && c.Scale <= c.Precision {
			return fmt.Sprintf("decimal(%d,%d)", c.Precision, c.Scale), nil
		}
		if m := dbsync.DecimalArgs.FindStringSubmatch(c.TypeName); m != nil {
			if m[2] == "" {
				m[2] = "0"
			}
			return fmt.Sprintf("decimal(%s,%s)", m[1], m[2]), nil
		}
		return "decimal(65,30)", nil
	case dbsync.KindDate:
		return "date", nil
	case dbsync.KindDateTime:
		if strings.EqualFold(c.TypeName, "TIMESTAMP") {
			// Explicit NULL: without it MariaDB makes the first TIMESTAMP
			// column NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE ….
			return fmt.Sprintf("timestamp(%d) NULL", fsp(c.Scale)), nil
		}
		return fmt.Sprintf("datetime(%d)", fsp(c.Scale)), nil
	case dbsync.KindTime:
		return fmt.Sprintf("time(%d)", fsp(c.Scale)), nil
	case dbsync.KindYear:
		return "year", nil
	case dbsync.KindBit:
		return "bit(64)", nil
	}
	return "", fmt.Errorf("column %s: type %s cannot be carried by dbsync", dbsync.QuoteMySQL(c.Name), c.TypeName)
}

// fsp clamps fractional-second digits to MySQL's 0..6; sources that do not
// say (SQLite) get 6 so no fraction is lost.
func fsp(scale int64) int64 {
	if scale < 0 || scale > 6 {
		return 6
	}
	return scale
}

// quoteString makes a SQL string literal that is safe in both MySQL (with
// backslash escapes on, as dbsync's sessions set) and in messages.
func quoteString(s string) string {
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

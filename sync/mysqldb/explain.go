package mysqldb

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// ExplainRow is one row of EXPLAIN's tabular output: the columns common
// to MariaDB and MySQL 8 (which has more), read by name.
type ExplainRow struct {
	Table, Type, Key string
	Rows             int64
}

// readExplain runs an EXPLAIN statement and returns its plan rows: the
// one reader of plans for the checksums' pushdown check and the
// incremental read's index check.
func readExplain(ctx context.Context, q Queryer, stmt string, args ...any) ([]ExplainRow, error) {
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(names))
	dest := make([]any, len(names))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var plan []ExplainRow
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		var e ExplainRow
		for i, n := range names {
			switch strings.ToLower(n) {
			case "table":
				e.Table = vals[i].String
			case "type":
				e.Type = vals[i].String
			case "key":
				e.Key = vals[i].String
			case "rows":
				e.Rows, _ = strconv.ParseInt(vals[i].String, 10, 64)
			}
		}
		plan = append(plan, e)
	}
	return plan, rows.Err()
}

package sync

import (
	"log/slog"
	"strings"
)

// stagePlan is how a backend builds the staging table of one table.
type stagePlan struct {
	// fromSource: create the staging table from the source's column types
	// (there is no target table yet, or on_schema_change = recreate
	// rebuilds it); otherwise it is made like the target table.
	fromSource bool
	// order is, when the staging table is made like the target table, the
	// target column each source column fills.
	order []int
	// differences are why a recreate rebuilds the table.
	differences []string
}

// planStage decides how to stage table, for every backend: source columns
// are matched to the existing target columns by name (matchColumns); a
// difference fails the run with on_schema_change = fail, and with recreate
// rebuilds the table from the source's types, saying so in the log (log
// may be nil when nothing will be built, as in check).
func planStage(table string, src []Column, existing []targetColumn, policy string, log *slog.Logger) (stagePlan, error) {
	if len(existing) == 0 {
		return stagePlan{fromSource: true}, nil
	}
	order, diffs := matchColumns(src, existing)
	if len(diffs) == 0 {
		return stagePlan{order: order}, nil
	}
	if policy != SchemaRecreate {
		return stagePlan{}, &schemaError{Table: table, Differences: diffs}
	}
	if log != nil {
		log.Warn("on_schema_change = recreate: rebuilding the table from the source's column types", "table", table, "differences", strings.Join(diffs, "; "))
	}
	return stagePlan{fromSource: true, differences: diffs}, nil
}

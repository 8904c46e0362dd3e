package dbsync

import (
	"log/slog"
	"slices"
	"strings"
)

// stagePlan is how a backend builds the staging table of one table.
type stagePlan struct {
	// fromSource: create the staging table from the source's column types
	// (there is no target table yet, or on_schema_change = recreate
	// rebuilds it); otherwise it is made like the target table.
	FromSource bool
	// order is, when the staging table is made like the target table, the
	// target column each source column fills.
	Order []int
	// differences are why a recreate rebuilds the table.
	differences []string
}

// PlanStage decides how to stage table, for every backend: source columns
// are matched to the existing target columns by name (matchColumns); a
// difference fails the run with on_schema_change = fail, and with recreate
// rebuilds the table from the source's types, saying so in the log (log
// may be nil when nothing will be built, as in check).
func PlanStage(table string, src []Column, existing []TargetColumn, policy string, log *slog.Logger) (stagePlan, error) {
	if len(existing) == 0 {
		return stagePlan{FromSource: true}, nil
	}
	order, diffs := MatchColumns(src, existing)
	if len(diffs) == 0 {
		return stagePlan{Order: order}, nil
	}
	if policy != SchemaRecreate {
		return stagePlan{}, &schemaError{Table: table, Differences: diffs}
	}
	if log != nil {
		log.Warn("on_schema_change = recreate: rebuilding the table from the source's column types", "table", table, "differences", strings.Join(diffs, "; "))
	}
	return stagePlan{FromSource: true, differences: diffs}, nil
}

// WithPrimaryKey adds key as the PRIMARY KEY of a table built from the
// source's column definitions (defs[i] defines srcCols[i]): a merge table
// rebuilt by on_schema_change = recreate keeps its merge key, so the next
// run merges it again (DESIGN §3). Its columns become NOT NULL, as a merge
// key's must be. An empty key, or one the source lacks, adds nothing.
func WithPrimaryKey(defs []string, srcCols []Column, key []string, quote func(string) string) []string {
	if len(key) == 0 {
		return defs
	}
	out := slices.Clone(defs)
	quoted := make([]string, len(key))
	for i, k := range key {
		j := slices.IndexFunc(srcCols, func(c Column) bool { return strings.EqualFold(c.Name, k) })
		if j < 0 {
			return defs
		}
		d := strings.TrimSuffix(strings.TrimSuffix(out[j], " NOT NULL"), " NULL")
		out[j] = d + " NOT NULL"
		quoted[i] = quote(srcCols[j].Name)
	}
	return append(out, "PRIMARY KEY ("+strings.Join(quoted, ", ")+")")
}

// Stage plans (Report.StagePlan): whether the staging table was loaded with
// its secondary indexes in place, or without them and the indexes built
// after the load.
const (
	PlanIndexed         = "indexed"
	PlanDeferredIndexes = "deferred_indexes"
)

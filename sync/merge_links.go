package dbsync

import (
	"fmt"
	"slices"
	"strings"
)

// What ties a merge table to others (DESIGN §2 step 6): its triggers, its
// foreign keys in both directions and its unique keys. A replace swaps in a
// new table object and loses triggers and foreign keys, so a table with any
// is always merged; foreign keys between the run's merge tables order the
// apply (deletes child-first, inserts parent-first); unique keys other
// than the merge key decide which updates must go as delete + insert.

// ForeignKey is one foreign key: Table's Columns reference RefTable's
// RefColumns.
type ForeignKey struct {
	Name       string
	Table      string
	Columns    []string
	RefTable   string
	RefColumns []string
	// OnDelete is the rule: CASCADE, SET NULL, RESTRICT, NO ACTION, SET DEFAULT.
	OnDelete string
}

// UniqueIndex is one unique key of a table (the primary key too).
type UniqueIndex struct {
	Name    string
	Columns []string
}

// TableLinks is what a target says of one target table.
type TableLinks struct {
	Triggers []string
	// Parents are the table's own foreign keys; Children the foreign keys
	// of tables (itself included) that reference it.
	Parents, Children []ForeignKey
	Unique            []UniqueIndex
	// Enforced: the target checks foreign keys while the merge applies
	// (MySQL). SQLite checks none on dbsync's connection (PRAGMA
	// foreign_keys is off unless a connection turns it on), so a delete
	// there never cascades and is never refused.
	Enforced bool
}

// describe lists what a replace would drop, for messages; "" when nothing.
func (l TableLinks) Describe() string {
	var parts []string
	if len(l.Triggers) > 0 {
		parts = append(parts, "trigger "+quoteList(l.Triggers))
	}
	var own, refs []string
	for _, fk := range l.Parents {
		own = append(own, QuoteMySQL(fk.Name)+" (to "+QuoteMySQL(fk.RefTable)+")")
	}
	for _, fk := range l.Children {
		refs = append(refs, QuoteMySQL(fk.Name)+" of "+QuoteMySQL(fk.Table))
	}
	if len(own) > 0 {
		parts = append(parts, "foreign key "+strings.Join(own, ", "))
	}
	if len(refs) > 0 {
		parts = append(parts, "foreign key "+strings.Join(refs, ", ")+" referencing it")
	}
	return strings.Join(parts, "; ")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = QuoteMySQL(n)
	}
	return strings.Join(q, ", ")
}

// keeps is what a replace of the table would lose: its triggers and
// foreign keys, and the values of target columns the source does not
// return (a replace fills them with defaults, an AUTO_INCREMENT id with
// new numbers); "" when nothing.
func (l TableLinks) keeps(srcCols []Column, dst []TargetColumn) string {
	parts := []string{}
	if d := l.Describe(); d != "" {
		parts = append(parts, d)
	}
	if only := targetOnly(srcCols, dst); len(only) > 0 {
		parts = append(parts, "column "+quoteList(only)+" that the source lacks")
	}
	return strings.Join(parts, "; ")
}

// targetOnly are the stored target columns the source does not return.
func targetOnly(srcCols []Column, dst []TargetColumn) []string {
	in := map[string]bool{}
	for _, c := range srcCols {
		in[strings.ToLower(c.Name)] = true
	}
	var out []string
	for _, c := range dst {
		if !c.Generated && !in[strings.ToLower(c.Name)] {
			out = append(out, c.Name)
		}
	}
	return out
}

// reinsertSafe says whether rows of the table may be applied as delete +
// insert inside the merge transaction without changing anything but the
// row. The source must return every stored target column (a column the
// source lacks, an AUTO_INCREMENT id too, would lose its value). A foreign
// key that references the table would cascade or refuse the delete: the
// delete then runs with the target's foreign key checks off (keysOff), which
// is safe only when every such key references the merge key — the row
// comes back with the same key in the same transaction, before any child
// row is written — and is refused otherwise. Why not a two-step UPDATE
// through temporary values instead: no temporary value is valid and unique
// for every column type (ENUM, DATE, a short VARCHAR, a NOT NULL column),
// so that cannot be done in general.
func (l TableLinks) reinsertSafe(srcCols []Column, dst []TargetColumn, key []KeyColumn) (safe bool, why string, keysOff bool) {
	if only := targetOnly(srcCols, dst); len(only) > 0 {
		return false, "target column " + quoteList(only) + " is not in the source, and a re-inserted row would lose its value", false
	}
	if !l.Enforced || len(l.Children) == 0 {
		return true, "", false
	}
	keyCols := make([]string, len(key))
	for i, k := range key {
		keyCols[i] = k.Name
	}
	for _, fk := range l.Children {
		if !SameColumns(fk.RefColumns, keyCols) {
			return false, fmt.Sprintf("foreign key %s of %s references its columns (%s), not the merge key (%s), and a delete would cascade or be refused",
				QuoteMySQL(fk.Name), QuoteMySQL(fk.Table), strings.Join(fk.RefColumns, ", "), strings.Join(keyCols, ", ")), false
		}
	}
	return true, "", true
}

// moveColumns are the columns whose change makes an update a delete +
// insert (applied with the deletes child-first and the inserts
// parent-first): the columns of every unique key other than the merge key
// (two rows may swap values, which an UPDATE checks row by row and
// refuses: error 1062), and the columns of foreign keys to the run's other
// merge tables (a row moving from a parent the run deletes to one it
// inserts). Only columns the source returns count.
func (l TableLinks) moveColumns(table string, key []KeyColumn, srcCols []Column, runMerges []string) []string {
	in := map[string]bool{}
	for _, c := range srcCols {
		in[strings.ToLower(c.Name)] = true
	}
	keyNames := make([]string, len(key))
	for i, k := range key {
		keyNames[i] = k.Name
	}
	var out []string
	add := func(cols []string) {
		for _, c := range cols {
			if !in[strings.ToLower(c)] {
				return // a key the source cannot change
			}
		}
		for _, c := range cols {
			if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, c) }) {
				out = append(out, c)
			}
		}
	}
	for _, u := range l.Unique {
		if !SameColumns(u.Columns, keyNames) {
			add(u.Columns)
		}
	}
	for _, fk := range l.Parents {
		if !strings.EqualFold(fk.RefTable, table) && slices.ContainsFunc(runMerges, func(m string) bool { return strings.EqualFold(m, fk.RefTable) }) {
			add(fk.Columns)
		}
	}
	// The merge key's own columns never change in an update.
	return slices.DeleteFunc(out, func(c string) bool {
		return slices.ContainsFunc(keyNames, func(k string) bool { return strings.EqualFold(k, c) })
	})
}

// ParentFirst orders tables so that every table comes after the tables
// its foreign keys reference (parents[t]); self-references are ignored,
// and a cycle keeps the tables it joins in name order. Deletes go in the
// reverse order.
func ParentFirst(tables []string, parents map[string][]string) []string {
	sorted := slices.Clone(tables)
	slices.SortFunc(sorted, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	placed := map[string]bool{}
	var out []string
	for len(out) < len(sorted) {
		progress := false
		for _, t := range sorted {
			if placed[strings.ToLower(t)] {
				continue
			}
			ready := true
			for _, p := range parents[t] {
				lp := strings.ToLower(p)
				if lp != strings.ToLower(t) && !placed[lp] && slices.ContainsFunc(sorted, func(s string) bool { return strings.EqualFold(s, p) }) {
					ready = false
				}
			}
			if ready {
				placed[strings.ToLower(t)] = true
				out = append(out, t)
				progress = true
			}
		}
		if !progress {
			// A cycle: take the first remaining table in name order.
			for _, t := range sorted {
				if !placed[strings.ToLower(t)] {
					placed[strings.ToLower(t)] = true
					out = append(out, t)
					break
				}
			}
		}
	}
	return out
}

// keyNotInSource is the configuration error of a merge key the source does
// not return (a surrogate AUTO_INCREMENT id of the target, say): it names
// the table, the key and the source's columns, and the target's unique
// keys the source could be merged by instead.
func keyNotInSource(table, setting, what string, key []KeyColumn, configured []string, srcCols []Column, unique []UniqueIndex) error {
	names := make([]string, len(srcCols))
	in := map[string]bool{}
	for i, c := range srcCols {
		names[i] = c.Name
		in[strings.ToLower(c.Name)] = true
	}
	var missing, keyNames []string
	for _, k := range key {
		keyNames = append(keyNames, k.Name)
		if !in[strings.ToLower(k.Name)] {
			missing = append(missing, k.Name)
		}
	}
	var candidates []string
	for _, u := range unique {
		ok := true
		for _, c := range u.Columns {
			ok = ok && in[strings.ToLower(c)]
		}
		if ok && !SameColumns(u.Columns, keyNames) {
			candidates = append(candidates, "key = "+strings.Join(u.Columns, ","))
		}
	}
	advice := fmt.Sprintf("return %s in %s, or set key in %s to a NOT NULL unique key of the target whose columns the query returns", quoteList(missing), what, setting)
	if len(candidates) > 0 {
		advice = fmt.Sprintf("set %s in %s (a unique key of the target that the query returns), or return %s in %s", strings.Join(candidates, " or "), setting, quoteList(missing), what)
	}
	return &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf(
		"target table %s is merged by the key (%s), but %s returns no column %s (it returns %s); the source was not read further: %s",
		QuoteMySQL(table), strings.Join(keyNames, ", "), what, quoteList(missing), strings.Join(names, ", "), advice)}
}

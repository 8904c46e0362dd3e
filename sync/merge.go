package dbsync

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Merge mode (docs/modes.md): instead of replacing every row, a
// merge reads the source and the target table ordered by the table's key,
// compares them in one streaming pass, loads only the differences into a
// delta table and applies them set-based in one transaction. This file
// holds what both targets share: the key's order, the streaming compare and
// the thresholds; merge_run.go runs the sequence, and the backends' merge.go
// (sync/mysqldb, sync/sqlitedb) supply its primitives and the apply.

// DeltaSuffix names the table that holds a merge's differences.
const DeltaSuffix = "__dbsync_delta"

// ErrTooManyDeletes means a merge would delete more than [sync] max_delete
// of the target's rows; nothing was changed.
var ErrTooManyDeletes = errors.New("merge would delete more rows than max_delete allows")

// KeyOrder is how one key column is ordered, the same way on both sides.
type KeyOrder int

const (
	// OrderBytes orders by the value's bytes (strings, binary, dates):
	// never by a collation, under which 'a' and 'A' are one key that sorts
	// either way.
	OrderBytes KeyOrder = iota
	// OrderNumber orders integers numerically (BIGINT UNSIGNED too).
	OrderNumber
)

// KeyColumn is one column of a merge key.
type KeyColumn struct {
	Name  string
	Order KeyOrder
}

// MergeOptions is what a merge of one table needs besides its rows.
type MergeOptions struct {
	// Key is the table's merge key, from mergeKey.
	Key []KeyColumn
	// MaxChanges is merge_max_changes: above this fraction of the target's
	// rows changed, the merge of a table that Keeps nothing stops and says
	// to replace instead.
	MaxChanges float64
	// MaxDelete is max_delete: a merge that would delete more than this
	// fraction of the target's rows fails.
	MaxDelete float64
	// Policy is on_schema_change: with recreate, columns that differ make
	// the merge hand the table to a replace.
	Policy string
	// Table is the target table.
	Table string
	// Setting names the config section of the table, for messages
	// ("[table.items]"); empty means "[sync]".
	Setting string
	// Links are the table's triggers, foreign keys and unique keys: a
	// table with triggers or foreign keys is never handed to a replace,
	// and the apply orders tables by the foreign keys.
	Links TableLinks
	// Move are the columns whose change makes an update a delete + insert
	// (tableLinks.moveColumns); empty when the table's rows cannot be
	// re-inserted safely (NoMove says why).
	Move   []string
	NoMove string
	// MoveKeysOff: delete the moved rows with the target's foreign key
	// checks off (tableLinks.reinsertSafe).
	MoveKeysOff bool
	// Keeps is what a replace would lose (Links.describe, and target
	// columns the source lacks); empty: a replace loses nothing.
	Keeps string
	// Incremental: the source rows are an incremental window, compared
	// against the target's rows of the keys ByKey (sorted) only; the
	// thresholds take TargetRows as the target's row count, and the
	// table holds SourceRows after the merge (incremental_run.go).
	Incremental            bool
	ByKey                  [][][]byte
	TargetRows, SourceRows int64
}

// RowsAfter is how many rows the table holds after the merge d compared:
// the source's rows (an incremental window counts only its own).
func (o MergeOptions) RowsAfter(d *DeltaReader) int64 {
	if o.Incremental {
		return o.SourceRows
	}
	return d.Src.N
}

// withDefaults fills what a message needs. The thresholds come as the
// config has them (their defaults live in DefaultConfig only): 0 is a value,
// "no deletes" and "no merging", never "unset".
func (o MergeOptions) WithDefaults() MergeOptions {
	if o.Setting == "" {
		o.Setting = "[sync]"
	}
	return o
}

// MergeResult is what a merge did. When Replaced is set nothing was
// written, and Reason says why the table must be replaced instead.
type MergeResult struct {
	Inserted, Updated, Deleted, Unchanged int64
	// Rows is the table's row count after the merge (the source's rows).
	Rows int64
	// Replaced: the merge did not apply; the caller replaces the table.
	Replaced bool
	Reason   string
	// LoadMethod is how the differences were loaded (load_data, insert,
	// sqlite); empty when there were none.
	LoadMethod string
	// Note is the report's mode_reason of a table that was merged where
	// a rule of merge_max_changes or the first run could have replaced it.
	Note string
	// RowsRead is how many full rows the merge read from the source when
	// that is not Rows (a merge by checksums reads only the differing
	// keys' rows); 0 means Rows.
	RowsRead int64
}

// Delta operations, as stored in the delta table's dbsync_op column.
const (
	opDelete = "D"
	opUpdate = "U"
	opInsert = "I"
)

// compareKeys orders two rows' keys as both servers were asked to: a
// number by its value, anything else by its bytes. Cells are non-NULL.
func compareKeys(a, b [][]byte, key []KeyColumn) int {
	for i, k := range key {
		var c int
		if k.Order == OrderNumber {
			c = compareIntegers(a[i], b[i])
		} else {
			c = bytes.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareIntegers compares two integers in decimal text of any size
// (BIGINT UNSIGNED's maximum included) without parsing them: by sign, then
// by the number of digits, then digit by digit.
func compareIntegers(a, b []byte) int {
	negA, negB := len(a) > 0 && a[0] == '-', len(b) > 0 && b[0] == '-'
	switch {
	case negA && !negB:
		return -1
	case negB && !negA:
		return 1
	}
	ma, mb := digits(a), digits(b)
	c := len(ma) - len(mb)
	if c == 0 {
		c = bytes.Compare(ma, mb)
	}
	if negA {
		c = -c
	}
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// digits is an integer's magnitude without sign and leading zeros
// (ZEROFILL columns print them).
func digits(v []byte) []byte {
	v = bytes.TrimLeft(v, "+-")
	v = bytes.TrimLeft(v, "0")
	return v
}

// validInteger reports whether v is an integer in decimal text.
func validInteger(v []byte) bool {
	d := bytes.TrimLeft(v, "+-")
	if len(d) == 0 || len(v)-len(d) > 1 {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// KeyReader is one side of the compare: rows ordered by key, with the
// position of each key column among the row's cells.
type KeyReader struct {
	Side string // "source" or "target", for messages
	Rows RowReader
	Key  []KeyColumn
	Pos  []int // cell index of each key column
	cur  [][]byte
	prev [][]byte // the previous row's key, copied
	// more is false once rows is done.
	more bool
	N    int64
}

// advance reads the next row and checks that the keys strictly increase:
// a key out of order or repeated means the server ordered differently from
// the compare, or the key is not unique, and a merge would then be wrong.
func (r *KeyReader) advance(table string) error {
	if r.more {
		r.prev = r.prev[:0]
		for _, c := range r.cur {
			r.prev = append(r.prev, append([]byte(nil), c...))
		}
	}
	r.more = r.Rows.Next()
	if !r.more {
		return nil
	}
	r.N++
	cells := r.Rows.Values()
	r.cur = r.cur[:0]
	for i, p := range r.Pos {
		c := cells[p]
		if c == nil {
			return fmt.Errorf("merge %s: %s row %d has NULL in key column %s; a merge key must identify every row (make the key columns NOT NULL, or filter those rows out in the query)",
				QuoteMySQL(table), r.Side, r.N, QuoteMySQL(r.Key[i].Name))
		}
		if r.Key[i].Order == OrderNumber && !validInteger(c) {
			return fmt.Errorf("merge %s: %s row %d has %q in key column %s, which the target stores as an integer; convert it in the query",
				QuoteMySQL(table), r.Side, r.N, c, QuoteMySQL(r.Key[i].Name))
		}
		r.cur = append(r.cur, c)
	}
	if r.N > 1 {
		if c := compareKeys(r.prev, r.cur, r.Key); c >= 0 {
			what := "is out of order"
			if c == 0 {
				what = "repeats the previous row's key"
			}
			return fmt.Errorf("merge %s: %s row %d %s (key %s); the key must be unique and the rows ordered by its bytes: %s",
				QuoteMySQL(table), r.Side, r.N, what, formatKey(r.cur), keyAdvice(r.Side))
		}
	}
	return nil
}

func keyAdvice(side string) string {
	if side == "source" {
		return "make the query return each key once, and key strings in utf8mb4 (CONVERT(col USING utf8mb4)) so that their bytes are what the target compares"
	}
	return "the target table's key must be unique (a PRIMARY KEY or UNIQUE key on the key columns) and its strings ordered by their utf8mb4 bytes"
}

func formatKey(cells [][]byte) string {
	parts := make([]string, len(cells))
	for i, c := range cells {
		s := string(c)
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		parts[i] = strconv.Quote(s)
	}
	return strings.Join(parts, ", ")
}

// rowsEqual compares two rows' cells byte for byte, NULL apart from ”.
func rowsEqual(a, b [][]byte) bool {
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// CheckThresholds applies max_delete, then merge_max_changes, to the
// differences found against a target of targetRows rows. max_delete comes
// first: a replace would delete the same rows. An empty target is merged
// as inserts (nothing to keep, nothing lost). merge_max_changes hands the
// table to a replace only when the table has no triggers and no foreign
// keys and no columns the source lacks (o.Keeps), which a replace would
// drop; note says which rule applied.
func CheckThresholds(table string, targetRows, inserts, updates, deletes int64, o MergeOptions) (replace, note string, err error) {
	if targetRows > 0 && float64(deletes) > o.MaxDelete*float64(targetRows) {
		return "", "", fmt.Errorf("%w: the source lacks %d of the %d rows of target table %s (%.1f %%), more than [sync] max_delete = %g allows; the table was left unchanged (if the source is right, raise [sync] max_delete for this run)",
			ErrTooManyDeletes, deletes, targetRows, QuoteMySQL(table), 100*float64(deletes)/float64(targetRows), o.MaxDelete)
	}
	changes := inserts + updates + deletes
	if changes == 0 {
		return "", "", nil
	}
	if targetRows == 0 {
		return "", fmt.Sprintf("target table %s was empty: merged as %d inserts (the table, its triggers and foreign keys stay)", table, inserts), nil
	}
	if float64(changes) > o.MaxChanges*float64(targetRows) {
		changed := fmt.Sprintf("%d of %d rows changed (%.1f %%), more than merge_max_changes = %g", changes, targetRows, 100*float64(changes)/float64(targetRows), o.MaxChanges)
		if o.Keeps != "" {
			return "", changed + ", but the table has " + o.Keeps + ": merged, since a replace rebuilds the table (MySQL drops triggers and foreign keys with the old one, columns the source lacks lose their values, and no trigger fires for the rows it writes)", nil
		}
		return changed + ": replaced instead of merged (the table has no triggers, foreign keys or columns the source lacks)", "", nil
	}
	return "", "", nil
}

// DeltaReader is the streaming compare. It walks the source and the target,
// both ordered by key, and yields only the differences, as the rows of the
// delta table: dbsync_op (I, U or D), dbsync_seq, then the source's
// columns — the whole source row for an insert or update, only the key
// for a delete. Memory is one row of each side, whatever the table size.
type DeltaReader struct {
	Table    string
	Src, Dst *KeyReader
	// equal compares the current source and target rows, NULL-aware and
	// byte-exact in the target's representation.
	equal func(src, dst [][]byte) bool
	cols  []Column
	cells [][]byte
	seq   []byte

	Inserts, Updates, Deletes, Unchanged int64
	// err is the compare's own failure (a key out of order, a NULL key):
	// neither side's read failed, so it never sends a run to the fallback.
	ReadErr          error
	started          bool
	nextSrc, nextDst bool // advance that side before the next difference
	replay           bool // yield the current difference again (see prime)
	lastOp           string
}

func NewDeltaReader(table string, src, dst *KeyReader, equal func(src, dst [][]byte) bool) *DeltaReader {
	srcCols := src.Rows.Columns()
	d := &DeltaReader{Table: table, Src: src, Dst: dst, equal: equal,
		cols:  append([]Column{{Name: "dbsync_op", Kind: KindText}, {Name: "dbsync_seq", Kind: KindUint}}, srcCols...),
		cells: make([][]byte, 2+len(srcCols)),
	}
	return d
}

func (d *DeltaReader) Columns() []Column { return d.cols }
func (d *DeltaReader) Values() [][]byte  { return d.cells }
func (d *DeltaReader) Close() error      { return nil }

// Err is the compare's own failure, else the source's, else the target's.
func (d *DeltaReader) Err() error {
	if d.ReadErr != nil {
		return d.ReadErr
	}
	if err := d.Src.Rows.Err(); err != nil {
		return err
	}
	return d.Dst.Rows.Err()
}

// prime finds the first difference, so that a merge with none creates no
// delta table and writes nothing; the next Next yields it again.
func (d *DeltaReader) Prime() bool {
	if !d.Next() {
		return false
	}
	d.replay = true
	return true
}

func (d *DeltaReader) Next() bool {
	if d.replay {
		d.replay = false
		return true
	}
	if d.ReadErr != nil {
		return false
	}
	if !d.started {
		d.started = true
		d.nextSrc, d.nextDst = true, true
	}
	for {
		if d.nextSrc {
			d.nextSrc = false
			if d.ReadErr = d.Src.advance(d.Table); d.ReadErr != nil {
				return false
			}
		}
		if d.nextDst {
			d.nextDst = false
			if d.ReadErr = d.Dst.advance(d.Table); d.ReadErr != nil {
				return false
			}
		}
		var c int
		switch {
		case !d.Src.more && !d.Dst.more:
			return false
		case !d.Dst.more:
			c = -1
		case !d.Src.more:
			c = 1
		default:
			c = compareKeys(d.Src.cur, d.Dst.cur, d.Src.Key)
		}
		switch {
		case c < 0:
			d.Inserts++
			d.emit(opInsert, d.Src.Rows.Values(), nil)
			d.nextSrc = true
			return true
		case c > 0:
			d.Deletes++
			d.emit(opDelete, nil, d.Dst)
			d.nextDst = true
			return true
		}
		d.nextSrc, d.nextDst = true, true
		if d.equal(d.Src.Rows.Values(), d.Dst.Rows.Values()) {
			d.Unchanged++
			continue
		}
		d.Updates++
		d.emit(opUpdate, d.Src.Rows.Values(), nil)
		return true
	}
}

// emit makes the current delta row: row's cells, or only key's key cells.
func (d *DeltaReader) emit(op string, row [][]byte, key *KeyReader) {
	d.lastOp = op
	d.cells[0] = []byte(op)
	d.seq = strconv.AppendInt(d.seq[:0], d.Inserts+d.Updates+d.Deletes, 10)
	d.cells[1] = d.seq
	if row != nil {
		copy(d.cells[2:], row)
		return
	}
	clear(d.cells[2:])
	for i, p := range key.Pos {
		d.cells[2+p] = key.cur[i]
	}
}

// changes is the number of differences found so far.
func (d *DeltaReader) Changes() int64 { return d.Inserts + d.Updates + d.Deletes }

// MatchMerge matches the source's columns to the target table's by the
// run's own staging rule (planStage) and finds the key among the source's
// columns: order[i] is source column i's place in dst, keyPos[k] the
// source column of key column k. A table that must be rebuilt instead
// (on_schema_change = recreate) comes back as a result with Replaced set.
func MatchMerge(table string, srcCols []Column, dst []TargetColumn, opts MergeOptions) (order, keyPos []int, handBack *MergeResult, err error) {
	plan, err := PlanStage(table, srcCols, dst, opts.Policy, nil)
	if err != nil || plan.FromSource {
		res := recreateInstead(plan)
		return nil, nil, &res, err
	}
	keyPos, err = keyPositions(opts.Key, srcCols, table)
	return plan.Order, keyPos, nil, err
}

// recreateInstead is a merge that hands its table back to a replace because
// PlanStage decided to rebuild it (on_schema_change = recreate). The replace
// that follows logs the rebuild.
func recreateInstead(plan stagePlan) MergeResult {
	if !plan.FromSource {
		return MergeResult{}
	}
	return MergeResult{Replaced: true, Reason: "source columns differ from the target table's (" + strings.Join(plan.differences, "; ") + "); on_schema_change = recreate rebuilds it with a replace"}
}

// chooseKey is the merge key among a target table's usable keys (its
// PRIMARY KEY first, then its UNIQUE keys of NOT NULL columns): the first,
// or the configured columns when they are one of them (a surrogate
// AUTO_INCREMENT primary key beside a natural UNIQUE key is common, and
// key = names the natural one), or the configured columns when the table
// has none. nil: no key at all.
func chooseKey(usable [][]string, configured []string) ([]string, error) {
	if len(configured) == 0 {
		if len(usable) == 0 {
			return nil, nil
		}
		return usable[0], nil
	}
	if len(usable) == 0 {
		return configured, nil
	}
	var keys []string
	for _, u := range usable {
		if SameColumns(u, configured) {
			return u, nil
		}
		keys = append(keys, "("+strings.Join(u, ", ")+")")
	}
	return nil, fmt.Errorf("has no PRIMARY KEY or NOT NULL UNIQUE key on those columns; its keys are %s: set key to one of them, or remove key to use the first", strings.Join(keys, ", "))
}

func SameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, c := range a {
		seen[strings.ToLower(c)]++
	}
	for _, c := range b {
		seen[strings.ToLower(strings.TrimSpace(c))]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// compareError is the compare's own failure, or the target read's, as an
// error of the merge: neither is a failure of the source, so neither may
// send a run to the fallback.
func (d *DeltaReader) CompareError(table string) error {
	if d.ReadErr != nil {
		return d.ReadErr
	}
	if err := d.Dst.Rows.Err(); err != nil {
		return fmt.Errorf("read target table %s for the merge: %w", QuoteMySQL(table), err)
	}
	if err := d.Src.Rows.Err(); err != nil {
		return AsSourceError(err)
	}
	return nil
}

// keyPositions finds the key's columns among the source's.
func keyPositions(key []KeyColumn, srcCols []Column, table string) ([]int, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("merge %s: no key given", QuoteMySQL(table))
	}
	pos := make([]int, len(key))
	for i, k := range key {
		pos[i] = -1
		for j, c := range srcCols {
			if strings.EqualFold(c.Name, k.Name) {
				pos[i] = j
			}
		}
		if pos[i] < 0 {
			return nil, fmt.Errorf("merge %s: key column %s is not in the source's columns; the query must return every key column", QuoteMySQL(table), QuoteMySQL(k.Name))
		}
	}
	return pos, nil
}

// ErrFloatKey: both sides print a floating-point value alike, but equal
// values need not be equal keys (and a key's order must be exact).
var ErrFloatKey = errors.New("a floating-point column cannot identify rows exactly")

// KeyCandidate is a target table's column as a merge key would use it.
type KeyCandidate struct {
	Name   string   // as the target stores it
	Order  KeyOrder // how both sides order it
	NotKey error    // why it cannot be a key, or nil
}

// PickMergeKey is the one merge-key rule of every target, given what the
// target table offers: usable are its keys (PRIMARY KEY first, then its
// UNIQUE keys of NOT NULL columns), columns its columns by lower-case name,
// noKey the reason to give when it has no key and none is configured.
// chooseKey picks the columns; each must be a column that can be a key.
func PickMergeKey(table string, quote func(string) string, usable [][]string, columns map[string]KeyCandidate, configured []string, setting, noKey string) ([]KeyColumn, error) {
	chosen, err := chooseKey(usable, configured)
	if err != nil {
		return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("target table %s %v", quote(table), err)}
	}
	if chosen == nil {
		return nil, &ConfigError{Key: setting + " key", Reason: noKey}
	}
	key := make([]KeyColumn, len(chosen))
	for i, name := range chosen {
		c, ok := columns[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("target table %s has no column %s", quote(table), quote(name))}
		}
		if c.NotKey != nil {
			return nil, &ConfigError{Key: setting + " key", Value: strings.Join(configured, ","), Reason: fmt.Sprintf("column %s of table %s cannot be a merge key: %v", quote(c.Name), quote(table), c.NotKey)}
		}
		key[i] = KeyColumn{Name: c.Name, Order: c.Order}
	}
	return key, nil
}

// FirstRun is the first-run rule, for the run and for a backend's merge
// that finds no table (it went between the run's check and the merge):
// a merge table that does not exist yet is replaced, built from the
// source, and merged from the next run on.
func FirstRun(table string) MergeResult {
	return MergeResult{Replaced: true, Reason: fmt.Sprintf("target table %s does not exist yet: the first run of a merge table is a replace", table)}
}

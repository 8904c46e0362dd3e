package mysqldb

import (
	"context"
	"fmt"
	"strings"

	dbsync "github.com/dbsync/dbsync/sync"
)

// deferIndexesMinRows is the target table's estimated row count
// (information_schema.TABLES.TABLE_ROWS, about the previous run's rows) from
// which a MySQL staging table is loaded without its secondary indexes.
// Measured with the bench table (MariaDB 10.11, 2 busy cores, median of 3):
// deferred 0.57 s against indexed 0.80 s at 20,000 rows, 1.23 s against
// 1.60 s at 50,000. Below 10,000 rows a run takes a fraction of a second and
// the three extra ALTERs on the empty staging table (tens of milliseconds)
// weigh more than the sorted index build saves, so small tables keep the
// indexed plan; so does a target that is empty or new (nothing to go by).
const deferIndexesMinRows = 10000

// deferredIndexes are the secondary indexes dropped from the staging table
// before the load, to be added back after it.
type deferredIndexes struct {
	table string // the target table, for messages
	stage string
	// adds are the index lines of the target's SHOW CREATE TABLE, verbatim
	// and in order ("UNIQUE KEY `u` (`a`(10)) COMMENT 'x'").
	adds []string
	// body is the target's SHOW CREATE TABLE between the first and the last
	// line: columns, keys and constraints, which the staging table must
	// match after the indexes are back.
	body []string
}

// createBody returns the lines of SHOW CREATE TABLE between "CREATE TABLE
// … (" and ") ENGINE=…", without their trailing commas.
func createBody(ctx context.Context, q dbsync.Queryer, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SHOW CREATE TABLE "+dbsync.QuoteMySQL(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var name, create string
	if rows.Next() {
		if err := rows.Scan(&name, &create); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	lines := strings.Split(create, "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("unexpected SHOW CREATE TABLE output for %s", dbsync.QuoteMySQL(table))
	}
	body := lines[1 : len(lines)-1]
	for i, l := range body {
		body[i] = strings.TrimSuffix(l, ",")
	}
	return body, nil
}

// deferrableIndex returns the name of the index a SHOW CREATE TABLE line
// defines when it is a plain or UNIQUE secondary index. The primary key
// stays (it orders InnoDB's clustered index), and so do FULLTEXT and SPATIAL
// indexes (InnoDB builds only one FULLTEXT index per ALTER, and neither sorts
// faster afterwards).
func deferrableIndex(line string) (name string, ok bool) {
	s := strings.TrimLeft(line, " ")
	rest, found := strings.CutPrefix(s, "KEY `")
	if !found {
		if rest, found = strings.CutPrefix(s, "UNIQUE KEY `"); !found {
			return "", false
		}
	}
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		if rest[i] == '`' {
			if i+1 < len(rest) && rest[i+1] == '`' {
				b.WriteByte('`')
				i++
				continue
			}
			return b.String(), true
		}
		b.WriteByte(rest[i])
	}
	return "", false
}

// deferIndexes drops the secondary indexes of the staging table, which was
// just created LIKE the target, when the target is large enough for a
// sorted index build after the load to pay. It first checks on the empty
// staging table that dropping and adding them back gives the target's
// definition byte for byte; if not, the staging table keeps its indexes
// (the indexed plan). nil means the indexed plan.
func (t *Target) deferIndexes(ctx context.Context, table, stage string) (*deferredIndexes, error) {
	var estimate int64
	if err := t.db.QueryRowContext(ctx, "SELECT COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", t.stored(table)).Scan(&estimate); err != nil {
		return nil, fmt.Errorf("read row estimate of target table %s: %w", dbsync.QuoteMySQL(table), err)
	}
	if estimate < deferIndexesMinRows {
		return nil, nil
	}
	body, err := createBody(ctx, t.db, table)
	if err != nil {
		return nil, fmt.Errorf("read definition of target table %s: %w", dbsync.QuoteMySQL(table), err)
	}
	d := &deferredIndexes{table: table, stage: stage, body: body}
	var drops []string
	for _, l := range body {
		if name, ok := deferrableIndex(l); ok {
			d.adds = append(d.adds, "ADD "+strings.TrimLeft(l, " "))
			drops = append(drops, "DROP INDEX "+dbsync.QuoteMySQL(name))
		}
	}
	if len(drops) == 0 {
		return nil, nil
	}
	drop := "ALTER TABLE " + dbsync.QuoteMySQL(stage) + " " + strings.Join(drops, ", ")
	if _, err := t.db.ExecContext(ctx, drop); err != nil {
		return nil, fmt.Errorf("drop the secondary indexes of staging table %s: %w", dbsync.QuoteMySQL(stage), err)
	}
	// The trial round trip, on the empty table (milliseconds).
	if err := d.addBack(ctx, t); err != nil {
		t.log.Warn("loading with the secondary indexes in place: adding them back after the load would not give the target's definition", "table", table, "error", err.Error())
		return nil, t.recreateStage(ctx, table, stage)
	}
	if _, err := t.db.ExecContext(ctx, drop); err != nil {
		return nil, fmt.Errorf("drop the secondary indexes of staging table %s: %w", dbsync.QuoteMySQL(stage), err)
	}
	return d, nil
}

// addBack adds the deferred indexes in one ALTER, in the target's order,
// and checks that the staging table's definition is then the target's.
func (d *deferredIndexes) addBack(ctx context.Context, t *Target) error {
	if _, err := t.db.ExecContext(ctx, "ALTER TABLE "+dbsync.QuoteMySQL(d.stage)+" "+strings.Join(d.adds, ", ")); err != nil {
		if errorNumber(err) == 1062 {
			return fmt.Errorf("build the unique indexes of %s after the load: the source holds a value twice that a UNIQUE index of the target table forbids (the server names the value and the index below); fix the duplicates on the source or the index; the target table was left unchanged: %w", dbsync.QuoteMySQL(d.table), err)
		}
		return fmt.Errorf("add the secondary indexes to staging table %s: %w", dbsync.QuoteMySQL(d.stage), err)
	}
	got, err := createBody(ctx, t.db, d.stage)
	if err != nil {
		return fmt.Errorf("read definition of staging table %s: %w", dbsync.QuoteMySQL(d.stage), err)
	}
	if a, b := strings.Join(got, "\n"), strings.Join(d.body, "\n"); a != b {
		return fmt.Errorf("staging table %s with its indexes added back differs from target table %s:\n%s\nwant:\n%s", dbsync.QuoteMySQL(d.stage), dbsync.QuoteMySQL(d.table), a, b)
	}
	return nil
}

// build adds the deferred indexes after a load that succeeded (n rows, err
// nil), before the run verifies and swaps; it passes a failed load through.
func (d *deferredIndexes) build(ctx context.Context, t *Target, n int64, err error) (int64, error) {
	if d == nil || err != nil {
		return n, err
	}
	if err := d.addBack(ctx, t); err != nil {
		return n, err
	}
	return n, nil
}

// recreateStage makes the staging table again LIKE the target, with
// dbsync's mark, after a failed trial left it changed.
func (t *Target) recreateStage(ctx context.Context, table, stage string) error {
	for _, q := range []string{
		"DROP TABLE " + dbsync.QuoteMySQL(stage),
		"CREATE TABLE " + dbsync.QuoteMySQL(stage) + " LIKE " + dbsync.QuoteMySQL(table),
		"ALTER TABLE " + dbsync.QuoteMySQL(stage) + " COMMENT = " + quoteString(stageMark(t.runID)),
	} {
		if _, err := t.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("recreate staging table %s like %s: %w", dbsync.QuoteMySQL(stage), dbsync.QuoteMySQL(table), err)
		}
	}
	return nil
}

// StagePlan: the plan of a table MySQL staged (sink.StagePlan).
func (t *Target) StagePlan(table string) string {
	st := t.stagedTable(table)
	switch {
	case st.deferred != nil:
		return dbsync.PlanDeferredIndexes
	case !st.loaded:
		return ""
	}
	return dbsync.PlanIndexed
}

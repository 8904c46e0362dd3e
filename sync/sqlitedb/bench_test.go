package sqlitedb

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"

	dbsync "github.com/dbsync/dbsync/sync"
)

var benchColumns = []dbsync.Column{
	{Name: "id", Kind: dbsync.KindUint}, {Name: "name", Kind: dbsync.KindText}, {Name: "email", Kind: dbsync.KindText},
	{Name: "amount", Kind: dbsync.KindDecimal}, {Name: "score", Kind: dbsync.KindDouble}, {Name: "active", Kind: dbsync.KindInt},
	{Name: "created_at", Kind: dbsync.KindDateTime}, {Name: "birthday", Kind: dbsync.KindDate}, {Name: "notes", Kind: dbsync.KindText},
	{Name: "attrs", Kind: dbsync.KindText}, {Name: "avatar", Kind: dbsync.KindBinary},
}

// BenchmarkSQLiteTarget loads b.N rows of the benchmark table into a
// SQLite target through the same stage/swap as a run.
func BenchmarkSQLiteTarget(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	t := newTarget(dbsync.SQLiteConfig{Path: path, Table: "items"}, "dbsync_runs", slog.New(slog.DiscardHandler))
	if _, err := t.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := t.Lock(context.Background(), []string{"items"}); err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	b.ReportAllocs()
	b.ResetTimer()
	n, _, err := t.Stage(context.Background(), "items", &repeatRows{cols: benchColumns, row: benchRow, n: b.N}, dbsync.SchemaFail)
	if err != nil || n != int64(b.N) {
		b.Fatal(n, err)
	}
	if _, err := t.Swap(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// repeatRows is a source's rows (sourceRows) that yield the same row n
// times, in text form, with exact types.
type repeatRows struct {
	cols []dbsync.Column
	row  [][]byte
	n, i int
}

func (r *repeatRows) Columns() []dbsync.Column { return r.cols }

func (r *repeatRows) Next() bool { r.i++; return r.i <= r.n }

func (r *repeatRows) Values() [][]byte { return r.row }

func (r *repeatRows) Err() error { return nil }

func (r *repeatRows) Close() error { return nil }

func (r *repeatRows) Binary() bool { return false }

func (r *repeatRows) ExactTypes(context.Context) error { return nil }

// benchRow is one row of the benchmark table as the source delivers it.
var benchRow = [][]byte{
	[]byte("123456"), []byte("Eve 🚀 123456"), []byte("user123456@example.com"), []byte("7919.1234"),
	[]byte("17636.571428571428"), []byte("1"), []byte("2020-01-15 06:17:36.000000"), nil,
	[]byte("note 123456\t\"tab\"\nline\\xxxxxxxxxxxxxxxxxxxxxxxxxxxxx'q'"), []byte(`{"k": 123456, "tags": ["a", "b"]}`),
	[]byte("\x8d\x96\x9e\xef\x6e\xca\xd3\xc2\x9a\x3a\x62\x92\x80\xe6\x86\xcf\x0c\x3f\x5d\x5a\x86\xaf\xf3\xca\x12\x02\x0c\x92\x3a\xdc\x6c\x92"),
}

// BenchmarkSQLiteMergeDelta merges b.N changed rows into a SQLite target
// table of b.N rows: the compare reads the target on the run's
// connection while the delta is written on it, which is the delta's bulk
// insert this measures (the apply's set-based statements are not timed).
func BenchmarkSQLiteMergeDelta(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.db")
	stageNumbered(b, path, b.N)
	t := lockedTarget(b, path)
	defer t.Close()
	b.ReportAllocs()
	b.ResetTimer()
	tm, _ := loadNumberedDelta(b, t, b.N)
	defer tm.Close()
	b.StopTimer()
	t.Discard(ctx)
}

// lockedTarget is the SQLite target at path, locked for a run.
func lockedTarget(tb testing.TB, path string) *Target {
	tb.Helper()
	ctx := context.Background()
	t := newTarget(dbsync.SQLiteConfig{Path: path, Table: "items"}, "dbsync_runs", slog.New(slog.DiscardHandler))
	if _, err := t.Connect(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := t.Lock(ctx, []string{"items"}); err != nil {
		tb.Fatal(err)
	}
	return t
}

// stageNumbered makes table items at path with n numbered rows named
// "old", its key id.
func stageNumbered(tb testing.TB, path string, n int) {
	tb.Helper()
	ctx := context.Background()
	t := lockedTarget(tb, path)
	defer t.Close()
	if _, _, err := t.StageKeepingKey(ctx, "items", &numberedRows{repeatRows: repeatRows{cols: benchColumns, row: benchRow, n: n}, name: "old"}, dbsync.SchemaFail, []string{"id"}); err != nil {
		tb.Fatal(err)
	}
	if _, err := t.Swap(ctx); err != nil {
		tb.Fatal(err)
	}
}

// loadNumberedDelta compares n numbered rows named "new" with items, as
// the core's merge sequence does, and loads the n updates into the delta
// table.
func loadNumberedDelta(tb testing.TB, t *Target, n int) (dbsync.TableMerge, *dbsync.DeltaReader) {
	tb.Helper()
	ctx := context.Background()
	tm, err := t.OpenMerge(ctx, "items")
	if err != nil {
		tb.Fatal(err)
	}
	src := &numberedRows{repeatRows: repeatRows{cols: benchColumns, row: benchRow, n: n}, name: "new"}
	order := make([]int, len(benchColumns))
	for i := range order {
		order[i] = i
	}
	key := []dbsync.KeyColumn{{Name: "id", Order: dbsync.OrderNumber}}
	if err := tm.Prepare(ctx, dbsync.MergePlan{Source: benchColumns, Order: order, KeyPos: []int{0}, Key: key}); err != nil {
		tb.Fatal(err)
	}
	d := dbsync.NewDeltaReader("items",
		&dbsync.KeyReader{Side: "source", Rows: src, Key: key, Pos: []int{0}},
		&dbsync.KeyReader{Side: "target", Rows: tm.Rows(), Key: key, Pos: []int{0}},
		tm.Equal)
	if !d.Prime() {
		tb.Fatal("the compare found no differences", d.CompareError("items"))
	}
	loaded, _, err := tm.LoadDelta(ctx, d)
	if err == nil {
		err = d.CompareError("items")
	}
	if err != nil || loaded != int64(n) || d.Updates != int64(n) {
		tb.Fatalf("delta of %d updates: loaded %d, compare found %d updates, error %v", n, loaded, d.Updates, err)
	}
	return tm, d
}

// numberedRows is repeatRows with id = the row's number and a name that
// says which version of the table the row belongs to.
type numberedRows struct {
	repeatRows
	name string
	vals [][]byte
}

func (r *numberedRows) Values() [][]byte {
	r.vals = append(r.vals[:0], r.row...)
	r.vals[0] = strconv.AppendInt(nil, int64(r.i), 10)
	r.vals[1] = []byte(r.name + " " + strconv.Itoa(r.i))
	return r.vals
}

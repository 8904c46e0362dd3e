package dbsync

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
)

// repeatRows is a source's rows (sourceRows) that yield the same row n
// times, in text form, with exact types.
type repeatRows struct {
	cols []Column
	row  [][]byte
	n, i int
}

func (r *repeatRows) Columns() []Column { return r.cols }
func (r *repeatRows) Next() bool        { r.i++; return r.i <= r.n }
func (r *repeatRows) Values() [][]byte  { return r.row }
func (r *repeatRows) Err() error        { return nil }
func (r *repeatRows) Close() error      { return nil }

func (r *repeatRows) Binary() bool                     { return false }
func (r *repeatRows) ExactTypes(context.Context) error { return nil }

var benchColumns = []Column{
	{Name: "id", Kind: KindUint}, {Name: "name", Kind: KindText}, {Name: "email", Kind: KindText},
	{Name: "amount", Kind: KindDecimal}, {Name: "score", Kind: KindDouble}, {Name: "active", Kind: KindInt},
	{Name: "created_at", Kind: KindDateTime}, {Name: "birthday", Kind: KindDate}, {Name: "notes", Kind: KindText},
	{Name: "attrs", Kind: KindText}, {Name: "avatar", Kind: KindBinary},
}

// BenchmarkSQLiteTarget loads b.N rows of the benchmark table into a
// SQLite target through the same stage/swap as a run.
func BenchmarkSQLiteTarget(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	t := newSQLiteTarget(SQLiteConfig{Path: path, Table: "items"}, "dbsync_runs", slog.New(slog.DiscardHandler))
	if _, err := t.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := t.Lock(context.Background(), []string{"items"}); err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	b.ReportAllocs()
	b.ResetTimer()
	n, _, err := t.Stage(context.Background(), "items", &repeatRows{cols: benchColumns, row: benchRow, n: b.N}, SchemaFail)
	if err != nil || n != int64(b.N) {
		b.Fatal(n, err)
	}
	if _, err := t.Swap(context.Background()); err != nil {
		b.Fatal(err)
	}
}

package dbsync

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// TestTarget_MatchColumns: source columns pair with the target's by name,
// case-insensitively; every difference is listed: a source column the
// target lacks or generates, a required target column the source lacks.
func TestTarget_MatchColumns(t *testing.T) {
	dst := []TargetColumn{
		{Name: "id", Required: true}, {Name: "Name"}, {Name: "total", Generated: true}, {Name: "created", Required: true},
	}
	cases := []struct {
		name      string
		src       []string
		wantOrder []int
		wantDiffs []string
	}{
		{"all there, other case and order", []string{"created", "NAME", "id"}, []int{3, 1, 0}, nil},
		{"extra source column", []string{"id", "created", "colour"}, []int{0, 3}, []string{"source column `colour` is not in the target table"}},
		{"generated in the target", []string{"id", "created", "total"}, []int{0, 3}, []string{"source column `total` is a generated column in the target table"}},
		{"required column missing", []string{"id"}, []int{0}, []string{"target column `created` (NOT NULL, no default) is not in the source"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := make([]Column, len(tc.src))
			for i, n := range tc.src {
				src[i] = Column{Name: n}
			}
			order, diffs := matchColumns(src, dst)
			if !slices.Equal(order, tc.wantOrder) || !slices.Equal(diffs, tc.wantDiffs) {
				t.Errorf("matchColumns(%v) = %v, %q; want %v, %q", tc.src, order, diffs, tc.wantOrder, tc.wantDiffs)
			}
		})
	}
}

// TestTarget_QueryStrings: one column of every row, in order, NULL as "";
// a failing query is an error, not an empty list.
func TestTarget_QueryStrings(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "q.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n TEXT); INSERT INTO t VALUES ('b'), (NULL), ('a')`); err != nil {
		t.Fatal(err)
	}
	got, err := QueryStrings(ctx, db, `SELECT n FROM t ORDER BY n IS NULL, n`)
	if err != nil || !slices.Equal(got, []string{"a", "b", ""}) {
		t.Errorf("got %q, %v", got, err)
	}
	if got, err := QueryStrings(ctx, db, `SELECT n FROM missing`); err == nil {
		t.Errorf("a query of a missing table gave %q and no error", got)
	}
}

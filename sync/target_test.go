package dbsync

import (
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
			order, diffs := MatchColumns(src, dst)
			if !slices.Equal(order, tc.wantOrder) || !slices.Equal(diffs, tc.wantDiffs) {
				t.Errorf("matchColumns(%v) = %v, %q; want %v, %q", tc.src, order, diffs, tc.wantOrder, tc.wantDiffs)
			}
		})
	}
}

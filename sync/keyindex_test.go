package dbsync

import "testing"

func TestIndexCovers(t *testing.T) {
	key := func(names ...string) []KeyColumn {
		k := make([]KeyColumn, len(names))
		for i, n := range names {
			k[i] = KeyColumn{Name: n}
		}
		return k
	}
	for _, tc := range []struct {
		name  string
		index []string
		key   []KeyColumn
		want  bool
	}{
		{"same column", []string{"id"}, key("id"), true},
		{"case differs", []string{"ID"}, key("id"), true},
		{"key is the index's lead", []string{"a", "b", "c"}, key("a", "b"), true},
		{"lead in another order", []string{"b", "a"}, key("a", "b"), true},
		{"key column second", []string{"x", "id"}, key("id"), false},
		{"index shorter than the key", []string{"a"}, key("a", "b"), false},
		{"other column", []string{"code"}, key("id"), false},
	} {
		if got := IndexCovers(tc.index, tc.key); got != tc.want {
			t.Errorf("%s: indexCovers(%v, %v) = %v, want %v", tc.name, tc.index, KeyNames(tc.key), got, tc.want)
		}
	}
}

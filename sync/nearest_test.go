package dbsync

import "testing"

func TestNearest(t *testing.T) {
	sync := keysOf("sync")
	for _, tc := range []struct {
		name       string
		candidates []string
		want       string
	}{
		{"falback_enabled", sync, "fallback_enabled"},
		{"falback", sync, "fallback_enabled"},
		{"timeuot", sync, "timeout"},
		{"MODE", sync, "mode"},
		{"keys", sync, "key"},
		{"max_deletes", sync, "max_delete"},
		{"sorce", sectionNames(), "source"},
		{"azure", sectionNames(), "azure_mysql"},
		{"querry", tableKeyNames(), "query"},
		{"DBSYNC_SOURCE_HOTS", []string{"DBSYNC_SOURCE_HOST", "DBSYNC_SOURCE_PORT", "DBSYNC_AZURE_MYSQL_HOST"}, "DBSYNC_SOURCE_HOST"},
		{"x", nil, ""},
	} {
		if got := nearest(tc.name, tc.candidates); got != tc.want {
			t.Errorf("nearest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"query", "querry", 1}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

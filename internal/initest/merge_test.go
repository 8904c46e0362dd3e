package initest_test

import (
	"testing"

	"github.com/dbsync/dbsync/internal/initest"
)

func TestMerge(t *testing.T) {
	base := "; comment\n[sync]\ntimeout = 9m\n\n[source]\nhost = h\nquery = SELECT *\n  FROM items\n\n[sqlite]\npath = r.db\n"
	cases := []struct{ name, overrides, want string }{
		{"nothing", "", base},
		{"replace a key and its continuation lines", "[source]\nquery = SELECT 1\n",
			"; comment\n[sync]\ntimeout = 9m\n\n[source]\nhost = h\nquery = SELECT 1\n\n[sqlite]\npath = r.db\n"},
		{"add a key, case-insensitive section", "[SYNC]\nmin_rows = 0\n",
			"; comment\n[sync]\ntimeout = 9m\nmin_rows = 0\n\n[source]\nhost = h\nquery = SELECT *\n  FROM items\n\n[sqlite]\npath = r.db\n"},
		{"new section, later override wins", "[keyvault]\nurl = a\n[keyvault]\nurl = b\n",
			base + "[keyvault]\nurl = b\n"},
		{"new section keeps its header's case", "[table.Orders]\nquery = q\n",
			base + "[table.Orders]\nquery = q\n"},
		{"multi-line override", "[sqlite]\npath = x\n  y\n",
			"; comment\n[sync]\ntimeout = 9m\n\n[source]\nhost = h\nquery = SELECT *\n  FROM items\n\n[sqlite]\npath = x\n  y\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := initest.Merge(base, tc.overrides); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

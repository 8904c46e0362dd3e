package dbsync

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestMergeKey_Pick: the one merge-key rule (pickMergeKey, both targets):
// the first usable key, or the configured one when it is one of them, or
// the configured columns when the table has none; a floating-point column
// or a column the table lacks is refused, naming the setting's key.
func TestMergeKey_Pick(t *testing.T) {
	columns := map[string]KeyCandidate{
		"id":    {Name: "id", Order: OrderNumber},
		"code":  {Name: "Code", Order: OrderBytes},
		"score": {Name: "score", Order: OrderBytes, NotKey: ErrFloatKey},
	}
	cases := []struct {
		name       string
		usable     [][]string
		configured []string
		want       []KeyColumn
		wantErr    string
	}{
		{"primary key first", [][]string{{"id"}, {"Code"}}, nil, []KeyColumn{{Name: "id", Order: OrderNumber}}, ""},
		{"configured unique key", [][]string{{"id"}, {"Code"}}, []string{" code "}, []KeyColumn{{Name: "Code", Order: OrderBytes}}, ""},
		{"configured, table has no key", nil, []string{"code", "id"}, []KeyColumn{{Name: "Code", Order: OrderBytes}, {Name: "id", Order: OrderNumber}}, ""},
		{"configured is not a key of the table", [][]string{{"id"}}, []string{"code"}, nil, "its keys are (id)"},
		{"no key at all", nil, nil, nil, "no key here"},
		{"floating-point column", nil, []string{"score"}, nil, "column `score` of table `t` cannot be a merge key: a floating-point column"},
		{"no such column", nil, []string{"colour"}, nil, "target table `t` has no column `colour`"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key, err := PickMergeKey("t", QuoteMySQL, tc.usable, columns, tc.configured, "[table.t]", "no key here")
			if tc.wantErr != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Key != "[table.t] key" || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want a ConfigError on [table.t] key saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(key, tc.want) {
				t.Errorf("key %v, %v; want %v", key, err, tc.want)
			}
		})
	}
}

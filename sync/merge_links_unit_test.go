package dbsync

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParentFirst(t *testing.T) {
	cases := []struct {
		name    string
		tables  []string
		parents map[string][]string
		want    []string
	}{
		{"child sorts first by name", []string{"order_lines", "orders"}, map[string][]string{"order_lines": {"orders"}}, []string{"orders", "order_lines"}},
		{"no keys: name order", []string{"b", "a", "c"}, nil, []string{"a", "b", "c"}},
		{"chain", []string{"a", "b", "c"}, map[string][]string{"a": {"b"}, "b": {"c"}}, []string{"c", "b", "a"}},
		{"self-reference ignored", []string{"tree", "leaf"}, map[string][]string{"tree": {"tree"}, "leaf": {"tree"}}, []string{"tree", "leaf"}},
		{"parent outside the run ignored", []string{"lines"}, map[string][]string{"lines": {"customers"}}, []string{"lines"}},
		{"case of stored names", []string{"Orders", "lines"}, map[string][]string{"lines": {"orders"}}, []string{"Orders", "lines"}},
		{"cycle: name order within it", []string{"x", "y", "z"}, map[string][]string{"x": {"y"}, "y": {"x"}, "z": {"x"}}, []string{"x", "y", "z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParentFirst(tc.tables, tc.parents); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parentFirst = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTableLinks_MoveColumnsAndSafety(t *testing.T) {
	src := []Column{{Name: "id"}, {Name: "email"}, {Name: "name"}, {Name: "order_id"}}
	links := TableLinks{
		Unique:  []UniqueIndex{{Name: "PRIMARY", Columns: []string{"id"}}, {Name: "uq_email", Columns: []string{"email"}}, {Name: "uq_sur", Columns: []string{"surrogate"}}},
		Parents: []ForeignKey{{Name: "fk_order", Table: "lines", Columns: []string{"order_id"}, RefTable: "orders"}, {Name: "fk_cust", Table: "lines", Columns: []string{"name"}, RefTable: "customers"}},
	}
	key := []KeyColumn{{Name: "id"}}
	if got := links.moveColumns("lines", key, src, []string{"ORDERS", "lines"}); !reflect.DeepEqual(got, []string{"email", "order_id"}) {
		t.Errorf("moveColumns = %v, want the secondary unique key's and the run parent's foreign key's columns", got)
	}
	dst := []TargetColumn{{Name: "id"}, {Name: "email"}, {Name: "name"}, {Name: "order_id"}, {Name: "total", Generated: true}}
	for _, tc := range []struct {
		name    string
		links   TableLinks
		dst     []TargetColumn
		safe    bool
		why     string
		keysOff bool
	}{
		{"no children, every column", links, dst, true, "", false},
		{"a column the source lacks", links, append(dst, TargetColumn{Name: "surrogate"}), false, "`surrogate` is not in the source", false},
		{"referenced by the merge key", withChildren(links, true, ForeignKey{Name: "fk_s", Table: "sessions", RefColumns: []string{"ID"}}), dst, true, "", true},
		{"referenced by another column", withChildren(links, true, ForeignKey{Name: "fk_s", Table: "sessions", RefColumns: []string{"email"}}), dst, false, "`fk_s` of `sessions` references its columns (email), not the merge key (id)", false},
		{"foreign keys not enforced (SQLite)", withChildren(links, false, ForeignKey{Name: "fk_s", Table: "sessions", RefColumns: []string{"email"}}), dst, true, "", false},
	} {
		safe, why, off := tc.links.reinsertSafe(src, tc.dst, key)
		if safe != tc.safe || off != tc.keysOff || !strings.Contains(why, tc.why) || (tc.why == "") != (why == "") {
			t.Errorf("%s: reinsertSafe = %v %q %v, want %v %q %v", tc.name, safe, why, off, tc.safe, tc.why, tc.keysOff)
		}
	}
	if got := (TableLinks{Triggers: []string{"t1"}}).keeps(src, append(dst, TargetColumn{Name: "note"})); got != "trigger `t1`; column `note` that the source lacks" {
		t.Errorf("keeps = %q", got)
	}
	if got := (TableLinks{}).keeps(src, dst); got != "" {
		t.Errorf("keeps of a plain table = %q, want nothing", got)
	}
}

func withChildren(l TableLinks, enforced bool, fks ...ForeignKey) TableLinks {
	l.Children, l.Enforced = fks, enforced
	return l
}

func TestCheckThresholds_Rules(t *testing.T) {
	o := MergeOptions{MaxChanges: 0.1, MaxDelete: 0.5}.WithDefaults()
	linked := o
	linked.Keeps = "trigger `t`"
	cases := []struct {
		name                  string
		o                     MergeOptions
		target, ins, upd, del int64
		replace, note, err    string
	}{
		{"empty target: inserts", o, 0, 10, 0, 0, "", "was empty: merged as 10 inserts", ""},
		{"few changes", o, 100, 1, 1, 1, "", "", ""},
		{"many changes, plain table: replace", o, 100, 20, 0, 0, "20 of 100 rows changed", "", ""},
		{"many changes, linked table: merged", linked, 100, 20, 0, 0, "", "but the table has trigger `t`: merged, since a replace rebuilds", ""},
		{"max_delete before all", linked, 100, 0, 0, 60, "", "", "max_delete = 0.5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			replace, note, err := CheckThresholds("items", tc.target, tc.ins, tc.upd, tc.del, tc.o)
			if (tc.replace == "") != (replace == "") || !strings.Contains(replace, tc.replace) {
				t.Errorf("replace = %q, want %q", replace, tc.replace)
			}
			if (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
				t.Errorf("note = %q, want %q", note, tc.note)
			}
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestChooseKey(t *testing.T) {
	usable := [][]string{{"id"}, {"email"}, {"tenant", "code"}}
	cases := []struct {
		name       string
		usable     [][]string
		configured []string
		want       []string
		err        string
	}{
		{"the primary key first", usable, nil, []string{"id"}, ""},
		{"a NOT NULL unique key beside the primary key", usable, []string{"EMAIL"}, []string{"email"}, ""},
		{"a two-column unique key in another order", usable, []string{"code", " tenant"}, []string{"tenant", "code"}, ""},
		{"no such key", usable, []string{"name"}, nil, "its keys are (id), (email), (tenant, code)"},
		{"no key at all: the configured columns", nil, []string{"name"}, []string{"name"}, ""},
		{"nothing", nil, nil, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseKey(tc.usable, tc.configured)
			if !reflect.DeepEqual(got, tc.want) || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("chooseKey = %v, %v; want %v, %q", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestKeyNotInSource(t *testing.T) {
	err := keyNotInSource("users", "[table.users]", "[table.users] query", []KeyColumn{{Name: "id"}}, nil,
		[]Column{{Name: "email"}, {Name: "name"}}, []UniqueIndex{{Name: "PRIMARY", Columns: []string{"id"}}, {Name: "uq", Columns: []string{"email"}}})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "[table.users] key" {
		t.Fatalf("keyNotInSource: %v, want a ConfigError on [table.users] key", err)
	}
	for _, want := range []string{"`users`", "key (id)", "returns no column `id`", "it returns email, name", "set key = email in [table.users]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %s", want, err)
		}
	}
}

func TestWithPrimaryKey(t *testing.T) {
	src := []Column{{Name: "id"}, {Name: "name"}}
	got := WithPrimaryKey([]string{"int(11) NULL", "varchar(5) NOT NULL"}, src, []string{"ID"}, QuoteMySQL)
	if want := []string{"int(11) NOT NULL", "varchar(5) NOT NULL", "PRIMARY KEY (`id`)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("withPrimaryKey = %q, want %q", got, want)
	}
	if got := WithPrimaryKey([]string{"INTEGER"}, src[:1], []string{"missing"}, QuoteMySQL); !reflect.DeepEqual(got, []string{"INTEGER"}) {
		t.Errorf("a key the source lacks changed the definitions: %q", got)
	}
}

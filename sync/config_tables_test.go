package dbsync_test

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/sync"
)

// noLegacy empties validConfig's one-table keys (an empty value is "not
// set"), so [table.*] sections can be merged over it.
const noLegacy = "[source]\nquery =\n[sqlite]\ntable =\n[azure_mysql]\ntable =\n"

// threeTables is a job of three tables, two groups.
const threeTables = `
[sync]
min_rows = 2

[table.orders]
query = SELECT * FROM orders
  WHERE status <> 'draft'

[table.order_lines]
query = SELECT * FROM order_lines_v
fallback_query = SELECT * FROM order_lines
min_rows = 0
on_schema_change = recreate

[table.Customers]
query = SELECT id, name FROM customers
group = crm
key = id,  Name
`

// multi is validConfig as a job of the given [table.*] sections.
func multi(sections string) string {
	return initest.Merge(initest.Merge(validConfig, noLegacy), sections)
}

func names(ts []dbsync.TableConfig) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// TestConfig_Tables: the [table.*] keys, their defaults and the fixed order.
func TestConfig_Tables(t *testing.T) {
	cfg, err := load(t, multi(threeTables), dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []dbsync.TableConfig{
		// Sorted by target, ignoring case; the target keeps the section's case.
		{Name: "Customers", Query: "SELECT id, name FROM customers", FallbackQuery: "SELECT id, name FROM customers",
			Target: "Customers", Group: "crm", Mode: "replace", Key: []string{"id", "Name"}, MinRows: 2, OnSchemaChange: "fail", Lookback: 10 * time.Minute, FullEvery: 24 * time.Hour, Compare: "auto"},
		{Name: "order_lines", Query: "SELECT * FROM order_lines_v", FallbackQuery: "SELECT * FROM order_lines",
			Target: "order_lines", Mode: "replace", MinRows: 0, OnSchemaChange: "recreate", Lookback: 10 * time.Minute, FullEvery: 24 * time.Hour, Compare: "auto"},
		{Name: "orders", Query: "SELECT * FROM orders\n  WHERE status <> 'draft'", FallbackQuery: "SELECT * FROM orders\n  WHERE status <> 'draft'",
			Target: "orders", Mode: "replace", MinRows: 2, OnSchemaChange: "fail", Lookback: 10 * time.Minute, FullEvery: 24 * time.Hour, Compare: "auto"},
	}
	if !reflect.DeepEqual(cfg.Tables, want) {
		t.Errorf("Tables =\n%+v\nwant\n%+v", cfg.Tables, want)
	}
	if !reflect.DeepEqual(cfg.RunTables(), want) {
		t.Errorf("RunTables without options = %v, want every table", names(cfg.RunTables()))
	}
	if got := cfg.Groups(); !reflect.DeepEqual(got, []string{"default", "crm"}) {
		t.Errorf("Groups = %q", got)
	}
	if cfg.Sync.Parallel != 1 || cfg.Sync.Mode != "replace" || cfg.Sync.MergeMaxChanges != 0.3 || cfg.Sync.MaxDelete != 0.5 {
		t.Errorf("[sync] defaults: %+v", cfg.Sync)
	}
	for key, wantOrigin := range map[string]string{
		"table.orders.query":            "config.ini",
		"table.order_lines.min_rows":    "config.ini",
		"table.Customers.group":         "config.ini",
		"table.orders.fallback_query":   "default",
		"table.Customers.target":        "default",
		"table.order_lines.query":       "config.ini",
		"table.order_lines.on_schema_c": "default", // no such key
	} {
		if got := cfg.Origin(key); !strings.HasSuffix(got, wantOrigin) {
			t.Errorf("Origin(%s) = %q, want …%s", key, got, wantOrigin)
		}
	}
	// TableKey names the key that set a value, for the engine's messages.
	for _, tc := range []struct{ table, key, want string }{
		{"order_lines", "min_rows", "table.order_lines.min_rows"},
		{"orders", "min_rows", "sync.min_rows"},
		{"orders", "query", "table.orders.query"},
		{"orders", "mode", "sync.mode"},
	} {
		i := slices.IndexFunc(cfg.Tables, func(x dbsync.TableConfig) bool { return x.Name == tc.table })
		if got := cfg.TableKey(cfg.Tables[i], tc.key); got != tc.want {
			t.Errorf("TableKey(%s, %s) = %q, want %q", tc.table, tc.key, got, tc.want)
		}
	}
	if !slices.ContainsFunc(cfg.Warnings, func(w string) bool { return strings.Contains(w, "table.Customers.key is used only by mode = merge") }) {
		t.Errorf("no warning about a key in replace mode: %q", cfg.Warnings)
	}
}

// TestConfig_TablesLegacy: the one-table keys are a one-table job whose
// table is the chosen target's table key.
func TestConfig_TablesLegacy(t *testing.T) {
	text := with("[sqlite]\ntable = items_local\n[fallback]\npath = f.db\nquery = SELECT * FROM local_items\n[sync]\nmin_rows = 7\nmode = merge\nkey = id, line\n")
	for _, tc := range []struct {
		target, table, fallback string
	}{
		{"sqlite", "items_local", "SELECT * FROM local_items"},
		{"azure", "items", "SELECT * FROM local_items"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			cfg, err := load(t, text, dbsync.RunOptions{Target: dbsync.Target(tc.target)})
			if err != nil {
				t.Fatal(err)
			}
			want := []dbsync.TableConfig{{Name: tc.table, Query: cfg.Source.Query, FallbackQuery: tc.fallback, Target: tc.table,
				Mode: "merge", Key: []string{"id", "line"}, MinRows: 7, OnSchemaChange: "fail", Lookback: 10 * time.Minute, FullEvery: 24 * time.Hour, Compare: "auto"}}
			if !reflect.DeepEqual(cfg.Tables, want) || !reflect.DeepEqual(cfg.RunTables(), want) {
				t.Errorf("Tables = %+v\nwant %+v", cfg.Tables, want)
			}
			if got := cfg.Groups(); !reflect.DeepEqual(got, []string{"default"}) {
				t.Errorf("Groups = %q", got)
			}
			if got, want := cfg.TableKey(cfg.Tables[0], "target"), map[string]string{"sqlite": "sqlite.table", "azure": "azure_mysql.table"}[tc.target]; got != want {
				t.Errorf("TableKey(target) = %q, want %q", got, want)
			}
			if got := cfg.TableKey(cfg.Tables[0], "query"); got != "source.query" {
				t.Errorf("TableKey(query) = %q", got)
			}
			if got := cfg.TableKey(cfg.Tables[0], "key"); got != "sync.key" {
				t.Errorf("TableKey(key) = %q", got)
			}
			// --tables names the one table by its target name.
			cfg, err = load(t, text, dbsync.RunOptions{Target: dbsync.Target(tc.target), Tables: []string{strings.ToUpper(tc.table)}, Group: "Default"})
			if err != nil || len(cfg.RunTables()) != 1 {
				t.Fatalf("--tables %s: %v", tc.table, err)
			}
		})
	}
	// Without a fallback query, the fallback runs the primary's.
	cfg, err := load(t, validConfig, dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tables[0].FallbackQuery != cfg.Source.Query {
		t.Errorf("FallbackQuery = %q", cfg.Tables[0].FallbackQuery)
	}
}

// TestConfig_TablesMixedWithLegacy: a one-table key beside [table.*]
// sections is refused, whichever layer sets it, saying which to keep.
func TestConfig_TablesMixedWithLegacy(t *testing.T) {
	cases := []struct {
		name, settings string
		environ        []string
		secrets        map[string]string
		key, origin    string
	}{
		{"source.query in the file", "[source]\nquery = SELECT 1\n", nil, nil, "source.query", "config.ini"},
		{"fallback.query in the file", "[fallback]\nquery = SELECT 1\n", nil, nil, "fallback.query", "config.ini"},
		{"azure_mysql.table in the file", "[azure_mysql]\ntable = t\n", nil, nil, "azure_mysql.table", "config.ini"},
		{"sqlite.table in the file", "[sqlite]\ntable = t\n", nil, nil, "sqlite.table", "config.ini"},
		{"environment", "", []string{"DBSYNC_SQLITE_TABLE=t"}, nil, "sqlite.table", "environment DBSYNC_SQLITE_TABLE"},
		{"Key Vault", "", nil, map[string]string{"source--query": "SELECT 1"}, "source.query", "Key Vault secret source--query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := initest.Merge(multi(threeTables+"\n[keyvault]\nurl = https://v.vault.azure.net\n"), tc.settings)
			_, err := dbsync.LoadConfig(dbsync.LoadInput{Path: writeConfig(t, text), Explicit: true, Environ: tc.environ,
				Secrets: func(string, []string) (map[string]string, error) { return tc.secrets, nil }})
			wantConfigError(t, err, tc.key, []string{tc.origin, "[table.orders]", "[table.order_lines]", "[table.Customers]",
				"keep one of the two", "remove " + tc.key, "remove the [table.*] sections"})
		})
	}
}

// TestConfig_TablesValidate: per-table checks name the section's key.
func TestConfig_TablesValidate(t *testing.T) {
	cases := []struct {
		name, sections, target string
		key                    string   // "" = accepted
		want                   []string // in the message
	}{
		{"no query", "[table.a]\nfallback_query = SELECT 1\n", "sqlite", "table.a.query", []string{"is required", `"a"`}},
		{"empty query", "[table.a]\nquery =\n", "azure", "table.a.query", []string{"is required"}},
		{"same target, case differs on MySQL", "[table.a]\nquery = q\ntarget = Orders\n[table.b]\nquery = q\ntarget = orders\n", "azure",
			"table.b.target", []string{"[table.a]", `"Orders"`, "lower_case_table_names"}},
		{"same target as another's name", "[table.Orders]\nquery = q\n[table.b]\nquery = q\ntarget = ORDERS\n", "sqlite",
			"", []string{"table.Orders.target", "[table.b]", "ignores ASCII case"}},
		{"SQLite folds ASCII only", "[table.a]\nquery = q\ntarget = É\n[table.b]\nquery = q\ntarget = é\n", "sqlite", "", nil},
		{"a helper table of another", "[table.a]\nquery = q\n[table.b]\nquery = q\ntarget = a__dbsync_new\n", "sqlite",
			"table.b.target", []string{"helper table", "[table.a]"}},
		{"a merge table's delta table", "[table.a]\nquery = q\nmode = merge\n[table.b]\nquery = q\ntarget = a__dbsync_delta\n", "azure",
			"table.b.target", []string{"helper table", "[table.a]"}},
		{"a delta table, case differs on SQLite", "[table.a]\nquery = q\nmode = merge\n[table.b]\nquery = q\ntarget = A__DBSYNC_DELTA\n", "sqlite",
			"table.b.target", []string{"helper table", "[table.a]"}},
		{"a replace table's delta name: taken once it merges", "[table.a]\nquery = q\n[table.b]\nquery = q\ntarget = a__dbsync_delta\n", "sqlite",
			"table.b.target", []string{"helper table", "[table.a]"}},
		{"the history table", "[table.dbsync_runs]\nquery = q\n", "azure",
			"table.dbsync_runs.target", []string{"history table", "the section name [table.dbsync_runs]"}},
		{"target too long", "[table.a]\nquery = q\ntarget = " + strings.Repeat("x", 53) + "\n", "sqlite", "table.a.target", []string{"too long"}},
		{"name too long, as the target", "[table." + strings.Repeat("x", 53) + "]\nquery = q\n", "sqlite",
			"table." + strings.Repeat("x", 53) + ".target", []string{"too long", "as target is not set"}},
		{"emoji on MySQL", "[table.a]\nquery = q\ntarget = a😀\n", "azure", "table.a.target", []string{"Basic Multilingual Plane"}},
		{"merge per table", "[table.a]\nquery = q\nmode = merge\n", "sqlite", "", nil},
		{"merge in [sync]", "[sync]\nmode = MERGE\n[table.a]\nquery = q\n", "sqlite", "", nil},
		{"merge in [sync], replace per table", "[sync]\nmode = merge\n[table.a]\nquery = q\nmode = replace\n", "sqlite", "", nil},
		{"merge target too long for its delta table", "[table.a]\nquery = q\nmode = merge\ntarget = " + strings.Repeat("x", 51) + "\n", "azure",
			"table.a.target", []string{"too long for mode = merge", "__dbsync_delta", "at most 50"}},
		{"replace target of 51 characters fits", "[table.a]\nquery = q\ntarget = " + strings.Repeat("x", 51) + "\n", "azure", "", nil},
		{"bad mode", "[table.a]\nquery = q\nmode = upsert\n", "sqlite", "table.a.mode", []string{`"upsert"`, "replace, merge"}},
		{"min_rows below 0", "[table.a]\nquery = q\nmin_rows = -1\n", "sqlite", "table.a.min_rows", []string{`"-1"`}},
		{"bad on_schema_change", "[table.a]\nquery = q\non_schema_change = drop\n", "sqlite", "table.a.on_schema_change", []string{"fail, recreate"}},
		{"empty key column", "[table.a]\nquery = q\nkey = a,,b\n", "sqlite", "table.a.key", []string{"comma-separated"}},
		{"key column twice", "[table.a]\nquery = q\nkey = id, ID\n", "sqlite", "table.a.key", []string{"twice"}},
		{"[sync] key with [table.*] sections", "[sync]\nkey = id\n[table.a]\nquery = q\nmode = merge\n", "sqlite", "sync.key", []string{"one-table job", "in the section of each merge table"}},
		{"bad group name", "[table.a]\nquery = q\ngroup = eu west\n", "sqlite", "table.a.group", []string{"group name"}},
		{"group spelled two ways", "[table.a]\nquery = q\ngroup = EU\n[table.b]\nquery = q\ngroup = eu\n", "sqlite",
			"table.b.group", []string{`"EU"`, "[table.a]"}},
		{"fallback needs only its path", "[sync]\nfallback_enabled = true\n[fallback]\npath = f.db\n[table.a]\nquery = q\n", "sqlite", "", nil},
		{"fallback path still required", "[sync]\nfallback_enabled = true\n[table.a]\nquery = q\n", "sqlite", "fallback.path", nil},
		{"parallel 0", "[sync]\nparallel = 0\n[table.a]\nquery = q\n", "sqlite", "sync.parallel", []string{"1 to 16"}},
		{"parallel 17", "[sync]\nparallel = 17\n[table.a]\nquery = q\n", "sqlite", "sync.parallel", []string{"1 to 16"}},
		{"max_delete above 1", "[sync]\nmax_delete = 1.5\n[table.a]\nquery = q\n", "sqlite", "sync.max_delete", []string{"0 to 1"}},
		{"merge_max_changes NaN", "[sync]\nmerge_max_changes = NaN\n[table.a]\nquery = q\n", "sqlite", "sync.merge_max_changes", []string{"0 to 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, multi(tc.sections), dbsync.RunOptions{Target: dbsync.Target(tc.target)})
			if tc.want == nil && tc.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantConfigError(t, err, tc.key, tc.want)
		})
	}
}

// TestConfig_TablesParseErrors: what is wrong with a [table.*] header.
func TestConfig_TablesParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, sections, want string }{
		{"empty name", "[table.]\nquery = q\n", "name is empty"},
		{"name starts with a space", "[table. a]\nquery = q\n", "starts or ends with a space"},
		{"same section in another case", "[table.a]\nquery = q\n[TABLE.A]\nquery = q\n", "opened twice"},
		{"key twice", "[table.A]\nquery = q\nQuery = r\n", "table.A.query (from"},
		{"same Key Vault names", "[table.order_lines]\nquery = q\n[table.Order-Lines]\nquery = q\n", "[table.order_lines] (line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Appended, not merged: Merge would join the two sections.
			_, err := load(t, multi("")+tc.sections, dbsync.RunOptions{})
			wantConfigError(t, err, "", []string{tc.want})
		})
	}
	_, err := load(t, multi("[table.a]\nquery = q\nquerry = r\n"), dbsync.RunOptions{})
	wantConfigError(t, err, "table.a.querry", []string{"the nearest known key is [table.a] query"})
	_, err = load(t, multi("[table.a]\nquery = q\n[table]\nquery = q\n"), dbsync.RunOptions{})
	wantConfigError(t, err, "", []string{"unknown section [table]"})
}

// TestConfig_TablesEnvironment: DBSYNC_TABLE__<NAME>__<KEY> reaches the
// tables the file declares whose names it can spell.
func TestConfig_TablesEnvironment(t *testing.T) {
	sections := threeTables + "[table.eu.orders]\nquery = SELECT 1\ntarget = eu_orders\n"
	cfg, err := load(t, multi(sections), dbsync.RunOptions{},
		"DBSYNC_TABLE__ORDER_LINES__MIN_ROWS=5",
		"DBSYNC_TABLE__ORDERS__QUERY=SELECT 2",
		"DBSYNC_TABLE__CUSTOMERS__TARGET=crm_customers",
		"DBSYNC_TABLE__ORDER_LINES__FALLBACK_QUERY=", // empty: no override
		"DBSYNC_TABLE__ORDER__LINES__QUERY=SELECT 3", // no such table
		"DBSYNC_TABLE__ORDERS__QUERRY=SELECT 4",      // no such key
		"DBSYNC_TABLE__EU.ORDERS__QUERY=SELECT 5",    // a name with a dot has no variable
		"dbsync_table__orders__query=SELECT 6",       // variables are upper case
		"DBSYNC_TABLE_ORDERS_QUERY=SELECT 7",         // single underscores are not the rule
		"DBSYNC_SOURCE_QUERY=",                       // empty: does not mix the one-table key in
	)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]dbsync.TableConfig{}
	for _, tb := range cfg.Tables {
		byName[tb.Name] = tb
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"order_lines min_rows", byName["order_lines"].MinRows, 5},
		{"order_lines fallback_query", byName["order_lines"].FallbackQuery, "SELECT * FROM order_lines"},
		{"orders query", byName["orders"].Query, "SELECT 2"},
		{"orders fallback follows the overridden query", byName["orders"].FallbackQuery, "SELECT 2"},
		{"Customers target", byName["Customers"].Target, "crm_customers"},
		{"eu.orders query", byName["eu.orders"].Query, "SELECT 1"},
		{"origin", cfg.Origin("table.order_lines.min_rows"), "environment DBSYNC_TABLE__ORDER_LINES__MIN_ROWS"},
		{"origin with the name as written", cfg.Origin("table.Customers.target"), "environment DBSYNC_TABLE__CUSTOMERS__TARGET"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	warnings := strings.Join(cfg.Warnings, "\n")
	for _, w := range []string{"DBSYNC_TABLE__ORDER__LINES__QUERY", "DBSYNC_TABLE__ORDERS__QUERRY", "DBSYNC_TABLE__EU.ORDERS__QUERY"} {
		if !strings.Contains(warnings, "environment "+w+" names no key") {
			t.Errorf("no warning for %s: %q", w, cfg.Warnings)
		}
	}
	// An override is checked like the file's value, naming the variable.
	_, err = load(t, multi(threeTables), dbsync.RunOptions{}, "DBSYNC_TABLE__ORDERS__MODE=fast")
	wantConfigError(t, err, "table.orders.mode", []string{`"fast"`, "environment DBSYNC_TABLE__ORDERS__MODE"})
	_, err = load(t, multi(threeTables), dbsync.RunOptions{}, "DBSYNC_TABLE__ORDERS__QUERY=@Microsoft.KeyVault(SecretUri=https://v/secrets/q)")
	wantConfigError(t, err, "table.orders.query", []string{"Key Vault reference"})
}

// TestConfig_TablesKeyVault: table--<name>--<key>, lower case, _ as -.
func TestConfig_TablesKeyVault(t *testing.T) {
	sections := threeTables + "[table.eu.orders]\nquery = SELECT 1\ntarget = eu_orders\n[keyvault]\nurl = https://v.vault.azure.net\n"
	var asked []string
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: writeConfig(t, multi(sections)), Explicit: true,
		Environ: []string{"DBSYNC_TABLE__ORDER_LINES__QUERY=from-env", "DBSYNC_TABLE__ORDERS__QUERY=from-env"},
		Secrets: func(_ string, names []string) (map[string]string, error) {
			asked = names
			return map[string]string{
				"table--order-lines--query":    "from-vault",
				"table--customers--min-rows":   "9",
				"table--order_lines--min-rows": "8", // not the rule: ignored
			}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"table--order-lines--fallback-query", "table--customers--on-schema-change", "table--orders--query", "azure-mysql--password"} {
		if !slices.Contains(asked, n) {
			t.Errorf("LoadConfig did not ask the vault for %s", n)
		}
	}
	if slices.ContainsFunc(asked, func(n string) bool { return strings.Contains(n, "eu") }) {
		t.Errorf("asked for a secret of [table.eu.orders], whose name Key Vault cannot hold: %q", asked)
	}
	byName := map[string]dbsync.TableConfig{}
	for _, tb := range cfg.Tables {
		byName[tb.Name] = tb
	}
	if q := byName["order_lines"].Query; q != "from-vault" {
		t.Errorf("order_lines query %q: Key Vault must win over the environment", q)
	}
	if o := cfg.Origin("table.order_lines.query"); o != "Key Vault secret table--order-lines--query" {
		t.Errorf("origin %q", o)
	}
	if q := byName["orders"].Query; q != "from-env" {
		t.Errorf("orders query %q", q)
	}
	if n := byName["Customers"].MinRows; n != 9 {
		t.Errorf("Customers min_rows %d", n)
	}
	if n := byName["order_lines"].MinRows; n != 0 {
		t.Errorf("order_lines min_rows %d: a secret off the rule was applied", n)
	}
	// Two declared tables that map to the same secrets are refused, before
	// the vault is asked.
	_, err = dbsync.LoadConfig(dbsync.LoadInput{Path: writeConfig(t, multi("[table.a_b]\nquery = q\n[table.A-B]\nquery = q\n[keyvault]\nurl = https://v.vault.azure.net\n")), Explicit: true,
		Secrets: func(string, []string) (map[string]string, error) { t.Error("vault asked"); return nil, nil }})
	wantConfigError(t, err, "", []string{"[table.a_b]", "[table.A-B]", "table--a-b--<key>", "rename one"})
}

// TestConfig_RunTables: --tables and --group choose part of the job; an
// unknown name is a config error listing the job's tables or groups.
func TestConfig_RunTables(t *testing.T) {
	cases := []struct {
		name   string
		tables []string
		group  string
		want   []string // RunTables' names; nil = error
		errKey string
		errSay []string
	}{
		{"all", nil, "", []string{"Customers", "order_lines", "orders"}, "", nil},
		{"subset, in target order, any case", []string{"ORDERS", " customers "}, "", []string{"Customers", "orders"}, "", nil},
		{"a name twice and an empty one", []string{"orders", "orders", ""}, "", []string{"orders"}, "", nil},
		{"group", nil, "CRM", []string{"Customers"}, "", nil},
		{"default group", nil, "default", []string{"order_lines", "orders"}, "", nil},
		{"group and its table", []string{"customers"}, "crm", []string{"Customers"}, "", nil},
		{"unknown table", []string{"orders", "invoices"}, "", nil, "tables", []string{`"invoices"`, "run option", "Customers, order_lines, orders"}},
		{"unknown group", nil, "eu", nil, "group", []string{`"eu"`, "default (the tables without a group key), crm"}},
		{"table outside the group", []string{"orders"}, "crm", nil, "tables", []string{"is in group default", "not in the chosen group crm"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(t, multi(threeTables), dbsync.RunOptions{Tables: tc.tables, Group: tc.group})
			if tc.want == nil {
				wantConfigError(t, err, tc.errKey, tc.errSay)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(cfg.RunTables()); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RunTables = %q, want %q", got, tc.want)
			}
			if len(cfg.Tables) != 3 {
				t.Errorf("Tables lost tables: %q", names(cfg.Tables))
			}
		})
	}
	// A one-table job lists its one table (named after the target).
	_, err := load(t, validConfig, dbsync.RunOptions{Tables: []string{"orders"}})
	wantConfigError(t, err, "tables", []string{`"orders"`, "items (a one-table job"})
	_, err = load(t, validConfig, dbsync.RunOptions{Group: "crm"})
	wantConfigError(t, err, "group", []string{"default (the tables without a group key)"})
}

// TestConfig_Groups: sorted, the default group first and named
// "default"; "group = default" is the default.
func TestConfig_Groups(t *testing.T) {
	cfg, err := load(t, multi("[table.a]\nquery = q\ngroup = zeta\n[table.b]\nquery = q\ngroup = Alpha\n[table.c]\nquery = q\ngroup = alpha\n"), dbsync.RunOptions{})
	if err == nil {
		t.Fatalf("Alpha and alpha accepted: %q", cfg.Groups())
	}
	cfg, err = load(t, multi("[table.a]\nquery = q\ngroup = zeta\n[table.b]\nquery = q\ngroup = Alpha\n[table.c]\nquery = q\ngroup = DEFAULT\n[table.d]\nquery = q\ngroup = Alpha\n"), dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Groups(); !reflect.DeepEqual(got, []string{"default", "Alpha", "zeta"}) {
		t.Errorf("Groups = %q", got)
	}
	// Each group's run is selected from the one config, which stays whole.
	for _, tc := range []struct {
		group  string
		tables []string
		want   []string
	}{
		{"default", nil, []string{"c"}},
		{"ALPHA", nil, []string{"b", "d"}},
		{"zeta", nil, []string{"a"}},
		{"", []string{"a", "c"}, []string{"a", "c"}},
		{"alpha", []string{"d"}, []string{"d"}},
	} {
		sel, err := cfg.Select(tc.group, tc.tables)
		if err != nil {
			t.Errorf("Select(%q, %q): %v", tc.group, tc.tables, err)
		} else if got := names(sel.RunTables()); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Select(%q, %q) = %q; want %q", tc.group, tc.tables, got, tc.want)
		}
	}
	if got := names(cfg.RunTables()); !reflect.DeepEqual(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("after Select, the loaded config covers %q; want every table", got)
	}
	if _, err := cfg.Select("nope", nil); err == nil || !strings.Contains(err.Error(), "default (the tables without a group key), Alpha, zeta") {
		t.Errorf("Select of an unknown group: %v", err)
	}
	if _, err := cfg.Select("zeta", []string{"b"}); err == nil || !strings.Contains(err.Error(), "not in the chosen group zeta") {
		t.Errorf("Select of a table outside the group: %v", err)
	}
	if got := names(cfg.GroupTables("alpha")); !reflect.DeepEqual(got, []string{"b", "d"}) {
		t.Errorf("GroupTables(alpha) = %q", got)
	}
	cfg, err = load(t, multi("[table.a]\nquery = q\ngroup = x\n"), dbsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Groups(); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("Groups without a default-group table = %q", got)
	}
}

// TestConfig_ExampleMultiTable: the three-table job commented out in
// config.ini.example loads once its # lines are uncommented and the
// one-table keys emptied, lists every [table.*] key, and says the rule.
func TestConfig_ExampleMultiTable(t *testing.T) {
	text, err := os.ReadFile("../config.ini.example")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(text), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "#"))
	}
	uncommented := initest.Merge(strings.Join(lines, "\n"), noLegacy+"[fallback]\nquery =\n")
	cfg, err := load(t, uncommented, dbsync.RunOptions{Target: "sqlite"})
	if err != nil {
		t.Fatalf("the example's four-table job does not load: %v", err)
	}
	if len(cfg.Tables) != 4 || len(cfg.Warnings) > 0 {
		t.Errorf("tables %q, warnings %q", names(cfg.Tables), cfg.Warnings)
	}
	for _, k := range []string{"query", "fallback_query", "target", "group", "mode", "key", "min_rows", "on_schema_change", "cursor", "lookback", "full_every"} {
		found := false
		for _, tb := range cfg.Tables {
			found = found || cfg.Origin("table."+tb.Name+"."+k) != "default"
		}
		if !found {
			t.Errorf("the multi-table example does not show %s", k)
		}
	}
	for _, say := range []string{"either the one-table keys or [table.*] sections", "DBSYNC_TABLE__<NAME>__<KEY>", "table--<name>--<key>"} {
		if !strings.Contains(strings.Join(strings.Fields(string(text)), " "), say) {
			t.Errorf("config.ini.example does not say %q", say)
		}
	}
	// Unchanged, the example is a one-table job.
	cfg, err = load(t, string(text), dbsync.RunOptions{Target: "sqlite"})
	if err != nil || len(cfg.Tables) != 1 {
		t.Fatalf("the example as shipped: %v", err)
	}
}

// TestConfig_DocsMultiTable: the three-table job of docs/configuration.md
// loads as the page says.
func TestConfig_DocsMultiTable(t *testing.T) {
	text, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(text), "## The job: one table or several")
	_, rest, ok := strings.Cut(rest, "```ini\n")
	block, _, _ := strings.Cut(rest, "```")
	if !ok || block == "" {
		t.Fatal("docs/configuration.md's job section has no ini example of a job")
	}
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "  ")) // the list item's indent
	}
	cfg, err := load(t, multi(strings.Join(lines, "\n")), dbsync.RunOptions{Group: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(cfg.Tables); !reflect.DeepEqual(got, []string{"customers", "order_lines", "orders"}) {
		t.Errorf("tables %q", got)
	}
	if got := cfg.RunTables(); len(got) != 1 || got[0].Target != "Customers" {
		t.Errorf("--group crm runs %+v", got)
	}
}

// TestConfig_Incremental: mode = incremental's keys (issue 21 "Keys"), in
// [table.<name>] and, for a one-table job, in [sync]; their defaults,
// bounds, overrides and the messages that name the key and what to do.
func TestConfig_Incremental(t *testing.T) {
	type want struct {
		cursor              string
		lookback, fullEvery time.Duration
	}
	cases := []struct {
		name    string
		config  string // a whole file
		environ []string
		key     string   // the error's key; "" with errWant nil = accepted
		errWant []string // in the error
		table   string   // the table whose fields are checked
		fields  want
		warn    string // in a warning, when not ""
	}{
		{name: "defaults", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = updated_at\n"),
			table: "a", fields: want{"updated_at", 10 * time.Minute, 24 * time.Hour}},
		{name: "per table", config: multi("[table.a]\nquery = q\nmode = INCREMENTAL\ncursor = changed\nlookback = 1s\nfull_every = 720h\n"),
			table: "a", fields: want{"changed", time.Second, 30 * 24 * time.Hour}},
		{name: "[sync] lookback and full_every are every table's default", config: multi("[sync]\nmode = incremental\nlookback = 2m\nfull_every = 48h\n[table.a]\nquery = q\ncursor = u\n[table.b]\nquery = q\ncursor = u\nlookback = 5s\n"),
			table: "b", fields: want{"u", 5 * time.Second, 48 * time.Hour}},
		{name: "one-table job in [sync]", config: with("[sync]\nmode = incremental\nkey = id\ncursor = updated_at\nlookback = 90\nfull_every = 1h\n"),
			table: "items", fields: want{"updated_at", 90 * time.Second, time.Hour}},
		{name: "environment", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = u\n"),
			environ: []string{"DBSYNC_TABLE__A__CURSOR=v", "DBSYNC_TABLE__A__LOOKBACK=3s", "DBSYNC_SYNC_FULL_EVERY=2h"},
			table:   "a", fields: want{"v", 3 * time.Second, 2 * time.Hour}},
		{name: "no cursor", config: multi("[table.a]\nquery = q\nmode = incremental\n"),
			key: "table.a.cursor", errWant: []string{"is required by table.a.mode = incremental", "DATETIME or TIMESTAMP", "mode = merge"}},
		{name: "no cursor, mode from [sync]", config: multi("[sync]\nmode = incremental\n[table.a]\nquery = q\n"),
			key: "table.a.cursor", errWant: []string{"sync.mode = incremental"}},
		{name: "no cursor, one-table job", config: with("[sync]\nmode = incremental\n"),
			key: "sync.cursor", errWant: []string{"is required by sync.mode = incremental"}},
		{name: "two cursor columns", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = a, b\n"),
			key: "table.a.cursor", errWant: []string{"one column name"}},
		{name: "[sync] cursor with [table.*]", config: multi("[sync]\ncursor = u\n[table.a]\nquery = q\nmode = incremental\ncursor = u\n"),
			key: "sync.cursor", errWant: []string{"one-table job", "in the section of each incremental table"}},
		{name: "lookback below 1 s", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = u\nlookback = 500ms\n"),
			key: "table.a.lookback", errWant: []string{`"500ms"`, "from 1s to 24h"}},
		{name: "lookback above 24 h", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = u\nlookback = 25h\n"),
			key: "table.a.lookback", errWant: []string{"from 1s to 24h"}},
		{name: "full_every above 30 days", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = u\nfull_every = 721h\n"),
			key: "table.a.full_every", errWant: []string{"from 1s to 720h"}},
		{name: "full_every in seconds above 30 days", config: with("[sync]\nfull_every = 2592001\n"),
			key: "sync.full_every", errWant: []string{"from 1s to 720h"}},
		{name: "full_every bad", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = u\nfull_every = daily\n"),
			key: "table.a.full_every", errWant: []string{`"daily"`}},
		{name: "bad environment value names the variable", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = u\n"),
			environ: []string{"DBSYNC_TABLE__A__LOOKBACK=forever"}, key: "table.a.lookback", errWant: []string{"environment DBSYNC_TABLE__A__LOOKBACK"}},
		{name: "cursor on a merge table: a warning", config: multi("[table.a]\nquery = q\nmode = merge\ncursor = u\nlookback = 5s\n"),
			table: "a", fields: want{"u", 5 * time.Second, 24 * time.Hour},
			warn: "table.a.cursor, table.a.lookback are used only by mode = incremental, and table.a.mode = merge: ignored"},
		{name: "[sync] cursor on a replace one-table job: a warning", config: with("[sync]\ncursor = u\n"),
			table: "items", fields: want{"u", 10 * time.Minute, 24 * time.Hour}, warn: "sync.cursor is used only by mode = incremental, and sync.mode = replace"},
		{name: "[sync] lookback for a job of merge tables: no warning", config: multi("[sync]\nlookback = 1m\n[table.a]\nquery = q\nmode = merge\n"),
			table: "a", fields: want{"", time.Minute, 24 * time.Hour}},
		{name: "incremental delta table name", config: multi("[table.a]\nquery = q\nmode = incremental\ncursor = u\ntarget = " + strings.Repeat("x", 51) + "\n"),
			key: "table.a.target", errWant: []string{"too long for mode = merge or incremental"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(t, tc.config, dbsync.RunOptions{Target: "sqlite"}, tc.environ...)
			if tc.errWant != nil || tc.key != "" {
				wantConfigError(t, err, tc.key, tc.errWant)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got *dbsync.TableConfig
			for i := range cfg.Tables {
				if cfg.Tables[i].Name == tc.table {
					got = &cfg.Tables[i]
				}
			}
			if got == nil {
				t.Fatalf("no table %q in %v", tc.table, names(cfg.Tables))
			}
			if g := (want{got.Cursor, got.Lookback, got.FullEvery}); g != tc.fields {
				t.Errorf("cursor, lookback, full_every = %v, want %v", g, tc.fields)
			}
			warnings := strings.Join(cfg.Warnings, "\n")
			if tc.warn != "" && !strings.Contains(warnings, tc.warn) {
				t.Errorf("warnings %q do not say %q", cfg.Warnings, tc.warn)
			}
			if tc.warn == "" && strings.Contains(warnings, "used only by mode = incremental") {
				t.Errorf("unexpected warning: %q", cfg.Warnings)
			}
		})
	}
}

// TestConfig_IncrementalAccepted: the run carries out mode = incremental,
// so a table of that mode with a cursor loads.
func TestConfig_IncrementalAccepted(t *testing.T) {
	cfg, err := load(t, multi("[table.a]\nquery = q\nmode = incremental\ncursor = u\n"), dbsync.RunOptions{Target: "sqlite"})
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Tables[0].Mode; m != dbsync.ModeIncremental {
		t.Errorf("mode %q, want incremental", m)
	}
}

// TestConfig_IncrementalKeyVault: the incremental keys come from Key Vault
// as every key does: table--<name>--cursor, sync--full-every.
func TestConfig_IncrementalKeyVault(t *testing.T) {
	text := multi("[table.order_lines]\nquery = q\nmode = incremental\ncursor = u\n[keyvault]\nurl = https://v.vault.azure.net\n")
	var asked []string
	cfg, err := dbsync.LoadConfig(dbsync.LoadInput{Path: writeConfig(t, text), Explicit: true, Options: dbsync.RunOptions{Target: "sqlite"},
		Secrets: func(_ string, names []string) (map[string]string, error) {
			asked = names
			return map[string]string{"table--order-lines--cursor": "changed_at", "table--order-lines--lookback": "30s", "sync--full-every": "168h"}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"sync--cursor", "sync--lookback", "sync--full-every", "table--order-lines--full-every"} {
		if !slices.Contains(asked, n) {
			t.Errorf("LoadConfig did not ask the vault for %s", n)
		}
	}
	tb := cfg.Tables[0]
	if tb.Cursor != "changed_at" || tb.Lookback != 30*time.Second || tb.FullEvery != 7*24*time.Hour {
		t.Errorf("cursor %q, lookback %v, full_every %v", tb.Cursor, tb.Lookback, tb.FullEvery)
	}
	if o := cfg.Origin("table.order_lines.cursor"); o != "Key Vault secret table--order-lines--cursor" {
		t.Errorf("origin %q", o)
	}
}

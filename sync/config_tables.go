package dbsync

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// TableConfig is one table of the job: a [table.<name>] section, or the legacy one-table keys.
type TableConfig struct {
	Name           string   // the section's <name>; for a legacy job, the target table name
	Query          string   // on the primary
	FallbackQuery  string   // on the SQLite fallback (already defaulted to Query when unset)
	Target         string   // the target table name (default Name)
	Group          string   // "" = the default group
	Mode           Mode     // ModeReplace, ModeMerge or ModeIncremental (resolved: the table's override or [sync] mode)
	Key            []string // merge key columns (key = col1,col2), may be empty: the target table's key
	MinRows        int      // resolved: the table's override or [sync] min_rows
	OnSchemaChange string   // resolved: the table's override or [sync] on_schema_change
	// Cursor, Lookback and FullEvery are mode = incremental's keys: the
	// DATETIME/TIMESTAMP column of the query's result that every change
	// moves, how far before the last watermark a run reads again, and how
	// often a full merge repairs what a cursor cannot see. Lookback and
	// FullEvery are resolved: the table's override or [sync]'s.
	Cursor    string
	Lookback  time.Duration
	FullEvery time.Duration
	// Compare is how a merge compares the table with its target
	// (compare.go), resolved: the table's override or [sync] compare.
	Compare string
}

// Mode is how a table is written: [sync] mode and [table.<name>] mode.
type Mode string

// Table modes.
const (
	ModeReplace Mode = "replace" // stage, verify, swap
	ModeMerge   Mode = "merge"   // compare by key, apply only the differences in one transaction
	// ModeIncremental is a merge that reads only the rows whose cursor
	// is at or after the watermark minus lookback (or NULL), and finds
	// deletes by key counts; a full merge runs when the policy says so
	// (incremental.go IncrementalDecide).
	ModeIncremental Mode = "incremental"
)

// tableModes is what a mode key takes, in the order messages list them.
var tableModes = []Mode{ModeReplace, ModeMerge, ModeIncremental}

// mergesByKey reports whether m applies differences by a key (and so has a
// key, a delta table and no swap): merge and incremental.
func (m Mode) mergesByKey() bool { return m == ModeMerge || m == ModeIncremental }

// Defaults of the incremental keys (DESIGN §3).
const (
	defaultLookback  = 10 * time.Minute
	defaultFullEvery = 24 * time.Hour
	// maxFullEvery is full_every's bound: a month between repairs is the
	// most a scheduled job should go; every other duration stops at 24 h.
	maxFullEvery = 30 * 24 * time.Hour
)

// maxParallel bounds [sync] parallel: each staged table holds a source and a
// target connection.
const maxParallel = 16

// DefaultGroup is the run option (--group, the HTTP group option) that names
// the group of the tables without a group key; `group = default` in a
// [table.<name>] section means the same.
const DefaultGroup = "default"

// tableSectionPrefix starts every [table.<name>] section.
const tableSectionPrefix = "table."

func isTableSection(lowerName string) bool { return strings.HasPrefix(lowerName, tableSectionPrefix) }

// tableDecl is a [table.<name>] section of the config file.
type tableDecl struct {
	name string // <name> as written in the header: a target named after it keeps its case
	line int
}

// key is the "table.<name>.<key>" name of one of its keys, as used in
// messages and Config.Origin.
func (d tableDecl) key(k string) string { return tableKeyName(d.name, k) }

func tableKeyName(name, key string) string { return tableSectionPrefix + name + "." + key }

// tableKeySpec is one key of a [table.<name>] section.
type tableKeySpec struct {
	key string
	set func(t *TableConfig, v string) error
}

// tableKeys is every key of a [table.<name>] section, in
// config.ini.example's order.
var tableKeys = []tableKeySpec{
	{key: "query", set: func(t *TableConfig, v string) error { t.Query = v; return nil }},
	{key: "fallback_query", set: func(t *TableConfig, v string) error { t.FallbackQuery = v; return nil }},
	{key: "target", set: func(t *TableConfig, v string) error { t.Target = v; return nil }},
	{key: "group", set: setGroup},
	{key: "mode", set: func(t *TableConfig, v string) error {
		return oneOfKey(tableModes, func(_ *Config, v Mode) { t.Mode = v })(nil, v)
	}},
	{key: "key", set: setKeyColumns},
	{key: "cursor", set: setCursor},
	{key: "lookback", set: func(t *TableConfig, v string) error {
		return durationKey(func(*Config) *time.Duration { return &t.Lookback })(nil, v)
	}},
	{key: "full_every", set: func(t *TableConfig, v string) error {
		return fullEveryKey(func(*Config) *time.Duration { return &t.FullEvery })(nil, v)
	}},
	{key: "min_rows", set: func(t *TableConfig, v string) error {
		return intKey(0, 1<<62, func(*Config) *int { return &t.MinRows })(nil, v)
	}},
	{key: "on_schema_change", set: func(t *TableConfig, v string) error {
		return oneOfKey([]string{SchemaFail, SchemaRecreate}, func(_ *Config, v string) { t.OnSchemaChange = v })(nil, v)
	}},
	{key: "compare", set: func(t *TableConfig, v string) error {
		return oneOfKey(compareKinds, func(_ *Config, v string) { t.Compare = v })(nil, v)
	}},
}

func knownTableKey(key string) (tableKeySpec, bool) {
	for _, k := range tableKeys {
		if k.key == key {
			return k, true
		}
	}
	return tableKeySpec{}, false
}

// groupName is what a group may be called: it travels in queue messages,
// --group and reports.
var groupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func setGroup(t *TableConfig, v string) error {
	if !groupName.MatchString(v) {
		return errors.New("want a group name of at most 64 letters, digits, _, - and . (starting with a letter or digit)")
	}
	if strings.EqualFold(v, DefaultGroup) {
		v = ""
	}
	t.Group = v
	return nil
}

// setKeyColumns reads a comma-separated list of column names.
func setKeyColumns(t *TableConfig, v string) error {
	var cols []string
	seen := map[string]bool{}
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return errors.New("want a comma-separated list of column names, such as id or order_id, line_no (one is empty)")
		}
		// MySQL column names compare case-insensitively.
		if seen[strings.ToLower(c)] {
			return fmt.Errorf("names column %q twice", c)
		}
		seen[strings.ToLower(c)] = true
		cols = append(cols, c)
	}
	t.Key = cols
	return nil
}

// setCursor reads the cursor column's name. Its type is checked against the
// source's columns at run and check time (IncrementalCheckCursor), as only
// the query's result has it.
func setCursor(t *TableConfig, v string) error {
	if strings.Contains(v, ",") {
		return errors.New("want one column name, such as updated_at (a cursor is a single DATETIME or TIMESTAMP column)")
	}
	t.Cursor = v
	return nil
}

// fullEveryKey is full_every: a duration from 1 s to 30 days.
func fullEveryKey(f func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDurationUpTo(v, maxFullEvery)
		if err != nil {
			return err
		}
		*f(c) = d
		return nil
	}
}

// The legacy one-table keys: a job uses them or [table.*] sections.
var legacyTableKeys = []string{"source.query", "fallback.query", "azure_mysql.table", "sqlite.table"}

// readTableSection records a [table.<name>] section and its keys.
func (s *settings) readTableSection(sec *ini.Section, lines iniLines, at func(int) string) error {
	lower := sec.Name()
	written, ok := lines.written[lower]
	if !ok || len(written) < len(tableSectionPrefix) || !strings.EqualFold(written[:len(tableSectionPrefix)], tableSectionPrefix) {
		written = lower // scanINI saw every header; this is only a fallback
	}
	d := tableDecl{name: written[len(tableSectionPrefix):], line: lines.sections[lower]}
	if d.name == "" || strings.TrimSpace(d.name) != d.name {
		return &ConfigError{File: s.File, Line: d.line, Reason: "has a [table.<name>] section whose name is empty or starts or ends with a space: write the table's name right after \"table.\", as in [table.orders]"}
	}
	s.tables = append(s.tables, d)
	for _, k := range sec.Keys() {
		spec, ok := knownTableKey(k.Name())
		if !ok {
			return &ConfigError{File: s.File, Line: lines.keyLine(lower, k.Name()), Key: showKey(tableSectionPrefix+d.name, k.Name()),
				Reason: fmt.Sprintf("is not a known key: the nearest known key is %s (the keys of a [table.<name>] section: %s)", iniKey(tableKeyName(d.name, nearest(k.Name(), tableKeyNames()))), tableKeyList())}
		}
		s.values[d.key(spec.key)] = setting{value: strings.TrimSpace(k.Value()), origin: s.File}
	}
	return nil
}

func tableKeyNames() []string {
	names := make([]string, len(tableKeys))
	for i, k := range tableKeys {
		names[i] = k.key
	}
	return names
}

func tableKeyList() string { return strings.Join(tableKeyNames(), ", ") }

// The override names of a table's keys. Environment: DBSYNC_TABLE__<NAME>__<KEY>,
// the name upper-cased between double underscores; only names of ASCII
// letters and digits in runs joined by single underscores have one, so the
// name and the key are always told apart. Key Vault:
// table--<name>--<key>, lower case, underscores as hyphens; only names of
// ASCII letters, digits, _ and - have one (Key Vault's alphabet), and two
// tables whose names map to the same secret names are a config error.
var (
	envTableName   = regexp.MustCompile(`^[A-Za-z0-9]+(_[A-Za-z0-9]+)*$`)
	vaultTableName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

const envTablePrefix = "DBSYNC_TABLE__"

// maxVaultName is Key Vault's limit on a secret's name.
const maxVaultName = 127

// tableEnvName is the environment variable that overrides a table's key,
// "" when the table's name cannot be written in one.
func tableEnvName(name, key string) string {
	if !envTableName.MatchString(name) {
		return ""
	}
	return envTablePrefix + strings.ToUpper(name) + "__" + strings.ToUpper(key)
}

// tableVaultName is the Key Vault secret that overrides a table's key, ""
// when the table's name cannot be written in one.
func tableVaultName(name, key string) string {
	if !vaultTableName.MatchString(name) {
		return ""
	}
	n := "table--" + strings.ToLower(strings.ReplaceAll(name, "_", "-")) + "--" + strings.ReplaceAll(key, "_", "-")
	if len(n) > maxVaultName {
		return ""
	}
	return n
}

// checkTableVaultNames refuses two tables whose keys would be read from the
// same Key Vault secrets (order_lines and order-lines).
func (s *settings) checkTableVaultNames() error {
	seen := map[string]tableDecl{}
	for _, d := range s.tables {
		n := tableVaultName(d.name, "query")
		if n == "" {
			continue
		}
		if first, ok := seen[n]; ok {
			return &ConfigError{File: s.File, Reason: fmt.Sprintf("sections [table.%s] (line %d) and [table.%s] (line %d) would both be overridden by the Key Vault secrets table--%s--<key> (names are lower-cased, _ written as -): rename one of them",
				first.name, first.line, d.name, d.line, strings.TrimSuffix(strings.TrimPrefix(n, "table--"), "--query"))}
		}
		seen[n] = d
	}
	return nil
}

// applyTableEnv overlays DBSYNC_TABLE__<NAME>__<KEY> variables on the
// tables the file declares, and warns about every DBSYNC_ variable that
// reaches no key: known is the fixed keys' variables.
func (s *settings) applyTableEnv(env map[string]string, known map[string]string) {
	used := map[string]bool{}
	var tableNames []string
	for _, d := range s.tables {
		for _, k := range tableKeys {
			name := tableEnvName(d.name, k.key)
			if name == "" {
				continue
			}
			used[name] = true
			tableNames = append(tableNames, name)
			known[name] = iniKey(d.key(k.key))
			if v := strings.TrimSpace(env[name]); v != "" {
				s.values[d.key(k.key)] = setting{value: v, origin: "environment " + name}
			}
		}
	}
	var stray []string
	for name, v := range env {
		if strings.HasPrefix(name, envTablePrefix) && !used[name] && strings.TrimSpace(v) != "" {
			stray = append(stray, name)
		}
	}
	sort.Strings(stray)
	for _, name := range stray {
		near := "the file declares no [table.<name>] section"
		if n := nearest(name, tableNames); n != "" {
			near = "the nearest is " + n
		}
		s.Warnings = append(s.Warnings, fmt.Sprintf("environment %s names no key of a [table.<name>] section in the config file; ignored: %s (an override reaches only tables the file declares, as DBSYNC_TABLE__<NAME>__<KEY> with a key among %s)", showName(name), near, tableKeyList()))
	}
	s.Warnings = append(s.Warnings, envWarnings(env, known)...)
}

// applyTableSecrets overlays table--<name>--<key> secrets on the tables the
// file declares.
func (s *settings) applyTableSecrets(secrets map[string]string) {
	for _, d := range s.tables {
		for _, k := range tableKeys {
			name := tableVaultName(d.name, k.key)
			if v, ok := secrets[name]; ok && name != "" {
				s.values[d.key(k.key)] = setting{value: v, origin: "Key Vault secret " + name}
			}
		}
	}
}

// tableVaultNames lists the Key Vault secret names of the declared tables' keys.
func (s *settings) tableVaultNames() []string {
	var names []string
	for _, d := range s.tables {
		for _, k := range tableKeys {
			if n := tableVaultName(d.name, k.key); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// decodeTables parses the [table.<name>] keys onto c, after the fixed keys:
// a table starts from [sync]'s min_rows, on_schema_change and mode. A job
// that also sets a legacy one-table key is refused.
func (s *settings) decodeTables(c *Config) error {
	if len(s.tables) == 0 {
		return nil
	}
	c.multi = true
	for _, key := range legacyTableKeys {
		if st := s.values[key]; st.value != "" {
			sections := make([]string, len(s.tables))
			for i, d := range s.tables {
				sections[i] = "[table." + d.name + "]"
			}
			return &ConfigError{Key: key, Origin: st.origin, Reason: fmt.Sprintf(
				"is a one-table key, but the config file lists the job's tables as sections (%s): keep one of the two: remove %s and give each table its query in its section, or remove the [table.*] sections to keep the one-table job (%s)",
				strings.Join(sections, ", "), key, strings.Join(legacyTableKeys, ", "))}
		}
	}
	if st := s.values["sync.key"]; st.value != "" {
		return &ConfigError{Key: "sync.key", Origin: st.origin, Reason: "is the merge key of a one-table job, but this job lists its tables as [table.*] sections: set key in the section of each merge table that needs one"}
	}
	if st := s.values["sync.cursor"]; st.value != "" {
		return &ConfigError{Key: "sync.cursor", Origin: st.origin, Reason: "is the cursor of a one-table job, but this job lists its tables as [table.*] sections: set cursor in the section of each incremental table (each query has its own columns)"}
	}
	for _, d := range s.tables {
		t := TableConfig{Name: d.name, Mode: c.Sync.Mode, MinRows: c.Sync.MinRows, OnSchemaChange: c.Sync.OnSchemaChange,
			Lookback: c.Sync.Lookback, FullEvery: c.Sync.FullEvery, Compare: c.Sync.Compare}
		for _, k := range tableKeys {
			key := d.key(k.key)
			st, ok := s.values[key]
			if !ok {
				continue
			}
			if strings.HasPrefix(st.value, "@Microsoft.KeyVault(") {
				return &ConfigError{Key: key, Origin: st.origin,
					Reason: "is an App Service Key Vault reference the platform did not resolve; check the app's managed identity has Get access to the vault and the secret exists, or set the value directly"}
			}
			c.origins[key] = st.origin
			if st.value == "" {
				continue // "not set": the default stays
			}
			if err := k.set(&t, st.value); err != nil {
				return &ConfigError{Key: key, Value: st.value, Origin: st.origin, Reason: err.Error()}
			}
		}
		if t.Target == "" {
			t.Target = t.Name
		}
		if t.FallbackQuery == "" {
			t.FallbackQuery = t.Query
		}
		c.Tables = append(c.Tables, t)
	}
	sortTables(c.Tables)
	return nil
}

func sortTables(ts []TableConfig) {
	sort.SliceStable(ts, func(i, j int) bool {
		a, b := strings.ToLower(ts[i].Target), strings.ToLower(ts[j].Target)
		if a != b {
			return a < b
		}
		return ts[i].Target < ts[j].Target
	})
}

// resolveTables makes a one-table job's table from the legacy keys, for
// this run's target.
func (c *Config) resolveTables() {
	if c.multi {
		return
	}
	fallback := c.Fallback.Query
	if fallback == "" {
		fallback = c.Source.Query
	}
	c.Tables = []TableConfig{{
		Name: c.TargetTable(), Query: c.Source.Query, FallbackQuery: fallback, Target: c.TargetTable(),
		Mode: c.Sync.Mode, Key: c.Sync.Key, MinRows: c.Sync.MinRows, OnSchemaChange: c.Sync.OnSchemaChange,
		Cursor: c.Sync.Cursor, Lookback: c.Sync.Lookback, FullEvery: c.Sync.FullEvery, Compare: c.Sync.Compare,
	}}
	if len(c.Sync.Key) > 0 && !c.Sync.Mode.mergesByKey() {
		c.Warnings = append(c.Warnings, "[sync] key is used only by mode = merge or incremental; the table is replaced whole, so a sync ignores the key (handler verify uses it for a target table without a key of its own)")
	}
}

// TableKey is the "section.key" that sets key ("query", "target",
// "min_rows", …) for table t, for messages: table.<name>.<key> in a job of
// [table.*] sections unless [sync] supplies the value; the legacy key
// (source.query, azure_mysql.table, sync.min_rows, …) in a one-table job.
func (c *Config) TableKey(t TableConfig, key string) string {
	synced := key == "min_rows" || key == "on_schema_change" || key == "mode" || key == "lookback" || key == "full_every" || key == "compare"
	if !c.multi && (key == "key" || key == "cursor") {
		return "sync." + key
	}
	if c.multi {
		own := tableKeyName(t.Name, key)
		if _, set := c.origins[own]; set || !synced {
			return own
		}
		return "sync." + key
	}
	switch {
	case synced:
		return "sync." + key
	case key == "query":
		return "source.query"
	case key == "fallback_query":
		return "fallback.query"
	case key == "target":
		return c.Target.tableKey()
	}
	return tableKeyName(t.Name, key)
}

// validateTables checks a job of [table.*] sections: every table has a
// query, a target the target can hold, and its own; a merge table's delta table name fits.
func (c *Config) validateTables() error {
	if !c.multi {
		return nil
	}
	bad := func(key, value, reason string) error {
		return &ConfigError{Key: key, Value: value, Origin: c.Origin(key), Reason: reason}
	}
	groups := map[string]TableConfig{} // lower-case group → first table in it
	for i, t := range c.Tables {
		section := "[table." + t.Name + "]"
		if t.Query == "" {
			key := tableKeyName(t.Name, "query")
			return &ConfigError{Key: key, Origin: c.Origin(key), Reason: fmt.Sprintf("is required: the query on the primary whose rows fill target table %q (section %s)", t.Target, section)}
		}
		targetKey := tableKeyName(t.Name, "target")
		origin := c.Origin(targetKey)
		if _, set := c.origins[targetKey]; !set {
			origin = "the section name " + section + ", as target is not set"
		}
		if err := c.checkTableNameFrom(targetKey, t.Target, origin); err != nil {
			return err
		}
		if c.Target.sameTable(t.Target, c.Sync.HistoryTable) {
			return &ConfigError{Key: targetKey, Value: t.Target, Origin: origin, Reason: fmt.Sprintf("is the run history table ([sync] history_table = %q): each run would replace the history with data; choose another target or history_table", c.Sync.HistoryTable)}
		}
		for _, u := range c.Tables[:i] {
			switch {
			case c.Target.sameTable(t.Target, u.Target):
				return &ConfigError{Key: targetKey, Value: t.Target, Origin: origin, Reason: fmt.Sprintf("is also the target of [table.%s] (target %q)%s: two tables of a job cannot fill one table; give one of them another target", u.Name, u.Target, c.Target.caseNote())}
			case c.Target.isHelperOf(t.Target, u.Target):
				return &ConfigError{Key: targetKey, Value: t.Target, Origin: origin, Reason: fmt.Sprintf("is the name of a helper table a run makes for [table.%s] (target %q): choose another target", u.Name, u.Target)}
			case c.Target.isHelperOf(u.Target, t.Target):
				uKey := tableKeyName(u.Name, "target")
				return &ConfigError{Key: uKey, Value: u.Target, Origin: c.Origin(uKey), Reason: fmt.Sprintf("is the name of a helper table a run makes for [table.%s] (target %q): choose another target", t.Name, t.Target)}
			}
		}
		if t.Mode.mergesByKey() {
			if err := c.checkMergeName(targetKey, t.Target, origin); err != nil {
				return err
			}
		}
		if len(t.Key) > 0 && !t.Mode.mergesByKey() {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s is used only by mode = merge or incremental; %s replaces the whole table, so a sync ignores the key (handler verify uses it for a target table without a key of its own)", tableKeyName(t.Name, "key"), section))
		}
		if err := c.validateIncremental(t); err != nil {
			return err
		}
		g := strings.ToLower(t.Group)
		if first, ok := groups[g]; ok && first.Group != t.Group {
			return bad(tableKeyName(t.Name, "group"), t.Group, fmt.Sprintf("is spelled %q in [table.%s]: group names ignore case, so write one group one way", first.Group, first.Name))
		} else if !ok {
			groups[g] = t
		}
	}
	return nil
}

// validateIncremental checks table t's incremental keys: an incremental
// table names its cursor; the keys set on a table of another mode are
// warned about, not refused, so that switching a table between merge and
// incremental is a change of mode alone, and they change nothing on it.
func (c *Config) validateIncremental(t TableConfig) error {
	modeKey := c.TableKey(t, "mode")
	if t.Mode != ModeIncremental {
		// A lookback or full_every equal to its inherited value is not
		// told apart from an unset one: ignoring it changes nothing.
		inherited := SyncConfig{Lookback: defaultLookback, FullEvery: defaultFullEvery}
		if c.multi {
			inherited = c.Sync
		}
		var set []string
		if t.Cursor != "" {
			set = append(set, c.TableKey(t, "cursor"))
		}
		if t.Lookback != inherited.Lookback {
			set = append(set, c.TableKey(t, "lookback"))
		}
		if t.FullEvery != inherited.FullEvery {
			set = append(set, c.TableKey(t, "full_every"))
		}
		if len(set) > 0 {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s %s used only by mode = incremental, and %s = %s: ignored (set mode = incremental to read by the cursor, or remove %s)",
				strings.Join(set, ", "), plural(len(set), "is", "are"), modeKey, t.Mode, plural(len(set), "it", "them")))
		}
		return nil
	}
	if t.Cursor == "" {
		key := c.TableKey(t, "cursor")
		return &ConfigError{Key: key, Origin: c.Origin(key), Reason: fmt.Sprintf("is required by %s = incremental (from %s): name the DATETIME or TIMESTAMP column of the query's result that each insert and update sets, such as updated_at; or use mode = merge", modeKey, c.Origin(modeKey))}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// helperSuffixes are the suffixes of every helper table a run makes next
// to a target table: staging, old copy, merge delta.
var helperSuffixes = []string{StageSuffix, OldSuffix, DeltaSuffix}

// isHelperOf reports whether name is one of the helper tables of target
// table t, whatever t's mode: a table that changes to merge later must not
// then find its delta table taken.
func (tg Target) isHelperOf(name, t string) bool {
	for _, suffix := range helperSuffixes {
		if tg.sameTable(name, t+suffix) {
			return true
		}
	}
	return false
}

// caseNote says why two differently written names are one table.
func (t Target) caseNote() string {
	if t == TargetSQLite {
		return " (SQLite ignores ASCII case in table names)"
	}
	return " (MySQL on Azure ignores case in table names, lower_case_table_names = 1)"
}

// selectRun applies the run options' table subset and group.
func (c *Config) selectRun(o RunOptions) error {
	var group *string
	if o.Group != "" {
		g, ok := c.findGroup(o.Group)
		if !ok {
			return &ConfigError{Key: "group", Value: o.Group, Origin: "run option", Reason: "is not a group of this job; its groups: " + c.groupList()}
		}
		group = &g
		c.origins["run.group"] = "run option"
	}
	var names []string
	for _, n := range o.Tables {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if group == nil && len(names) == 0 {
		c.runTables = nil
		return nil
	}
	chosen := map[int]bool{}
	for _, n := range names {
		i := c.findTable(n)
		if i < 0 {
			return &ConfigError{Key: "tables", Value: n, Origin: "run option", Reason: "is not a table of this job; its tables: " + c.tableList()}
		}
		if group != nil && !strings.EqualFold(c.Tables[i].Group, *group) {
			return &ConfigError{Key: "tables", Value: n, Origin: "run option", Reason: fmt.Sprintf("is in group %s, not in the chosen group %s", showGroup(c.Tables[i].Group), showGroup(*group))}
		}
		chosen[i] = true
	}
	run := []TableConfig{}
	for i, t := range c.Tables {
		if chosen[i] || (len(names) == 0 && strings.EqualFold(t.Group, *group)) {
			run = append(run, t)
		}
	}
	c.runTables = run
	if len(names) > 0 {
		c.origins["run.tables"] = "run option"
	}
	return nil
}

// findTable is the index of the table named n (case-insensitively), or -1.
func (c *Config) findTable(n string) int {
	for i, t := range c.Tables {
		if strings.EqualFold(t.Name, n) {
			return i
		}
	}
	return -1
}

// findGroup resolves a --group value to the group key its tables have:
// "default" is the default group ("").
func (c *Config) findGroup(g string) (string, bool) {
	for _, have := range c.Groups() {
		if strings.EqualFold(have, g) {
			if have == DefaultGroup {
				return "", true
			}
			return have, true
		}
	}
	return "", false
}

func (c *Config) tableList() string {
	names := make([]string, len(c.Tables))
	for i, t := range c.Tables {
		names[i] = t.Name
	}
	if !c.multi {
		return strings.Join(names, ", ") + " (a one-table job: its table is named after the target table)"
	}
	return strings.Join(names, ", ")
}

func (c *Config) groupList() string {
	gs := c.Groups()
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = showGroup(g)
	}
	return strings.Join(out, ", ")
}

func showGroup(g string) string {
	if g == "" || g == DefaultGroup {
		return DefaultGroup + " (the tables without a group key)"
	}
	return g
}

// RunTables is the tables this run covers, sorted by Target: every table of
// the job, or those of the run options' Tables and Group.
func (c *Config) RunTables() []TableConfig {
	src := c.Tables
	if c.runTables != nil {
		src = c.runTables
	}
	return append([]TableConfig(nil), src...)
}

// Groups lists the job's groups by name, DefaultGroup (the tables without
// a group key) first when some table is in it, then the others sorted
// case-insensitively. Every name is one that Select takes.
func (c *Config) Groups() []string {
	seen := map[string]bool{}
	var named []string
	hasDefault := false
	for _, t := range c.Tables {
		if t.Group == "" {
			hasDefault = true
			continue
		}
		if g := strings.ToLower(t.Group); !seen[g] {
			seen[g] = true
			named = append(named, t.Group)
		}
	}
	sort.Slice(named, func(i, j int) bool { return strings.ToLower(named[i]) < strings.ToLower(named[j]) })
	if hasDefault {
		return append([]string{DefaultGroup}, named...)
	}
	return named
}

// Select is c for a run of part of the job: the tables of group (a name
// from Groups, case-insensitively; "" = any group) and, when tables is not
// empty, only those. c itself is unchanged, so a config loaded once (Key
// Vault read once, warnings logged once) gives each group's run its own.
func (c *Config) Select(group string, tables []string) (*Config, error) {
	out := *c
	out.origins = maps.Clone(c.origins)
	out.Warnings = slices.Clone(c.Warnings)
	out.Tables = slices.Clone(c.Tables)
	if err := out.selectRun(RunOptions{Group: group, Tables: tables}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GroupTables is the tables of group g (DefaultGroup or "" = the tables
// without a group key), sorted by Target.
func (c *Config) GroupTables(g string) []TableConfig {
	if strings.EqualFold(g, DefaultGroup) {
		g = ""
	}
	var out []TableConfig
	for _, t := range c.Tables {
		if strings.EqualFold(t.Group, g) {
			out = append(out, t)
		}
	}
	return out
}

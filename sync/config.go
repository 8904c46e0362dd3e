package dbsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/ini.v1"
)

// Target names where a run writes.
type Target string

// The two targets.
const (
	TargetAzure  Target = "azure"
	TargetSQLite Target = "sqlite"
)

// SSLMode is a MySQL client ssl-mode.
type SSLMode string

// SSL modes, with the MySQL client's meanings.
const (
	SSLDisabled       SSLMode = "disabled"        // plaintext
	SSLPreferred      SSLMode = "preferred"       // TLS when the server offers it, unverified
	SSLRequired       SSLMode = "required"        // TLS, certificate not verified
	SSLVerifyCA       SSLMode = "verify_ca"       // TLS, chain verified, host name not checked
	SSLVerifyIdentity SSLMode = "verify_identity" // TLS, chain and host name verified
)

// Schema-change policies for [sync] on_schema_change.
const (
	SchemaFail     = "fail"
	SchemaRecreate = "recreate"
)

// Auth methods for [azure_mysql] auth.
const (
	AuthPassword = "password"
	AuthEntra    = "entra"
)

// Config is one run's complete configuration. Build it with LoadConfig; the
// zero value is not useful. DefaultConfig documents every default.
type Config struct {
	// File is the config file that was read, or "" when none was.
	File string

	Sync       SyncConfig
	Source     SourceConfig
	Fallback   FallbackConfig
	AzureMySQL AzureMySQLConfig
	SQLite     SQLiteConfig
	KeyVault   KeyVaultConfig

	// Target and DryRun are this run's choices: [sync] default_target unless
	// a run option (--target, ?target=) overrides it.
	Target Target
	DryRun bool

	// Tables is every table of the job, sorted by Target case-insensitively:
	// the [table.<name>] sections, or for a one-table job the one table the
	// legacy keys describe (its Target then depends on this run's Target).
	// RunTables is the part of them this run covers.
	Tables []TableConfig

	multi     bool          // the job lists [table.*] sections
	runTables []TableConfig // the run options' subset; nil = all Tables

	origins  map[string]string // "section.key" → where its value came from
	Warnings []string          // unknown sections and keys, weak TLS, …
}

// SyncConfig is the [sync] section.
type SyncConfig struct {
	DefaultTarget   Target
	FallbackEnabled bool
	MinRows         int
	OnSchemaChange  string
	HistoryTable    string
	Timeout         time.Duration
	// Parallel is how many tables are staged at once (1 to 16). With 1 all
	// tables are read in one snapshot of the primary; above 1 each table is
	// its own snapshot.
	Parallel int
	// Mode is every table's default mode: ModeReplace or ModeMerge.
	Mode Mode
	// MergeMaxChanges and MaxDelete are fractions (0 to 1) of a merge
	// table's target rows: above the first a merge replaces instead, above
	// the second it fails (merge.go checkThresholds).
	MergeMaxChanges float64
	MaxDelete       float64
	// Key is a one-table job's merge key (key = col1,col2); a job of
	// [table.*] sections sets key per table.
	Key []string
	// Cursor is a one-table job's incremental cursor column; a job of
	// [table.*] sections sets cursor per table.
	Cursor string
	// Lookback and FullEvery are mode = incremental's re-read margin and
	// full-run interval: a one-table job's, and the default of every
	// [table.<name>] section.
	Lookback  time.Duration
	FullEvery time.Duration
	// Compare is every table's default compare (compare.go): CompareAuto,
	// CompareRows or CompareChecksums.
	Compare string
}

// MySQLConfig holds the connection keys shared by [source] and [azure_mysql].
type MySQLConfig struct {
	Host           string
	Port           int
	Database       string
	User           string
	Password       Secret
	SSLMode        SSLMode
	SSLCA          string
	ConnectTimeout time.Duration
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	// Compress turns on the MySQL protocol's zlib compression ([source]
	// compress): fewer bytes over a slow link to the primary, for some CPU
	// on both ends.
	Compress bool
}

// SourceConfig is the [source] section: the primary MySQL server.
type SourceConfig struct {
	MySQLConfig
	Query string
}

// FallbackConfig is the [fallback] section: the SQLite source used when the
// primary fails.
type FallbackConfig struct {
	Path  string
	Query string
}

// AzureMySQLConfig is the [azure_mysql] section: the MySQL target.
type AzureMySQLConfig struct {
	MySQLConfig
	Table string
	Auth  string
	// LoadStreams is how many connections load the staging table at once
	// (LOAD DATA LOCAL).
	LoadStreams int
}

// SQLiteConfig is the [sqlite] section: the SQLite target.
type SQLiteConfig struct {
	Path  string
	Table string
}

// KeyVaultConfig is the [keyvault] section.
type KeyVaultConfig struct {
	URL string
}

// DefaultConfig returns the configuration before any file, environment or
// secret is applied.
func DefaultConfig() *Config {
	return &Config{
		Sync: SyncConfig{
			DefaultTarget:  TargetAzure,
			MinRows:        1,
			OnSchemaChange: SchemaFail,
			HistoryTable:   "dbsync_runs",
			// Below host.json's functionTimeout (10 min) so a run can clean
			// up and report before the host gives up on it.
			Timeout:         9 * time.Minute,
			Parallel:        1,
			Mode:            ModeReplace,
			MergeMaxChanges: 0.3,
			MaxDelete:       0.5,
			Lookback:        defaultLookback,
			FullEvery:       defaultFullEvery,
			Compare:         CompareAuto,
		},
		Source: SourceConfig{MySQLConfig: MySQLConfig{
			Port: 3306, SSLMode: SSLPreferred,
			ConnectTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, WriteTimeout: 30 * time.Second,
		}},
		AzureMySQL: AzureMySQLConfig{
			MySQLConfig: MySQLConfig{
				Port: 3306, SSLMode: SSLVerifyIdentity,
				ConnectTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, WriteTimeout: 2 * time.Minute,
			},
			Auth: AuthPassword,
			// Two LOAD DATA streams were 1.2–2× faster than one on the
			// project's 2-core bench (docs/performance.md).
			LoadStreams: 2,
		},
		origins: map[string]string{},
	}
}

// Origin says where a key's value came from ("default" when nothing set it).
func (c *Config) Origin(sectionKey string) string {
	if o, ok := c.origins[sectionKey]; ok {
		return o
	}
	return "default"
}

// Origins lists every key that was set, with where its value came from,
// sorted by key. Values are never included.
func (c *Config) Origins() [][2]string {
	out := make([][2]string, 0, len(c.origins))
	for k, o := range c.origins {
		out = append(out, [2]string{k, o})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// keySpec describes one configuration key: how to parse it and where it goes.
type keySpec struct {
	section, key string
	secret       bool
	path         bool // a file path: relative to the config file's folder when set there
	set          func(c *Config, v string) error
}

func (k keySpec) name() string { return k.section + "." + k.key }

// envName is the app-setting name that overrides the key.
func (k keySpec) envName() string {
	return "DBSYNC_" + strings.ToUpper(k.section) + "_" + strings.ToUpper(k.key)
}

// vaultName is the Key Vault secret name that overrides the key.
func (k keySpec) vaultName() string {
	return strings.ReplaceAll(k.section, "_", "-") + "--" + strings.ReplaceAll(k.key, "_", "-")
}

func stringKey(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func secretKey(f func(c *Config) *Secret) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = NewSecret(v); return nil }
}

func boolKey(f func(c *Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			*f(c) = true
		case "0", "false", "no", "off":
			*f(c) = false
		default:
			return errors.New("want true or false (also yes/no, on/off, 1/0)")
		}
		return nil
	}
}

func intKey(min, max int, f func(c *Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("want a whole number from %d to %d", min, max)
		}
		if err != nil || n < min || n > max {
			return fmt.Errorf("want a number from %d to %d", min, max)
		}
		*f(c) = n
		return nil
	}
}

// The range of every duration key. Below a second a MySQL timeout or a run
// deadline cannot be met; beyond a day a value is a mistake (1e300 seconds
// would overflow time.Duration and disable the timeout).
const (
	minDuration = time.Second
	maxDuration = 24 * time.Hour
)

// durationKey accepts Go durations ("90s", "5m", "1h30m") and plain numbers
// of seconds ("90"), which is what configs written for the Python tool use,
// from minDuration to maxDuration.
func durationKey(f func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*f(c) = d
		return nil
	}
}

func parseDuration(v string) (time.Duration, error) { return parseDurationUpTo(v, maxDuration) }

// parseDurationUpTo is parseDuration with another upper bound (full_every's
// 30 days). time.ParseDuration has no day unit, so 720h is 30 days.
func parseDurationUpTo(v string, max time.Duration) (time.Duration, error) {
	want := fmt.Errorf(`want a duration from %s to %s, such as "30s", "5m" or a number of seconds`, formatDuration(minDuration), formatDuration(max))
	if n, err := strconv.ParseFloat(v, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// NaN fails both comparisons, ±Inf (and 1e400) the second.
		if !(n >= minDuration.Seconds() && n <= max.Seconds()) {
			return 0, want
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < minDuration || d > max {
		return 0, want
	}
	return d, nil
}

// formatDuration writes 24h rather than time.Duration's 24h0m0s.
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// fractionKey accepts a number from 0 to 1, such as 0.3.
func fractionKey(f func(c *Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseFloat(v, 64)
		// NaN fails both comparisons.
		if (err != nil && !errors.Is(err, strconv.ErrRange)) || !(n >= 0 && n <= 1) {
			return errors.New("want a fraction from 0 to 1, such as 0.3")
		}
		*f(c) = n
		return nil
	}
}

func oneOfKey[T ~string](allowed []T, f func(c *Config, v T)) func(*Config, string) error {
	return func(c *Config, v string) error {
		v = strings.ToLower(v)
		names := make([]string, len(allowed))
		for i, a := range allowed {
			if v == string(a) {
				f(c, a)
				return nil
			}
			names[i] = string(a)
		}
		return fmt.Errorf("want one of %s", strings.Join(names, ", "))
	}
}

func sslModeKey(f func(c *Config) *SSLMode) func(*Config, string) error {
	return func(c *Config, v string) error {
		m, err := ParseSSLMode(v)
		if err != nil {
			return err
		}
		*f(c) = m
		return nil
	}
}

// ParseSSLMode reads an ssl_mode value, case-insensitively. "require", which
// configs written for the original Python tool use, means "required".
func ParseSSLMode(v string) (SSLMode, error) {
	switch m := SSLMode(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(v)), "-", "_")); m {
	case SSLDisabled, SSLPreferred, SSLRequired, SSLVerifyCA, SSLVerifyIdentity:
		return m, nil
	case "require":
		return SSLRequired, nil
	}
	return "", errors.New("want one of disabled, preferred, required, verify_ca, verify_identity")
}

// mysqlKeys are the connection keys of a MySQL section.
func mysqlKeys(section string, conn func(c *Config) *MySQLConfig) []keySpec {
	keys := []keySpec{
		{section: section, key: "host", set: stringKey(func(c *Config) *string { return &conn(c).Host })},
		{section: section, key: "port", set: intKey(1, 65535, func(c *Config) *int { return &conn(c).Port })},
		{section: section, key: "database", set: stringKey(func(c *Config) *string { return &conn(c).Database })},
		{section: section, key: "user", set: stringKey(func(c *Config) *string { return &conn(c).User })},
		{section: section, key: "password", secret: true, set: secretKey(func(c *Config) *Secret { return &conn(c).Password })},
		{section: section, key: "ssl_mode", set: sslModeKey(func(c *Config) *SSLMode { return &conn(c).SSLMode })},
		{section: section, key: "ssl_ca", path: true, set: stringKey(func(c *Config) *string { return &conn(c).SSLCA })},
		{section: section, key: "connect_timeout", set: durationKey(func(c *Config) *time.Duration { return &conn(c).ConnectTimeout })},
		{section: section, key: "read_timeout", set: durationKey(func(c *Config) *time.Duration { return &conn(c).ReadTimeout })},
	}
	// [source] only reads, so it has no write_timeout; compress is for the
	// link to the primary, which may be slow (on premises, another cloud),
	// while the target is in the function's own region.
	if section == "source" {
		keys = append(keys, keySpec{section: section, key: "compress", set: boolKey(func(c *Config) *bool { return &conn(c).Compress })})
	}
	if section != "source" {
		keys = append(keys, keySpec{section: section, key: "write_timeout", set: durationKey(func(c *Config) *time.Duration { return &conn(c).WriteTimeout })})
	}
	return keys
}

// configKeys is every key dbsync reads, in config.ini.example's order.
var configKeys = func() []keySpec {
	keys := []keySpec{
		{section: "sync", key: "default_target", set: oneOfKey([]string{"azure", "sqlite"}, func(c *Config, v string) { c.Sync.DefaultTarget = Target(v) })},
		{section: "sync", key: "fallback_enabled", set: boolKey(func(c *Config) *bool { return &c.Sync.FallbackEnabled })},
		{section: "sync", key: "min_rows", set: intKey(0, 1<<62, func(c *Config) *int { return &c.Sync.MinRows })},
		{section: "sync", key: "on_schema_change", set: oneOfKey([]string{SchemaFail, SchemaRecreate}, func(c *Config, v string) { c.Sync.OnSchemaChange = v })},
		{section: "sync", key: "history_table", set: stringKey(func(c *Config) *string { return &c.Sync.HistoryTable })},
		{section: "sync", key: "timeout", set: durationKey(func(c *Config) *time.Duration { return &c.Sync.Timeout })},
		{section: "sync", key: "parallel", set: intKey(1, maxParallel, func(c *Config) *int { return &c.Sync.Parallel })},
		{section: "sync", key: "mode", set: oneOfKey(tableModes, func(c *Config, v Mode) { c.Sync.Mode = v })},
		{section: "sync", key: "merge_max_changes", set: fractionKey(func(c *Config) *float64 { return &c.Sync.MergeMaxChanges })},
		{section: "sync", key: "max_delete", set: fractionKey(func(c *Config) *float64 { return &c.Sync.MaxDelete })},
		{section: "sync", key: "key", set: func(c *Config, v string) error {
			var t TableConfig
			if err := setKeyColumns(&t, v); err != nil {
				return err
			}
			c.Sync.Key = t.Key
			return nil
		}},
		{section: "sync", key: "cursor", set: func(c *Config, v string) error {
			var t TableConfig
			if err := setCursor(&t, v); err != nil {
				return err
			}
			c.Sync.Cursor = t.Cursor
			return nil
		}},
		{section: "sync", key: "lookback", set: durationKey(func(c *Config) *time.Duration { return &c.Sync.Lookback })},
		{section: "sync", key: "full_every", set: fullEveryKey(func(c *Config) *time.Duration { return &c.Sync.FullEvery })},
		{section: "sync", key: "compare", set: oneOfKey(compareKinds, func(c *Config, v string) { c.Sync.Compare = v })},
	}
	keys = append(keys, mysqlKeys("source", func(c *Config) *MySQLConfig { return &c.Source.MySQLConfig })...)
	keys = append(keys,
		keySpec{section: "source", key: "query", set: stringKey(func(c *Config) *string { return &c.Source.Query })},
		keySpec{section: "fallback", key: "path", path: true, set: stringKey(func(c *Config) *string { return &c.Fallback.Path })},
		keySpec{section: "fallback", key: "query", set: stringKey(func(c *Config) *string { return &c.Fallback.Query })},
	)
	keys = append(keys, mysqlKeys("azure_mysql", func(c *Config) *MySQLConfig { return &c.AzureMySQL.MySQLConfig })...)
	keys = append(keys,
		keySpec{section: "azure_mysql", key: "table", set: stringKey(func(c *Config) *string { return &c.AzureMySQL.Table })},
		keySpec{section: "azure_mysql", key: "auth", set: oneOfKey([]string{AuthPassword, AuthEntra}, func(c *Config, v string) { c.AzureMySQL.Auth = v })},
		keySpec{section: "azure_mysql", key: "load_streams", set: intKey(1, 16, func(c *Config) *int { return &c.AzureMySQL.LoadStreams })},
		keySpec{section: "sqlite", key: "path", path: true, set: stringKey(func(c *Config) *string { return &c.SQLite.Path })},
		keySpec{section: "sqlite", key: "table", set: stringKey(func(c *Config) *string { return &c.SQLite.Table })},
		keySpec{section: "keyvault", key: "url", set: stringKey(func(c *Config) *string { return &c.KeyVault.URL })},
	)
	return keys
}()

func knownKey(section, key string) (keySpec, bool) {
	for _, k := range configKeys {
		if k.section == section && k.key == key {
			return k, true
		}
	}
	return keySpec{}, false
}

func knownSection(section string) bool {
	for _, k := range configKeys {
		if k.section == section {
			return true
		}
	}
	return false
}

// setting is one raw value and where it came from.
type setting struct {
	value  string
	origin string
}

// settings are the raw key values gathered from the config file, the
// environment and Key Vault, later layers overriding earlier ones. Decode
// turns them into a Config.
type settings struct {
	File     string
	values   map[string]setting // "section.key", or "table.<name>.key" → value
	tables   []tableDecl        // the [table.<name>] sections, in file order
	Warnings []string
}

func newSettings() *settings { return &settings{values: map[string]setting{}} }

// value returns a key's current raw value.
func (s *settings) value(section, key string) string { return s.values[section+"."+key].value }

func (s *settings) set(k keySpec, v, origin string) {
	s.values[k.name()] = setting{value: v, origin: origin}
}

// ConfigPath picks the config file: the --config flag, else DBSYNC_CONFIG,
// else config.ini in the working directory. explicit is false for the last
// case, where a missing file is not an error (in Azure every key may come
// from app settings).
func ConfigPath(flag string, getenv func(string) string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if p := getenv("DBSYNC_CONFIG"); p != "" {
		return p, true
	}
	return "config.ini", false
}

// readFile loads an ini file. Inline comments are not stripped (a password
// may contain # or ;) and indented continuation lines extend a value, as in
// Python's configparser, so long queries can span lines. A trailing
// backslash is part of the value. At most maxConfigBytes are read; a key or
// section given twice is an error (scanINI), and no error or warning quotes
// a line of the file: it may hold a secret.
func (s *settings) readFile(path string, explicit bool) error {
	data, err := readConfigBytes(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return err
	}
	if err != nil {
		return &ConfigError{File: path, Reason: "cannot read the config file (pass --config or set DBSYNC_CONFIG to the right path)", Err: err}
	}
	lines, err := scanINI(path, data)
	if err != nil {
		return err
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		Insensitive:                true,
		IgnoreInlineComment:        true,
		IgnoreContinuation:         true,
		AllowPythonMultilineValues: true,
		SpaceBeforeInlineComment:   true,
		// ini.v1 looks this far ahead for a value's indented lines; the
		// whole file, so a long query is never cut short.
		ReaderBufferSize: len(data) + 1,
	}, data)
	if err != nil {
		// ini.v1's message quotes the line, which may hold a secret.
		return &ConfigError{File: path, Reason: "is not a valid ini file (the parser's message is not shown: it quotes the line, which may hold a secret); check its [section] headers and key = value lines"}
	}
	s.File = path
	at := func(line int) string {
		if line > 0 {
			return fmt.Sprintf("%s line %d", path, line)
		}
		return path
	}
	for _, sec := range f.Sections() {
		name := sec.Name()
		// An unknown section or key is an error, not a warning: an ignored
		// cursor, key or mode would quietly do something other than what
		// the file says, and a config written for a newer version must not
		// run half-understood.
		if strings.EqualFold(name, ini.DefaultSection) {
			for _, k := range sec.Keys() {
				return &ConfigError{File: path, Line: lines.keyLine(name, k.Name()), Reason: fmt.Sprintf("key %s is outside any section: put it under its [section] header (%s)",
					showName(k.Name()), unknownKeyHint("", k.Name()))}
			}
			continue
		}
		if isTableSection(name) {
			if err := s.readTableSection(sec, lines, at); err != nil {
				return err
			}
			continue
		}
		if !knownSection(name) {
			return &ConfigError{File: path, Line: lines.sections[name], Reason: fmt.Sprintf("unknown section %s: the nearest known section is [%s] (the sections: %s, and [table.<name>] for each table of a job)",
				showSection(name), nearest(name, sectionNames()), "["+strings.Join(sectionNames(), "], [")+"]")}
		}
		for _, k := range sec.Keys() {
			spec, ok := knownKey(name, k.Name())
			if !ok {
				return &ConfigError{File: path, Line: lines.keyLine(name, k.Name()), Key: showKey(name, k.Name()), Reason: "is not a known key: " + unknownKeyHint(name, k.Name())}
			}
			s.set(spec, strings.TrimSpace(k.Value()), path)
		}
	}
	return s.checkTableVaultNames()
}

// applyEnv overlays DBSYNC_<SECTION>_<KEY> variables. An empty variable is
// ignored, so it never blanks a value the file sets: `func start` and some
// deployment tools define every listed setting, empty or not.
func (s *settings) applyEnv(environ []string) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	known := map[string]string{} // variable → the key it sets
	for _, k := range configKeys {
		known[k.envName()] = iniKey(k.name())
		if v := strings.TrimSpace(env[k.envName()]); v != "" {
			s.set(k, v, "environment "+k.envName())
		}
	}
	for _, name := range otherEnvNames {
		known[name] = ""
	}
	s.applyTableEnv(env, known)
}

// otherEnvNames are the DBSYNC_ variables that are not config keys: the
// config file's path, the custom handler's HTTP timeout, and the test
// suite's switches.
var otherEnvNames = []string{"DBSYNC_CONFIG", "DBSYNC_HTTP_IO_TIMEOUT", "DBSYNC_TEST_KEEP", "DBSYNC_MERGE_BENCH"}

// envWarnings warns about each DBSYNC_ variable, in any case, that is set
// and names no key in known (variable → the key it sets; "" for one that
// is no config key), naming the nearest variable and never the value: a
// misspelt override is otherwise silently ignored. The [table.<name>]
// variables are warned about apart (applyTableEnv).
func envWarnings(env map[string]string, known map[string]string) []string {
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	var stray []string
	for name, v := range env {
		if len(name) >= len(envPrefix) && strings.EqualFold(name[:len(envPrefix)], envPrefix) && strings.TrimSpace(v) != "" {
			if _, ok := known[name]; !ok && !strings.HasPrefix(name, envTablePrefix) {
				stray = append(stray, name)
			}
		}
	}
	sort.Strings(stray)
	var warnings []string
	for _, name := range stray {
		near := nearest(name, names)
		if k := known[near]; k != "" {
			near += " (" + k + ")"
		}
		warnings = append(warnings, fmt.Sprintf("environment %s names no key; ignored: the nearest is %s (a key's variable is DBSYNC_<SECTION>_<KEY>, upper case)", showName(name), near))
	}
	return warnings
}

const envPrefix = "DBSYNC_"

// applySecrets overlays values from Key Vault: name is the secret's name
// (section--key), as returned by vaultName.
func (s *settings) applySecrets(secrets map[string]string) {
	for _, k := range configKeys {
		if v, ok := secrets[k.vaultName()]; ok {
			s.set(k, v, "Key Vault secret "+k.vaultName())
		}
	}
	s.applyTableSecrets(secrets)
}

// decode parses every set key onto DefaultConfig. It reports the first bad
// key; a value that is still an unresolved App Service Key Vault reference is
// reported by name.
func (s *settings) decode() (*Config, error) {
	c := DefaultConfig()
	c.File = s.File
	c.Warnings = append(c.Warnings, s.Warnings...)
	for _, k := range configKeys {
		st, ok := s.values[k.name()]
		if !ok {
			continue
		}
		shown := st.value
		if k.secret {
			shown = ""
		}
		if strings.HasPrefix(st.value, "@Microsoft.KeyVault(") {
			return nil, &ConfigError{Key: k.name(), Origin: st.origin,
				Reason: "is an App Service Key Vault reference the platform did not resolve; check the app's managed identity has Get access to the vault and the secret exists, or set the value directly"}
		}
		if st.value == "" {
			// An empty value means "not set": it leaves the default.
			c.origins[k.name()] = st.origin
			continue
		}
		value := st.value
		if k.path && s.File != "" {
			value = resolvePath(s.File, value)
		}
		if err := k.set(c, value); err != nil {
			return nil, &ConfigError{Key: k.name(), Value: shown, Origin: st.origin, Reason: err.Error()}
		}
		c.origins[k.name()] = st.origin
	}
	if err := s.decodeTables(c); err != nil {
		return nil, err
	}
	return c, nil
}

// resolvePath makes a relative path relative to the config file's folder,
// so a config moved together with its files keeps working whatever the
// working directory (the Functions host's is the app root, where config.ini
// is too). The rule is the same whichever layer set the path; without a
// config file, paths are relative to the working directory.
func resolvePath(file, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	dir := filepath.Dir(file)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Join(dir, path)
}

// Dir is the folder relative paths are read from, or "" when no config file
// was read (then it is the working directory).
func (c *Config) Dir() string {
	if c.File == "" {
		return ""
	}
	return filepath.Dir(resolvePath(c.File, "x"))
}

// RunOptions are a run's choices from the command line or the HTTP request.
type RunOptions struct {
	Target Target // "" = [sync] default_target; see ParseTarget
	DryRun bool
	// Tables names some of the job's tables (their [table.<name>] names,
	// case-insensitively; a one-table job's name is its target table);
	// empty = every table (of Group, when given).
	Tables []string
	// Group names one group of the job ("default" = the tables without a
	// group); "" = every group.
	Group string
}

// ParseTarget reads a target name, case-insensitively, wherever it comes
// from (--target, the HTTP target option, a queue message, [sync]
// default_target). "" is no choice: [sync] default_target.
func ParseTarget(s string) (Target, error) {
	switch t := Target(strings.ToLower(strings.TrimSpace(s))); t {
	case "", TargetAzure, TargetSQLite:
		return t, nil
	}
	return "", fmt.Errorf("target %q: want azure or sqlite", s)
}

// applyRunOptions picks this run's target.
func (c *Config) applyRunOptions(o RunOptions) error {
	c.Target = c.Sync.DefaultTarget
	if o.Target != "" {
		// Options come parsed (ParseTarget); a caller that built one by
		// hand still gets a ConfigError, not a run on a made-up target.
		t, err := ParseTarget(string(o.Target))
		if err != nil {
			return &ConfigError{Key: "target", Value: string(o.Target), Origin: "run option", Reason: "want azure or sqlite"}
		}
		c.Target = t
		c.origins["run.target"] = "run option"
	}
	c.DryRun = o.DryRun
	return nil
}

// LoadInput is what LoadConfig reads.
type LoadInput struct {
	Path     string   // config file
	Explicit bool     // the path was asked for, so a missing file is an error
	Environ  []string // os.Environ()
	// Secrets, when not nil, is called with the [keyvault] url after the file
	// and environment are read; what it returns overrides both.
	Secrets func(vaultURL string, names []string) (map[string]string, error)
	Options RunOptions
}

// LoadConfig runs the configuration pipeline: defaults → config file →
// environment → Key Vault → run options → Validate.
func LoadConfig(in LoadInput) (*Config, error) {
	s := newSettings()
	if err := s.readFile(in.Path, in.Explicit); err != nil {
		return nil, err
	}
	s.applyEnv(in.Environ)
	if url := s.value("keyvault", "url"); url != "" && in.Secrets != nil {
		secrets, err := in.Secrets(url, append(VaultSecretNames(), s.tableVaultNames()...))
		if err != nil {
			return nil, err
		}
		s.applySecrets(secrets)
	}
	c, err := s.decode()
	if err != nil {
		return nil, err
	}
	if err := c.applyRunOptions(in.Options); err != nil {
		return nil, err
	}
	c.resolveTables()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.checkSQLiteInAzure(in.Environ); err != nil {
		return nil, err
	}
	if err := c.selectRun(in.Options); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSQLiteInAzure refuses a SQLite target inside the app's own folder
// when running in Azure (the platform sets WEBSITE_INSTANCE_ID): there the
// app's package is mounted read-only for each instance, so the file could
// not be written, and the host runs the handler in the app's folder.
// https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan
func (c *Config) checkSQLiteInAzure(environ []string) error {
	if c.Target != TargetSQLite || !slices.ContainsFunc(environ, func(kv string) bool {
		name, value, _ := strings.Cut(kv, "=")
		return name == "WEBSITE_INSTANCE_ID" && value != ""
	}) {
		return nil
	}
	path, err := filepath.Abs(c.SQLite.Path)
	if err != nil {
		return nil
	}
	for _, app := range []string{c.Dir(), workingDir()} {
		if rel, err := filepath.Rel(app, path); app != "" && err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return &ConfigError{Key: "sqlite.path", Value: c.SQLite.Path, Origin: c.Origin("sqlite.path"),
				Reason: fmt.Sprintf("is inside the function app's folder %s, which Azure mounts read-only on each instance; the SQLite target is for local runs: use --target azure, or a per-instance scratch path such as /tmp/replica.db", app)}
		}
	}
	return nil
}

func workingDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	return wd
}

// VaultSecretNames lists the Key Vault secret names of the fixed keys; a
// job's [table.<name>] keys add theirs (see tableVaultName).
func VaultSecretNames() []string {
	var names []string
	for _, k := range configKeys {
		names = append(names, k.vaultName())
	}
	return names
}

// Suffixes of the helper tables a run makes next to the target table. The
// table name plus a suffix must fit MySQL's 64-character limit.
const (
	StageSuffix = "__dbsync_new"
	OldSuffix   = "__dbsync_old"
)

// Validate checks that the chosen target has everything it needs, before any
// database is touched. Its errors name section.key and where the value came
// from.
func (c *Config) Validate() error {
	missing := func(key, reason string) error {
		return &ConfigError{Key: key, Origin: c.Origin(key), Reason: "is required " + reason}
	}
	bad := func(key, value, reason string) error {
		return &ConfigError{Key: key, Value: value, Origin: c.Origin(key), Reason: reason}
	}
	if err := c.checkTableName("sync.history_table", c.Sync.HistoryTable); err != nil {
		return err
	}
	for _, k := range []struct{ key, value string }{
		{"source.host", c.Source.Host}, {"source.database", c.Source.Database},
		{"source.user", c.Source.User},
	} {
		if k.value == "" {
			return missing(k.key, "(the primary MySQL source)")
		}
	}
	// A job of [table.*] sections has a query per table (validateTables).
	if !c.multi && c.Source.Query == "" {
		return missing("source.query", "(the primary MySQL source), or list the job's tables as [table.<name>] sections")
	}
	if c.Source.SSLCA != "" {
		if err := checkReadable("source.ssl_ca", c.Source.SSLCA, c); err != nil {
			return err
		}
	}
	if c.Sync.FallbackEnabled {
		if c.Fallback.Path == "" {
			return missing("fallback.path", "when [sync] fallback_enabled = true")
		}
		if !c.multi && c.Fallback.Query == "" {
			return missing("fallback.query", "when [sync] fallback_enabled = true")
		}
	}
	switch c.Target {
	case TargetAzure:
		a := c.AzureMySQL
		for _, k := range []struct{ key, value string }{
			{"azure_mysql.host", a.Host}, {"azure_mysql.database", a.Database}, {"azure_mysql.user", a.User},
		} {
			if k.value == "" {
				return missing(k.key, "for --target azure")
			}
		}
		if !c.multi {
			if err := c.checkTableName("azure_mysql.table", a.Table); err != nil {
				return err
			}
		}
		if a.Auth == AuthPassword && a.Password.IsZero() {
			return missing("azure_mysql.password", "for --target azure with auth = password (or set auth = entra, or put it in Key Vault as azure-mysql--password)")
		}
		// verify_ca is not enough: with the system roots trusted, any
		// publicly trusted certificate passes it, whatever host it names,
		// and the token is a bearer credential.
		if a.Auth == AuthEntra && a.SSLMode != SSLVerifyIdentity {
			return bad("azure_mysql.ssl_mode", string(a.SSLMode), "auth = entra sends the access token as a cleartext password, so the server must prove it is the host named in [azure_mysql] host: use verify_identity")
		}
		if a.SSLCA != "" {
			if err := checkReadable("azure_mysql.ssl_ca", a.SSLCA, c); err != nil {
				return err
			}
		}
		if a.SSLMode == SSLRequired || a.SSLMode == SSLPreferred || a.SSLMode == SSLDisabled {
			c.Warnings = append(c.Warnings, fmt.Sprintf("azure_mysql.ssl_mode = %s does not verify the server's certificate; use verify_identity (the default) for Azure", a.SSLMode))
		}
	case TargetSQLite:
		if c.SQLite.Path == "" {
			return missing("sqlite.path", "for --target sqlite")
		}
		if !c.multi {
			if err := c.checkTableName("sqlite.table", c.SQLite.Table); err != nil {
				return err
			}
		}
	default:
		return bad("sync.default_target", string(c.Target), "want azure or sqlite")
	}
	if key := c.Target.tableKey(); !c.multi && c.Target.sameTable(c.TargetTable(), c.Sync.HistoryTable) {
		return bad(key, c.TargetTable(), fmt.Sprintf("is the run history table ([sync] history_table = %q): each run would replace the history with data; choose another table or history_table", c.Sync.HistoryTable))
	}
	if !c.multi && c.Sync.Mode.mergesByKey() {
		if err := c.checkMergeName(c.Target.tableKey(), c.TargetTable(), c.Origin(c.Target.tableKey())); err != nil {
			return err
		}
	}
	// LoadConfig has made the one-table job's table (resolveTables).
	if !c.multi && len(c.Tables) == 1 {
		if err := c.validateIncremental(c.Tables[0]); err != nil {
			return err
		}
	}
	if err := c.validateCompare(); err != nil {
		return err
	}
	return c.validateTables()
}

// tableKey is the key that names the target table.
func (t Target) tableKey() string {
	if t == TargetSQLite {
		return "sqlite.table"
	}
	return "azure_mysql.table"
}

// sameTable reports whether two names are one table on the target. Azure
// Database for MySQL runs with lower_case_table_names = 1, which stores and
// compares names in lower case
// (https://dev.mysql.com/doc/refman/8.0/en/identifier-case-sensitivity.html);
// SQLite compares identifiers ignoring ASCII case only.
func (t Target) sameTable(a, b string) bool {
	if t == TargetSQLite {
		return asciiLower(a) == asciiLower(b)
	}
	return strings.ToLower(a) == strings.ToLower(b)
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// TargetTable is the table this run replaces.
func (c *Config) TargetTable() string {
	if c.Target == TargetSQLite {
		return c.SQLite.Table
	}
	return c.AzureMySQL.Table
}

// MaxIdentifierChars is MySQL's limit on a table name, in characters
// (https://dev.mysql.com/doc/refman/8.0/en/identifier-length.html).
const MaxIdentifierChars = 64

// checkTableName checks a table name the target will hold, counting in
// characters as MySQL does; the staging and old-copy suffixes must fit too.
func (c *Config) checkTableName(key, name string) error {
	return c.checkTableNameFrom(key, name, c.Origin(key))
}

// checkTableNameFrom is checkTableName for a name whose origin is not the
// key's own (a target named after its [table.<name>] section).
func (c *Config) checkTableNameFrom(key, name, origin string) error {
	bad := func(reason string) error {
		return &ConfigError{Key: key, Value: name, Origin: origin, Reason: reason}
	}
	switch {
	case name == "":
		return &ConfigError{Key: key, Origin: origin, Reason: "is required: the name of the table"}
	case !utf8.ValidString(name):
		return &ConfigError{Key: key, Origin: origin, Reason: "is not UTF-8 text"}
	case strings.ContainsRune(name, 0):
		return &ConfigError{Key: key, Origin: origin, Reason: "contains a NUL byte"}
	case utf8.RuneCountInString(name)+len(StageSuffix) > MaxIdentifierChars:
		return bad(fmt.Sprintf("is too long: %d characters, at most %d, so that the staging table %q fits MySQL's %d-character limit",
			utf8.RuneCountInString(name), MaxIdentifierChars-len(StageSuffix), name+StageSuffix, MaxIdentifierChars))
	case strings.TrimSpace(name) != name:
		return bad("starts or ends with a space")
	}
	if c.Target == TargetAzure {
		// MySQL identifiers hold only the Basic Multilingual Plane: "ASCII
		// NUL (U+0000) and supplementary characters (U+10000 and higher)
		// are not permitted in quoted or unquoted identifiers"
		// (https://dev.mysql.com/doc/refman/8.0/en/identifiers.html).
		// A name with an emoji would fail at run time with error 1267.
		for _, r := range name {
			if r > 0xFFFF {
				return bad(fmt.Sprintf("contains %U, a character outside Unicode's Basic Multilingual Plane, which MySQL does not allow in a table name", r))
			}
		}
		if n := FileNameBytes(name + StageSuffix); n+len(".ibd") > MaxFileNameBytes {
			return bad(fmt.Sprintf("is too long for the server's file names: MySQL keeps the staging table %q in a file named after it, with each character other than a-z, A-Z, 0-9 and _ written as up to 5 bytes, and a file name holds at most %d bytes; use a shorter name (at most %d such characters)",
				name+StageSuffix, MaxFileNameBytes, (MaxFileNameBytes-len(".ibd")-len(StageSuffix))/5))
		}
	}
	return nil
}

// checkMergeName checks that a merge table's delta table name fits too:
// DeltaSuffix is longer than the staging suffix checkTableName counts.
func (c *Config) checkMergeName(key, name, origin string) error {
	if n := utf8.RuneCountInString(name); n+len(DeltaSuffix) > MaxIdentifierChars {
		return &ConfigError{Key: key, Value: name, Origin: origin, Reason: fmt.Sprintf("is too long for mode = merge or incremental: %d characters, at most %d, so that the merge's delta table %q fits MySQL's %d-character limit",
			n, MaxIdentifierChars-len(DeltaSuffix), name+DeltaSuffix, MaxIdentifierChars)}
	}
	if c.Target == TargetAzure {
		if n := FileNameBytes(name + DeltaSuffix); n+len(".ibd") > MaxFileNameBytes {
			return &ConfigError{Key: key, Value: name, Origin: origin, Reason: fmt.Sprintf("is too long for the server's file names in mode = merge: the delta table %q needs a file name of %d bytes, more than %d; use a shorter name",
				name+DeltaSuffix, n+len(".ibd"), MaxFileNameBytes)}
		}
	}
	return nil
}

// MaxFileNameBytes is the longest file name Linux file systems hold.
const MaxFileNameBytes = 255

// FileNameBytes bounds the length of the file name MySQL and MariaDB make
// from a table name (name.ibd, and name.frm on MariaDB): a-z, A-Z, 0-9 and
// _ stay as they are; letters of other alphabets become @ and two
// characters, any other character @ and four hex digits
// (https://dev.mysql.com/doc/refman/8.0/en/identifier-mapping.html). Five
// bytes are counted for every other character, so a name that passes fits.
func FileNameBytes(name string) int {
	n := 0
	for _, r := range name {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			n++
		} else {
			n += 5
		}
	}
	return n
}

func checkReadable(key, path string, c *Config) error {
	if _, err := os.Stat(path); err != nil {
		return &ConfigError{Key: key, Value: path, Origin: c.Origin(key), Reason: "cannot read the CA bundle", Err: errors.Unwrap(err)}
	}
	return nil
}

// ConfigKeys lists every key as "section.key", in config.ini.example's order.
func ConfigKeys() []string {
	out := make([]string, len(configKeys))
	for i, k := range configKeys {
		out[i] = k.name()
	}
	return out
}

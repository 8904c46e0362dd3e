package sync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

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
			Timeout: 9 * time.Minute,
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
			// project's 2-core bench (README "Loading speed").
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
		if err != nil {
			return errors.New("want a whole number")
		}
		if n < min || n > max {
			return fmt.Errorf("want a number from %d to %d", min, max)
		}
		*f(c) = n
		return nil
	}
}

// durationKey accepts Go durations ("90s", "5m", "1h30m") and plain numbers
// of seconds ("90"), which is what configs written for the Python tool use.
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

func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n <= 0 {
			return 0, errors.New("want a positive duration")
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New(`want a duration such as "30s", "5m" or a number of seconds`)
	}
	if d <= 0 {
		return 0, errors.New("want a positive duration")
	}
	return d, nil
}

func oneOfKey(allowed []string, f func(c *Config, v string)) func(*Config, string) error {
	return func(c *Config, v string) error {
		v = strings.ToLower(v)
		for _, a := range allowed {
			if v == a {
				f(c, v)
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
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
		{section: section, key: "ssl_ca", set: stringKey(func(c *Config) *string { return &conn(c).SSLCA })},
		{section: section, key: "connect_timeout", set: durationKey(func(c *Config) *time.Duration { return &conn(c).ConnectTimeout })},
		{section: section, key: "read_timeout", set: durationKey(func(c *Config) *time.Duration { return &conn(c).ReadTimeout })},
	}
	// [source] only reads, so DESIGN §3 gives it no write_timeout.
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
	}
	keys = append(keys, mysqlKeys("source", func(c *Config) *MySQLConfig { return &c.Source.MySQLConfig })...)
	keys = append(keys,
		keySpec{section: "source", key: "query", set: stringKey(func(c *Config) *string { return &c.Source.Query })},
		keySpec{section: "fallback", key: "path", set: stringKey(func(c *Config) *string { return &c.Fallback.Path })},
		keySpec{section: "fallback", key: "query", set: stringKey(func(c *Config) *string { return &c.Fallback.Query })},
	)
	keys = append(keys, mysqlKeys("azure_mysql", func(c *Config) *MySQLConfig { return &c.AzureMySQL.MySQLConfig })...)
	keys = append(keys,
		keySpec{section: "azure_mysql", key: "table", set: stringKey(func(c *Config) *string { return &c.AzureMySQL.Table })},
		keySpec{section: "azure_mysql", key: "auth", set: oneOfKey([]string{AuthPassword, AuthEntra}, func(c *Config, v string) { c.AzureMySQL.Auth = v })},
		keySpec{section: "azure_mysql", key: "load_streams", set: intKey(1, 16, func(c *Config) *int { return &c.AzureMySQL.LoadStreams })},
		keySpec{section: "sqlite", key: "path", set: stringKey(func(c *Config) *string { return &c.SQLite.Path })},
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

// Settings are the raw key values gathered from the config file, the
// environment and Key Vault, later layers overriding earlier ones. Decode
// turns them into a Config.
type Settings struct {
	File     string
	values   map[string]setting // "section.key" → value
	Warnings []string
}

func newSettings() *Settings { return &Settings{values: map[string]setting{}} }

// value returns a key's current raw value.
func (s *Settings) value(section, key string) string { return s.values[section+"."+key].value }

func (s *Settings) set(k keySpec, v, origin string) {
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
// Python's configparser, so long queries can span lines.
func (s *Settings) readFile(path string, explicit bool) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return &ConfigError{File: path, Reason: "cannot read the config file (pass --config or set DBSYNC_CONFIG to the right path)", Err: err}
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		Insensitive:                true,
		IgnoreInlineComment:        true,
		AllowPythonMultilineValues: true,
		SpaceBeforeInlineComment:   true,
	}, data)
	if err != nil {
		return &ConfigError{File: path, Reason: "not a valid ini file", Err: err}
	}
	s.File = path
	for _, sec := range f.Sections() {
		name := sec.Name()
		if strings.EqualFold(name, ini.DefaultSection) {
			for _, k := range sec.Keys() {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: key %q is outside any section; ignored", path, k.Name()))
			}
			continue
		}
		if !knownSection(name) {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: unknown section [%s]; ignored", path, name))
			continue
		}
		for _, k := range sec.Keys() {
			spec, ok := knownKey(name, k.Name())
			if !ok {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: unknown key %s.%s; ignored", path, name, k.Name()))
				continue
			}
			s.set(spec, strings.TrimSpace(k.Value()), path)
		}
	}
	return nil
}

// applyEnv overlays DBSYNC_<SECTION>_<KEY> variables.
func (s *Settings) applyEnv(environ []string) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for _, k := range configKeys {
		if v, ok := env[k.envName()]; ok {
			s.set(k, strings.TrimSpace(v), "environment "+k.envName())
		}
	}
}

// ApplySecrets overlays values from Key Vault: name is the secret's name
// (section--key), as returned by vaultName.
func (s *Settings) ApplySecrets(secrets map[string]string) {
	for _, k := range configKeys {
		if v, ok := secrets[k.vaultName()]; ok {
			s.set(k, v, "Key Vault secret "+k.vaultName())
		}
	}
}

// decode parses every set key onto DefaultConfig. It reports the first bad
// key; a value that is still an unresolved App Service Key Vault reference is
// reported by name.
func (s *Settings) decode() (*Config, error) {
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
		if err := k.set(c, st.value); err != nil {
			return nil, &ConfigError{Key: k.name(), Value: shown, Origin: st.origin, Reason: err.Error()}
		}
		c.origins[k.name()] = st.origin
	}
	return c, nil
}

// RunOptions are a run's choices from the command line or the HTTP request.
type RunOptions struct {
	Target string // "" = [sync] default_target
	DryRun bool
}

// applyRunOptions picks this run's target.
func (c *Config) applyRunOptions(o RunOptions) error {
	c.Target = c.Sync.DefaultTarget
	if o.Target != "" {
		switch t := Target(strings.ToLower(o.Target)); t {
		case TargetAzure, TargetSQLite:
			c.Target = t
			c.origins["run.target"] = "run option"
		default:
			return &ConfigError{Key: "target", Value: o.Target, Origin: "run option", Reason: "want azure or sqlite"}
		}
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
		secrets, err := in.Secrets(url, VaultSecretNames())
		if err != nil {
			return nil, err
		}
		s.ApplySecrets(secrets)
	}
	c, err := s.decode()
	if err != nil {
		return nil, err
	}
	if err := c.applyRunOptions(in.Options); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// VaultSecretNames lists the Key Vault secret names dbsync reads.
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
	stageSuffix = "__dbsync_new"
	oldSuffix   = "__dbsync_old"
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
	if err := checkTableName("sync.history_table", c.Sync.HistoryTable, c); err != nil {
		return err
	}
	for _, k := range []struct{ key, value string }{
		{"source.host", c.Source.Host}, {"source.database", c.Source.Database},
		{"source.user", c.Source.User}, {"source.query", c.Source.Query},
	} {
		if k.value == "" {
			return missing(k.key, "(the primary MySQL source)")
		}
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
		if c.Fallback.Query == "" {
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
		if err := checkTableName("azure_mysql.table", a.Table, c); err != nil {
			return err
		}
		if a.Auth == AuthPassword && a.Password.IsZero() {
			return missing("azure_mysql.password", "for --target azure with auth = password (or set auth = entra, or put it in Key Vault as azure-mysql--password)")
		}
		if a.Auth == AuthEntra && a.SSLMode != SSLVerifyCA && a.SSLMode != SSLVerifyIdentity {
			return bad("azure_mysql.ssl_mode", string(a.SSLMode), "auth = entra sends the access token as a cleartext password, so it needs a verified TLS connection: use verify_ca or verify_identity")
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
		if err := checkTableName("sqlite.table", c.SQLite.Table, c); err != nil {
			return err
		}
	default:
		return bad("sync.default_target", string(c.Target), "want azure or sqlite")
	}
	return nil
}

// TargetTable is the table this run replaces.
func (c *Config) TargetTable() string {
	if c.Target == TargetSQLite {
		return c.SQLite.Table
	}
	return c.AzureMySQL.Table
}

func checkTableName(key, name string, c *Config) error {
	switch {
	case name == "":
		return &ConfigError{Key: key, Origin: c.Origin(key), Reason: "is required: the name of the table"}
	case len(name)+len(stageSuffix) > 64:
		return &ConfigError{Key: key, Value: name, Origin: c.Origin(key),
			Reason: fmt.Sprintf("is too long: at most %d characters, so that the staging table %q fits MySQL's 64-character limit", 64-len(stageSuffix), name+stageSuffix)}
	case strings.ContainsRune(name, 0):
		return &ConfigError{Key: key, Origin: c.Origin(key), Reason: "contains a NUL byte"}
	case strings.TrimSpace(name) != name:
		return &ConfigError{Key: key, Value: name, Origin: c.Origin(key), Reason: "starts or ends with a space"}
	}
	return nil
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

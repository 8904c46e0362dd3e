package dbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Log attribute keys, the same on every line.
const (
	LogRunID        = "run_id"
	LogTable        = "table"
	LogTarget       = "target"
	LogInvocationID = "invocation_id"
)

// Runner runs syncs. One Runner lives as long as the process: it holds the
// in-process guard that keeps two runs of this process off the same target
// table before they even reach the database lock.
type Runner struct {
	Logger *slog.Logger
	// ProgressEvery is how often a long load logs rows and rows/s
	// (default 5 s).
	ProgressEvery time.Duration
	// Tokens gives the access tokens auth = entra logs in with
	// (sync/azure); nil: auth = entra has no token to use.
	Tokens TokenSource
	// SwapTryWait bounds each attempt of the MySQL swap to wait for readers'
	// metadata locks (default 2 s); SwapTries is how many attempts it makes
	// (default 10). Readers queue behind a waiting RENAME, so each wait is
	// short and readers get through between attempts.
	SwapTryWait time.Duration
	SwapTries   int
	// MySQL is the backend of target = azure and of the primary source
	// (handler sets mysqldb.Backend); SQLite is the backend of target =
	// sqlite and of the fallback source (sqlitedb.Backend). nil: a run
	// can use neither, and says so.
	MySQL  Backend
	SQLite Backend
	// beforeSwap, when set (tests), runs between verify and swap.
	beforeSwap func()
	// verifyRead, when set (tests), runs when handler verify has read
	// every table, before it checks that no run wrote meanwhile.
	verifyRead func()
	// lockPingEvery, when set (tests), is how often the MySQL run lock's
	// keep-alive checks the locks (default 30 s).
	lockPingEvery time.Duration

	mu     sync.Mutex
	active map[string]string // guard key → run_id
	// incState is each running run's plan of its incremental tables
	// (planIncremental): run_id → target table → the history's state.
	incState map[string]map[string]IncrementalState
}

// TokenSource gives access tokens for a scope: the Entra ID token that
// auth = entra sends as the MySQL password. sync/azure implements it (the
// process's managed identity); the engine itself imports no Azure SDK.
type TokenSource interface {
	Token(ctx context.Context, scope string) (string, error)
}

// NewRunner returns a Runner that logs to log.
func NewRunner(log *slog.Logger) *Runner {
	return &Runner{Logger: log, active: map[string]string{}}
}

// ActiveRun returns the id of the run this process has going on one of
// cfg's run tables, if any.
func (r *Runner) ActiveRun(cfg *Config) string {
	tgt, err := r.newTarget(cfg, r.Logger)
	if err != nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range targetNames(cfg.RunTables()) {
		if id := r.active[tgt.GuardKey(name)]; id != "" {
			return id
		}
	}
	return ""
}

// enter takes the in-process guard of every key, or of none when one is
// taken.
func (r *Runner) enter(keys []string, runID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil {
		r.active = map[string]string{}
	}
	for _, key := range keys {
		if _, busy := r.active[key]; busy {
			return false
		}
	}
	for _, key := range keys {
		r.active[key] = runID
	}
	return true
}

func (r *Runner) leave(keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, key := range keys {
		delete(r.active, key)
	}
}

// NewReport starts the report of a run about to begin; pass it to Run. The
// HTTP trigger makes it first so it can answer with the run_id before the
// run ends.
func NewReport(cfg *Config, trigger Trigger) *Report {
	rep := &Report{
		RunID: newRunID(), Version: Version(), Trigger: trigger, Target: cfg.Target,
		StartedAt: time.Now().UTC(), DryRun: cfg.DryRun, Snapshot: SnapshotSingle,
	}
	if cfg.Sync.Parallel > 1 {
		rep.Snapshot = SnapshotPerTable
	}
	for _, t := range cfg.RunTables() {
		rep.Tables = append(rep.Tables, TableReport{Table: t.Target})
	}
	if len(rep.Tables) == 1 {
		rep.Table = rep.Tables[0].Table
	}
	return rep
}

// Run performs one sync and fills rep. The error is nil only when the run
// succeeded; ErrBusy and *ConfigError tell callers which exit code or HTTP
// status to give.
func (r *Runner) Run(ctx context.Context, cfg *Config, rep *Report, log *slog.Logger) error {
	if log == nil {
		log = r.Logger
	}
	if rep.Version == "" {
		// A report made by hand (a queued run's) names its build too.
		rep.Version = Version()
	}
	base := log // without the run's keys: logTableOutcomes names them
	// Each key once per line: lines below name their table whether or
	// not the run has one (logattrs.go).
	log = uniqueKeysLogger(log).With(LogRunID, rep.RunID, LogTarget, string(cfg.Target))
	if rep.Table != "" {
		log = log.With(LogTable, rep.Table)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Sync.Timeout)
	defer cancel()
	log.Info("run started", "trigger", rep.Trigger, "dry_run", cfg.DryRun)
	err := r.run(ctx, cfg, rep, log)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && err != nil {
		err = fmt.Errorf("run exceeded [sync] timeout = %s: %w", cfg.Sync.Timeout, err)
	}
	rep.finishNow(err)
	attrs := []any{"status", rep.Status, "source", rep.Source, "rows", rep.Rows, "load_method", rep.LoadMethod,
		"duration_ms", rep.DurationMS, "rows_per_sec", rep.RowsPerSec}
	if err != nil {
		log.Warn("run ended: "+string(rep.Status), append(attrs, "error", OneLine(err.Error()))...)
	} else {
		log.Info("run ended: "+string(rep.Status), attrs...)
	}
	logTableOutcomes(base, rep)
	return err
}

func (r *Runner) run(ctx context.Context, cfg *Config, rep *Report, log *slog.Logger) (err error) {
	tgt, err := r.newTarget(cfg, log)
	if err != nil {
		return err
	}
	tables := cfg.RunTables()
	if len(rep.Tables) != len(tables) {
		rep.Tables = nil
		for _, t := range tables {
			rep.Tables = append(rep.Tables, TableReport{Table: t.Target})
		}
	}
	names := targetNames(tables)
	keys := make([]string, len(names))
	for i, name := range names {
		keys[i] = tgt.GuardKey(name)
	}
	if !r.enter(keys, rep.RunID) {
		rep.Status = StatusBusy
		return ErrBusy
	}
	defer r.leave(keys)

	if cfg.DryRun {
		if err := r.readSource(ctx, cfg, tables, counter{}, rep, log); err != nil {
			return err
		}
		rep.Status = StatusSkipped
		rep.sumTables()
		log.Info("dry run: source read, target untouched", "rows", rep.Rows, "source", rep.Source)
		return nil
	}
	var plain bool
	retries, err := defaultRetry.do(ctx, log, "connect to target", tgt.Transient, func() (err error) {
		plain, err = tgt.Connect(ctx)
		return err
	})
	rep.Retries += retries
	if err != nil {
		return err
	}
	if plain { // only a MySQL target can be (SQLite is a local file)
		rep.noteUnencrypted("target")
		logUnencrypted(log, "azure_mysql", "target", cfg.AzureMySQL.SSLMode)
	}
	defer tgt.Close()
	if err := tgt.Lock(ctx, names); err != nil {
		if errors.Is(err, ErrBusy) {
			rep.Status = StatusBusy
		}
		return err
	}
	log.Info("run lock taken", "where", tgt.Describe(), "tables", len(names))
	// The history table first: begin reads it for runs a crash left
	// behind, then the run records itself in it.
	history := tgt.RunHistory()
	if err := history.ensure(ctx); err != nil {
		return err
	}
	if err := tgt.Begin(ctx, rep.RunID, rep.Target, names); err != nil {
		return err
	}
	if err := history.start(ctx, rep, log); err != nil {
		return err
	}
	defer r.forgetIncremental(rep.RunID)
	if err := r.planIncremental(ctx, cfg, tables, history, rep); err != nil {
		return err
	}
	defer func() {
		// Record the outcome even when the run's deadline has passed.
		rep.finishNow(err)
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if herr := history.finish(hctx, rep); herr != nil {
			log.Warn("could not record the run in the history table", "error", herr.Error())
		}
	}()
	// Whatever ends the run before the swap is done leaves every target
	// table as it was: drop what was staged.
	defer func() {
		if err != nil {
			tgt.Discard(ctx)
		}
	}()

	if err := r.readSource(ctx, cfg, tables, tgt, rep, log); err != nil {
		return err
	}
	rep.sumTables()
	unchanged := "the target table was left unchanged"
	if len(tables) > 1 {
		unchanged = "every target table was left unchanged"
	}
	for _, t := range tables {
		if n := rep.table(t.Target).Rows; n < int64(t.MinRows) {
			return fmt.Errorf("%w: table %s: got %d, %s = %d; %s (lower min_rows if an empty result is expected)", ErrTooFewRows, t.Target, n, iniKey(cfg.TableKey(t, "min_rows")), t.MinRows, unchanged)
		}
	}
	log.Info("rows staged and verified", "rows", rep.Rows, "source", rep.Source)
	if r.beforeSwap != nil {
		r.beforeSwap()
	}
	waited, err := tgt.Swap(ctx)
	rep.SwapWaitMS = waited.Milliseconds()
	if err != nil {
		return err
	}
	if applied := tgt.AppliedUpdates(); len(applied) > 0 {
		// The UPDATE changes only rows whose stored values differ; the
		// compare may have counted more (a value the target stores alike).
		for table, n := range applied {
			if tr := rep.table(table); tr != nil {
				tr.Unchanged += tr.Updated - n
				tr.Updated = n
			}
		}
		rep.sumTables()
	}
	log.Info(writtenMessage(rep.Mode), writtenAttrs(rep, len(tables))...)
	rep.Status = StatusSucceeded
	return nil
}

// writtenMessage says what the swap did by the run's modes (Report.Mode):
// a replace run never says "merged".
func writtenMessage(mode string) string {
	merged := strings.Contains(mode, string(ModeMerge)) || strings.Contains(mode, string(ModeIncremental))
	replaced := strings.Contains(mode, string(ModeReplace))
	switch {
	case merged && replaced:
		return "replaced tables swapped, merged tables' differences applied"
	case merged:
		return "merged tables' differences applied"
	}
	return "replaced tables swapped"
}

// writtenAttrs are the swap line's figures: a merge's counts only when a
// table was merged.
func writtenAttrs(rep *Report, tables int) []any {
	attrs := []any{"rows", rep.Rows, "tables", tables, "mode", rep.Mode}
	if strings.Contains(rep.Mode, string(ModeMerge)) || strings.Contains(rep.Mode, string(ModeIncremental)) {
		attrs = append(attrs, "inserted", rep.Inserted, "updated", rep.Updated, "deleted", rep.Deleted, "unchanged", rep.Unchanged)
	}
	return attrs
}

// iniKey writes "section.key" as config.ini does: "[section] key".
func iniKey(k string) string {
	i := strings.LastIndex(k, ".")
	if i < 0 {
		return k
	}
	return "[" + k[:i] + "] " + k[i+1:]
}

// openTarget connects to the target outside a run (check, history).
func (r *Runner) openTarget(ctx context.Context, cfg *Config, log *slog.Logger) (TargetDB, error) {
	tgt, err := r.newTarget(cfg, log)
	if err != nil {
		return nil, err
	}
	if _, err := tgt.Connect(ctx); err != nil {
		tgt.Close()
		return nil, err
	}
	return tgt, nil
}

// newTarget is the one place that picks a backend by the run's target;
// nothing is connected yet.
func (r *Runner) newTarget(cfg *Config, log *slog.Logger) (TargetDB, error) {
	switch cfg.Target {
	case TargetSQLite:
		if r.SQLite == nil {
			return nil, errors.New("target = sqlite: this program has no SQLite backend (Runner.SQLite is nil)")
		}
		return r.SQLite.OpenTarget(cfg, TargetOptions{Log: log})
	case TargetAzure:
		if r.MySQL == nil {
			return nil, errors.New("target = azure: this program has no MySQL backend (Runner.MySQL is nil)")
		}
		o := TargetOptions{Log: log, SwapTryWait: r.SwapTryWait, SwapTries: r.SwapTries, LockPingEvery: r.lockPingEvery}
		if cfg.AzureMySQL.Auth == AuthEntra && r.Tokens != nil {
			o.Password = func(ctx context.Context) (string, error) {
				tok, err := r.Tokens.Token(ctx, EntraMySQLScope)
				if err != nil {
					return "", fmt.Errorf("get Entra ID token for Azure MySQL: %w", err)
				}
				return tok, nil
			}
		}
		return r.MySQL.OpenTarget(cfg, o)
	}
	return nil, fmt.Errorf("unknown target %q: want azure or sqlite", cfg.Target)
}

// Backend is a database technology behind the core: it opens the
// technology's target and source, so that the core imports no driver of
// it. Runner.newTarget, openPrimary and openFallback are the one place
// that ask a backend.
type Backend interface {
	// OpenTarget describes the target of cfg, whose Target is the
	// backend's kind; TargetDB.Connect reaches it.
	OpenTarget(cfg *Config, o TargetOptions) (TargetDB, error)
	// OpenSource opens the backend's source of cfg (MySQL: [source], the
	// primary; SQLite: [fallback]) read-only, in one snapshot for the whole
	// run.
	OpenSource(ctx context.Context, cfg *Config) (Session, error)
	// Transient classifies an error of the backend's own driver: whether
	// trying again may cure it; known false for an error it does not
	// recognize (the core's shared rules classify it).
	Transient(err error) (transient, known bool)
}

// TargetOptions are what a target takes from the Runner besides the config.
type TargetOptions struct {
	Log *slog.Logger
	// Password returns the password of each new connection (auth = entra:
	// a fresh token); nil: the configured password.
	Password func(ctx context.Context) (string, error)
	// SwapTryWait, SwapTries and LockPingEvery are the Runner's fields of
	// those names (zero: the backend's defaults).
	SwapTryWait   time.Duration
	SwapTries     int
	LockPingEvery time.Duration
}

// openPrimary opens cfg's primary source through the MySQL backend,
// retrying a transient failure; it adds the retries to rep.
func (r *Runner) openPrimary(ctx context.Context, cfg *Config, rep *Report, log *slog.Logger) (Session, error) {
	if r.MySQL == nil {
		return nil, errNoMySQL(cfg)
	}
	var s Session
	retries, err := defaultRetry.do(ctx, log, "connect to primary", r.MySQL.Transient, func() (err error) {
		s, err = r.MySQL.OpenSource(ctx, cfg)
		return err
	})
	r.mu.Lock()
	rep.Retries += retries
	r.mu.Unlock()
	return s, err
}

// errNoMySQL is the error of a Runner without a MySQL backend asked for
// cfg's primary.
func errNoMySQL(cfg *Config) error {
	return fmt.Errorf("open primary %s: this program has no MySQL backend (Runner.MySQL is nil)", cfg.Source.Host)
}

// openFallback opens cfg's fallback source through the SQLite backend.
func (r *Runner) openFallback(ctx context.Context, cfg *Config) (Session, error) {
	if r.SQLite == nil {
		return nil, fmt.Errorf("open fallback %s: this program has no SQLite backend (Runner.SQLite is nil)", cfg.Fallback.Path)
	}
	return r.SQLite.OpenSource(ctx, cfg)
}

// EntraMySQLScope is the token scope for Azure Database for MySQL.
const EntraMySQLScope = "https://ossrdbms-aad.database.windows.net/.default"

// Sink is what a run does with the rows of the source it reads: a run
// stages them in the target (every target is a sink); a dry run counts them.
type Sink interface {
	// Stage takes every row of src for table and returns how many it kept
	// and how.
	Stage(ctx context.Context, table string, src SourceRows, policy string) (int64, string, error)
	// Discard forgets what stage took, before the fallback is read.
	Discard(ctx context.Context)
	// StagePlan is how table was staged: PlanIndexed or
	// PlanDeferredIndexes, or "" when nothing was staged (a dry run).
	StagePlan(table string) string
	// AsMerger is the sink as a merger, ok false when it cannot merge (a
	// dry run's counter only counts the source's rows).
	AsMerger() (m Merger, ok bool)
}

// counter is a dry run's sink: it reads every row and keeps none.
type counter struct{}

func (counter) Stage(_ context.Context, _ string, src SourceRows, _ string) (int64, string, error) {
	var n int64
	for src.Next() {
		n++
	}
	return n, "", AsSourceError(src.Err())
}

func (counter) Discard(context.Context) {}

func (counter) StagePlan(string) string { return "" }

func (counter) AsMerger() (Merger, bool) { return nil, false }

// readSource chooses the source of a run once, for all its tables, opens
// it and hands each table's rows to dst; a run and a dry run both take
// this one path. The primary comes first (its connection retried on
// transient errors). If it fails — to connect, to run a query, or while
// rows stream — and fallback is enabled, everything dst took from it is
// discarded and every table is read from the fallback instead: never some
// tables from each. Only the source's own failures lead to the fallback:
// an error of the target, or a query that writes (errSourceWrites), ends
// the run.
func (r *Runner) readSource(ctx context.Context, cfg *Config, tables []TableConfig, dst Sink, rep *Report, log *slog.Logger) error {
	log.Info("connecting to primary", "host", cfg.Source.Host, "port", cfg.Source.Port, "database", cfg.Source.Database, "ssl_mode", string(cfg.Source.SSLMode))
	primary := func(ctx context.Context) (Session, error) {
		s, err := r.openPrimary(ctx, cfg, rep, log)
		if err != nil {
			return nil, AsSourceError(err)
		}
		if s.Unencrypted() {
			r.mu.Lock()
			rep.noteUnencrypted(SourcePrimary)
			r.mu.Unlock()
			logUnencrypted(log, "source", SourcePrimary, cfg.Source.SSLMode)
		}
		return s, nil
	}
	rep.Source = SourcePrimary
	primaryErr := r.readTables(ctx, cfg, tables, primary, func(t TableConfig) (string, string) {
		return t.Query, iniKey(cfg.TableKey(t, "query"))
	}, dst, rep, log)
	if primaryErr == nil {
		return nil
	}
	if !isSourceError(primaryErr) || errors.Is(primaryErr, ErrSourceWrites) {
		return primaryErr
	}
	if !cfg.Sync.FallbackEnabled {
		return fmt.Errorf("read primary: %w (fallback is disabled: [sync] fallback_enabled = false)", primaryErr)
	}
	rep.FallbackReason = primaryErr.Error()
	rep.Source = SourceFallback
	log.Warn("primary failed; reading the fallback SQLite database instead", "reason", rep.FallbackReason, "path", cfg.Fallback.Path)
	dst.Discard(ctx)
	for i := range rep.Tables {
		rep.Tables[i] = TableReport{Table: rep.Tables[i].Table}
	}
	fallback := func(ctx context.Context) (Session, error) {
		s, err := r.openFallback(ctx, cfg)
		if err != nil {
			return nil, AsSourceError(err)
		}
		return s, nil
	}
	err := r.readTables(ctx, cfg, tables, fallback, func(t TableConfig) (string, string) {
		return t.FallbackQuery, iniKey(cfg.TableKey(t, "fallback_query"))
	}, dst, rep, log)
	if err != nil && isSourceError(err) {
		return fmt.Errorf("primary failed (%s), and so did the fallback: %w", rep.FallbackReason, err)
	}
	return err
}

// readTables reads every table from sessions that open makes and stages
// it in dst. With [sync] parallel = 1 one session reads all the tables in
// turn, in its one transaction: one point in time of the source. With
// more, up to that many tables are read at once, each in a session of its
// own; the first error stops the others.
func (r *Runner) readTables(ctx context.Context, cfg *Config, tables []TableConfig, open func(context.Context) (Session, error),
	query func(TableConfig) (q, what string), dst Sink, rep *Report, log *slog.Logger) error {
	readOne := func(ctx context.Context, s Session, t TableConfig) error {
		q, what := query(t)
		start := time.Now()
		if m, ok := dst.AsMerger(); ok && t.Mode.mergesByKey() {
			tr, err := r.mergeTable(ctx, cfg, s, m, t, q, what, rep, log)
			tr.RowsPerSec = perSecond(tr.Rows, time.Since(start).Milliseconds())
			r.mu.Lock()
			*rep.table(t.Target) = tr
			r.mu.Unlock()
			if err != nil {
				return fmt.Errorf("table %s: %w", t.Target, err)
			}
			return nil
		}
		rows, err := s.Query(ctx, q, what)
		if err != nil {
			return fmt.Errorf("table %s: %w", t.Target, AsSourceError(err))
		}
		defer rows.Close()
		tlog := log
		if len(tables) > 1 {
			tlog = log.With(LogTable, t.Target)
		}
		tlog.Info("reading "+rep.Source, "columns", len(rows.Columns()))
		n, method, err := dst.Stage(ctx, t.Target, r.progress(rows, tlog), t.OnSchemaChange)
		r.mu.Lock()
		*rep.table(t.Target) = TableReport{Table: t.Target, Rows: n, LoadMethod: method, Mode: t.Mode, StagePlan: dst.StagePlan(t.Target), RowsPerSec: perSecond(n, time.Since(start).Milliseconds()), RowsRead: n}
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("table %s: %w", t.Target, err)
		}
		return nil
	}
	if cfg.Sync.Parallel <= 1 || len(tables) == 1 {
		s, err := open(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		for _, t := range tables {
			if err := readOne(ctx, s, t); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, cfg.Sync.Parallel)
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
			cancel()
		}
	}
	for _, t := range tables {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			s, err := open(ctx)
			if err != nil {
				fail(err)
				return
			}
			defer s.Close()
			if err := readOne(ctx, s, t); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// logUnencrypted says in the log that a connection runs without TLS: a
// warning when TLS was only preferred, a note when it was turned off.
func logUnencrypted(log *slog.Logger, section, side string, mode SSLMode) {
	msg := unencryptedWarning(section, side, mode)
	if mode == SSLPreferred {
		log.Warn(msg)
		return
	}
	log.Info(msg)
}

// progressReader logs rows and rows/s every few seconds of a long load.
type progressReader struct {
	SourceRows
	log   *slog.Logger
	every time.Duration
	n     int64
	start time.Time
	last  time.Time
}

func (r *Runner) progress(src SourceRows, log *slog.Logger) *progressReader {
	every := r.ProgressEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	now := time.Now()
	return &progressReader{SourceRows: src, log: log, every: every, start: now, last: now}
}

func (p *progressReader) Next() bool {
	if !p.SourceRows.Next() {
		return false
	}
	p.n++
	if p.n&4095 == 0 {
		if now := time.Now(); now.Sub(p.last) >= p.every {
			p.last = now
			p.log.Info("progress", "rows", p.n, "rows_per_sec", int64(float64(p.n)/now.Sub(p.start).Seconds()))
		}
	}
	return true
}

// unencryptedWarning says plainly that the connection to side (primary,
// target) runs without TLS, and what to set to refuse that.
func unencryptedWarning(section, side string, mode SSLMode) string {
	if mode == SSLPreferred {
		return fmt.Sprintf("the connection to the %s is UNENCRYPTED: [%s] ssl_mode = preferred and the server offers no TLS, so the password and every row cross the network in clear; set [%s] ssl_mode = verify_identity (or required) to refuse plaintext", side, section, section)
	}
	return fmt.Sprintf("the connection to the %s is UNENCRYPTED ([%s] ssl_mode = disabled)", side, section)
}

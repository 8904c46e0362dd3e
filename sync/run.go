package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
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
	// Token returns an access token for a scope; auth = entra needs it.
	Token func(ctx context.Context, scope string) (string, error)
	// SwapTryWait bounds each attempt of the MySQL swap to wait for readers'
	// metadata locks (default 2 s); SwapTries is how many attempts it makes
	// (default 10). Readers queue behind a waiting RENAME, so each wait is
	// short and readers get through between attempts.
	SwapTryWait time.Duration
	SwapTries   int
	// beforeSwap, when set (tests), runs between verify and swap.
	beforeSwap func()

	mu     sync.Mutex
	active map[string]string // guard key → run_id
}

// NewRunner returns a Runner that logs to log.
func NewRunner(log *slog.Logger) *Runner {
	return &Runner{Logger: log, active: map[string]string{}}
}

// ActiveRun returns the id of the run this process has going on cfg's
// target table, if any.
func (r *Runner) ActiveRun(cfg *Config) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[guardKey(cfg)]
}

func guardKey(cfg *Config) string {
	if cfg.Target == TargetSQLite {
		p, err := filepath.Abs(cfg.SQLite.Path)
		if err != nil {
			p = cfg.SQLite.Path
		}
		return "sqlite:" + p + ":" + cfg.SQLite.Table
	}
	a := cfg.AzureMySQL
	return "azure:" + net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) + "/" + a.Database + "/" + a.Table
}

func (r *Runner) enter(key, runID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil {
		r.active = map[string]string{}
	}
	if _, busy := r.active[key]; busy {
		return false
	}
	r.active[key] = runID
	return true
}

func (r *Runner) leave(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, key)
}

// NewReport starts the report of a run about to begin; pass it to Run. The
// HTTP trigger makes it first so it can answer with the run_id before the
// run ends.
func NewReport(cfg *Config, trigger string) *Report {
	return &Report{
		RunID: newRunID(), Trigger: trigger, Target: cfg.Target, Table: cfg.TargetTable(),
		StartedAt: time.Now().UTC(), DryRun: cfg.DryRun,
	}
}

// Run performs one sync and fills rep. The error is nil only when the run
// succeeded; ErrBusy and *ConfigError tell callers which exit code or HTTP
// status to give.
func (r *Runner) Run(ctx context.Context, cfg *Config, rep *Report, log *slog.Logger) error {
	if log == nil {
		log = r.Logger
	}
	log = log.With(LogRunID, rep.RunID, LogTarget, string(cfg.Target), LogTable, rep.Table)
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
		log.Warn("run ended: "+rep.Status, append(attrs, "error", OneLine(err.Error()))...)
	} else {
		log.Info("run ended: "+rep.Status, attrs...)
	}
	return err
}

func (r *Runner) run(ctx context.Context, cfg *Config, rep *Report, log *slog.Logger) (err error) {
	key := guardKey(cfg)
	if !r.enter(key, rep.RunID) {
		rep.Status = StatusBusy
		return ErrBusy
	}
	defer r.leave(key)

	if cfg.DryRun {
		if rep.Rows, err = r.readSource(ctx, cfg, counter{}, rep, log); err != nil {
			return err
		}
		rep.Status = StatusSkipped
		log.Info("dry run: source read, target untouched", "rows", rep.Rows, "source", rep.Source)
		return nil
	}
	var tgt target
	retries, err := defaultRetry.do(ctx, log, "connect to target", func() (err error) {
		tgt, err = r.connectTarget(ctx, cfg, rep, log)
		return err
	})
	rep.Retries += retries
	if err != nil {
		return err
	}
	defer tgt.close()
	if err := tgt.lock(ctx); err != nil {
		if errors.Is(err, ErrBusy) {
			rep.Status = StatusBusy
		}
		return err
	}
	log.Info("run lock taken", "where", tgt.describe())
	if err := tgt.begin(ctx, rep); err != nil {
		return err
	}
	defer func() {
		// Record the outcome even when the run's deadline has passed.
		rep.finishNow(err)
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if herr := tgt.finish(hctx, rep); herr != nil {
			log.Warn("could not record the run in the history table", "error", herr.Error())
		}
	}()
	// Whatever ends the run before the swap is done leaves the target table
	// as it was: drop what was staged.
	defer func() {
		if err != nil {
			tgt.discard(ctx)
		}
	}()

	rows, err := r.readSource(ctx, cfg, tgt, rep, log)
	rep.LoadMethod = tgt.loadMethod()
	rep.StagePlan = stagePlanOf(tgt)
	if err != nil {
		return err
	}
	rep.Rows = rows
	if rows < int64(cfg.Sync.MinRows) {
		return fmt.Errorf("%w: got %d, [sync] min_rows = %d; the target table was left unchanged (lower min_rows if an empty result is expected)", ErrTooFewRows, rows, cfg.Sync.MinRows)
	}
	log.Info("rows staged and verified", "rows", rows, "source", rep.Source)
	if r.beforeSwap != nil {
		r.beforeSwap()
	}
	waited, err := tgt.swap(ctx)
	rep.SwapWaitMS = waited.Milliseconds()
	if err != nil {
		return err
	}
	log.Info("target table swapped", "rows", rows)
	rep.Status = StatusSucceeded
	return nil
}

// openTarget connects to the target outside a run (check, history).
func (r *Runner) openTarget(ctx context.Context, cfg *Config, log *slog.Logger) (target, error) {
	return r.connectTarget(ctx, cfg, nil, log)
}

// connectTarget connects to the target; rep, when not nil, records that the
// connection runs without TLS.
func (r *Runner) connectTarget(ctx context.Context, cfg *Config, rep *Report, log *slog.Logger) (target, error) {
	if cfg.Target == TargetSQLite {
		return openSQLiteTarget(cfg.SQLite, cfg.Sync.HistoryTable, log)
	}
	var password PasswordFunc
	if cfg.AzureMySQL.Auth == AuthEntra {
		if r.Token == nil {
			return nil, errors.New("[azure_mysql] auth = entra needs an Azure identity, and none is set up in this process")
		}
		password = func(ctx context.Context) (string, error) {
			tok, err := r.Token(ctx, EntraMySQLScope)
			if err != nil {
				return "", fmt.Errorf("get Entra ID token for Azure MySQL: %w", err)
			}
			return tok, nil
		}
	}
	log.Info("connecting to target", "host", cfg.AzureMySQL.Host, "port", cfg.AzureMySQL.Port, "database", cfg.AzureMySQL.Database, "ssl_mode", string(cfg.AzureMySQL.SSLMode), "auth", cfg.AzureMySQL.Auth)
	t, err := openMySQLTarget(ctx, cfg.AzureMySQL, cfg.Sync.HistoryTable, password, log)
	if err != nil {
		return nil, err
	}
	if plain, err := unencrypted(ctx, t.db, cfg.AzureMySQL.SSLMode); err != nil {
		t.close()
		return nil, fmt.Errorf("read the TLS state of the target session: %w", err)
	} else if plain && rep != nil {
		rep.noteUnencrypted("target")
		logUnencrypted(log, "azure_mysql", "target", cfg.AzureMySQL.SSLMode)
	}
	t.swapTryWait, t.swapTries = r.SwapTryWait, r.SwapTries
	if t.swapTryWait <= 0 {
		t.swapTryWait = 2 * time.Second
	}
	if t.swapTries <= 0 {
		t.swapTries = 10
	}
	return t, nil
}

// EntraMySQLScope is the token scope for Azure Database for MySQL.
const EntraMySQLScope = "https://ossrdbms-aad.database.windows.net/.default"

// sink is what a run does with the rows of the source it reads: a run
// stages them in the target (every target is a sink); a dry run counts them.
type sink interface {
	// stage takes every row of src and returns how many it kept.
	stage(ctx context.Context, src rowReader, policy string) (int64, error)
	// discard forgets what stage took, before the fallback is read.
	discard(ctx context.Context)
}

// counter is a dry run's sink: it reads every row and keeps none.
type counter struct{}

func (counter) stage(_ context.Context, src rowReader, _ string) (int64, error) {
	var n int64
	for src.Next() {
		n++
	}
	return n, asSourceError(src.Err())
}

func (counter) discard(context.Context) {}

// readSource chooses the source of a run, opens it and hands its rows to
// dst; a run and a dry run both take this one path. The primary comes
// first (its connection retried on transient errors). If it fails — to
// connect, to run the query, or while its rows stream — and fallback is
// enabled, what dst took from it is discarded and the fallback is read
// instead. Only the source's own failures lead to the fallback: an error of
// the target, or a [source] query that writes (errSourceWrites), ends the
// run.
func (r *Runner) readSource(ctx context.Context, cfg *Config, dst sink, rep *Report, log *slog.Logger) (int64, error) {
	log.Info("connecting to primary", "host", cfg.Source.Host, "port", cfg.Source.Port, "database", cfg.Source.Database, "ssl_mode", string(cfg.Source.SSLMode))
	primaryErr := func() error {
		var src *mysqlSource
		retries, err := defaultRetry.do(ctx, log, "connect to primary", func() (err error) {
			src, err = openMySQLSource(ctx, cfg.Source)
			return err
		})
		rep.Retries += retries
		if err != nil {
			return asSourceError(err)
		}
		defer src.Close()
		rep.Source = SourcePrimary
		if src.unencrypted {
			rep.noteUnencrypted(SourcePrimary)
			logUnencrypted(log, "source", SourcePrimary, cfg.Source.SSLMode)
		}
		log.Info("reading primary", "columns", len(src.Columns()))
		n, err := dst.stage(ctx, r.progress(src, log), cfg.Sync.OnSchemaChange)
		rep.Rows = n
		return err
	}()
	if primaryErr == nil {
		return rep.Rows, nil
	}
	if !isSourceError(primaryErr) || errors.Is(primaryErr, errSourceWrites) {
		return 0, primaryErr
	}
	if !cfg.Sync.FallbackEnabled {
		rep.Source = SourcePrimary
		return 0, fmt.Errorf("read primary: %w (fallback is disabled: [sync] fallback_enabled = false)", primaryErr)
	}
	rep.FallbackReason = primaryErr.Error()
	rep.Source = SourceFallback
	rep.Rows = 0
	log.Warn("primary failed; reading the fallback SQLite database instead", "reason", rep.FallbackReason, "path", cfg.Fallback.Path)
	dst.discard(ctx)
	src, err := openSQLiteSource(ctx, cfg.Fallback)
	if err != nil {
		return 0, fmt.Errorf("primary failed (%s), and so did the fallback: %w", rep.FallbackReason, err)
	}
	defer src.Close()
	n, err := dst.stage(ctx, r.progress(src, log), cfg.Sync.OnSchemaChange)
	if err != nil {
		if isSourceError(err) {
			return n, fmt.Errorf("primary failed (%s), and so did the fallback: %w", rep.FallbackReason, err)
		}
		return n, err
	}
	return n, nil
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
	rowReader
	log   *slog.Logger
	every time.Duration
	n     int64
	start time.Time
	last  time.Time
}

func (r *Runner) progress(src rowReader, log *slog.Logger) *progressReader {
	every := r.ProgressEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	now := time.Now()
	return &progressReader{rowReader: src, log: log, every: every, start: now, last: now}
}

func (p *progressReader) Next() bool {
	if !p.rowReader.Next() {
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

// exactTypes passes through to a source that knows its exact types.
func (p *progressReader) exactTypes(ctx context.Context) error {
	if e, ok := p.rowReader.(exactTyper); ok {
		return e.exactTypes(ctx)
	}
	return nil
}

package dbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Queued runs (docs/azure-functions.md): POST /api/sync records a run as queued and a
// queue-triggered invocation runs it under the same run_id.

// NewRunID returns a new run id, for a run to be queued.
func NewRunID() string { return newRunID() }

// Enqueue records rep as queued in cfg's target's history table (made if
// need be). The run that takes it up (RunQueued with the same RunID)
// turns the row into its own.
func (r *Runner) Enqueue(ctx context.Context, cfg *Config, rep *Report, log *slog.Logger) error {
	h, done, err := r.historyFor(ctx, cfg, true, log)
	if err != nil {
		return err
	}
	defer done()
	return h.recordQueued(ctx, rep)
}

// LookupRuns returns the runs with these ids that cfg's target's history
// table holds, in the order of ids.
func (r *Runner) LookupRuns(ctx context.Context, cfg *Config, log *slog.Logger, ids ...string) ([]Report, error) {
	h, done, err := r.historyFor(ctx, cfg, false, log)
	if err != nil {
		return nil, err
	}
	defer done()
	found := []Report{}
	if h.Db == nil {
		return found, nil
	}
	for _, id := range ids {
		rep, ok, err := h.lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			found = append(found, rep)
		}
	}
	return found, nil
}

// BusyError is a queued run's ErrBusy naming the run that held the lock
// (as the history or this process saw it then).
type BusyError struct {
	Holder string
	Err    error
}

func (e *BusyError) Error() string { return e.Err.Error() }
func (e *BusyError) Unwrap() error { return e.Err }

// holderWait bounds how long a busy queued run looks for the run that
// holds its lock among its message's other deliveries.
const holderWait = 2 * time.Second

// ErrAlreadyRunning means another delivery of a queue message is running
// its run right now (on this instance or another): this delivery did
// nothing and recorded nothing.
var ErrAlreadyRunning = errors.New("another delivery of this queue message is running it")

// RunQueued is Run for a queued run: rep.RunID names its queued row, if
// any. Its outcome is in the history table even when the run ended before
// it reached it (busy, a dry run, a failed connection), as far as the
// history table can be reached.
//
// attempts are the run_ids every delivery of the run's message may use
// (rep.RunID among them). A run that finds its tables locked by one of
// them is not busy on its own lock: it returns ErrAlreadyRunning, naming
// the run, and records nothing, so a message runs at most once at a time.
func (r *Runner) RunQueued(ctx context.Context, cfg *Config, rep *Report, log *slog.Logger, attempts ...string) error {
	if log == nil {
		log = r.Logger
	}
	ids := append(slices.Clone(attempts), rep.RunID)
	if active := r.ActiveRun(cfg); active != "" && slices.Contains(ids, active) {
		// This process runs it already: not even a busy run of its own.
		return fmt.Errorf("%w: run %s is under way", ErrAlreadyRunning, active)
	}
	err := r.Run(ctx, cfg, rep, log)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if errors.Is(err, ErrBusy) {
		// The run holding the lock records itself running right after it
		// takes the lock: give it a moment to show up before calling this
		// run busy, unless another run is known to hold it.
		for deadline := time.Now().Add(holderWait); ; time.Sleep(holderWait / 20) {
			if holder := r.runningAttempt(hctx, cfg, ids, log); holder != "" {
				return fmt.Errorf("%w: run %s is under way", ErrAlreadyRunning, holder)
			}
			if holder := r.RunningRunID(hctx, cfg); slices.Contains(ids, holder) {
				return fmt.Errorf("%w: run %s is under way", ErrAlreadyRunning, holder)
			} else if holder != "" {
				err = &BusyError{Holder: holder, Err: err}
				break
			}
			if time.Now().After(deadline) {
				break
			}
		}
	}
	h, done, herr := r.historyFor(hctx, cfg, true, log)
	if herr == nil {
		herr = h.settle(hctx, rep)
		done()
	}
	if herr != nil {
		log.Warn("could not record the run's outcome in the history table", LogRunID, rep.RunID, "error", OneLine(herr.Error()))
	}
	return err
}

// historyFor opens the history table of cfg's target; done closes what it
// opened. Reading a SQLite target that does not exist yet gives a store
// with no database (no runs).
func (r *Runner) historyFor(ctx context.Context, cfg *Config, write bool, log *slog.Logger) (h HistoryStore, done func(), err error) {
	if log == nil {
		log = r.Logger
	}
	t, err := r.openTarget(ctx, cfg, log)
	if err != nil {
		return h, nil, err
	}
	store, found, err := t.OpenHistory(ctx, write)
	if err != nil {
		t.Close()
		return h, nil, err
	}
	if !found {
		return HistoryStore{}, t.Close, nil
	}
	return store, t.Close, nil
}

// runningAttempt is the one of ids that holds cfg's tables now: this
// process's run of them, or a run the history records as running (its lock
// is held, as this run just found), or "" when neither is one of ids.
func (r *Runner) runningAttempt(ctx context.Context, cfg *Config, ids []string, log *slog.Logger) string {
	if active := r.ActiveRun(cfg); active != "" && slices.Contains(ids, active) {
		return active
	}
	runs, err := r.LookupRuns(ctx, cfg, log, ids...)
	if err != nil {
		return ""
	}
	return runningIn(runs)
}

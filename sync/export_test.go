package dbsync

import (
	"time"
)

// SetBeforeSwap lets the external tests act between verify and swap.
func SetBeforeSwap(r *Runner, f func()) { r.beforeSwap = f }

// SetSwap sets how long each attempt of r's MySQL swap waits for readers
// and how many it makes.
func SetSwap(r *Runner, wait time.Duration, tries int) { r.SwapTryWait, r.SwapTries = wait, tries }

// SetLockPing sets how often r's MySQL runs check their locks while they
// run.
func SetLockPing(r *Runner, every time.Duration) { r.lockPingEvery = every }

// testMySQL and testSQLite are the backends for this package's own tests,
// which cannot import them (they import this package): the external
// tests' TestMain sets them through SetTestBackends.
var testMySQL, testSQLite Backend

// SetTestBackends gives this package's own tests the backends.
func SetTestBackends(mysql, sqlite Backend) { testMySQL, testSQLite = mysql, sqlite }

package dbsync

import "testing"

// AllowIncremental lets t's configs use mode = incremental before the run
// carries it out (config_tables.go incrementalRuns), until t ends.
func AllowIncremental(t testing.TB) {
	old := incrementalRuns.Swap(true)
	t.Cleanup(func() { incrementalRuns.Store(old) })
}

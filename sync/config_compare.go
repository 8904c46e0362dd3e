package dbsync

// validateCompare refuses compare = checksums on a SQLite target: SQLite
// computes no checksum, so the setting could never be honoured. (A run
// that falls back to the SQLite source compares by rows whatever the
// setting, and says so: the fallback is not chosen in the config.)
func (c *Config) validateCompare() error {
	if c.Target != TargetSQLite {
		return nil
	}
	for _, t := range c.Tables {
		if t.Compare != CompareChecksums {
			continue
		}
		key := c.TableKey(t, "compare")
		return &ConfigError{Key: key, Value: t.Compare, Origin: c.Origin(key),
			Reason: "needs MySQL on both sides (each server checksums its key ranges), and this run's target is sqlite: set compare = auto or rows, or use --target azure"}
	}
	return nil
}

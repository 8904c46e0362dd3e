// Package dbtest is the one shared test environment of dbsync's packages:
// config text and the helpers that write it (and, as the packages' test
// harnesses move here, the throwaway servers and their helpers, and the
// run-level env, Env). Tests
// only: no production code imports it.
package dbtest

import (
	"os"
	"path/filepath"
	"testing"
)

// ValidConfig is a complete one-table job for either target: every
// section a run needs, nothing more. Tests merge their settings over it.
const ValidConfig = `
[sync]
default_target = sqlite

[source]
host = db.example.com
database = shop
user = reader
password = s3cret#with;chars
query = SELECT *
  FROM items   -- continued on an indented line, as configparser allows

[sqlite]
path = replica.db
table = items

[azure_mysql]
host = x.mysql.database.azure.com
database = replica
user = writer
password = pw
table = items
`

// WriteConfig writes text as config.ini in a fresh temporary folder and
// returns its path.
func WriteConfig(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.ini")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

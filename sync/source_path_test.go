package dbsync_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbsync/dbsync/internal/mariadbtest"
	"github.com/dbsync/dbsync/sync"
)

// TestSync_DryRunTakesTheRunsPath: a dry run chooses its source exactly as
// a run does. A primary that refuses connections for a moment (too many
// connections, 1040) is retried by both, and both read the primary; before,
// the dry run did not retry and counted the fallback instead.
func TestSync_DryRunTakesTheRunsPath(t *testing.T) {
	t.Parallel()
	p := ownServer(t, mariadbtest.Options{ExtraArgs: []string{"--max-connections=3"}})
	for _, dryRun := range []bool{false, true} {
		t.Run(fmt.Sprint("dry_run=", dryRun), func(t *testing.T) {
			e := newEnv(t, azure)
			e.srcDB = p.NewDatabase(t, "src")
			seedOn(t, p, e.srcDB, 20)
			seedItems(t, e.dstDBConn(), 2)
			// MariaDB keeps a connection beyond max_connections for SUPER
			// users: read as a plain user, like a real reader account.
			user := fmt.Sprintf("reader%v", dryRun)
			p.MustExec(t, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'reader-pw'", user),
				fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%%'", e.srcDB, user))
			t.Cleanup(func() { _, _ = p.Root().Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
			e.extra = fmt.Sprintf("[sync]\nfallback_enabled = true\n[source]\nport = %d\nuser = %s\npassword = reader-pw\n", p.Port, user)
			sqliteExec(t, filepath.Join(e.dir, "fallback.db"),
				"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)",
				"INSERT INTO items VALUES (100, 'from fallback', NULL)")
			p.MustExec(t, "CREATE USER IF NOT EXISTS 'hog'@'%' IDENTIFIED BY 'hog'", "GRANT USAGE ON *.* TO 'hog'@'%'")
			var hogs []*sql.DB
			for i := 0; i < 10; i++ {
				db := tcpDB(t, p, "hog", "hog")
				if err := db.Ping(); err != nil {
					break
				}
				hogs = append(hogs, db)
			}
			if len(hogs) == 0 {
				t.Fatal("could not open any connection to fill the primary")
			}
			time.AfterFunc(700*time.Millisecond, func() {
				for _, h := range hogs {
					h.Close()
				}
			})
			rep, err := e.sync(dbsync.RunOptions{DryRun: dryRun})
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if rep.Retries == 0 {
				t.Errorf("no retries counted; the test did not hit 1040")
			}
			if rep.Source != dbsync.SourcePrimary || rep.Rows != 20 {
				t.Errorf("source %q, %d rows (fallback reason %q); want the primary's 20 rows", rep.Source, rep.Rows, rep.FallbackReason)
			}
		})
	}
}

package dbsync_test

import (
	"testing"

	"github.com/dbsync/dbsync/sync"
	"github.com/dbsync/dbsync/sync/mysqldb"
)

// TestSource_Compress: [source] compress = true reaches the server as a
// compressed session (MariaDB's and MySQL's session status Compression),
// and is off by default; the key is [source]'s alone.
func TestSource_Compress(t *testing.T) {
	for _, tc := range []struct {
		extra string
		want  string
	}{
		{"", "OFF"},
		{"[source]\ncompress = true\n", "ON"},
		{"[source]\ncompress = false\n", "OFF"},
	} {
		e := newEnv(t, azure)
		e.extra = tc.extra
		cfg, err := e.config(dbsync.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		db, err := mysqldb.OpenDB(cfg.Source.MySQLConfig)
		if err != nil {
			t.Fatal(err)
		}
		var name, got string
		err = db.QueryRowContext(t.Context(), "SHOW SESSION STATUS LIKE 'Compression'").Scan(&name, &got)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%q: session Compression = %s, want %s", tc.extra, got, tc.want)
		}
	}
	e := newEnv(t, azure)
	e.extra = "[azure_mysql]\ncompress = true\n"
	if _, err := e.config(dbsync.RunOptions{}); err == nil {
		t.Error("[azure_mysql] compress was accepted; want a configuration error (it is a key of [source])")
	}
}

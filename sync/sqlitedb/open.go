package sqlitedb

import (
	"database/sql"
	"net/url"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens a SQLite file through a URI, so that any path works.
// busy_timeout lets readers and writers wait for each other instead of
// failing with SQLITE_BUSY.
func Open(path string, readOnly bool) (*sql.DB, error) {
	mode := "rwc"
	if readOnly {
		mode = "ro"
	}
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath()}
	q := url.Values{}
	q.Set("mode", mode)
	q.Add("_pragma", "busy_timeout(30000)")
	q.Set("_txlock", "immediate")
	u.RawQuery = q.Encode()
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

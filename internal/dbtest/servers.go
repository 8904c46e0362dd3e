package dbtest

import (
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/dbsync/dbsync/internal/initest"
	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// Servers are the throwaway MariaDB servers one package's tests share;
// each test makes its own databases on them.
type Servers struct {
	Primary     *mariadbtest.Server // plain, like an on-premises primary
	Azure       *mariadbtest.Server // TLS required, own CA, local_infile=ON
	AzureNoFile *mariadbtest.Server // TLS required, local_infile=OFF (MySQL 8's default); only with Want.AzureNoFile
	AzureLower  *mariadbtest.Server // TLS required, lower_case_table_names=1 (Azure's only setting); only with Want.AzureLower
}

// Want says which servers beyond Primary and Azure a package needs.
type Want struct {
	AzureNoFile, AzureLower bool
}

// Main is a package's TestMain: it starts the servers want names (at
// once), then runs ready (when not nil: the package takes the servers
// under its own names, builds what it needs) and the tests, stops the
// servers and returns the exit code. A fuzzing worker runs only a fuzz target, which
// needs no servers. The driver's log lines about connections to servers
// that tests kill on purpose are noise here.
func Main(m *testing.M, s *Servers, want Want, ready func() error) int {
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return m.Run()
	}
	type start struct {
		dst  **mariadbtest.Server
		opts mariadbtest.Options
		ch   chan error
	}
	starts := []*start{
		{dst: &s.Primary, opts: mariadbtest.Options{}},
		{dst: &s.Azure, opts: mariadbtest.Options{TLS: true, LocalInfile: true}},
	}
	if want.AzureNoFile {
		starts = append(starts, &start{dst: &s.AzureNoFile, opts: mariadbtest.Options{TLS: true}})
	}
	if want.AzureLower {
		starts = append(starts, &start{dst: &s.AzureLower, opts: mariadbtest.Options{TLS: true, LowerCaseTableNames: true}})
	}
	for _, st := range starts {
		st.ch = make(chan error, 1)
		go func() {
			var err error
			*st.dst, err = mariadbtest.Start(st.opts)
			st.ch <- err
		}()
	}
	var err error
	for _, st := range starts {
		if e := <-st.ch; e != nil && err == nil {
			err = e
		}
	}
	defer func() {
		for _, st := range starts {
			if *st.dst != nil {
				(*st.dst).Stop()
			}
		}
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start test MariaDB servers:", err)
		return 1
	}
	if ready != nil {
		if err := ready(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// DB opens a connection to one database of a server over its socket,
// closed when the test ends.
func DB(t testing.TB, s *mariadbtest.Server, db string) *sql.DB {
	t.Helper()
	d, err := s.RootDB(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// MustExec runs each statement on db, failing the test on the first error.
func MustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
	}
}

// Job is one test's job on the servers: the primary's database, the
// fallback and SQLite target files in Dir, and (when Target is set) a
// database on a TLS target, verified with its CA.
type Job struct {
	Dir      string
	Primary  *mariadbtest.Server
	SrcDB    string
	Target   *mariadbtest.Server
	TargetDB string
}

// Text is the job's config.ini with extra merged over it (initest.Merge):
// the primary → the azure target, the fallback and the SQLite target in
// Dir, every table SELECT * FROM items.
func (j Job) Text(extra string) string {
	s := "[sync]\ndefault_target = azure\n\n" + j.Primary.SourceSection(j.Primary.Port, j.SrcDB) + "query = SELECT * FROM items\n" +
		fmt.Sprintf("\n[fallback]\npath = %s\nquery = SELECT * FROM items\n\n[sqlite]\npath = %s\ntable = items\n",
			filepath.Join(j.Dir, "fallback.db"), filepath.Join(j.Dir, "replica.db"))
	if j.Target != nil {
		s += "\n" + j.Target.TargetSection(j.TargetDB) + "table = items\n"
	}
	return initest.Merge(s, extra)
}

package mysqldb_test

import (
	"os"
	"testing"

	"github.com/dbsync/dbsync/internal/dbtest"
	"github.com/dbsync/dbsync/internal/mariadbtest"
)

// servers are the throwaway MariaDB servers of this package's tests
// (internal/dbtest, the one shared test environment); each test makes its
// own databases on them.
var (
	servers     dbtest.Servers
	primary     *mariadbtest.Server // plain, like an on-premises primary
	azure       *mariadbtest.Server // TLS required, own CA, local_infile=ON
	azureNoFile *mariadbtest.Server // TLS required, local_infile=OFF (MySQL 8's default)
)

func TestMain(m *testing.M) {
	os.Exit(dbtest.Main(m, &servers, dbtest.Want{AzureNoFile: true}, func() error {
		primary, azure, azureNoFile = servers.Primary, servers.Azure, servers.AzureNoFile
		return nil
	}))
}

// The run-level tests of this package (a whole sync through the MySQL
// target) use internal/dbtest's env under the names sync's tests give it.
type env = dbtest.Env

func newEnv(t *testing.T, target *mariadbtest.Server) *env { return dbtest.NewEnv(t, primary, target) }

var (
	mustExec          = dbtest.MustExec
	seedItems         = dbtest.SeedItems
	count             = dbtest.Count
	showCreate        = dbtest.ShowCreate
	assertNoLeftovers = dbtest.AssertNoLeftovers
	ownServer         = dbtest.OwnServer
	sqliteExec        = dbtest.SQLiteExec
	sqliteCount       = dbtest.SQLiteCount
	newRunner         = dbtest.NewRunner
	testLogger        = dbtest.Logger
)

// loadPath is one of the two MySQL load paths: LOAD DATA LOCAL
// (local_infile on) and multi-row INSERTs (off).
type loadPath struct {
	name   string
	server func() *mariadbtest.Server
}

func loadPaths() []loadPath {
	return []loadPath{{"load_data", func() *mariadbtest.Server { return azure }}, {"insert", func() *mariadbtest.Server { return azureNoFile }}}
}

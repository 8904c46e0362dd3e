package mysqldb_test

import (
	"os"
	"testing"

	"github.com/dbsync/dbsync/internal/dbtest"
)

// servers are the throwaway MariaDB servers of this package's tests
// (internal/dbtest, the one shared test environment); each test makes its
// own databases on them.
var servers dbtest.Servers

func TestMain(m *testing.M) {
	os.Exit(dbtest.Main(m, &servers, dbtest.Want{}, nil))
}

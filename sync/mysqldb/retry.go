package mysqldb

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// Server errors worth another try: the server or the network is briefly
// unable, not the request wrong. See docs/guarantees.md.
var transientErrors = map[uint16]string{
	1040: "too many connections",
	1053: "server shutting down",
	1205: "lock wait timeout",
	1213: "deadlock",
	1927: "connection killed",
	2006: "server has gone away",
	2013: "lost connection during query",
}

// classify classifies the MySQL driver's own errors: a server error
// is transient when its number is one of transientErrors, a broken
// connection always; known is false for every other error, which the
// core's shared rules classify.
func classify(err error) (transient, known bool) {
	if n := errorNumber(err); n != 0 {
		_, ok := transientErrors[n]
		return ok, true
	}
	if errors.Is(err, mysql.ErrInvalidConn) {
		return true, true
	}
	return false, false
}

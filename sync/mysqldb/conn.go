package mysqldb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/go-sql-driver/mysql"

	dbsync "github.com/dbsync/dbsync/sync"
)

// passwordFunc returns the password for a new connection; auth = entra uses
// it to fetch a fresh access token per connection.
type passwordFunc func(ctx context.Context) (string, error)

// connOptions are the per-side settings that the shared connector needs.
type connOptions struct {
	params   map[string]string // session variables, SET on every new connection
	password passwordFunc      // nil: the configured password
}

// newDB opens a pool for one side (source or target). It is built from
// mysql.Config fields, never from a DSN string, so no password can end up in
// a string that gets logged.
func newDB(c dbsync.MySQLConfig, opt connOptions) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User = c.User
	cfg.Passwd = c.Password.Reveal()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	cfg.DBName = c.Database
	cfg.Timeout = c.ConnectTimeout
	cfg.ReadTimeout = c.ReadTimeout
	cfg.WriteTimeout = c.WriteTimeout
	cfg.Params = opt.params
	cfg.Logger = nopLogger{}
	if c.Compress {
		// go-sql-driver's zlib compression (since v1.9); MySQL 8 and
		// MariaDB both accept it from any client that asks.
		if err := cfg.Apply(mysql.EnableCompression(true)); err != nil {
			return nil, err
		}
	}
	if err := applySSLMode(cfg, c); err != nil {
		return nil, err
	}
	if opt.password != nil {
		// Only ever over verified TLS: Validate refuses auth = entra below
		// verify_ca, so the token never crosses the network in clear.
		cfg.AllowCleartextPasswords = true
		if err := cfg.Apply(mysql.BeforeConnect(func(ctx context.Context, cfg *mysql.Config) error {
			p, err := opt.password(ctx)
			if err != nil {
				return err
			}
			cfg.Passwd = p
			return nil
		})); err != nil {
			return nil, err
		}
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector), nil
}

// nopLogger silences the driver's own log lines ("[mysql] … unexpected EOF");
// the error is returned to us and logged once, with context, at the boundary.
type nopLogger struct{}

func (nopLogger) Print(...any) {}

// applySSLMode maps ssl_mode onto the driver's TLS settings with the MySQL
// client's meanings.
func applySSLMode(cfg *mysql.Config, c dbsync.MySQLConfig) error {
	switch c.SSLMode {
	case dbsync.SSLDisabled:
		cfg.TLSConfig = "false"
		return nil
	case dbsync.SSLPreferred:
		cfg.TLSConfig = "preferred"
		return nil
	case dbsync.SSLRequired:
		cfg.TLS = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
		return nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if c.SSLCA != "" {
		pem, err := os.ReadFile(c.SSLCA)
		if err != nil {
			return fmt.Errorf("read ssl_ca: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ssl_ca %s holds no PEM certificate", c.SSLCA)
		}
	}
	switch c.SSLMode {
	case dbsync.SSLVerifyIdentity:
		cfg.TLS = &tls.Config{RootCAs: roots, ServerName: c.Host, MinVersion: tls.VersionTLS12}
	case dbsync.SSLVerifyCA:
		// Verify the chain but not the host name, like the MySQL client's
		// VERIFY_CA: Go has no switch for that, so verify by hand.
		cfg.TLS = &tls.Config{
			InsecureSkipVerify: true,
			MinVersion:         tls.VersionTLS12,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("server sent no certificate")
				}
				inter := x509.NewCertPool()
				for _, cert := range cs.PeerCertificates[1:] {
					inter.AddCert(cert)
				}
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
				return err
			},
		}
	default:
		return fmt.Errorf("unknown ssl_mode %q", c.SSLMode)
	}
	return nil
}

// errorNumber returns the server error number, or 0.
func errorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// explainConnectError adds what to do to the errors an operator meets
// first: wrong credentials, TLS required, certificate mismatch, no such
// database.
func explainConnectError(section string, c dbsync.MySQLConfig, err error) error {
	var hint string
	switch n := errorNumber(err); n {
	case 1045:
		hint = fmt.Sprintf("check [%s] user and password", section)
		if c.SSLMode == dbsync.SSLDisabled || c.SSLMode == dbsync.SSLPreferred {
			hint += fmt.Sprintf("; if the server requires TLS (Azure does), set [%s] ssl_mode = verify_identity", section)
		}
	case 3159:
		hint = fmt.Sprintf("the server requires TLS: set [%s] ssl_mode = verify_identity", section)
	case 1049:
		hint = fmt.Sprintf("no such database: check [%s] database, or create it", section)
	case 1044:
		hint = fmt.Sprintf("the user may not use this database: GRANT it to [%s] user", section)
	}
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &hostErr):
		hint = fmt.Sprintf("[%s] host must be a name the server's certificate lists (ssl_mode = verify_identity)", section)
	case errors.As(err, &authErr):
		hint = fmt.Sprintf("the server's certificate is not signed by a trusted CA: set [%s] ssl_ca to its CA bundle", section)
	case errors.As(err, &invalid):
		hint = fmt.Sprintf("the server's certificate is not valid: check [%s] ssl_ca and the server's certificate", section)
	}
	if hint == "" {
		return err
	}
	return fmt.Errorf("%w (%s)", err, hint)
}

// rowQueryer is a pool or one connection of it.
type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// unencrypted reports whether a session runs without TLS. With ssl_mode =
// preferred the driver quietly goes on in plaintext when the server offers
// no TLS, so only the server can tell; the verifying modes and required
// never run without TLS.
func unencrypted(ctx context.Context, q rowQueryer, mode dbsync.SSLMode) (bool, error) {
	switch mode {
	case dbsync.SSLDisabled:
		return true, nil
	case dbsync.SSLPreferred:
		var name, cipher string
		if err := q.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
			return false, err
		}
		return cipher == "", nil
	}
	return false, nil
}

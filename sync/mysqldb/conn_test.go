package mysqldb

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	dbsync "github.com/dbsync/dbsync/sync"
)

// TestMySQLConn_ExplainConnectError: the first errors an operator meets
// say what to set, in the section at fault; any other error is returned
// as it is, and the cause stays reachable.
func TestMySQLConn_ExplainConnectError(t *testing.T) {
	cases := []struct {
		name string
		mode dbsync.SSLMode
		err  error
		want string // "" = unchanged
	}{
		{"wrong password, TLS verified", dbsync.SSLVerifyIdentity, &mysql.MySQLError{Number: 1045}, "check [azure_mysql] user and password)"},
		{"wrong password, TLS off", dbsync.SSLDisabled, &mysql.MySQLError{Number: 1045}, "if the server requires TLS (Azure does), set [azure_mysql] ssl_mode = verify_identity"},
		{"TLS required", dbsync.SSLDisabled, fmt.Errorf("connect: %w", &mysql.MySQLError{Number: 3159}), "the server requires TLS: set [azure_mysql] ssl_mode = verify_identity"},
		{"no such database", dbsync.SSLVerifyIdentity, &mysql.MySQLError{Number: 1049}, "check [azure_mysql] database, or create it"},
		{"no grant", dbsync.SSLVerifyIdentity, &mysql.MySQLError{Number: 1044}, "GRANT it to [azure_mysql] user"},
		{"certificate for another host", dbsync.SSLVerifyIdentity, x509.HostnameError{Certificate: &x509.Certificate{}, Host: "10.0.0.1"}, "[azure_mysql] host must be a name the server's certificate lists"},
		{"unknown CA", dbsync.SSLVerifyIdentity, x509.UnknownAuthorityError{}, "set [azure_mysql] ssl_ca to its CA bundle"},
		{"anything else", dbsync.SSLVerifyIdentity, errors.New("i/o timeout"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := explainConnectError("azure_mysql", dbsync.MySQLConfig{SSLMode: tc.mode}, tc.err)
			if !errors.Is(got, tc.err) && got != tc.err {
				t.Errorf("the cause is lost: %v", got)
			}
			if tc.want == "" {
				if got != tc.err {
					t.Errorf("got %v, want the error unchanged", got)
				}
				return
			}
			if !strings.Contains(got.Error(), tc.want) {
				t.Errorf("got %q, want it to say %q", got, tc.want)
			}
		})
	}
}

// TestMySQLConn_SSLMode: each ssl_mode sets the driver's TLS as its name
// says; a CA file that is missing or holds no certificate is refused.
func TestMySQLConn_SSLMode(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		c       dbsync.MySQLConfig
		check   func(*mysql.Config) bool
		wantErr string
	}{
		{dbsync.MySQLConfig{SSLMode: dbsync.SSLDisabled}, func(m *mysql.Config) bool { return m.TLSConfig == "false" && m.TLS == nil }, ""},
		{dbsync.MySQLConfig{SSLMode: dbsync.SSLPreferred}, func(m *mysql.Config) bool { return m.TLSConfig == "preferred" }, ""},
		{dbsync.MySQLConfig{SSLMode: dbsync.SSLRequired}, func(m *mysql.Config) bool { return m.TLS != nil && m.TLS.InsecureSkipVerify }, ""},
		{dbsync.MySQLConfig{SSLMode: dbsync.SSLVerifyIdentity, Host: "db.example.com"}, func(m *mysql.Config) bool {
			return m.TLS != nil && !m.TLS.InsecureSkipVerify && m.TLS.ServerName == "db.example.com"
		}, ""},
		{dbsync.MySQLConfig{SSLMode: dbsync.SSLVerifyCA}, func(m *mysql.Config) bool { return m.TLS != nil && m.TLS.VerifyConnection != nil }, ""},
		{dbsync.MySQLConfig{SSLMode: dbsync.SSLVerifyIdentity, SSLCA: filepath.Join(dir, "missing.pem")}, nil, "read ssl_ca"},
		{dbsync.MySQLConfig{SSLMode: dbsync.SSLVerifyIdentity, SSLCA: notPEM}, nil, "holds no PEM certificate"},
		{dbsync.MySQLConfig{SSLMode: "sometimes"}, nil, `unknown ssl_mode "sometimes"`},
	}
	for _, tc := range cases {
		t.Run(string(tc.c.SSLMode)+tc.wantErr, func(t *testing.T) {
			cfg := mysql.NewConfig()
			err := applySSLMode(cfg, tc.c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(cfg) {
				t.Errorf("ssl_mode %s: err %v, TLSConfig %q, TLS %+v", tc.c.SSLMode, err, cfg.TLSConfig, cfg.TLS)
			}
		})
	}
}

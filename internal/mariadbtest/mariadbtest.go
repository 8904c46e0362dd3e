// Package mariadbtest starts throwaway MariaDB servers for tests and
// benchmarks: a fresh datadir from mariadb-install-db, mariadbd on a free
// loopback port, optionally TLS-only with a CA made for the test. Nothing
// depends on a service already running on the machine.
package mariadbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Options shape a server.
type Options struct {
	// TLS makes the server require TLS (require_secure_transport=ON) with a
	// certificate for "localhost" signed by a CA made for this server.
	TLS bool
	// LocalInfile sets local_infile (LOAD DATA LOCAL allowed).
	LocalInfile bool
	// LowerCaseTableNames sets lower_case_table_names = 1, as Azure
	// Database for MySQL runs: table names are stored in lower case and
	// compared case-insensitively. It is set from the datadir's creation.
	LowerCaseTableNames bool
	// ExtraArgs are appended to mariadbd's command line.
	ExtraArgs []string
}

// Server is one running mariadbd.
type Server struct {
	Dir    string // temp dir holding datadir, socket, logs, certs
	Port   int
	Socket string
	CA     string // PEM file of the test CA (TLS servers only)
	// User and Password are a test account with all privileges that can log
	// in over TCP from 127.0.0.1 / localhost.
	User, Password string

	opts    Options
	cmd     *exec.Cmd
	exited  chan struct{}
	root    *sql.DB
	counter atomic.Int64
}

// FindBinary looks a MariaDB program up on PATH, then in /usr/sbin and
// /usr/bin (mariadbd lives in /usr/sbin, often not on a user's PATH).
func FindBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/sbin: install MariaDB (apt-get install mariadb-server), or run `make test`, which installs it", name)
}

// Start creates and starts a server. Stop it with Stop.
func Start(opts Options) (*Server, error) {
	installDB, err := FindBinary("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	if _, err := FindBinary("mariadbd"); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dbsync-mariadb-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Socket: filepath.Join(dir, "mysqld.sock"), opts: opts}
	// Each server gets its own tmpdir: installs running side by side in
	// one /tmp collide on their temporary table files.
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--tmpdir=" + filepath.Join(dir, "tmp"),
		"--auth-root-authentication-method=normal", "--skip-test-db"}
	if opts.LowerCaseTableNames {
		args = append(args, "--lower-case-table-names=1")
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	out, err := exec.Command(installDB, args...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	if opts.TLS {
		if err := writeTestPKI(dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("make test CA: %w", err)
		}
		s.CA = filepath.Join(dir, "ca.pem")
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if lastErr = s.start(0); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		os.RemoveAll(dir)
		return nil, lastErr
	}
	if err := s.bootstrap(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs mariadbd on port (0: a free one) and waits until it accepts
// connections.
func (s *Server) start(port int) error {
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		port = p
	}
	s.Port = port
	mariadbd, _ := FindBinary("mariadbd")
	local := "OFF"
	if s.opts.LocalInfile {
		local = "ON"
	}
	args := []string{"--no-defaults",
		"--datadir=" + filepath.Join(s.Dir, "data"),
		"--socket=" + s.Socket,
		"--tmpdir=" + filepath.Join(s.Dir, "tmp"),
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(s.Dir, "mysqld.pid"),
		"--log-error=" + filepath.Join(s.Dir, "error.log"),
		"--skip-name-resolve",
		"--skip-log-bin",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		"--innodb-buffer-pool-size=256M",
		"--innodb-log-file-size=256M",
		"--innodb-flush-log-at-trx-commit=2",
		"--max-connections=300",
		"--max-allowed-packet=64M",
		"--local-infile=" + local,
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if s.opts.LowerCaseTableNames {
		args = append(args, "--lower-case-table-names=1")
	}
	if s.opts.TLS {
		args = append(args,
			"--ssl-ca="+filepath.Join(s.Dir, "ca.pem"),
			"--ssl-cert="+filepath.Join(s.Dir, "server.pem"),
			"--ssl-key="+filepath.Join(s.Dir, "server-key.pem"),
			"--require-secure-transport=ON")
	}
	args = append(args, s.opts.ExtraArgs...)
	_ = os.Remove(s.Socket)
	cmd := exec.Command(mariadbd, args...)
	// If the test process dies, the server dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mariadbd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
			return fmt.Errorf("mariadbd exited during start-up:\n%s", tail(string(log), 2000))
		default:
		}
		if c, err := net.Dial("unix", s.Socket); err == nil {
			c.Close()
			if c, err := net.Dial("tcp", s.Addr()); err == nil {
				c.Close()
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return errors.New("mariadbd did not accept connections within 60 s")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Addr is host:port for TCP clients.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// bootstrap creates the test account.
func (s *Server) bootstrap() error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", s.Socket
	cfg.MultiStatements = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	s.root = sql.OpenDB(conn)
	s.User = "dbsync_test"
	s.Password = "pw-" + randomHex(8)
	_, err = s.root.Exec(fmt.Sprintf(
		"CREATE USER '%[1]s'@'%%' IDENTIFIED BY '%[2]s'; GRANT ALL ON *.* TO '%[1]s'@'%%' WITH GRANT OPTION;"+
			"CREATE USER '%[1]s'@'localhost' IDENTIFIED BY '%[2]s'; GRANT ALL ON *.* TO '%[1]s'@'localhost' WITH GRANT OPTION;",
		s.User, s.Password))
	if err != nil {
		return fmt.Errorf("create test user: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RootDB opens a root pool over the unix socket with database db selected
// and the session in UTC, as dbsync's own sessions are. Close it when done.
func (s *Server) RootDB(db string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "unix", s.Socket, db
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// Root is a root connection over the unix socket (no TLS needed).
func (s *Server) Root() *sql.DB { return s.root }

// NewDatabase creates a database with a unique name and returns the name.
func (s *Server) NewDatabase(tb testing.TB, prefix string) string {
	tb.Helper()
	name := fmt.Sprintf("%s_%d_%s", prefix, s.counter.Add(1), randomHex(3))
	s.MustExec(tb, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4")
	tb.Cleanup(func() { _, _ = s.root.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	return name
}

// MustExec runs statements as root and fails the test on error.
func (s *Server) MustExec(tb testing.TB, stmts ...string) {
	tb.Helper()
	for _, q := range stmts {
		if _, err := s.root.Exec(q); err != nil {
			tb.Fatalf("exec %q: %v", short(q), err)
		}
	}
}

func short(q string) string {
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
}

// Signal sends sig to the server (SIGSTOP freezes it, SIGCONT thaws it).
func (s *Server) Signal(sig syscall.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return errors.New("server not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Restart starts the server again on the same port and datadir after Kill.
func (s *Server) Restart() error {
	if err := s.start(s.Port); err != nil {
		return err
	}
	return s.root.PingContext(context.Background())
}

// Stop kills the server and removes its files.
func (s *Server) Stop() {
	if s.root != nil {
		s.root.Close()
	}
	s.Kill()
	if os.Getenv("DBSYNC_TEST_KEEP") == "" {
		os.RemoveAll(s.Dir)
	}
}

// ErrorLog returns the server's error log, for failure messages.
func (s *Server) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	return string(b)
}

// Join quotes identifiers for test SQL.
func Join(names ...string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + strings.ReplaceAll(n, "`", "``") + "`"
	}
	return strings.Join(q, ".")
}

// SourceSection is the [source] section of a dbsync config that reads
// database on this server as its test account, through port (the
// server's own, or a proxy's in front of it), without TLS: the primary
// of the tests and of the bench. Callers merge more keys in
// (initest.Merge) or append them.
func (s *Server) SourceSection(port int, database string) string {
	return fmt.Sprintf("[source]\nhost = 127.0.0.1\nport = %d\ndatabase = %s\nuser = %s\npassword = %s\nssl_mode = disabled\n",
		port, database, s.User, s.Password)
}

// TargetSection is the [azure_mysql] section of a dbsync config that
// writes database on this TLS server as its test account. The host is
// localhost, the name its certificate carries, and ssl_ca its CA, so the
// run verifies the server as it would Azure's.
func (s *Server) TargetSection(database string) string {
	return fmt.Sprintf("[azure_mysql]\nhost = localhost\nport = %d\ndatabase = %s\nuser = %s\npassword = %s\nssl_ca = %s\n",
		s.Port, database, s.User, s.Password, s.CA)
}

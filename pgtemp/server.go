// Package pgtemp runs a throwaway PostgreSQL server from the installed
// binaries, for tests and for `guildhall dev`.
//
// Start initialises a fresh cluster in a temporary directory (trust
// authentication, no fsync, small buffers), runs postgres on a free TCP port
// of 127.0.0.1 with its unix socket inside that directory, and waits until it
// accepts connections. Stop shuts it down fast and removes the directory.
// When the process runs as root (PostgreSQL refuses to), the server runs as
// the unprivileged "postgres" user, or "nobody" when there is none.
//
// # Tests
//
// Tests share one server per test binary and get a fresh database each,
// through package pgtemptest (this package does not import testing, since
// `guildhall dev` links it). A package keeps its Cluster in a variable of
// its own test files (pgtemp has no package-level state):
//
//	var pg *pgtemptest.Cluster
//
//	func TestMain(m *testing.M) {
//		pg = pgtemptest.NewCluster(pgtemptest.Options{})
//		code := pg.Run(m) // runs the tests, then stops the server
//		if code == 0 {
//			if err := goleak.Find(); err != nil { // when the package uses goleak
//				fmt.Fprintln(os.Stderr, err)
//				code = 1
//			}
//		}
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		url := pg.URL(t) // a new, empty database, dropped when t ends
//		...
//	}
//
// When DATABASE_URL is set, Cluster uses that server instead of starting one:
// each URL call creates a uniquely named database on it and drops it in
// t.Cleanup. Otherwise the server is started lazily by the first URL call, so
// tests that need no database cost nothing. Without DATABASE_URL and without
// PostgreSQL binaries, URL fails the test with an error that says what to
// install; it never skips silently.
package pgtemp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned (wrapped) by Start when the PostgreSQL server
// binaries (initdb and postgres) cannot be found.
var ErrNoBinaries = errors.New("pgtemp: PostgreSQL server binaries (initdb, postgres) not found: " +
	"install them (Debian/Ubuntu: apt-get install postgresql), set PG_BIN to their directory, " +
	"or set DATABASE_URL to an existing server")

// ErrInvalidName is returned (wrapped) for a database name that is not a
// plain lower-case identifier of at most 63 bytes.
var ErrInvalidName = errors.New("pgtemp: invalid database name")

const (
	defaultStartTimeout = 60 * time.Second
	stopTimeout         = 15 * time.Second
	superuser           = "postgres"
	logTailBytes        = 2048
	maxPortAttempts     = 5
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// BinDir is the directory holding initdb and postgres. Empty: $PG_BIN,
	// else the newest /usr/lib/postgresql/*/bin, else PATH.
	BinDir string
	// StartTimeout bounds initdb plus the wait for readiness (default 60s).
	StartTimeout time.Duration
	// Logger receives start and stop events; nil discards them.
	Logger *slog.Logger
}

// Server is a running throwaway PostgreSQL. Its methods are safe for
// concurrent use.
type Server struct {
	dir     string
	dataDir string
	logPath string
	port    int
	log     *slog.Logger

	cmd  *exec.Cmd
	done chan struct{} // closed when the postgres process has exited

	stopOnce sync.Once
	stopErr  error
}

// Start initialises a new cluster in a temporary directory and starts
// postgres on 127.0.0.1. It returns once the server accepts connections, or
// an error that includes the tail of the server log. ctx bounds the start
// only; the server runs until Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	bin, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "pgtemp-")
	if err != nil {
		return nil, fmt.Errorf("pgtemp: create temp dir: %w", err)
	}
	s := &Server{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "postgres.log"),
		log:     log,
	}
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtemp: chown %s: %w", dir, err))
		}
	}

	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", s.dataDir, "-U", superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	s.prepare(initdb, cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtemp: initdb: %w\n%s", err, tail(out)))
	}

	for attempt := 1; ; attempt++ {
		err := s.startPostgres(ctx, bin, cred)
		if err == nil {
			break
		}
		if attempt < maxPortAttempts && errors.Is(err, errPortInUse) && ctx.Err() == nil {
			log.Debug("pgtemp: port taken, retrying", "port", s.port)
			continue
		}
		return fail(err)
	}
	log.Info("pgtemp: postgres started", "dir", dir, "port", s.port, "bin", bin)
	return s, nil
}

// errPortInUse: postgres could not bind its port (another process took it
// between freePort and the bind); Start retries with another port.
var errPortInUse = errors.New("pgtemp: port in use")

// validName reports whether name is [a-z_][a-z0-9_]{0,62}.
func validName(name string) bool {
	if name == "" || len(name) > 63 || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// startPostgres starts postgres on a fresh free port and waits for it.
func (s *Server) startPostgres(ctx context.Context, bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtemp: open log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", s.dataDir,
		"-h", "127.0.0.1",
		"-p", strconv.Itoa(port),
		"-k", s.dir,
		"-F",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=200",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "listen_addresses=127.0.0.1",
	)
	s.prepare(cmd, cred)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtemp: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	if err := s.waitReady(ctx); err != nil {
		s.kill()
		logTail := s.logTail()
		if strings.Contains(logTail, "could not bind") || strings.Contains(logTail, "already in use") {
			return fmt.Errorf("%w: %d: %w\n%s", errPortInUse, port, err, logTail)
		}
		return fmt.Errorf("pgtemp: postgres not ready: %w\nserver log (%s):\n%s", err, s.logPath, logTail)
	}
	return nil
}

// waitReady connects with a bounded retry until the server answers, the
// process exits, or ctx ends.
func (s *Server) waitReady(ctx context.Context) error {
	delay := 10 * time.Millisecond
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.URL())
		cancel()
		if err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(context.Background())
			if err == nil {
				return nil
			}
		}
		lastErr = err
		t := time.NewTimer(delay)
		select {
		case <-s.done:
			t.Stop()
			return fmt.Errorf("postgres exited: %w", lastErr)
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last: %w)", ctx.Err(), lastErr)
		case <-t.C:
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// prepare sets the working directory, environment and credentials of a
// child process.
func (s *Server) prepare(cmd *exec.Cmd, cred *syscall.Credential) {
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "LANG=C", "TZ=UTC", "HOME=" + s.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		Setpgid:    true, // a terminal ^C goes to us, and we stop postgres
		Pdeathsig:  syscall.SIGQUIT,
	}
}

// kill stops the process immediately and waits for it.
func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// URL returns a postgres:// URL of the database "postgres" as the
// superuser.
func (s *Server) URL() string {
	return s.urlFor("postgres")
}

func (s *Server) urlFor(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// LogPath returns the path of the server log file (removed by Stop).
func (s *Server) LogPath() string { return s.logPath }

// CreateDatabase creates an empty database and returns its URL. name must
// be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 bytes).
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := createDatabase(ctx, s.URL(), name); err != nil {
		return "", err
	}
	return s.urlFor(name), nil
}

// DropDatabase drops a database, closing its connections first. Dropping a
// database that does not exist is not an error.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	return dropDatabase(ctx, s.URL(), name)
}

// Stop shuts the server down (fast shutdown: open transactions are rolled
// back and clients disconnected), waits for it to exit and removes its
// directory. It is idempotent: later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			t := time.NewTimer(stopTimeout)
			select {
			case <-s.done:
				t.Stop()
			case <-t.C:
				s.log.Warn("pgtemp: postgres did not stop in time, killing", "port", s.port)
				s.kill()
			}
		}
		if err := os.RemoveAll(s.dir); err != nil {
			s.stopErr = fmt.Errorf("pgtemp: remove %s: %w", s.dir, err)
		}
		s.log.Info("pgtemp: postgres stopped", "port", s.port)
	})
	return s.stopErr
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return tail(b)
}

func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
	}
	return string(b)
}

// findBinaries returns the directory holding initdb and postgres.
func findBinaries(binDir string) (string, error) {
	var tried []string
	has := func(dir string) bool {
		if dir == "" {
			return false
		}
		tried = append(tried, dir)
		for _, name := range []string{"initdb", "postgres"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if binDir != "" {
		if has(binDir) {
			return binDir, nil
		}
		return "", fmt.Errorf("%w (Options.BinDir %s lacks them)", ErrNoBinaries, binDir)
	}
	if d := os.Getenv("PG_BIN"); d != "" {
		if has(d) {
			return d, nil
		}
		return "", fmt.Errorf("%w (PG_BIN=%s lacks them)", ErrNoBinaries, d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); has(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w (looked in %s and PATH)", ErrNoBinaries, strings.Join(append(tried, "/usr/lib/postgresql/*/bin"), ", "))
}

// pgVersion extracts the major version from /usr/lib/postgresql/<v>/bin.
func pgVersion(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// runAs returns the credentials to run PostgreSQL with: nil unless running
// as root, else those of the "postgres" user, or "nobody".
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("pgtemp: running as root, and no unprivileged user (postgres, nobody) to run PostgreSQL as")
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtemp: find free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pgtemp: find free port: %w", err)
	}
	return port, nil
}

func createDatabase(ctx context.Context, adminURL, name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return withConn(ctx, adminURL, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("pgtemp: create database %s: %w", name, err)
		}
		return nil
	})
}

func dropDatabase(ctx context.Context, adminURL, name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return withConn(ctx, adminURL, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("pgtemp: drop database %s: %w", name, err)
		}
		return nil
	})
}

func withConn(ctx context.Context, u string, f func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return fmt.Errorf("pgtemp: connect: %w", err)
	}
	defer conn.Close(context.Background())
	return f(conn)
}

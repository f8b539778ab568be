// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb in
// a temporary directory, a postmaster on a free loopback port, stopped and
// removed when the test ends. Tests that compare Tally with PostgreSQL call
// Start; when PostgreSQL is not installed they are skipped, unless
// TALLY_REQUIRE_POSTGRES=1 (set by .ci/run), in which case they fail.
//
// As root, PostgreSQL refuses to run, so the cluster is created and run as
// the "postgres" system user.
//
// pgtest is imported only by tests.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running throwaway cluster.
type Server struct {
	// URL is a libpq/pgx connection URL for database "postgres" as the
	// superuser "tally".
	URL  string
	Port int
	Dir  string

	bin  string
	opts string
	cred *syscall.Credential
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Shared returns one cluster per test binary, started on first use and
// stopped by Stop in TestMain (or left for the OS to reap otherwise: the
// data directory lives under the system temp dir).
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = startCluster(false, "")
	})
	if sharedErr != nil {
		skipOrFail(t, sharedErr)
	}
	return shared
}

// StopShared stops the cluster started by Shared, if any. Call it from
// TestMain after m.Run.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Start starts a cluster owned by this test and stops it in t.Cleanup.
// Like Shared, it runs without fsync: fast, and durable enough for tests.
func Start(t testing.TB) *Server {
	t.Helper()
	return startT(t, false)
}

// StartDurable is Start with PostgreSQL's default durability (fsync and
// synchronous commit on), for benchmarks whose figures must mean
// "committed to disk".
func StartDurable(t testing.TB) *Server {
	t.Helper()
	return startT(t, true)
}

func startT(t testing.TB, durable bool) *Server {
	t.Helper()
	s, err := startCluster(durable, "")
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("TALLY_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("PostgreSQL is required (TALLY_REQUIRE_POSTGRES=1) but could not be started: %v", err)
	}
	t.Skipf("PostgreSQL not available: %v", err)
}

// binDir finds the directory holding initdb, pg_ctl and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", errors.New("pg_ctl not found in PATH or /usr/lib/postgresql/*/bin (install the postgresql package)")
	}
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func versionOf(path string) int {
	parts := strings.Split(path, "/")
	for _, p := range parts {
		if v, err := strconv.Atoi(p); err == nil {
			return v
		}
	}
	return 0
}

var databases atomic.Int64

// NewDatabase creates an empty database in the Shared cluster for t,
// named after the test (and made unique), and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	srv := Shared(t)
	name := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()))
	name = fmt.Sprintf("%.40s_%d", name, databases.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(srv.URL, "/postgres?", "/"+name+"?", 1)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startCluster runs initdb and starts a postmaster; extra is appended to
// its options (-c name=value ...).
func startCluster(durable bool, extra string) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tally-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres system user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run(filepath.Join(bin, "initdb"), "-D", data, "-U", "tally", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		s.Port = port
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=128MB", port, dir)
		if !durable {
			opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		}
		opts += extra
		s.opts = opts
		out, err := s.run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start")
		if err == nil {
			s.URL = fmt.Sprintf("postgres://tally@127.0.0.1:%d/postgres?sslmode=disable", port)
			return s, nil
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		if !strings.Contains(string(log), "in use") {
			return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
		}
	}
	return nil, errors.New("pg_ctl start: no free port after 5 attempts")
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.Dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd.CombinedOutput()
}

// Stop stops the cluster immediately and removes its directory.
func (s *Server) Stop() {
	s.run(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.Dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.Dir)
}

// Pause stops the postmaster (fast shutdown) without removing its data, so
// Resume can start it again on the same port: used to test how Tally
// behaves while its database is away.
func (s *Server) Pause() error {
	out, err := s.run(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.Dir, "data"), "-m", "fast", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

// Resume starts a paused cluster again.
func (s *Server) Resume() error {
	out, err := s.run(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.Dir, "data"), "-l", filepath.Join(s.Dir, "log"), "-o", s.opts, "-w", "-t", "60", "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

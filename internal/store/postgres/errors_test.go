package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/session"
)

// class is what a caller can tell of an error.
type class int

const (
	permanent class = iota
	temporary
	unreachable
)

func (c class) String() string { return [...]string{"permanent", "temporary", "unreachable"}[c] }

func classOf(err error) class {
	switch {
	case errors.Is(err, session.ErrUnavailable):
		return unreachable
	case errors.Is(err, session.ErrTemporary):
		return temporary
	}
	return permanent
}

// TestClassifyBySQLState covers every class of SQLSTATE the write path
// may meet; the tests below provoke most of them for real.
func TestClassifyBySQLState(t *testing.T) {
	cases := []struct {
		code string
		want class
	}{
		{"08006", unreachable}, {"08001", unreachable}, {"57P01", unreachable}, {"57P02", unreachable}, {"57P03", unreachable},
		{"57P04", temporary}, {"57P05", temporary}, {"57014", temporary}, {"55P03", temporary},
		{"40001", temporary}, {"40P01", temporary}, {"40003", temporary},
		{"53100", temporary}, {"53200", temporary}, {"53300", temporary}, {"53400", temporary},
		{"0A000", permanent}, {"22P02", permanent}, {"22021", permanent}, {"22008", permanent},
		{"23505", permanent}, {"23514", permanent}, {"42501", permanent}, {"42P01", permanent}, {"42703", permanent},
		{"XX000", permanent}, {"25P02", permanent}, {"3D000", permanent}, {"28P01", permanent}, {"55000", permanent},
	}
	for _, c := range cases {
		err := classify(context.Background(), "op", fmt.Errorf("x: %w", &pgconn.PgError{Code: c.code, Message: "m"}))
		if got := classOf(err); got != c.want {
			t.Errorf("SQLSTATE %s: %s (%v), want %s", c.code, got, err, c.want)
		}
	}
	if got := classOf(classify(context.Background(), "op", errors.New("read tcp: connection reset by peer"))); got != unreachable {
		t.Errorf("a broken connection: %s", got)
	}
	if got := classOf(classify(context.Background(), "op", pgx.ScanArgError{ColumnIndex: 1, Err: errors.New("bad")})); got != permanent {
		t.Errorf("a scan error (Tally's bug): %s", got)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	err := classify(canceled, "op", &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"})
	if classOf(err) != permanent || !errors.Is(err, context.Canceled) {
		t.Errorf("the caller's own cancel: %v is %s", err, classOf(err))
	}
	if err := classify(context.Background(), "op", context.DeadlineExceeded); classOf(err) != temporary || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a deadline: %v is %s", err, classOf(err))
	}
}

// openStore opens a Store for the test.
func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func exec(t *testing.T, url string, sql ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range sql {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// dbName is the database of a pgtest URL.
func dbName(url string) string {
	return url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
}

// TestPermanentErrorsAreNotTemporary provokes errors that will not pass
// by themselves on a real PostgreSQL: a CHECK constraint, a revoked
// privilege, values PostgreSQL refuses. None may be answered "retry
// later", and a refused value is named.
func TestPermanentErrorsAreNotTemporary(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	// The store's role owns the schema, so that a privilege can be taken
	// from it; the superuser stays for the test's own statements.
	exec(t, url, `CREATE ROLE tally_writer_`+dbName(url)+` LOGIN`, `GRANT CREATE ON DATABASE "`+dbName(url)+`" TO tally_writer_`+dbName(url))
	s := openStore(t, Config{URL: strings.Replace(url, "tally@", "tally_writer_"+dbName(url)+"@", 1)})
	good := rec("good", 1, true, false)
	if _, _, err := s.Ingest(ctx, []session.Record{good}); err != nil {
		t.Fatal(err)
	}
	check := func(name string, err error, code string) {
		t.Helper()
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != code {
			t.Fatalf("%s: %v, want SQLSTATE %s", name, err, code)
		}
		if classOf(err) != permanent {
			t.Errorf("%s: %v is %s, want permanent", name, err, classOf(err))
		}
	}

	exec(t, url, `ALTER TABLE tally.sessions ADD CONSTRAINT no_forbidden CHECK (channel IS DISTINCT FROM 'forbidden')`)
	bad := rec("bad", 1, true, false)
	bad.Channel = session.NullString{String: "forbidden", Valid: true}
	_, _, err := s.Ingest(ctx, []session.Record{rec("other", 1, true, false), bad})
	check("a CHECK constraint", err, "23514")
	// ... on a stored session too.
	bad.SessionID = "good"
	bad.UpdatedMicros = 2
	_, _, err = s.Ingest(ctx, []session.Record{bad})
	check("a CHECK constraint on update", err, "23514")
	exec(t, url, `ALTER TABLE tally.sessions DROP CONSTRAINT no_forbidden`)

	nul := rec("nul", 1, true, false)
	nul.Channel = session.NullString{String: "a\x00b", Valid: true}
	_, _, err = s.Ingest(ctx, []session.Record{nul})
	check("a NUL in a text value", err, "22021")
	var de *DataError
	if !errors.As(err, &de) || de.Column != "channel" || de.Account != nul.AccountID.String() ||
		!strings.Contains(err.Error(), "column channel") || !strings.Contains(err.Error(), nul.AccountID.String()) {
		t.Errorf("a refused value should name its column and account: %v", err)
	}
	nul.Channel = session.NullString{}
	nul.AgentIDs = []string{"x\x00"}
	_, _, err = s.Ingest(ctx, []session.Record{nul})
	check("a NUL in an agent id", err, "22021")
	if !errors.As(err, &de) || de.Column != "agent_ids" {
		t.Errorf("a refused agent id should name agent_ids: %v", err)
	}

	exec(t, url, `REVOKE INSERT ON tally.sessions FROM tally_writer_`+dbName(url))
	_, _, err = s.Ingest(ctx, []session.Record{rec("new", 1, true, false)})
	check("a revoked privilege", err, "42501")

	var n int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM tally.sessions`).Scan(&n)
	if n != 1 {
		t.Errorf("%d sessions stored, want only the first: failed batches must write nothing", n)
	}
}

// waitForLockWait waits until a backend of conn's database waits for a
// lock while running a statement that starts with prefix, and returns its
// pid.
func waitForLockWait(conn *pgx.Conn, prefix string) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pid int
		err := conn.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1 || '%' AND pid <> pg_backend_pid()`, prefix).Scan(&pid)
		if err == nil {
			return pid, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no backend waits for a lock in %q: %w", prefix, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdRow starts a transaction on a new connection that locks a stored
// session, and returns both.
func holdRow(t *testing.T, url, id string) (*pgx.Conn, pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM tally.sessions WHERE session_id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	return conn, tx
}

// TestTemporaryErrorsFromARealServer provokes failures that may pass: a
// lock timeout, a statement timeout (and, for contrast, the caller's own
// cancel), a backend terminated by an administrator, too many
// connections.
func TestTemporaryErrorsFromARealServer(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	s := openStore(t, Config{URL: url})
	if _, _, err := s.Ingest(ctx, []session.Record{rec("x", 1, true, false)}); err != nil {
		t.Fatal(err)
	}
	monitor, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer monitor.Close(ctx)
	later := []session.Record{rec("x", 2, true, true)}

	for _, c := range []struct{ name, setting, code string }{
		{"lock timeout", "lock_timeout=200ms", "55P03"},
		{"statement timeout", "statement_timeout=200ms", "57014"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, tx := holdRow(t, url, "x")
			defer tx.Rollback(ctx)
			s := openStore(t, Config{URL: url + "&" + c.setting})
			_, _, err := s.Ingest(ctx, later)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != c.code || classOf(err) != temporary {
				t.Errorf("%v is %s, want a temporary %s", err, classOf(err), c.code)
			}
		})
	}
	t.Run("the caller cancels", func(t *testing.T) {
		_, tx := holdRow(t, url, "x")
		defer tx.Rollback(ctx)
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			if _, err := waitForLockWait(monitor, ""); err != nil {
				t.Error(err)
			}
			cancel()
		}()
		_, _, err := s.Ingest(cctx, later)
		if !errors.Is(err, context.Canceled) || classOf(err) != permanent {
			t.Errorf("%v is %s, want the caller's cancel, not temporary", err, classOf(err))
		}
	})
	t.Run("terminated by an administrator", func(t *testing.T) {
		_, tx := holdRow(t, url, "x")
		defer tx.Rollback(ctx)
		go func() {
			pid, err := waitForLockWait(monitor, "")
			if err != nil {
				t.Error(err)
			}
			monitor.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
		}()
		_, _, err := s.Ingest(ctx, later)
		if classOf(err) != unreachable {
			t.Errorf("%v is %s, want unreachable", err, classOf(err))
		}
	})
	t.Run("too many connections", func(t *testing.T) {
		role := "tally_limited_" + dbName(url)
		exec(t, url, `CREATE ROLE `+role+` LOGIN CONNECTION LIMIT 0`)
		_, err := Open(ctx, Config{URL: strings.Replace(url, "tally@", role+"@", 1)})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "53300" || classOf(err) != temporary {
			t.Errorf("%v is %s, want a temporary 53300", err, classOf(err))
		}
	})
	// The store still works.
	if _, _, err := s.Ingest(ctx, later); err != nil {
		t.Fatal(err)
	}
}

// TestDeadlockWithAnotherWriterIsRetried: a transaction outside Tally
// locks the batch's sessions in the opposite order; PostgreSQL breaks the
// deadlock by cancelling the batch, which Tally retries and stores. With
// one attempt allowed, the deadlock is answered as temporary.
func TestDeadlockWithAnotherWriterIsRetried(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	exec(t, url, `ALTER DATABASE "`+dbName(url)+`" SET deadlock_timeout = '300ms'`)
	monitor, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer monitor.Close(ctx)
	for _, attempts := range []int{5, 1} {
		counter := &retryCounter{}
		s := openStore(t, Config{URL: url, WriteAttempts: attempts, Logger: slog.New(counter)})
		batch := []session.Record{rec("a", int64(attempts), true, false), rec("b", int64(attempts), true, false)}
		if _, _, err := s.Ingest(ctx, batch); err != nil {
			t.Fatal(err)
		}
		// The other writer locks b; the batch locks a and waits for b;
		// the other writer asks for a.
		other, tx := holdRow(t, url, "b")
		// PostgreSQL aborts the waiter whose deadlock_timeout runs out
		// first: make it the batch's, whatever the scheduling.
		if _, err := tx.Exec(ctx, `SET LOCAL deadlock_timeout = '30s'`); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			if _, err := waitForLockWait(monitor, ""); err != nil {
				done <- err
				return
			}
			_, err := tx.Exec(ctx, `UPDATE tally.sessions SET channel = 'other' WHERE session_id = 'a'`)
			if err == nil {
				err = tx.Commit(ctx)
			}
			done <- err
		}()
		batch[0].UpdatedMicros, batch[1].UpdatedMicros = 10, 10
		_, _, err := s.Ingest(ctx, batch)
		if oerr := <-done; oerr != nil {
			t.Fatalf("the other writer: %v", oerr)
		}
		other.Close(ctx)
		var pgErr *pgconn.PgError
		switch {
		case attempts > 1 && (err != nil || counter.n.Load() == 0):
			t.Errorf("with retries: %v after %d retries, want success after at least one", err, counter.n.Load())
		case attempts == 1 && (!errors.As(err, &pgErr) || pgErr.Code != "40P01" || classOf(err) != temporary):
			t.Errorf("without retries: %v is %s, want a temporary 40P01", err, classOf(err))
		}
		exec(t, url, `DELETE FROM tally.sessions`)
	}
}

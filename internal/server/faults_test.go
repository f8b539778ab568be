package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/apikey"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/session"
)

// Failures injected below the HTTP API — in the engine or database that
// answers queries, in the store that takes batches and keeps keys, and in
// the encoding of an answer — each checked at HTTP: the status, Hasura's
// code and the message a client sees. The fakes stand in for a backend
// that fails; everything above them is the real server.

// failingSource is a Source whose every query fails with err; with err
// nil it waits for the request's context to end.
type failingSource struct{ err error }

func (f failingSource) Count(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts) ([]analytics.Counts, error) {
	if f.err == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, f.err
}

func (f failingSource) DimensionCounts(ctx context.Context, account pgtext.UUID, q *analytics.DimensionQuery) ([]analytics.DimensionCount, error) {
	if f.err == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, f.err
}

// failingStore takes no batch and keeps no key.
type failingStore struct{ err error }

func (f failingStore) Ingest(ctx context.Context, recs []session.Record) (int, int, error) {
	return 0, 0, f.err
}
func (f failingStore) Key(ctx context.Context, id string) (*apikey.Key, error) { return nil, f.err }
func (f failingStore) TouchKey(ctx context.Context, id string, at time.Time) error {
	return f.err
}
func (f failingStore) CreateKey(ctx context.Context, k apikey.Key) error { return f.err }
func (f failingStore) Keys(ctx context.Context, account pgtext.NullUUID) ([]apikey.Key, error) {
	return nil, f.err
}
func (f failingStore) RevokeKey(ctx context.Context, id string, now time.Time) (bool, error) {
	return false, f.err
}

// brokenCall answers with a result that lacks the rows it claims.
type brokenCall struct{}

func (brokenCall) Run(ctx context.Context, src analytics.Source, account pgtext.UUID, used analytics.ColumnSet) (*analytics.Result, error) {
	return &analytics.Result{Len: 2, Cols: make([]analytics.Cells, 3)}, nil
}

// faultyServer is a real server over a failing source and store; secret
// enables authentication.
func faultyServer(t *testing.T, src analytics.Source, cat *analytics.Catalogue, secret string) *httptest.Server {
	t.Helper()
	return faultyServerWith(t, src, cat, secret, nil)
}

// faultyServerLogged is a server whose engine fails, logging to log.
func faultyServerLogged(t *testing.T, log *slog.Logger) *httptest.Server {
	t.Helper()
	return faultyServerWith(t, failingSource{errors.New("index corrupt: row 7 out of order")}, analytics.NewCatalogue(), "", log)
}

// slogLogHandler is the handler tally serve logs with: text, with the
// request id of the context.
func slogLogHandler(w io.Writer) slog.Handler {
	return server.LogHandler(slog.NewTextHandler(w, nil))
}

func faultyServerWith(t *testing.T, src analytics.Source, cat *analytics.Catalogue, secret string, log *slog.Logger) *httptest.Server {
	t.Helper()
	store := failingStore{err: fmt.Errorf("write sessions: %w", errors.New("disk I/O error"))}
	exec, err := graphql.New(graphql.Config{QueryTimeout: 50 * time.Millisecond, Logger: log}, cat, src)
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.New(auth.Config{AdminSecret: secret, Keys: store})
	t.Cleanup(authn.Close)
	srv := server.New(server.Config{
		QueryTimeout: 50 * time.Millisecond,
		Logger:       log,
		Keys:         store,
		Health:       func(context.Context) error { return errors.New("the store cannot write: disk full") },
	}, exec, authn, store)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

func send(t *testing.T, url, method, path string, headers map[string]string, body string) (int, string) {
	t.Helper()
	s := &servertest.Server{URL: url}
	code, b := s.Do(t, method, path, headers, []byte(body))
	return code, string(b)
}

const spec = `{"query":"{ r: open_closed_sessions_interval_counts_v2(args: {start_time: \"2024-01-08\", end_time: \"2024-01-09\"}) { open_sessions } }"}`

// elapsed matches the time a timeout error reports, which varies.
var elapsed = regexp.MustCompile(`ran for [0-9.]+(ms|s|µs)`)

func TestFaultsBelowTheQueryPath(t *testing.T) {
	broken := analytics.NewFunction(analytics.IntervalFunction, analytics.NewCatalogue().Function(analytics.IntervalFunction).Args, analytics.IntervalTable(),
		func(analytics.Args, analytics.Limits) (analytics.Call, error) { return brokenCall{}, nil })
	cases := []struct {
		name string
		src  analytics.Source
		cat  *analytics.Catalogue
		want string
	}{
		{"database unreachable", failingSource{fmt.Errorf("count: %w: dial tcp: connection refused", session.ErrUnavailable)}, nil,
			`{"errors":[{"message":"the database is unreachable, so the query could not run; retry later (GET /healthz reports when it is back)","extensions":{"path":"$","code":"unexpected"}}]}`},
		{"engine error", failingSource{errors.New("index corrupt: row 7 out of order")}, nil,
			`{"errors":[{"message":"unexpected error while executing the query; the server log has details","extensions":{"path":"$","code":"unexpected"}}]}`},
		{"query timeout", failingSource{}, nil,
			`{"errors":[{"message":"time_limit exceeded: the request ran for ELAPSED while counting, longer than the limit of 50ms (--query-timeout), and was stopped; narrow the time range or filters","extensions":{"path":"$","code":"timeout"}}]}`},
		{"a result the encoder cannot write", failingSource{}, &analytics.Catalogue{Functions: []*analytics.Function{broken}},
			`{"errors":[{"message":"unexpected error while executing the query; the server log has details","extensions":{"path":"$","code":"unexpected"}}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cat := c.cat
			if cat == nil {
				cat = analytics.NewCatalogue()
			}
			hs := faultyServer(t, c.src, cat, "")
			code, body := send(t, hs.URL, http.MethodPost, "/v1/graphql", map[string]string{"X-Moveo-Account-Id": servertest.Account}, spec)
			body = elapsed.ReplaceAllString(body, "ran for ELAPSED")
			if code != http.StatusOK || body != c.want {
				t.Errorf("HTTP %d %s\nwant 200 %s", code, body, c.want)
			}
			if strings.Contains(body, "corrupt") || strings.Contains(body, "dial tcp") {
				t.Errorf("internal details reached the client: %s", body)
			}
		})
	}
}

func TestFaultsBelowTheWritePath(t *testing.T) {
	hs := faultyServer(t, failingSource{}, analytics.NewCatalogue(), "")
	code, body := send(t, hs.URL, http.MethodPost, "/v1/sessions", nil, servertest.Record("a", ""))
	if code != http.StatusInternalServerError || body != `{"error":"the batch could not be stored and nothing was written; retrying will not help until the server's operator acts (write sessions: disk I/O error)"}` {
		t.Errorf("a store failing for good: HTTP %d %s", code, body)
	}
	code, body = send(t, hs.URL, http.MethodGet, "/healthz", nil, "")
	if code != http.StatusServiceUnavailable || body != "ERROR: the store cannot write: disk full" {
		t.Errorf("/healthz over a failing store: HTTP %d %q", code, body)
	}
	code, body = send(t, hs.URL, http.MethodPost, "/v1/admin/keys", nil, `{"account_id":"`+servertest.Account+`","scopes":["read"]}`)
	if code != http.StatusServiceUnavailable || body != `{"error":"the key could not be stored; retry later"}` {
		t.Errorf("a key store that cannot write: HTTP %d %s", code, body)
	}
	code, body = send(t, hs.URL, http.MethodGet, "/v1/admin/keys", nil, "")
	if code != http.StatusServiceUnavailable || body != `{"error":"keys could not be read; retry later"}` {
		t.Errorf("a key store that cannot read: HTTP %d %s", code, body)
	}
}

// TestKeyStoreFaults: when keys cannot be checked, a request with a key is
// refused with "retry later": 503 on the JSON endpoints, access-denied on
// GraphQL.
func TestKeyStoreFaults(t *testing.T) {
	hs := faultyServer(t, failingSource{}, analytics.NewCatalogue(), "s3cret")
	plain, _, err := apikey.New(pgtext.UUID{1}, []apikey.Scope{apikey.Read}, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Authorization": "apikey " + plain}
	code, body := send(t, hs.URL, http.MethodPost, "/v1/sessions", h, servertest.Record("a", ""))
	if code != http.StatusServiceUnavailable || body != `{"error":"API keys cannot be checked right now; retry later"}` {
		t.Errorf("/v1/sessions: HTTP %d %s", code, body)
	}
	code, body = send(t, hs.URL, http.MethodPost, "/v1/graphql", h, spec)
	if code != http.StatusOK || body != `{"errors":[{"message":"API keys cannot be checked right now; retry later","extensions":{"path":"$","code":"access-denied"}}]}` {
		t.Errorf("/v1/graphql: HTTP %d %s", code, body)
	}
}

package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/session"
)

// ingesterFailing takes no batch, failing with err.
type ingesterFailing struct{ err error }

func (f ingesterFailing) Ingest(ctx context.Context, recs []session.Record) (int, int, error) {
	return 0, 0, f.err
}

// TestIngestAnswersByFault: 400 for bad input (TestIngestErrors), 503 with
// Retry-After only for a fault that may pass, 500 for one that will not
// (SPEC section 10), so that clients retry the first and not the second.
func TestIngestAnswersByFault(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		code  int
		retry bool
	}{
		{"database unreachable", fmt.Errorf("ingest: %w: dial tcp: connection refused", session.ErrUnavailable), 503, true},
		{"lock timeout", fmt.Errorf("ingest: %w: canceling statement due to lock timeout", session.ErrTemporary), 503, true},
		{"client left", fmt.Errorf("ingest: %w", context.Canceled), 503, true},
		{"data the database refuses", errors.New(`ingest: invalid byte sequence for encoding "UTF8": 0x00`), 500, false},
		{"a bug", errors.New("ingest: index out of range"), 500, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec, err := graphql.New(graphql.Config{}, analytics.NewCatalogue(), failingSource{})
			if err != nil {
				t.Fatal(err)
			}
			authn := auth.New(auth.Config{})
			t.Cleanup(authn.Close)
			hs := httptest.NewServer(server.New(server.Config{}, exec, authn, ingesterFailing{c.err}).Handler())
			t.Cleanup(hs.Close)
			resp, err := http.Post(hs.URL+"/v1/sessions", "application/x-ndjson", strings.NewReader(servertest.Record("a", "")))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.code || (resp.Header.Get("Retry-After") != "") != c.retry {
				t.Errorf("HTTP %d, Retry-After %q; want %d, Retry-After %v", resp.StatusCode, resp.Header.Get("Retry-After"), c.code, c.retry)
			}
		})
	}
}

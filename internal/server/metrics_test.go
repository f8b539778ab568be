package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tally-server/tally/internal/servertest"
)

// TestHealthAndMetrics: /healthz says OK over a working backend; /metrics
// counts requests by route and status, GraphQL errors by code (read from
// the response value: a batch counts each failed operation), ingested
// sessions and sessions held.
func TestHealthAndMetrics(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Registry: prometheus.NewRegistry()})
	code, body := s.Do(t, http.MethodGet, "/healthz", nil, nil)
	if code != http.StatusOK || string(body) != "OK" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	s.Ingest(t, servertest.Record("m", ""))
	s.Post(t, "/v1/graphql", nil, []byte(`{"query":"{ nope }"}`))
	s.Post(t, "/v1/graphql", nil, []byte(`[{"query":"{ __typename }"},{"query":"{ nope }"},{"query":"query { x"}]`))
	s.Post(t, "/v1/graphql", nil, []byte(`{"query":`))
	_, b := s.Do(t, http.MethodGet, "/metrics", nil, nil)
	for _, want := range []string{
		`tally_http_requests_total{code="200",route="sessions"} 1`,
		`tally_http_requests_total{code="200",route="graphql"} 3`,
		`tally_http_requests_total{code="200",route="healthz"} 1`,
		`tally_graphql_errors_total{code="validation-failed"} 3`,
		`tally_graphql_errors_total{code="invalid-json"} 1`,
		"tally_ingested_sessions_total 1",
		"tally_sessions 1",
		"tally_http_request_duration_seconds_bucket",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestVersion(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	code, body := s.Do(t, http.MethodGet, "/v1/version", nil, nil)
	var v map[string]string
	if code != http.StatusOK || json.Unmarshal(body, &v) != nil || v["server_type"] != "tally" {
		t.Fatalf("version: %d %s", code, body)
	}
}

// TestIntrospectionNeedsCredentialsNotAnAccount: with an admin secret,
// introspection needs the secret (or a key) but no account.
func TestIntrospectionNeedsCredentialsNotAnAccount(t *testing.T) {
	s := servertest.Start(t, servertest.Options{AdminSecret: "s3cret"})
	if r := s.Query(t, "", `{ __schema { queryType { name } } }`, nil); len(r.Errors) > 0 || !strings.Contains(string(r.Data["__schema"]), "query_root") {
		t.Fatalf("introspection with the secret and no account: %+v", r)
	}
	_, body := s.Post(t, "/v1/graphql", nil, []byte(`{"query":"{ __schema { queryType { name } } }"}`))
	if !strings.Contains(string(body), `"code":"access-denied"`) {
		t.Fatalf("introspection without credentials: %s", body)
	}
}

package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/pgtext"
)

// heldSource keeps every Count until its request ends.
type heldSource struct{ counting chan struct{} }

func (h heldSource) Count(ctx context.Context, account pgtext.UUID, q *analytics.IntervalQuery, dst []analytics.Counts) ([]analytics.Counts, error) {
	h.counting <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (h heldSource) DimensionCounts(ctx context.Context, account pgtext.UUID, q *analytics.DimensionQuery) ([]analytics.DimensionCount, error) {
	return nil, errors.New("not asked for in this test")
}

// TestAdmissionRefusalAsGraphQL: serve's wiring words a refused heavy
// query as a Hasura data-exception naming the flag, not a timeout or an
// unexpected error, and reports the budget in /metrics.
func TestAdmissionRefusalAsGraphQL(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newAdmission(analytics.AdmissionConfig{MaxHeavy: 1, MaxQueued: 1, HeavyCost: 1}, reg)
	src := heldSource{counting: make(chan struct{}, 4)}
	exec, err := graphql.New(graphql.Config{}, analytics.NewCatalogue(), a.Source(src))
	if err != nil {
		t.Fatal(err)
	}
	caller := graphql.Caller{Account: pgtext.NullUUID{UUID: pgtext.UUID{1}, Valid: true}}
	body := []byte(`{"query":"` + strings.ReplaceAll(countQuery, `"`, `\"`) + `"}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go exec.ExecuteBody(ctx, caller, body) // counts
	<-src.counting
	go exec.ExecuteBody(ctx, caller, body) // the same request: shares the turn
	<-src.counting
	other, cancelOther := context.WithCancel(context.Background())
	defer cancelOther()
	go exec.ExecuteBody(other, caller, body) // waits
	for deadline := time.Now().Add(10 * time.Second); a.Queued() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second request did not queue")
		}
	}
	got := string(exec.ExecuteBody(context.Background(), caller, body).AppendJSON(nil))
	if !strings.Contains(got, `"code":"data-exception"`) || !strings.Contains(got, "--max-heavy-queued") || !strings.Contains(got, "retry in a few seconds") {
		t.Errorf("a refused heavy query: %s", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		seen[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	if seen["tally_heavy_queries_running"] != 1 || seen["tally_heavy_queries_queued"] != 1 || seen["tally_heavy_queries_refused_total"] != 1 {
		t.Errorf("admission metrics: %v", seen)
	}
}

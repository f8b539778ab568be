package main

import (
	"context"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/testseed"
)

// TestDifferentialOnCitus is the differential test with Tally on a real
// Citus cluster (a coordinator and two workers; skipped when Citus is not
// installed, see pgtest.StartCitus). Two Tally replicas point at the
// coordinator. Half of the data is ingested through Tally's API before
// the tables are distributed (so distributing copies rows, and the local
// copies are truncated as docs/scale-out.md says), the rest after,
// re-sends that update stored sessions included, in batches that span
// accounts. Every random query must equal reference.sql on plain
// PostgreSQL, and API keys, stored in a reference table, must work.
func TestDifferentialOnCitus(t *testing.T) {
	c := pgtest.StartCitus(t)
	r := rand.New(rand.NewSource(testseed.Seed(t)))
	ctx := context.Background()
	d := genDataset(r, 20000)

	onCitus := servertest.Start(t, servertest.Options{DatabaseURL: c.URL})
	half := len(d.sends) / 2
	loadTally(t, onCitus, r, &dataset{sends: d.sends[:half]})
	c.Distribute(t)
	// The other replica, with an admin secret for the key API.
	admin := servertest.Start(t, servertest.Options{DatabaseURL: c.URL, AdminSecret: "s3cret"})
	loadTally(t, onCitus, r, &dataset{sends: d.sends[half:]})

	dbConn := connectNew(t)
	loadPostgres(t, dbConn, d)
	var want, got int
	if err := dbConn.QueryRow(ctx, "SELECT count(*) FROM sessions").Scan(&want); err != nil {
		t.Fatal(err)
	}
	coord, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close(ctx)
	if err := coord.QueryRow(ctx, "SELECT count(*) FROM tally.sessions").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Citus holds %d sessions, the reference %d", got, want)
	}

	const queries = 200
	equal, nonEmpty := 0, 0
	for i := 0; i < queries; i++ {
		q := genQuery(r, d)
		doc, vars := tallyRequest(q)
		tally := onCitus
		if i%2 == 1 {
			tally = admin
		}
		resp := tally.Query(t, q.account, doc, vars)
		if len(resp.Errors) > 0 {
			t.Errorf("query %d: Tally error %+v\n%s\n%v", i, resp.Errors[0], doc, vars)
			continue
		}
		var rows []refRow
		if err := json.Unmarshal(resp.Data["rows"], &rows); err != nil {
			t.Fatal(err)
		}
		ref := q.postgres(t, dbConn)
		if g, w := mustJSON(rows), mustJSON(ref); string(g) != string(w) {
			t.Errorf("query %d differs\n%s\nvariables %s\nPostgreSQL args %v\nTally on Citus %s\nreference      %s", i, doc, mustJSON(vars), showPG(q.pg), g, w)
			continue
		}
		equal++
		for _, row := range ref {
			if row.Open+row.Closed > 0 {
				nonEmpty++
				break
			}
		}
	}
	t.Logf("%d sessions; %d of %d queries equal to reference.sql (%d with sessions)", got, equal, queries, nonEmpty)
	if nonEmpty < queries/3 {
		t.Errorf("only %d of %d queries had any session: the generator no longer exercises the data", nonEmpty, queries)
	}

	// API keys live in a reference table: made on one replica, used and
	// revoked through the other.
	account := d.accounts[0].String()
	k := admin.CreateKey(t, account, "read")
	h := map[string]string{"Authorization": "apikey " + k.Key, "X-Moveo-Account-Id": account, "Content-Type": "application/json"}
	code, body := onCitus.Post(t, "/v1/graphql", h, mustJSON(map[string]any{"query": `{ r: open_closed_sessions_interval_counts_v2(args: {start_time: "2024-01-01", end_time: "2024-03-01"}) { open_sessions } }`}))
	if code != 200 || !strings.Contains(string(body), `"open_sessions"`) || strings.Contains(string(body), "errors") {
		t.Fatalf("a key made on one replica, used on the other: %d %s", code, body)
	}
	if code, body := admin.Do(t, "DELETE", "/v1/admin/keys/"+k.ID, map[string]string{"X-Admin-Secret": "s3cret"}, nil); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
}

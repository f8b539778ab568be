package server_test

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/live"
	"github.com/tally-server/tally/internal/pgtest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/servertest"
	"github.com/tally-server/tally/internal/testseed"
)

// liveSubscriber records what one subscription received.
type liveSubscriber struct {
	account string
	doc     string // the subscription; "query" + doc[12:] is the same over HTTP
	pushes  []string
}

// TestLiveRandomSubscriptionsMatchHTTP: hundreds of subscriptions on
// random queries (functions and aggregates, filters, table arguments,
// columns), spread over connections of both protocols and several
// accounts, some identical. After each random write every subscription's
// latest result must equal the same query over HTTP; a subscription whose
// result did not change receives nothing, one whose result changed
// receives it once, and no push ever repeats the one before it.
func TestLiveRandomSubscriptionsMatchHTTP(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Live: live.Config{Delay: 10 * time.Millisecond}})
	checkRandomLive(t, s, s, 10, 30, 40)
}

// TestLiveRandomSubscriptionsTwoReplicas is the same on PostgreSQL with
// two servers on one database: subscriptions on one, writes through the
// other.
func TestLiveRandomSubscriptionsTwoReplicas(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a := servertest.Start(t, servertest.Options{DatabaseURL: url, Live: live.Config{Delay: 10 * time.Millisecond}})
	b := servertest.Start(t, servertest.Options{DatabaseURL: url})
	checkRandomLive(t, a, b, 4, 25, 12)
}

// checkRandomLive opens conns connections of perConn random subscriptions
// on s, writes rounds random batches through writer and checks every
// push against HTTP.
func checkRandomLive(t *testing.T, s, writer *servertest.Server, conns, perConn, rounds int) {
	r := rand.New(rand.NewSource(testseed.Seed(t)))
	accounts := make([]string, 4)
	for i := range accounts {
		var u pgtext.UUID
		r.Read(u[:])
		accounts[i] = u.String()
	}
	write := func(n int) {
		var b strings.Builder
		for range n {
			start := time.Date(2023, 12, 30, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Intn(34*24*60)) * time.Minute)
			end := "null"
			if r.Intn(2) == 0 {
				end = `"` + start.Add(time.Duration(r.Intn(3*24*60))*time.Minute).Format("2006-01-02T15:04:05") + `"`
			}
			fmt.Fprintf(&b, `{"account_id":%q,"session_id":"s%d","start_time":%q,"end_time":%s,"channel":%q,"desk_id":%q,"is_test":%v,"agent_ids":[%q]}`+"\n",
				pick(r, accounts), r.Intn(60), start.Format("2006-01-02T15:04:05"), end,
				pick(r, []string{"web", "whatsapp", "email"}), pick(r, desks), r.Intn(4) == 0, pick(r, []string{"ann", "bob", "cy"}))
		}
		writer.Ingest(t, b.String())
	}
	write(40)

	var (
		mu   sync.Mutex
		subs []*liveSubscriber
		cond = sync.NewCond(&mu)
	)
	var docs []*liveSubscriber
	for c := range conns {
		proto := []string{"graphql-transport-ws", "graphql-ws"}[c%2]
		account := accounts[c%len(accounts)]
		w := s.DialWS(t, proto)
		w.Init(t, map[string]string{"X-Moveo-Account-Id": account})
		mine := map[string]*liveSubscriber{}
		for i := range perConn {
			sub := &liveSubscriber{account: account, doc: randomSubscription(r)}
			if len(docs) > 0 && r.Intn(5) == 0 { // an identical subscription
				prev := docs[r.Intn(len(docs))]
				if prev.account == account {
					sub.doc = prev.doc
				}
			}
			docs = append(docs, sub)
			id := fmt.Sprint(i)
			mine[id] = sub
			mu.Lock()
			subs = append(subs, sub)
			mu.Unlock()
			w.Subscribe(t, id, sub.doc, nil)
		}
		go func() {
			for {
				m, ok := w.Next(time.Hour)
				if !ok {
					return
				}
				mu.Lock()
				if sub := mine[m.ID]; sub != nil {
					sub.pushes = append(sub.pushes, m.Type+" "+string(m.Payload))
					cond.Broadcast()
				}
				mu.Unlock()
			}
		}()
	}

	// waitFor waits until every subscription has want[i] pushes.
	waitFor := func(want []int) {
		deadline := time.Now().Add(20 * time.Second)
		go func() {
			time.Sleep(time.Until(deadline))
			cond.Broadcast()
		}()
		mu.Lock()
		defer mu.Unlock()
		for {
			done := true
			for i, sub := range subs {
				done = done && len(sub.pushes) >= want[i]
			}
			if done || time.Now().After(deadline) {
				return
			}
			cond.Wait()
		}
	}
	// expected is each subscription's query over HTTP: the body must
	// equal the pushed payload byte for byte.
	expected := func() []string {
		out := make([]string, len(subs))
		for i, sub := range subs {
			code, body := s.Post(t, "/v1/graphql", map[string]string{"X-Moveo-Account-Id": sub.account},
				servertest.MustJSON(map[string]any{"query": "query" + strings.TrimPrefix(sub.doc, "subscription")}))
			if code != 200 {
				t.Fatalf("HTTP %d: %s", code, body)
			}
			out[i] = string(body)
		}
		return out
	}
	normalize := func(push string) string {
		_, body, _ := strings.Cut(push, " ")
		return body
	}

	want := make([]int, len(subs))
	for i := range want {
		want[i] = 1
	}
	prev := expected()
	waitFor(want)
	t.Logf("%d subscriptions on %d live queries", len(subs), s.Hub.Stats().Queries)
	for round := range rounds {
		mu.Lock()
		for i, sub := range subs {
			if len(sub.pushes) != want[i] {
				mu.Unlock()
				t.Fatalf("round %d: subscription %d (%s) has %d results, want %d: %v", round, i, sub.doc, len(sub.pushes), want[i], sub.pushes)
			}
			if got := normalize(sub.pushes[len(sub.pushes)-1]); got != prev[i] {
				mu.Unlock()
				t.Fatalf("round %d: subscription %d (%s) of account %s\n pushed %s\n  HTTP %s", round, i, sub.doc, sub.account, got, prev[i])
			}
			if n := len(sub.pushes); n > 1 && sub.pushes[n-1] == sub.pushes[n-2] {
				mu.Unlock()
				t.Fatalf("round %d: subscription %d got the same result twice: %s", round, i, sub.pushes[n-1])
			}
		}
		mu.Unlock()
		write(1 + r.Intn(8))
		now := expected()
		changed := 0
		for i := range subs {
			if now[i] != prev[i] {
				want[i]++
				changed++
			}
		}
		waitFor(want)
		time.Sleep(50 * time.Millisecond) // an unwanted push would show now
		prev = now
		t.Logf("round %d: %d of %d results changed", round, changed, len(subs))
	}
}

var desks = []string{"9566c74d-1003-4c4d-bbbb-0407d1e2c649", "0b7c3a4e-7a43-4d5c-9f25-4b5dfc0b3a11", "5f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

// randomSubscription writes a random subscription of the interval
// function or its aggregate, with the arguments and columns the catalogue
// declares (time_zone and the flow columns included once they exist).
func randomSubscription(r *rand.Rand) string {
	fn := analytics.NewCatalogue().Function(analytics.IntervalFunction)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Intn(25*24)) * time.Hour)
	end := start.Add(time.Duration(r.Intn(8*24)) * time.Hour)
	args := []string{
		fmt.Sprintf(`start_time: %q`, start.Format("2006-01-02T15:04")),
		fmt.Sprintf(`end_time: %q`, end.Format("2006-01-02T15:04")),
	}
	if r.Intn(2) == 0 {
		args = append(args, fmt.Sprintf(`interval_span: %q`, pick(r, []string{"1 day", "12 hours", "2 days", "1 week", "6 hours"})))
	}
	if r.Intn(3) == 0 {
		args = append(args, fmt.Sprintf(`desk_ids: "{%s}"`, pick(r, desks)))
	}
	if r.Intn(3) == 0 {
		args = append(args, fmt.Sprintf(`channels: "{%s}"`, pick(r, []string{"web", "whatsapp", "email"})))
	}
	if r.Intn(4) == 0 {
		args = append(args, fmt.Sprintf(`is_test: %v`, r.Intn(2) == 0))
	}
	if r.Intn(4) == 0 {
		args = append(args, `agent_ids: "{ann}"`)
	}
	if fn.Arg("time_zone") != nil && r.Intn(3) == 0 {
		args = append(args, fmt.Sprintf(`time_zone: %q`, pick(r, []string{"UTC", "Europe/Athens", "America/New_York", "Asia/Kolkata"})))
	}
	var cols []string
	for _, c := range fn.Table.Columns {
		if r.Intn(2) == 0 {
			cols = append(cols, c.Name)
		}
	}
	if len(cols) == 0 {
		cols = []string{fn.Table.Columns[0].Name}
	}
	numeric := fn.Table.Columns[1+r.Intn(len(fn.Table.Columns)-1)].Name
	var table []string
	if r.Intn(3) == 0 {
		table = append(table, fmt.Sprintf(`where: {%s: {_gt: 0}}`, numeric))
	}
	if r.Intn(3) == 0 {
		table = append(table, fmt.Sprintf(`order_by: [{%s: desc}, {per_interval: asc}]`, numeric))
	}
	if r.Intn(4) == 0 {
		table = append(table, fmt.Sprintf(`limit: %d`, 1+r.Intn(4)))
	}
	argList := "args: {" + strings.Join(args, ", ") + "}"
	if len(table) > 0 {
		argList += ", " + strings.Join(table, ", ")
	}
	if r.Intn(3) == 0 {
		return fmt.Sprintf(`subscription { a: %s_aggregate(%s) { aggregate { count sum { %s } max { per_interval } } } }`, fn.Name, argList, numeric)
	}
	return fmt.Sprintf(`subscription { rows: %s(%s) { %s } }`, fn.Name, argList, strings.Join(cols, " "))
}

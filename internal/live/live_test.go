package live

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-server/tally/internal/live/feed"
	"github.com/tally-server/tally/internal/pgtext"
)

// counter is a Query whose answer is a shared value: tests change the
// value, publish a change, and see what the hub does.
type counter struct {
	value *atomic.Int64
	runs  atomic.Int64
	block chan struct{} // when set, Run waits for it
}

func (c *counter) Run(ctx context.Context) Result {
	c.runs.Add(1)
	if c.block != nil {
		<-c.block
	}
	return Result{Body: []byte(strconv.FormatInt(c.value.Load(), 10))}
}

// inbox collects what a subscription receives.
type inbox struct {
	mu     sync.Mutex
	pushes []Push
	got    chan struct{}
}

func newInbox() *inbox { return &inbox{got: make(chan struct{}, 1000)} }

func (b *inbox) deliver(p Push) {
	b.mu.Lock()
	b.pushes = append(b.pushes, p)
	b.mu.Unlock()
	b.got <- struct{}{}
}

// next waits for the next push.
func (b *inbox) next(t *testing.T) Push {
	t.Helper()
	select {
	case <-b.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no push came")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pushes[len(b.pushes)-1]
}

// quiet reports whether nothing came for a while.
func (b *inbox) quiet(d time.Duration) bool {
	select {
	case <-b.got:
		return false
	case <-time.After(d):
		return true
	}
}

var (
	acctA = pgtext.UUID{1}
	acctB = pgtext.UUID{2}
)

func newHub(t *testing.T, cfg Config) *Hub {
	t.Helper()
	h := New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return h
}

func connect(t *testing.T, h *Hub) *Client {
	t.Helper()
	c, err := h.Connect(func() {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestFirstResultThenOnlyChanges(t *testing.T) {
	h := newHub(t, Config{Delay: time.Millisecond})
	c := connect(t, h)
	var v atomic.Int64
	q := &counter{value: &v}
	in := newInbox()
	if _, err := c.Subscribe(Spec{Key: "k", Account: acctA, Until: 1000, Query: q}, in.deliver); err != nil {
		t.Fatal(err)
	}
	if p := in.next(t); string(p.Body) != "0" || !p.First || !p.Since.IsZero() {
		t.Fatalf("first push %+v", p)
	}
	// A change to another account, or at or after Until: no run.
	h.Publish(feed.Event{Changes: []feed.Change{{Account: acctB, From: 0, To: 0}, {Account: acctA, From: 1000, To: 2000}}})
	// A change that leaves the value as it was: a run, no push.
	h.Publish(feed.Event{Changes: []feed.Change{{Account: acctA, From: 999, To: 5000}}})
	if !in.quiet(100 * time.Millisecond) {
		t.Fatal("an unchanged result was pushed")
	}
	if n := q.runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2 (the first and the change before Until)", n)
	}
	v.Store(7)
	at := time.Now()
	h.Publish(feed.Event{Changes: []feed.Change{{Account: acctA, From: 10, To: 10}}, At: at})
	if p := in.next(t); string(p.Body) != "7" || p.First || !p.Since.Equal(at) {
		t.Fatalf("pushed %+v", p)
	}
	// All reaches every live query.
	v.Store(8)
	h.Publish(feed.Event{All: true})
	if p := in.next(t); string(p.Body) != "8" {
		t.Fatalf("after All: %+v", p)
	}
}

func TestIdenticalSubscriptionsShareOneEvaluation(t *testing.T) {
	h := newHub(t, Config{Delay: time.Millisecond})
	var v atomic.Int64
	q := &counter{value: &v}
	var inboxes []*inbox
	for range 5 {
		c := connect(t, h)
		in := newInbox()
		// Each subscription brings its own Query; the first one is used.
		if _, err := c.Subscribe(Spec{Key: "same", Account: acctA, Until: 1 << 60, Query: q}, in.deliver); err != nil {
			t.Fatal(err)
		}
		in.next(t)
		inboxes = append(inboxes, in)
	}
	if st := h.Stats(); st.Queries != 1 || st.Subscriptions != 5 || st.Connections != 5 {
		t.Fatalf("stats %+v", st)
	}
	if n := q.runs.Load(); n != 1 {
		t.Fatalf("%d runs for five identical subscriptions", n)
	}
	v.Store(3)
	h.Publish(feed.Event{Changes: []feed.Change{{Account: acctA}}})
	for _, in := range inboxes {
		if p := in.next(t); string(p.Body) != "3" {
			t.Fatalf("push %+v", p)
		}
	}
	if n := q.runs.Load(); n != 2 {
		t.Fatalf("%d runs after one change", n)
	}
}

// TestBurstsCoalesce: many changes within Delay cost at most two runs
// (one at once, one at the end of the window), and the last value is
// pushed.
func TestBurstsCoalesce(t *testing.T) {
	h := newHub(t, Config{Delay: time.Second})
	c := connect(t, h)
	var v atomic.Int64
	q := &counter{value: &v}
	in := newInbox()
	c.Subscribe(Spec{Key: "k", Account: acctA, Until: 1 << 60, Query: q}, in.deliver)
	in.next(t)
	for i := 1; i <= 50; i++ {
		v.Store(int64(i))
		h.Publish(feed.Event{Changes: []feed.Change{{Account: acctA}}})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p := in.next(t); string(p.Body) == "50" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last value never came")
		}
	}
	if n := q.runs.Load(); n > 3 {
		t.Fatalf("%d runs for a burst of 50 changes within the delay", n)
	}
}

// TestJoinWhileDirtyGetsAFreshResult: a subscriber joining a live query
// whose last result predates a write gets a result computed after it.
func TestJoinWhileDirtyGetsAFreshResult(t *testing.T) {
	h := newHub(t, Config{Delay: time.Hour}) // re-runs wait an hour
	var v atomic.Int64
	q := &counter{value: &v}
	first := newInbox()
	connect(t, h).Subscribe(Spec{Key: "k", Account: acctA, Until: 1 << 60, Query: q}, first.deliver)
	first.next(t)
	v.Store(5)
	h.Publish(feed.Event{Changes: []feed.Change{{Account: acctA}}}) // throttled: due in an hour
	late := newInbox()
	connect(t, h).Subscribe(Spec{Key: "k", Account: acctA, Until: 1 << 60, Query: q}, late.deliver)
	if p := late.next(t); string(p.Body) != "5" || !p.First {
		t.Fatalf("the late subscriber got %+v, want the value after the write", p)
	}
	if p := first.next(t); string(p.Body) != "5" || p.First {
		t.Fatalf("the first subscriber got %+v", p)
	}
}

// TestNoPushAfterStop: a stopped subscription gets nothing, and the live
// query is dropped with its last subscriber, even mid-run.
func TestNoPushAfterStop(t *testing.T) {
	h := newHub(t, Config{Delay: time.Millisecond})
	var v atomic.Int64
	q := &counter{value: &v, block: make(chan struct{})}
	in := newInbox()
	s, _ := connect(t, h).Subscribe(Spec{Key: "k", Account: acctA, Until: 1 << 60, Query: q}, in.deliver)
	for q.runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Stop()
	close(q.block)
	if !in.quiet(100 * time.Millisecond) {
		t.Fatal("a stopped subscription got a push")
	}
	if st := h.Stats(); st.Queries != 0 || st.Subscriptions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLimits(t *testing.T) {
	h := newHub(t, Config{MaxConnections: 3, MaxPerConnection: 2, MaxPerKey: 3, MaxSubscriptions: 5})
	var v atomic.Int64
	sub := func(c *Client, key string) error {
		_, err := c.Subscribe(Spec{Key: key, Account: acctA, Query: &counter{value: &v}}, func(Push) {})
		return err
	}
	flagOf := func(err error) string {
		var le *LimitError
		if !errors.As(err, &le) {
			return ""
		}
		if !strings.Contains(le.Message, le.Flag) || !strings.Contains(le.Message, strconv.Itoa(le.Limit)) {
			t.Errorf("message %q does not name the limit and its flag", le.Message)
		}
		return le.Flag
	}
	a, b, admin := connect(t, h), connect(t, h), connect(t, h)
	if _, err := h.Connect(func() {}); flagOf(err) != "--live-max-connections" {
		t.Fatalf("fourth connection: %v", err)
	}
	a.SetKey("k1")
	b.SetKey("k1")
	for i, want := range []string{"", "", "--live-max-per-connection"} {
		if got := flagOf(sub(a, "a"+strconv.Itoa(i))); got != want {
			t.Fatalf("a's subscription %d: %q", i, got)
		}
	}
	if err := sub(b, "b0"); err != nil {
		t.Fatal(err)
	}
	if got := flagOf(sub(b, "b1")); got != "--live-max-per-key" {
		t.Fatalf("key k1's fourth subscription: %q", got)
	}
	for i, want := range []string{"", "", "--live-max-per-connection"} {
		if got := flagOf(sub(admin, "x"+strconv.Itoa(i))); got != want && !(i == 1 && got == "--live-max-subscriptions") {
			t.Fatalf("admin subscription %d: %q", i, got)
		}
	}
	if got := flagOf(sub(b, "b2")); got != "--live-max-per-key" && got != "--live-max-subscriptions" {
		t.Fatalf("over the server's limit: %q", got)
	}
	// Closing a frees its connection and subscriptions.
	a.Close()
	d, err := h.Connect(func() {})
	if err != nil {
		t.Fatalf("after a closed: %v", err)
	}
	d.Close()
	if st := h.Stats(); st.Subscriptions != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCloseShutsEveryConnection(t *testing.T) {
	h := New(Config{})
	var clients []*Client
	var mu sync.Mutex
	shut := 0
	for range 3 {
		var c *Client
		c, _ = h.Connect(func() {
			mu.Lock()
			shut++
			mu.Unlock()
			go c.Close() // the connection goes away in its own time
		})
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if shut != 3 {
		t.Fatalf("%d shutdown callbacks, want 3", shut)
	}
	if _, err := h.Connect(func() {}); !errors.Is(err, ErrClosing) {
		t.Fatalf("connect after Close: %v", err)
	}
	if _, err := clients[0].Subscribe(Spec{Key: "k"}, func(Push) {}); !errors.Is(err, ErrClosing) {
		t.Fatalf("subscribe after Close: %v", err)
	}
}

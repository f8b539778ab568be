// Package live runs live queries: GraphQL subscriptions whose result is
// pushed again each time a write changes it. The transport (the WebSocket
// endpoint in internal/server) prepares each subscription and hands the
// Hub a Query it can run; the Hub decides when to run it and to whom the
// result goes.
//
//   - Identical subscriptions (same key: account, document, variables,
//     operation name) share one live query: one evaluation serves all of
//     their subscribers.
//   - A live query runs when it starts (its first result goes out at
//     once), and again only when the change feed (package feed) reports a
//     write to its account that may change it: a change whose earliest
//     time is before the query's Until. A write is reflected at most Delay
//     after it was acknowledged: a live query that has not run within the
//     last Delay runs at once, otherwise at its last run plus Delay, so a
//     burst of writes costs one run per Delay.
//   - A result equal, byte for byte, to the last one sent is not sent.
//   - Limits: connections per server, subscriptions per connection, per
//     API key and per server (LimitError names the flag).
//
// live knows no GraphQL and no WebSocket: it imports feed, pgtext and the
// Prometheus client only.
package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tally-server/tally/internal/live/feed"
	"github.com/tally-server/tally/internal/pgtext"
)

// Defaults of Config.
const (
	DefaultDelay            = 200 * time.Millisecond
	DefaultMaxConnections   = 10000
	DefaultMaxSubscriptions = 50000
	DefaultMaxPerConnection = 100
	DefaultMaxPerKey        = 1000
	DefaultKeepAlive        = 5 * time.Second
	DefaultInitTimeout      = 3 * time.Second
	DefaultRunTimeout       = 30 * time.Second
)

// Config configures a Hub. Zero values take the defaults (WithDefaults).
type Config struct {
	// Delay is the longest a live query waits after a write before it
	// runs again (--live-delay), and so the shortest time between two of
	// its runs.
	Delay time.Duration
	// MaxConnections is the most WebSocket connections open at once on
	// this server (--live-max-connections).
	MaxConnections int
	// MaxSubscriptions is the most subscriptions open at once on this
	// server (--live-max-subscriptions).
	MaxSubscriptions int
	// MaxPerConnection is the most subscriptions one connection may hold
	// (--live-max-per-connection).
	MaxPerConnection int
	// MaxPerKey is the most subscriptions open with one API key, over all
	// its connections to this server (--live-max-per-key). The admin
	// secret and development mode are not limited by it.
	MaxPerKey int
	// KeepAlive is how often the transport sends its protocol's
	// keep-alive (--live-keepalive).
	KeepAlive time.Duration
	// InitTimeout is how long a connection may wait before its
	// connection_init (--live-init-timeout).
	InitTimeout time.Duration
	// RunTimeout bounds one evaluation (tally serve sets --query-timeout).
	RunTimeout time.Duration
	// Workers is how many evaluations run at once (default twice
	// GOMAXPROCS, at least 4).
	Workers int
	// Registry receives the metrics; nil registers none.
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Delay <= 0 {
		c.Delay = DefaultDelay
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.MaxPerConnection <= 0 {
		c.MaxPerConnection = DefaultMaxPerConnection
	}
	if c.MaxPerKey <= 0 {
		c.MaxPerKey = DefaultMaxPerKey
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = DefaultInitTimeout
	}
	if c.RunTimeout <= 0 {
		c.RunTimeout = DefaultRunTimeout
	}
	if c.Workers <= 0 {
		c.Workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Query is a live query as the transport prepared it.
type Query interface {
	// Run evaluates the query now. It is never called concurrently for
	// one live query.
	Run(ctx context.Context) Result
}

// Result is one evaluation: the rendered body, and whether it holds
// errors instead of data.
type Result struct {
	Body []byte
	Err  bool
}

// Spec describes a subscription.
type Spec struct {
	// Key identifies the live query: subscriptions with equal keys share
	// one evaluation. It must include everything the result depends on
	// (account, document, variables, operation name).
	Key     string
	Account pgtext.UUID
	// Until: a change whose earliest time is at or after it cannot change
	// the result (graphql.Operation.Until).
	Until int64
	// Query runs the live query; when one with the same Key is live
	// already, it is used instead and this one is dropped.
	Query Query
}

// Push is a result on its way to one subscriber.
type Push struct {
	Result
	// First marks the subscription's first result.
	First bool
	// Since is when the earliest write this result reflects was
	// acknowledged; zero for a first result.
	Since time.Time
}

// ErrClosing refuses connections and subscriptions while the hub shuts
// down.
var ErrClosing = errors.New("the server is shutting down; reconnect in a moment")

// LimitError is a connection or subscription refused by a limit.
type LimitError struct {
	// Message says which limit, its value and the flag that sets it.
	Message string
	Limit   int
	Flag    string
}

func (e *LimitError) Error() string { return e.Message }

// Hub runs the live queries of one server. It is safe for concurrent use.
type Hub struct {
	cfg Config
	log *slog.Logger
	m   metrics

	ctx    context.Context // ended by Close: evaluations in flight stop
	cancel context.CancelFunc

	mu            sync.Mutex
	cond          *sync.Cond // signals work in the queues, or stopped
	clients       map[*Client]struct{}
	queries       map[string]*query
	byAccount     map[pgtext.UUID]map[*query]struct{}
	subscriptions int
	perKey        map[string]int
	urgent        []*query // first results owed to subscribers
	queue         []*query // re-runs after writes
	closing       bool
	stopped       bool
	drained       chan struct{} // closed when closing and no client is left
	workers       sync.WaitGroup
}

// query is one live query and its subscribers. Its fields are guarded by
// Hub.mu.
type query struct {
	key     string
	account pgtext.UUID
	until   int64
	q       Query
	subs    map[*Subscription]struct{}

	dirty     bool      // a write may have changed it since its last run started
	since     time.Time // the acknowledgement of the earliest such write
	urgent    bool      // a subscriber waits for its first result
	queued    bool
	running   bool
	removed   bool // no subscriber is left
	timer     *time.Timer
	lastStart time.Time
	seq       uint64 // runs started
	last      Result
	hasLast   bool
}

// New starts a hub and its evaluation workers.
func New(cfg Config) *Hub {
	cfg = cfg.WithDefaults()
	h := &Hub{
		cfg:       cfg,
		log:       cfg.Logger,
		clients:   map[*Client]struct{}{},
		queries:   map[string]*query{},
		byAccount: map[pgtext.UUID]map[*query]struct{}{},
		perKey:    map[string]int{},
		drained:   make(chan struct{}),
	}
	h.cond = sync.NewCond(&h.mu)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.m = newMetrics(h, cfg.Registry)
	for range cfg.Workers {
		h.workers.Add(1)
		go h.worker()
	}
	return h
}

// Config is the hub's configuration, defaults applied.
func (h *Hub) Config() Config { return h.cfg }

// Follow subscribes the hub to a backend's change feed; cancel stops it.
func (h *Hub) Follow(src feed.Source) (cancel func()) { return src.Subscribe(h.Publish) }

// Publish marks the live queries an event may change and schedules them.
// It returns at once: it is called under the backend's write lock.
func (h *Hub) Publish(e feed.Event) {
	now := time.Now()
	at := e.At
	if at.IsZero() {
		at = now
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.All {
		for _, q := range h.queries {
			h.touchLocked(q, at, now)
		}
		return
	}
	for _, c := range e.Changes {
		for q := range h.byAccount[c.Account] {
			if c.From < q.until {
				h.touchLocked(q, at, now)
			}
		}
	}
}

func (h *Hub) touchLocked(q *query, at, now time.Time) {
	if !q.dirty {
		q.dirty, q.since = true, at
	}
	h.scheduleLocked(q, now)
}

// scheduleLocked puts q in a queue now, or at its last run plus Delay, unless
// it is queued, waiting for that time, or running (run schedules it again
// when it ends).
func (h *Hub) scheduleLocked(q *query, now time.Time) {
	if q.removed || q.queued || q.running {
		return
	}
	if !q.urgent {
		if q.timer != nil {
			return
		}
		if due := q.lastStart.Add(h.cfg.Delay); due.After(now) {
			var t *time.Timer
			t = time.AfterFunc(due.Sub(now), func() {
				h.mu.Lock()
				defer h.mu.Unlock()
				if q.timer != t {
					return
				}
				q.timer = nil
				h.enqueueLocked(q)
			})
			q.timer = t
			return
		}
	}
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	h.enqueueLocked(q)
}

func (h *Hub) enqueueLocked(q *query) {
	if q.removed || q.queued || q.running {
		return
	}
	q.queued = true
	if q.urgent {
		h.urgent = append(h.urgent, q)
	} else {
		h.queue = append(h.queue, q)
	}
	h.cond.Signal()
}

func (h *Hub) worker() {
	defer h.workers.Done()
	for {
		q := h.next()
		if q == nil {
			return
		}
		h.run(q)
	}
}

// next takes the next live query to run, first results first; nil once
// the hub is stopped.
func (h *Hub) next() *query {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.stopped {
			return nil
		}
		for _, qs := range []*[]*query{&h.urgent, &h.queue} {
			for len(*qs) > 0 {
				q := (*qs)[0]
				(*qs)[0] = nil
				*qs = (*qs)[1:]
				if len(*qs) == 0 {
					*qs = nil
				}
				if q.queued && !q.removed {
					return q
				}
			}
		}
		h.cond.Wait()
	}
}

// run evaluates q and pushes the result to the subscribers that wait for
// their first one, and to the others when it changed.
func (h *Hub) run(q *query) {
	h.mu.Lock()
	if q.removed {
		q.queued = false
		h.mu.Unlock()
		return
	}
	q.queued, q.running, q.urgent, q.dirty = false, true, false, false
	since := q.since
	q.since = time.Time{}
	q.seq++
	seq := q.seq
	q.lastStart = time.Now()
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.RunTimeout)
	start := time.Now()
	res := q.q.Run(ctx)
	cancel()
	h.m.evaluations.Inc()
	h.m.evalSeconds.Observe(time.Since(start).Seconds())

	h.mu.Lock()
	defer h.mu.Unlock()
	q.running = false
	if q.removed {
		return
	}
	changed := !q.hasLast || q.last.Err != res.Err || !bytes.Equal(q.last.Body, res.Body)
	if changed {
		q.last, q.hasLast = res, true
	}
	for s := range q.subs {
		switch {
		case s.waiting:
			if seq >= s.minSeq {
				s.waiting = false
				s.deliver(Push{Result: res, First: true})
			}
		case changed:
			s.deliver(Push{Result: res, Since: since})
		}
	}
	if q.dirty || q.urgent {
		h.scheduleLocked(q, time.Now())
	}
}

// Client is one connection's hold on the hub: it counts against the
// connection limit and owns its subscriptions.
type Client struct {
	h        *Hub
	key      string // API key id, "" for the admin secret or development mode
	subs     map[*Subscription]struct{}
	shutdown func()
	closed   bool
}

// Connect registers a connection. shutdown is called, once, when the hub
// closes: it must start closing the connection (with its protocol's
// close code) and return at once; the connection calls Client.Close when
// it is gone.
func (h *Hub) Connect(shutdown func()) (*Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return nil, ErrClosing
	}
	if len(h.clients) >= h.cfg.MaxConnections {
		h.m.refused.WithLabelValues("connections").Inc()
		return nil, &LimitError{Limit: h.cfg.MaxConnections, Flag: "--live-max-connections",
			Message: fmt.Sprintf("this server already has %d WebSocket connections open, the most it allows (--live-max-connections); retry later", h.cfg.MaxConnections)}
	}
	c := &Client{h: h, subs: map[*Subscription]struct{}{}, shutdown: shutdown}
	h.clients[c] = struct{}{}
	return c, nil
}

// SetKey says which API key the connection authenticated with ("" for
// none), for the per-key limit. Call it before Subscribe.
func (c *Client) SetKey(id string) {
	c.h.mu.Lock()
	c.key = id
	c.h.mu.Unlock()
}

// Subscription is one subscriber of a live query.
type Subscription struct {
	c       *Client
	q       *query
	deliver func(Push)
	waiting bool   // its first result is owed
	minSeq  uint64 // the first run whose result may be its first
	stopped bool
}

// Subscribe starts a subscription. deliver receives its results, in
// order, under the hub's lock: it must return at once and must not call
// the hub (keep the latest result and wake a writer). The first result
// comes from a run that started after Subscribe, or is the last result
// when no write happened since it was computed.
func (c *Client) Subscribe(spec Spec, deliver func(Push)) (*Subscription, error) {
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closing || c.closed:
		return nil, ErrClosing
	case len(c.subs) >= h.cfg.MaxPerConnection:
		h.m.refused.WithLabelValues("per_connection").Inc()
		return nil, &LimitError{Limit: h.cfg.MaxPerConnection, Flag: "--live-max-per-connection",
			Message: fmt.Sprintf("this connection already has %d subscriptions, the most one connection may hold (--live-max-per-connection); stop one or open another connection", h.cfg.MaxPerConnection)}
	case c.key != "" && h.perKey[c.key] >= h.cfg.MaxPerKey:
		h.m.refused.WithLabelValues("per_key").Inc()
		return nil, &LimitError{Limit: h.cfg.MaxPerKey, Flag: "--live-max-per-key",
			Message: fmt.Sprintf("this API key already has %d subscriptions open on this server, the most one key may hold (--live-max-per-key); stop some first", h.cfg.MaxPerKey)}
	case h.subscriptions >= h.cfg.MaxSubscriptions:
		h.m.refused.WithLabelValues("subscriptions").Inc()
		return nil, &LimitError{Limit: h.cfg.MaxSubscriptions, Flag: "--live-max-subscriptions",
			Message: fmt.Sprintf("this server already has %d subscriptions open, the most it allows (--live-max-subscriptions); retry later", h.cfg.MaxSubscriptions)}
	}
	q := h.queries[spec.Key]
	if q == nil {
		q = &query{key: spec.Key, account: spec.Account, until: spec.Until, q: spec.Query, subs: map[*Subscription]struct{}{}}
		h.queries[spec.Key] = q
		acc := h.byAccount[spec.Account]
		if acc == nil {
			acc = map[*query]struct{}{}
			h.byAccount[spec.Account] = acc
		}
		acc[q] = struct{}{}
	}
	s := &Subscription{c: c, q: q, deliver: deliver}
	q.subs[s] = struct{}{}
	c.subs[s] = struct{}{}
	h.subscriptions++
	if c.key != "" {
		h.perKey[c.key]++
	}
	switch {
	case !q.dirty && q.running:
		// The run in progress reflects every write so far.
		s.waiting, s.minSeq = true, q.seq
	case !q.dirty && q.hasLast:
		deliver(Push{Result: q.last, First: true})
	default:
		s.waiting, s.minSeq = true, q.seq+1
		q.urgent = true
		h.scheduleLocked(q, time.Now())
	}
	return s, nil
}

// Stop ends the subscription; nothing is delivered to it afterwards. A
// live query left without subscribers is dropped.
func (s *Subscription) Stop() {
	h := s.c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopLocked(s)
}

func (h *Hub) stopLocked(s *Subscription) {
	if s.stopped {
		return
	}
	s.stopped = true
	q, c := s.q, s.c
	delete(q.subs, s)
	delete(c.subs, s)
	h.subscriptions--
	if c.key != "" {
		if h.perKey[c.key]--; h.perKey[c.key] <= 0 {
			delete(h.perKey, c.key)
		}
	}
	if len(q.subs) > 0 {
		return
	}
	q.removed = true
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	delete(h.queries, q.key)
	if acc := h.byAccount[q.account]; acc != nil {
		delete(acc, q)
		if len(acc) == 0 {
			delete(h.byAccount, q.account)
		}
	}
}

// Close stops every subscription of the connection and frees its place.
func (c *Client) Close() {
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for s := range c.subs {
		h.stopLocked(s)
	}
	delete(h.clients, c)
	if h.closing && len(h.clients) == 0 {
		select {
		case <-h.drained:
		default:
			close(h.drained)
		}
	}
}

// Close shuts the hub down: new connections are refused, every client's
// shutdown is called, and Close waits until they are gone or ctx ends;
// then the workers stop. Call it before the HTTP server's Shutdown, which
// does not wait for upgraded connections.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	first := !h.closing
	h.closing = true
	var shutdowns []func()
	for c := range h.clients {
		shutdowns = append(shutdowns, c.shutdown)
	}
	if len(h.clients) == 0 && first {
		close(h.drained)
	}
	h.mu.Unlock()
	for _, fn := range shutdowns {
		fn()
	}
	var err error
	select {
	case <-h.drained:
	case <-ctx.Done():
		err = fmt.Errorf("live queries: connections still open at shutdown: %w", ctx.Err())
	}
	h.mu.Lock()
	h.stopped = true
	h.cond.Broadcast()
	h.mu.Unlock()
	h.cancel()
	h.workers.Wait()
	return err
}

// Pushed records that a push reached the connection: the pushes counter,
// and the latency from the write it reflects.
func (h *Hub) Pushed(p Push) {
	h.m.pushes.Inc()
	if !p.Since.IsZero() {
		h.m.latency.Observe(time.Since(p.Since).Seconds())
	}
}

// Stats are the hub's counts now.
type Stats struct {
	Connections, Subscriptions, Queries int
}

// Stats returns the hub's counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Connections: len(h.clients), Subscriptions: h.subscriptions, Queries: len(h.queries)}
}

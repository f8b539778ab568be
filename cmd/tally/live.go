package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tally-server/tally/internal/embedded"
	"github.com/tally-server/tally/internal/live"
	"github.com/tally-server/tally/internal/live/feed"
	"github.com/tally-server/tally/internal/store/postgres"
)

// liveFlags are serve's flags for live queries (docs/live.md).
type liveFlags struct {
	delay            *time.Duration
	maxConnections   *int
	maxSubscriptions *int
	maxPerConnection *int
	maxPerKey        *int
	keepAlive        *time.Duration
	initTimeout      *time.Duration
}

func addLiveFlags(ef *envFlags) *liveFlags {
	d := live.Config{}.WithDefaults()
	return &liveFlags{
		delay:            ef.Duration("live-delay", d.Delay, "longest a live query waits after a write before its new result is pushed; bursts of writes within it cost one run"),
		maxConnections:   ef.Int("live-max-connections", d.MaxConnections, "most WebSocket connections open at once"),
		maxSubscriptions: ef.Int("live-max-subscriptions", d.MaxSubscriptions, "most subscriptions open at once on this server"),
		maxPerConnection: ef.Int("live-max-per-connection", d.MaxPerConnection, "most subscriptions one WebSocket connection may hold"),
		maxPerKey:        ef.Int("live-max-per-key", d.MaxPerKey, "most subscriptions one API key may hold on this server"),
		keepAlive:        ef.Duration("live-keepalive", d.KeepAlive, "how often a WebSocket gets its protocol's keep-alive (ka, or ping)"),
		initTimeout:      ef.Duration("live-init-timeout", d.InitTimeout, "how long a WebSocket may wait before sending connection_init"),
	}
}

func (l *liveFlags) validate() []string {
	var errs []string
	for name, d := range map[string]time.Duration{"--live-delay": *l.delay, "--live-keepalive": *l.keepAlive, "--live-init-timeout": *l.initTimeout} {
		if d <= 0 {
			errs = append(errs, name+" must be a positive duration such as 200ms")
		}
	}
	for name, n := range map[string]int{"--live-max-connections": *l.maxConnections, "--live-max-subscriptions": *l.maxSubscriptions,
		"--live-max-per-connection": *l.maxPerConnection, "--live-max-per-key": *l.maxPerKey} {
		if n <= 0 {
			errs = append(errs, name+" must be positive")
		}
	}
	return errs
}

// startLive starts the live hub on the backend's change feed: the embedded
// backend publishes from Ingest; on PostgreSQL a Listener holds one
// connection that LISTENs for every replica's writes. stop shuts the hub
// down (closing every WebSocket with 1001) and stops the feed; call it
// before the HTTP server's Shutdown. It may be called more than once.
func startLive(be *opened, l *liveFlags, queryTimeout time.Duration, reg prometheus.Registerer, log *slog.Logger) (hub *live.Hub, stop func(ctx context.Context)) {
	hub = live.New(live.Config{
		Delay:            *l.delay,
		MaxConnections:   *l.maxConnections,
		MaxSubscriptions: *l.maxSubscriptions,
		MaxPerConnection: *l.maxPerConnection,
		MaxPerKey:        *l.maxPerKey,
		KeepAlive:        *l.keepAlive,
		InitTimeout:      *l.initTimeout,
		RunTimeout:       queryTimeout,
		Registry:         reg,
		Logger:           log,
	})
	var (
		src      feed.Source
		listened = func() {}
	)
	switch b := be.backend.(type) {
	case *embedded.Backend:
		src = b
	case *postgres.Store:
		ln := postgres.NewListener(b)
		src, listened = ln, ln.Start()
	}
	unfollow := func() {}
	if src != nil {
		unfollow = hub.Follow(src)
	}
	var once sync.Once
	return hub, func(ctx context.Context) {
		once.Do(func() {
			if err := hub.Close(ctx); err != nil {
				log.Warn("live queries", "err", err)
			}
			unfollow()
			listened()
		})
	}
}

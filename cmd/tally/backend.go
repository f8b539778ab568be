package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/engine"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/store/postgres"
	"github.com/tally-server/tally/internal/store/sqlite"
)

// keyStore is what both stores offer for API keys.
type keyStore interface {
	auth.KeyStore
	server.KeyManager
}

// backend is one storage mode wired for the server.
type backend struct {
	counter  analytics.Source
	ingester server.Ingester
	keys     keyStore
	health   func(context.Context) error
	sessions func() float64 // nil: not reported
	close    func()
}

var (
	_ keyStore          = (*sqlite.Store)(nil)
	_ keyStore          = (*postgres.Store)(nil)
	_ analytics.Source  = (*postgres.Store)(nil)
	_ server.Ingester   = (*postgres.Store)(nil)
	_ server.KeyManager = (*postgres.Store)(nil)
)

// openEmbedded opens the SQLite store in dir, runs prepare (demo data)
// before the engine loads, and rebuilds the engine.
func openEmbedded(ctx context.Context, dir string, log *slog.Logger, prepare func(*sqlite.Store) error) (*backend, error) {
	store, err := sqlite.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	if prepare != nil {
		if err := prepare(store); err != nil {
			store.Close()
			return nil, err
		}
	}
	ing := &embedded{store: store, index: engine.New(engine.Config{})}
	if err := loadIndex(ctx, store, ing.index, log); err != nil {
		store.Close()
		return nil, err
	}
	return &backend{
		counter:  ing.index,
		ingester: ing,
		keys:     store,
		sessions: func() float64 { return float64(ing.index.Sessions()) },
		close:    func() { store.Close() },
	}, nil
}

// openPostgres connects to PostgreSQL, retrying with backoff while the
// database is unreachable, so that Tally and its database can start in any
// order.
func openPostgres(ctx context.Context, url string, pool int, log *slog.Logger) (*backend, error) {
	store, err := connectPostgres(ctx, postgres.Config{URL: url, PoolSize: pool, Logger: log}, log)
	if err != nil {
		return nil, err
	}
	return &backend{counter: store, ingester: store, keys: store, health: store.Ping, close: store.Close}, nil
}

func connectPostgres(ctx context.Context, cfg postgres.Config, log *slog.Logger) (*postgres.Store, error) {
	delay := 500 * time.Millisecond
	for {
		store, err := postgres.Open(ctx, cfg)
		if err == nil {
			return store, nil
		}
		if !errors.Is(err, postgres.ErrUnavailable) {
			return nil, err // a wrong URL, password or schema will not fix itself
		}
		log.Warn("PostgreSQL is unreachable; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

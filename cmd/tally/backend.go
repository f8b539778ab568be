package main

import (
	"context"
	"log/slog"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/embedded"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/store/postgres"
	"github.com/tally-server/tally/internal/store/sqlite"
)

// backend is what serve needs of a storage mode; the embedded backend and
// the PostgreSQL store both are one.
type backend interface {
	analytics.Source
	server.Ingester
	auth.KeyStore
	server.KeyManager
	Health(ctx context.Context) error
}

var (
	_ backend = (*embedded.Backend)(nil)
	_ backend = (*postgres.Store)(nil)
)

// opened is a backend with what differs between the modes.
type opened struct {
	backend
	sessions func() float64 // nil: not reported
	close    func()
}

// openEmbedded opens the embedded backend in dir; prepare (demo data) runs
// on the store before the engine loads.
func openEmbedded(ctx context.Context, dir string, log *slog.Logger, prepare func(context.Context, *sqlite.Store) error) (*opened, error) {
	b, err := embedded.Open(ctx, embedded.Config{Dir: dir, Logger: log, Prepare: prepare})
	if err != nil {
		return nil, err
	}
	return &opened{backend: b, sessions: func() float64 { return float64(b.Sessions()) }, close: func() { b.Close() }}, nil
}

// openPostgres connects to PostgreSQL, waiting while it is unreachable.
func openPostgres(ctx context.Context, url string, pool int, log *slog.Logger) (*opened, error) {
	store, err := postgres.Connect(ctx, postgres.Config{URL: url, PoolSize: pool, Logger: log})
	if err != nil {
		return nil, err
	}
	return &opened{backend: store, close: store.Close}, nil
}

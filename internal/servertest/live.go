package servertest

import (
	"context"
	"time"

	"github.com/tally-server/tally/internal/live"
	"github.com/tally-server/tally/internal/live/feed"
	"github.com/tally-server/tally/internal/store/postgres"
)

// startLive starts the live hub on the backend's change feed, as tally
// serve does: the embedded backend publishes from Ingest; on PostgreSQL a
// Listener LISTENs on its own connection.
func (s *Server) startLive(o Options) {
	cfg := o.Live
	if cfg.Registry == nil && o.Registry != nil {
		cfg.Registry = o.Registry
	}
	s.Hub = live.New(cfg)
	var (
		src      feed.Source = s.Embedded
		listened func()
	)
	if s.Postgres != nil {
		l := postgres.NewListener(s.Postgres)
		src, listened = l, l.Start()
	}
	unfollow := s.Hub.Follow(src)
	s.stopLive = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Hub.Close(ctx)
		unfollow()
		if listened != nil {
			listened()
		}
	}
}

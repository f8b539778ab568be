package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-server/tally/internal/live/feed"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// The change feed in PostgreSQL mode. Ingest sends what each write
// changed with pg_notify inside the write's transaction, so the
// notification is delivered exactly when the write commits, and to every
// replica: each one holds one connection that LISTENs (Listener) and
// publishes what arrives to its live queries. Its own writes reach it the
// same way.

// NotifyChannel is the channel the change feed uses.
const NotifyChannel = "tally_changes"

// maxPayload keeps each notification under PostgreSQL's 8000-byte limit.
const maxPayload = 7900

// notifyChanges queues, in tx, one or more notifications that together
// carry one entry per account the write changed: "<account> <from> <to>"
// (microseconds since 1970, UTC), entries separated by ";". Nothing is
// sent when the write changed nothing. Ingest calls it once, after the
// rows are written.
func notifyChanges(ctx context.Context, tx pgx.Tx, changes []session.Change) error {
	payloads := encodeChanges(feed.Summarize(changes))
	if len(payloads) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, NotifyChannel, payloads); err != nil {
		return fmt.Errorf("notify live queries: %w", err)
	}
	return nil
}

// encodeChanges writes changes as notification payloads of at most
// maxPayload bytes each.
func encodeChanges(changes []feed.Change) []string {
	var (
		out []string
		b   []byte
	)
	for _, c := range changes {
		if len(b) > 0 && len(b)+1+36+2*21 > maxPayload {
			out = append(out, string(b))
			b = b[:0]
		}
		if len(b) > 0 {
			b = append(b, ';')
		}
		b = append(b, c.Account.String()...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, c.From, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, c.To, 10)
	}
	if len(b) > 0 {
		out = append(out, string(b))
	}
	return out
}

// decodeChanges reads a payload of encodeChanges.
func decodeChanges(payload string) ([]feed.Change, error) {
	var out []feed.Change
	for entry := range strings.SplitSeq(payload, ";") {
		parts := strings.Fields(entry)
		if len(parts) != 3 {
			return nil, fmt.Errorf("change entry %q: want \"<account> <from> <to>\"", entry)
		}
		acc, err := pgtext.ParseUUID(parts[0])
		if err != nil {
			return nil, fmt.Errorf("change entry %q: %w", entry, err)
		}
		from, err1 := strconv.ParseInt(parts[1], 10, 64)
		to, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("change entry %q: times must be integers", entry)
		}
		out = append(out, feed.Change{Account: acc, From: from, To: to})
	}
	return out, nil
}

// Listener is a replica's end of the change feed: one connection that
// LISTENs on NotifyChannel and publishes every write's changes, whichever
// replica made it. When the connection is lost it reconnects, waiting
// while the database is away, and then publishes an All event, since
// writes made meanwhile were missed: every live query runs again.
type Listener struct {
	store *Store
	feed  feed.Feed
	log   *slog.Logger
	// Check is how long the connection may stay silent before it is
	// pinged (default 15s), so that a dead link is noticed.
	Check time.Duration
	// Retry is the first wait before reconnecting (default 100ms),
	// doubled on each failure up to 5s.
	Retry time.Duration
}

// NewListener makes the listener of s's change feed; Run starts it.
func NewListener(s *Store) *Listener {
	return &Listener{store: s, log: s.log, Check: 15 * time.Second, Retry: 100 * time.Millisecond}
}

// Subscribe implements feed.Source. fn is called from Run's goroutine.
func (l *Listener) Subscribe(fn func(feed.Event)) (cancel func()) {
	return l.feed.Subscribe(fn)
}

var _ feed.Source = (*Listener)(nil)

// Start runs Run in a goroutine until stop, which waits for it to end.
func (l *Listener) Start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// Run listens until ctx ends. Every time LISTEN succeeds — the first time
// too, so that no write between a live query's first result and the
// start of listening goes unseen — it publishes an All event.
func (l *Listener) Run(ctx context.Context) {
	wait := l.Retry
	lost := false
	for ctx.Err() == nil {
		err := l.listen(ctx, func() {
			wait = l.Retry
			if lost {
				l.log.Info("live queries: change feed back; every live query runs again")
			}
			l.feed.Publish(feed.Event{All: true})
		})
		if ctx.Err() != nil {
			return
		}
		if !lost {
			l.log.Warn("live queries: change feed lost; reconnecting", "err", err)
		}
		lost = true
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen holds one connection until it fails; listening is called once
// LISTEN succeeded.
func (l *Listener) listen(ctx context.Context, listening func()) error {
	cfg := l.store.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	listening()
	for {
		wctx, cancel := context.WithTimeout(ctx, l.Check)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			changes, derr := decodeChanges(n.Payload)
			if derr != nil {
				l.log.Error("live queries: unreadable change notification; every live query runs again", "err", derr)
				l.feed.Publish(feed.Event{All: true})
				continue
			}
			l.feed.Publish(feed.Event{Changes: changes})
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

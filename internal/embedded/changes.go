package embedded

import "github.com/tally-server/tally/internal/live/feed"

// Subscribe implements feed.Source: fn receives the changes of every batch
// once it is durable and applied to the engine, in the store's order,
// under the write lock (fn must return at once).
func (b *Backend) Subscribe(fn func(feed.Event)) (cancel func()) {
	return b.feed.Subscribe(fn)
}

var _ feed.Source = (*Backend)(nil)

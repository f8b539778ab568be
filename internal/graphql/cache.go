package graphql

import (
	"container/list"
	"sync"
)

// docCache keeps prepared documents by query text, so that a dashboard
// sending the same query every few seconds pays for parsing once. It is
// bounded by bytes, not entries: each entry costs its query text plus an
// estimate of its syntax tree (prepared.cost), and the least recently used
// entries go when the total would pass max. A document costing more than
// a quarter of max is never kept, so that one large query cannot empty
// the cache. Safe for concurrent use.
type docCache struct {
	mu      sync.Mutex
	max     int64
	used    int64
	order   *list.List // of *cacheEntry, most recently used first
	entries map[string]*list.Element
}

type cacheEntry struct {
	query string
	p     *prepared
}

func newDocCache(maxBytes int64) *docCache {
	return &docCache{max: maxBytes, order: list.New(), entries: map[string]*list.Element{}}
}

func (c *docCache) get(q string) *prepared {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entries[q]
	if el == nil {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).p
}

func (c *docCache) put(q string, p *prepared) {
	if p.cost > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.entries[q]; el != nil {
		c.order.MoveToFront(el)
		return
	}
	for c.used+p.cost > c.max && c.order.Len() > 0 {
		last := c.order.Back()
		e := last.Value.(*cacheEntry)
		c.order.Remove(last)
		delete(c.entries, e.query)
		c.used -= e.p.cost
	}
	c.entries[q] = c.order.PushFront(&cacheEntry{query: q, p: p})
	c.used += p.cost
}

// bytes is the cost of the entries held.
func (c *docCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// len is the number of entries held.
func (c *docCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

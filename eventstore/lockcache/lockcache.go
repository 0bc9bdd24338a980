// Package lockcache is a least-recently-used cache whose entries are
// locked by their users: the ledger keeps one of aggregates for its
// command path and the store one of aggregates' heads. Locks are taken
// with a context, in one order across keys (so two users of overlapping
// keys cannot deadlock), and a user whose context ends while it waits
// gives up with nothing held: no wait is longer than the request it
// serves.
package lockcache

import (
	"container/list"
	"context"
	"slices"
	"sync"
)

// Entry is one cached value, with its lock.
type Entry[K comparable, V any] struct {
	Key   K
	Value V
	lock  chan struct{}
	elem  *list.Element
	// weight is what the entry counted towards the cache's total when it
	// was last unlocked.
	weight int
}

// Cache keeps at most Size entries, and, if Weigh is set, about
// MaxWeight in total of their weights.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]*Entry[K, V]
	lru     *list.List
	size    int
	// weigh, if set, gives an entry's weight (the events an aggregate
	// holds, say): a few heavy entries cannot fill the memory that size
	// light ones would not.
	weigh     func(*V) int
	maxWeight int
	total     int
	compare   func(a, b K) int
}

// New returns a cache of at most size entries, locked in the order
// compare gives. weigh may be nil.
func New[K comparable, V any](size int, compare func(a, b K) int, weigh func(*V) int, maxWeight int) *Cache[K, V] {
	return &Cache[K, V]{entries: map[K]*Entry[K, V]{}, lru: list.New(), size: size, compare: compare, weigh: weigh, maxWeight: maxWeight}
}

// Lock returns the entries of keys (made empty where missing), locked, in
// the order of keys. If ctx ends first, it returns ctx's error holding no
// lock. An evicted entry in use stays valid for its holder; a later user
// gets a fresh one.
func (c *Cache[K, V]) Lock(ctx context.Context, keys []K) ([]*Entry[K, V], error) {
	out := make([]*Entry[K, V], len(keys))
	c.mu.Lock()
	for i, k := range keys {
		e, ok := c.entries[k]
		if !ok {
			e = &Entry[K, V]{Key: k, lock: make(chan struct{}, 1)}
			e.elem = c.lru.PushFront(e)
			c.entries[k] = e
		} else {
			c.lru.MoveToFront(e.elem)
		}
		out[i] = e
	}
	c.evict(len(keys))
	c.mu.Unlock()
	order := slices.Clone(out)
	slices.SortFunc(order, func(a, b *Entry[K, V]) int { return c.compare(a.Key, b.Key) })
	for i, e := range order {
		select {
		case e.lock <- struct{}{}:
		case <-ctx.Done():
			for _, held := range order[:i] {
				<-held.lock
			}
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// evict forgets the least recently used entries past the bounds, keeping
// the keep most recent (those being locked). The caller holds c.mu.
func (c *Cache[K, V]) evict(keep int) {
	for c.lru.Len() > keep && (c.lru.Len() > c.size || (c.weigh != nil && c.total > c.maxWeight)) {
		old := c.lru.Remove(c.lru.Back()).(*Entry[K, V])
		delete(c.entries, old.Key)
		c.total -= old.weight
	}
}

// Unlock releases entries Lock returned, counting their new weights.
func (c *Cache[K, V]) Unlock(entries []*Entry[K, V]) {
	for _, e := range entries {
		w := 0
		if c.weigh != nil {
			w = c.weigh(&e.Value) // under the entry's lock
		}
		c.mu.Lock()
		if cur, ok := c.entries[e.Key]; ok && cur == e {
			c.total += w - e.weight
		}
		e.weight = w
		c.mu.Unlock()
		<-e.lock
	}
}

// Len is the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Package ttlcache is the one in-process cache of the functions: values kept
// for a fixed time, bounded in size, safe for concurrent use. A warm Lambda
// instance reuses what it read a moment ago (directory records, secrets,
// provider clients) instead of asking again on every request.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps K to V for TTL after each Set.
type Cache[K comparable, V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	items map[K]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New is an empty cache keeping values for ttl, at most max of them (max <= 0:
// 1024). now is the clock (nil: time.Now).
func New[K comparable, V any](ttl time.Duration, max int, now func() time.Time) *Cache[K, V] {
	if max <= 0 {
		max = 1024
	}
	if now == nil {
		now = time.Now
	}
	return &Cache[K, V]{ttl: ttl, max: max, now: now, items: map[K]entry[V]{}}
}

// Get returns the value for k if it is there and fresh.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Set stores v for k. A full cache drops its expired entries first, then (if
// still full) an arbitrary one.
func (c *Cache[K, V]) Set(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.items[k]; !ok && len(c.items) >= c.max {
		for key, e := range c.items {
			if !now.Before(e.expires) {
				delete(c.items, key)
			}
		}
		for key := range c.items {
			if len(c.items) < c.max {
				break
			}
			delete(c.items, key)
		}
	}
	c.items[k] = entry[V]{v: v, expires: now.Add(c.ttl)}
}

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.items, k)
	c.mu.Unlock()
}

// Load returns the fresh value for k, or calls load and keeps its result
// (errors are not kept).
func (c *Cache[K, V]) Load(k K, load func() (V, error)) (V, error) {
	if v, ok := c.Get(k); ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.Set(k, v)
	return v, nil
}

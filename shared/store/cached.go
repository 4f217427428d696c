package store

import (
	"context"
	"time"

	"github.com/estatepay/estatepay/shared/ttlcache"
)

// DirectoryTTL is how long a warm function reuses directory records it read:
// a code revoked or an interface changed in the console takes effect within it.
const DirectoryTTL = 30 * time.Second

// CachedDirectory reads directory records through a short in-process cache:
// the landing page's second request (after WeChat OAuth), order creation and
// every callback of a busy interface read the directory once per instance
// and DirectoryTTL instead of once per request.
type CachedDirectory struct {
	Store       *Store
	collections *ttlcache.Cache[string, Collection]
	communities *ttlcache.Cache[string, Collection]
	interfaces  *ttlcache.Cache[string, Interface]
}

// NewCachedDirectory caches s's directory reads on clock now (nil: time.Now).
func NewCachedDirectory(s *Store, now func() time.Time) *CachedDirectory {
	return &CachedDirectory{
		Store:       s,
		collections: ttlcache.New[string, Collection](DirectoryTTL, 4096, now),
		communities: ttlcache.New[string, Collection](DirectoryTTL, 4096, now),
		interfaces:  ttlcache.New[string, Interface](DirectoryTTL, 1024, now),
	}
}

// LoadCollection is Store.LoadCollection, cached (not-found answers are not).
func (d *CachedDirectory) LoadCollection(ctx context.Context, token string) (Collection, error) {
	return d.collections.Load(token, func() (Collection, error) { return d.Store.LoadCollection(ctx, token) })
}

// LoadCommunity is Store.LoadCommunity, cached.
func (d *CachedDirectory) LoadCommunity(ctx context.Context, id string) (Collection, error) {
	return d.communities.Load(id, func() (Collection, error) { return d.Store.LoadCommunity(ctx, id) })
}

// GetInterface is Store.GetInterface, cached.
func (d *CachedDirectory) GetInterface(ctx context.Context, id string) (Interface, error) {
	return d.interfaces.Load(id, func() (Interface, error) { return d.Store.GetInterface(ctx, id) })
}

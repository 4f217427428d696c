package store

import (
	"context"
	"sync"
)

// CommunityNames reads community names from the directory (GetItem), kept
// per instance: a name rarely changes and the consumers that print it
// (FanoutFunction's messages, AnnounceFunction's list) only use it as a
// label. A name it cannot read is "" (not kept: asked again next time). At
// most communityNamesKept names are kept; past that the map starts again.
type CommunityNames struct {
	Store *Store
	mu    sync.Mutex
	names map[string]string
}

const communityNamesKept = 1000

// CommunityName is the community's name, or "" when it cannot be read.
func (d *CommunityNames) CommunityName(ctx context.Context, id string) string {
	d.mu.Lock()
	name, ok := d.names[id]
	d.mu.Unlock()
	if ok {
		return name
	}
	c, err := d.Store.GetCommunity(ctx, id)
	if err != nil {
		return ""
	}
	d.mu.Lock()
	if d.names == nil || len(d.names) >= communityNamesKept {
		d.names = map[string]string{}
	}
	d.names[id] = c.Name
	d.mu.Unlock()
	return c.Name
}

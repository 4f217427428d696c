// Package memory is the in-memory order repository: the same contract as the
// DynamoDB adapter (shared/store.Orders), proven by the one contract suite in
// shared/store/ordertest, for fast application tests.
package memory

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/domain/order"
)

// Orders keeps orders in a map.
type Orders struct {
	mu     sync.Mutex
	orders map[string]order.Order
	// Changes receives every stored change (before is nil for a create), as
	// the DynamoDB table's stream would carry it.
	Changes func(before *order.Order, after order.Order)
}

// NewOrders is an empty repository.
func NewOrders() *Orders { return &Orders{orders: map[string]order.Order{}} }

func clone(o order.Order) order.Order {
	if o.Fields != nil {
		f := make(map[string]string, len(o.Fields))
		for k, v := range o.Fields {
			f[k] = v
		}
		o.Fields = f
	}
	o.BillIDs = append([]string(nil), o.BillIDs...)
	o.RefundIDs = append([]string(nil), o.RefundIDs...)
	return o
}

// Create stores o once; an existing id answers the stored order and order.ErrExists.
func (r *Orders) Create(ctx context.Context, o order.Order) (order.Order, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if existing, ok := r.orders[o.ID]; ok {
		return clone(existing), order.ErrExists
	}
	r.orders[o.ID] = clone(o)
	if r.Changes != nil {
		r.Changes(nil, clone(o))
	}
	return o, nil
}

// Get returns the order or order.ErrNotFound.
func (r *Orders) Get(ctx context.Context, id string) (order.Order, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.orders[id]
	if !ok {
		return order.Order{}, order.ErrNotFound
	}
	return clone(o), nil
}

// Update applies change under the lock, with the DynamoDB adapter's rules.
func (r *Orders) Update(ctx context.Context, id string, change func(*order.Order) error) (order.Order, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	before, ok := r.orders[id]
	if !ok {
		return order.Order{}, order.ErrNotFound
	}
	after := clone(before)
	if err := change(&after); err != nil {
		return clone(before), err
	}
	if after.Version != before.Version+1 {
		return clone(before), fmt.Errorf("memory: a change must bump the version once (%d → %d)", before.Version, after.Version)
	}
	if after.Status != before.Status && !order.CanTransition(before.Status, after.Status) {
		return clone(before), fmt.Errorf("%w: %s → %s", order.ErrNotAllowed, before.Status, after.Status)
	}
	r.orders[id] = clone(after)
	if r.Changes != nil {
		b := clone(before)
		r.Changes(&b, clone(after))
	}
	return after, nil
}

// Due lists unpaid orders of work shard i due before `before`, soonest first.
// The memory adapter has one shard: shard 0 holds everything.
func (r *Orders) Due(ctx context.Context, i int, before time.Time, limit int32) ([]string, error) {
	if i != 0 {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var due []order.Order
	for _, o := range r.orders {
		if !o.Status.Final() && !o.NextCheckAt.IsZero() && o.NextCheckAt.Before(before) {
			due = append(due, o)
		}
	}
	sort.Slice(due, func(a, b int) bool {
		if !due[a].NextCheckAt.Equal(due[b].NextCheckAt) {
			return due[a].NextCheckAt.Before(due[b].NextCheckAt)
		}
		return due[a].ID < due[b].ID
	})
	if len(due) > int(limit) {
		due = due[:limit]
	}
	ids := make([]string, len(due))
	for i, o := range due {
		ids[i] = o.ID
	}
	return ids, nil
}

// WorkShards is 1 for the memory adapter.
func (r *Orders) WorkShards() int { return 1 }

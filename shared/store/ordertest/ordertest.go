// Package ordertest is the contract suite of the order repository
// (payments.Orders): the DynamoDB adapter (against the embedded DynamoDB,
// or real DynamoDB when ESTATEPAY_DYNAMODB_REGION is set — see README) and
// the in-memory fake both run it, so a test written against the fake holds
// for the real thing.
package ordertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/payments"
)

// T0 is the suite's clock.
var T0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

// NewOrder is a fresh CREATED order with a unique id.
func NewOrder(t testing.TB, suffix string, created time.Time) order.Order {
	t.Helper()
	o, err := order.New(order.Order{
		ID: "EPTEST" + suffix + fmt.Sprint(time.Now().UnixNano()), CommunityID: "com-1", CompanyID: "co-1", CodeToken: "tok",
		Channel: domain.Alipay, IfaceID: "ali-1", MerchantID: "2088000000000001", AppID: "2021000000000001",
		AmountFen: 1234, Description: "test", RequestHash: "h", Fields: map[string]string{"room": "1-101"},
	}, created, 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Payment is a report that matches NewOrder's orders.
func Payment(txn string, at time.Time) order.Payment {
	return order.Payment{ProviderTxnID: txn, AmountFen: 1234, PaidAt: at, MerchantID: "2088000000000001", AppID: "2021000000000001", PayerID: "buyer"}
}

// Run runs the contract against repositories made by newRepo (each call a
// fresh, empty one unless the adapter cannot offer that; ids are unique).
func Run(t *testing.T, newRepo func(t *testing.T) payments.Orders) {
	ctx := context.Background()

	t.Run("create once, get it back whole", func(t *testing.T) {
		r := newRepo(t)
		o := NewOrder(t, "A", T0)
		if _, err := r.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		got, err := r.Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != o.ID || got.Status != order.Created || got.Version != 1 || got.AmountFen != 1234 || got.MerchantID != o.MerchantID ||
			!got.CreatedAt.Equal(o.CreatedAt) || !got.ExpireAt.Equal(o.ExpireAt) || !got.NextCheckAt.Equal(o.NextCheckAt) || got.Fields["room"] != "1-101" {
			t.Fatalf("stored %+v, got %+v", o, got)
		}
		other := o
		other.AmountFen = 1
		existing, err := r.Create(ctx, other)
		if !errors.Is(err, order.ErrExists) || existing.AmountFen != 1234 {
			t.Fatalf("second create = %+v %v, want the first order and ErrExists", existing, err)
		}
		if _, err := r.Get(ctx, "EPNOSUCHORDER"); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
	})

	t.Run("update applies one transition, no-change writes nothing", func(t *testing.T) {
		r := newRepo(t)
		o := NewOrder(t, "B", T0)
		_, _ = r.Create(ctx, o)
		paid, err := r.Update(ctx, o.ID, func(o *order.Order) error { return o.Pay(Payment("T1", T0.Add(time.Minute))) })
		if err != nil || paid.Status != order.Paid || paid.Version != 2 || paid.BusinessDay != "2026-11-29" {
			t.Fatalf("pay = %+v %v", paid, err)
		}
		again, err := r.Update(ctx, o.ID, func(o *order.Order) error { return o.Pay(Payment("T1", T0.Add(time.Minute))) })
		if !errors.Is(err, order.ErrNoChange) || again.Version != 2 {
			t.Fatalf("duplicate = %+v %v", again, err)
		}
		got, _ := r.Get(ctx, o.ID)
		if got.Version != 2 || got.Status != order.Paid || got.ProviderTxnID != "T1" || !got.PaidAt.Equal(T0.Add(time.Minute)) {
			t.Fatalf("stored after duplicate = %+v", got)
		}
		if _, err := r.Update(ctx, "EPNOSUCHORDER", func(o *order.Order) error { return nil }); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("update unknown: %v", err)
		}
	})

	t.Run("a change that skips the transition table is refused", func(t *testing.T) {
		r := newRepo(t)
		o := NewOrder(t, "C", T0)
		_, _ = r.Create(ctx, o)
		_, _ = r.Update(ctx, o.ID, func(o *order.Order) error { return o.Pay(Payment("T1", T0)) })
		_, err := r.Update(ctx, o.ID, func(o *order.Order) error {
			o.Status, o.Version = order.Closed, o.Version+1 // bypassing the aggregate
			return nil
		})
		if err == nil {
			t.Fatal("PAID → CLOSED written")
		}
		if got, _ := r.Get(ctx, o.ID); got.Status != order.Paid {
			t.Fatalf("status = %s", got.Status)
		}
	})

	t.Run("concurrent updates apply once each, none lost", func(t *testing.T) {
		r := newRepo(t)
		o := NewOrder(t, "D", T0)
		_, _ = r.Create(ctx, o)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied, noChange := 0, 0
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := r.Update(ctx, o.ID, func(o *order.Order) error { return o.Pay(Payment("T1", T0)) })
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					applied++
				case errors.Is(err, order.ErrNoChange):
					noChange++
				default:
					t.Errorf("concurrent pay: %v", err)
				}
			}()
		}
		wg.Wait()
		if applied != 1 || noChange != n-1 {
			t.Fatalf("applied %d, no-change %d; want 1 and %d", applied, noChange, n-1)
		}
		if got, _ := r.Get(ctx, o.ID); got.Version != 2 {
			t.Fatalf("version %d after one payment", got.Version)
		}
	})

	t.Run("due lists unpaid orders by next check, soonest first", func(t *testing.T) {
		r := newRepo(t)
		late := NewOrder(t, "E1", T0.Add(time.Minute)) // next check T0+3m
		early := NewOrder(t, "E2", T0)                 // next check T0+2m
		paid := NewOrder(t, "E3", T0)
		for _, o := range []order.Order{late, early, paid} {
			if _, err := r.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = r.Update(ctx, paid.ID, func(o *order.Order) error { return o.Pay(Payment("T3", T0)) })
		due := func(before time.Time) []string {
			var all []string
			var at []time.Time
			for i := range r.WorkShards() {
				ids, err := r.Due(ctx, i, before, 100)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, ids...)
				for _, id := range ids {
					o, _ := r.Get(ctx, id)
					at = append(at, o.NextCheckAt)
				}
			}
			return filter(all, late.ID, early.ID, paid.ID)
		}
		if got := due(T0.Add(2 * time.Minute)); len(got) != 0 {
			t.Fatalf("due at T0+2m (exclusive) = %v", got)
		}
		if got := due(T0.Add(150 * time.Second)); len(got) != 1 || got[0] != early.ID {
			t.Fatalf("due at T0+2.5m = %v, want the early one", got)
		}
		got := due(T0.Add(time.Hour))
		if len(got) != 2 {
			t.Fatalf("due at T0+1h = %v, want both unpaid", got)
		}
		// Postponing moves an order behind the others; closing takes it out.
		_, _ = r.Update(ctx, early.ID, func(o *order.Order) error { o.Postpone(T0.Add(5 * time.Minute)); return nil })
		if got := due(T0.Add(4 * time.Minute)); len(got) != 1 || got[0] != late.ID {
			t.Fatalf("due after postpone = %v", got)
		}
		_, _ = r.Update(ctx, late.ID, func(o *order.Order) error { return o.Close(T0.Add(11 * time.Minute)) })
		if got := due(T0.Add(time.Hour)); len(got) != 1 || got[0] != early.ID {
			t.Fatalf("due after close = %v", got)
		}
	})
}

// filter keeps ids among want (other tests' orders may share a real table).
func filter(ids []string, want ...string) []string {
	keep := map[string]bool{}
	for _, w := range want {
		keep[w] = true
	}
	var out []string
	for _, id := range ids {
		if keep[id] {
			out = append(out, id)
		}
	}
	return out
}

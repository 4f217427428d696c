package payments_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
)

// Bug 1: a lost callback followed by a refund inside the expiry window: the
// sweeper finds the trade refunded. The order becomes REFUNDED and no success
// event is made.
func TestSweepRefundedTradeIsNeverPaid(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 800)
	e.prov.query = func(id string) (pay.Trade, error) {
		tr := paidTrade(o, "TXN1")
		tr.State = pay.TradeRefunded
		return tr, nil
	}
	e.advance(3 * time.Minute)
	rep, err := e.svc.Sweep(ctx, payments.SweepOptions{})
	if err != nil || rep.Refunded != 1 || rep.Paid != 0 {
		t.Fatalf("sweep = %+v %v", rep, err)
	}
	got, _ := e.orders.Get(ctx, o.ID)
	if got.Status != order.Refunded {
		t.Fatalf("status %s, want REFUNDED", got.Status)
	}
	evs := e.published()
	if len(evs) != 1 || evs[0].Type != order.EventRefunded {
		t.Fatalf("events %+v, want one order.refunded and no payment.succeeded", evs)
	}
	// A late paid callback for it changes nothing and makes no event.
	if _, err := e.svc.ApplyTrade(ctx, aliIface(t, e), paidTrade(o, "TXN1")); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.orders.Get(ctx, o.ID); got.Status != order.Refunded || len(e.published()) != 1 {
		t.Fatalf("late callback: %s, %d events", got.Status, len(e.published()))
	}
}

// Bug 5: an unexpired pending order is pushed back after each check, so the
// next run asks about the others first and it is not re-queried every minute.
func TestSweepPushesBackUnexpiredOrders(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := newAlipayOrder(t, e, "key-a-0123456789abc", 100)
	e.advance(30 * time.Second)
	b := newAlipayOrder(t, e, "key-b-0123456789abc", 200)
	e.prov.query = func(id string) (pay.Trade, error) { return pay.Trade{OrderID: id, State: pay.TradePending}, nil }
	sweep := func() payments.SweepReport {
		t.Helper()
		rep, err := e.svc.Sweep(ctx, payments.SweepOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	e.advance(90*time.Second + time.Second) // T0+2m01s: a is due (first check at 2m), b not yet (2m30s)
	if rep := sweep(); rep.Examined != 1 || rep.Postponed != 1 {
		t.Fatalf("first sweep = %+v", rep)
	}
	e.advance(30 * time.Second) // T0+2m31s: b is due; a was pushed back to 4m01s
	if rep := sweep(); rep.Examined != 1 {
		t.Fatalf("second sweep = %+v", rep)
	}
	e.advance(time.Minute) // T0+3m31s: nothing is due (before the fix: both, every minute)
	if rep := sweep(); rep.Examined != 0 {
		t.Fatalf("third sweep examined %d, want 0 (pushed back)", rep.Examined)
	}
	e.advance(31 * time.Second) // T0+4m02s: a again, b not yet
	if rep := sweep(); rep.Examined != 1 {
		t.Fatalf("fourth sweep = %+v", rep)
	}
	if q := e.prov.queries; len(q) != 3 || q[0] != a.ID || q[1] != b.ID || q[2] != a.ID {
		t.Fatalf("queried %v, want a, b, then a (soonest next check first)", q)
	}
	// At expiry the sweeper closes them at the provider and here.
	e.advance(10 * time.Minute)
	if rep, err := e.svc.Sweep(ctx, payments.SweepOptions{}); err != nil || rep.Closed != 2 {
		t.Fatalf("expiry sweep = %+v %v", rep, err)
	}
	if len(e.prov.closed) != 2 {
		t.Fatalf("closed at the provider: %v", e.prov.closed)
	}
	if evs := e.published(); len(evs) != 2 || evs[0].Type != order.EventClosed {
		t.Fatalf("events %+v", evs)
	}
}

// An order whose check keeps failing goes to the back and does not starve the rest.
func TestSweepFailingOrderDoesNotStarveOthers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stuck := newAlipayOrder(t, e, "key-stuck-0123456789", 100)
	e.advance(time.Second)
	next := newAlipayOrder(t, e, "key-next-01234567890", 200)
	e.prov.query = func(id string) (pay.Trade, error) {
		if id == stuck.ID {
			return pay.Trade{}, errors.New("provider down for this order")
		}
		return pay.Trade{OrderID: id, State: pay.TradeClosed}, nil
	}
	e.advance(3 * time.Minute)
	if rep, err := e.svc.Sweep(ctx, payments.SweepOptions{PerShard: 1}); err == nil || rep.Failed != 1 {
		t.Fatalf("first sweep = %+v %v, want the stuck order to fail", rep, err)
	}
	if rep, err := e.svc.Sweep(ctx, payments.SweepOptions{PerShard: 1}); err != nil || rep.Examined != 1 || rep.Closed != 1 {
		t.Fatalf("second sweep = %+v %v", rep, err)
	}
	if q := e.prov.queries; len(q) != 2 || q[0] != stuck.ID || q[1] != next.ID {
		t.Fatalf("queried %v, want the stuck order then %s", q, next.ID)
	}
}

// The sweep stops starting work at Until (set before the Lambda deadline)
// and leaves the rest due for the next run.
func TestSweepStopsAtDeadline(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 6 {
		newAlipayOrder(t, e, fmt.Sprintf("key-deadline-%06d", i), 100)
	}
	e.prov.query = func(id string) (pay.Trade, error) {
		e.advance(2 * time.Second) // each provider call takes 2s on the injected clock
		return pay.Trade{OrderID: id, State: pay.TradePending}, nil
	}
	e.advance(3 * time.Minute)
	rep, _ := e.svc.Sweep(ctx, payments.SweepOptions{Workers: 1, Until: e.clock().Add(5 * time.Second)})
	if !rep.Stopped || rep.Examined != 3 {
		t.Fatalf("sweep = %+v, want it stopped after 3 (6s of work, 5s budget)", rep)
	}
}

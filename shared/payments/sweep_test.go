package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/pay"
)

// An order whose sweep keeps failing (here: the provider query errors) must not
// stay at the head of the work index and starve the orders behind it.
func TestSweepFailingOrderDoesNotStarveOthers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stuck := newAlipayOrder(t, e, "key-stuck-0123456789", 100)
	e.now = e.now.Add(time.Second)
	next := newAlipayOrder(t, e, "key-next-01234567890", 200)
	e.prov.query = func(id string) (pay.Trade, error) {
		if id == stuck.ID {
			return pay.Trade{}, errors.New("provider down for this order")
		}
		return pay.Trade{OrderID: id, State: pay.TradeClosed}, nil
	}
	e.now = e.now.Add(3 * time.Minute)
	if rep, err := e.svc.Sweep(ctx, 1); err == nil || rep.Failed != 1 {
		t.Fatalf("first sweep = %+v %v, want the stuck order to fail", rep, err)
	}
	e.now = e.now.Add(3 * time.Minute)
	if rep, err := e.svc.Sweep(ctx, 1); err != nil || rep.Examined != 1 || rep.Closed != 1 {
		t.Fatalf("second sweep = %+v %v", rep, err)
	}
	if q := e.prov.queries; len(q) != 2 || q[0] != stuck.ID || q[1] != next.ID {
		t.Fatalf("queried %v, want the stuck order then %s", q, next.ID)
	}
	// The stuck order is still swept later: it stays in the work index.
	e.now = e.now.Add(3 * time.Minute)
	if _, err := e.svc.Sweep(ctx, 1); err == nil {
		t.Fatal("third sweep: want the stuck order again, failing")
	}
	if q := e.prov.queries; len(q) != 3 || q[2] != stuck.ID {
		t.Fatalf("queried %v, want the stuck order retried", q)
	}
}

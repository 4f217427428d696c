package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

// newAlipayOrder creates a PENDING Alipay order of amount at tokBoth.
func newAlipayOrder(t *testing.T, e *env, k string, amount int64) store.Order {
	t.Helper()
	c, err := e.svc.CreateOrder(context.Background(), payments.CreateRequest{Token: tokBoth, Channel: domain.Alipay, AmountFen: amount, IdempotencyKey: k})
	if err != nil {
		t.Fatal(err)
	}
	return c.Order
}

func aliIface(t *testing.T, e *env) store.Interface {
	t.Helper()
	i, err := e.st.GetInterface(context.Background(), "ali-1")
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func paidTrade(o store.Order, txn string) pay.Trade {
	return pay.Trade{OrderID: o.ID, ProviderTxnID: txn, State: pay.TradePaid, AmountFen: o.AmountFen,
		PaidAt: time.Date(2025, 3, 1, 10, 0, 5, 0, time.UTC), MerchantID: aliSeller, AppID: aliApp, PayerID: "2088buyer"}
}

func TestConfirmRejectsMismatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 1234)
	iface := aliIface(t, e)
	wx, _ := e.st.GetInterface(ctx, "wx-1")
	cases := []struct {
		name  string
		iface store.Interface
		trade func(pay.Trade) pay.Trade
	}{
		{"amount short", iface, func(t pay.Trade) pay.Trade { t.AmountFen--; return t }},
		{"amount over", iface, func(t pay.Trade) pay.Trade { t.AmountFen++; return t }},
		{"other merchant", iface, func(t pay.Trade) pay.Trade { t.MerchantID = "2088999999999999"; return t }},
		{"merchant missing", iface, func(t pay.Trade) pay.Trade { t.MerchantID = ""; return t }},
		{"other app", iface, func(t pay.Trade) pay.Trade { t.AppID = "2021999999999999"; return t }},
		{"report for another interface", wx, func(t pay.Trade) pay.Trade { return t }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.Confirm(ctx, c.iface, c.trade(paidTrade(o, "TXN1")))
			if !errors.Is(err, payments.ErrMismatch) {
				t.Fatalf("err = %v, want ErrMismatch", err)
			}
		})
	}
	got, err := e.st.GetOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.OrderPending || got.PaidAt != nil || got.ProviderTxnID != "" || got.RecPK != "" || got.EventLease != 0 {
		t.Fatalf("mismatched reports changed the order: %+v", got)
	}
	if n := e.pub.attempts; n != 0 {
		t.Fatalf("mismatched reports published %d events", n)
	}

	// Unknown order.
	tr := paidTrade(o, "TXN1")
	tr.OrderID = "EPAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if _, err := e.svc.Confirm(ctx, iface, tr); !errors.Is(err, payments.ErrUnknownOrder) {
		t.Fatalf("unknown order: %v, want ErrUnknownOrder", err)
	}
}

func TestConfirmOnceAndDuplicates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 1234)
	iface := aliIface(t, e)
	tr := paidTrade(o, "TXN1")
	paid, err := e.svc.Confirm(ctx, iface, tr)
	if err != nil {
		t.Fatal(err)
	}
	if paid.Status != domain.OrderPaid || paid.ProviderTxnID != "TXN1" {
		t.Fatalf("confirmed = %+v", paid)
	}
	evs := e.pub.events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.OrderID != o.ID || ev.AmountFen != 1234 || ev.CommunityID != "com-both" || ev.CompanyID != "co-1" || ev.Channel != "alipay" ||
		ev.IfaceID != "ali-1" || ev.MerchantID != aliSeller || ev.ProviderTxnID != "TXN1" || !ev.PaidAt.Equal(tr.PaidAt) {
		t.Fatalf("event = %+v", ev)
	}
	if got, _ := e.st.GetOrder(ctx, o.ID); !got.EventSent {
		t.Fatalf("event not recorded as sent: %+v", got)
	}

	// The provider delivers again (and again): accepted, nothing more is sent.
	for range 3 {
		again, err := e.svc.Confirm(ctx, iface, tr)
		if err != nil || again.Status != domain.OrderPaid {
			t.Fatalf("duplicate: %+v %v", again, err)
		}
	}
	if n := len(e.pub.events()); n != 1 {
		t.Fatalf("duplicates published: %d events", n)
	}
	// A second, different transaction for the same order is a mismatch.
	if _, err := e.svc.Confirm(ctx, iface, paidTrade(o, "TXN2")); !errors.Is(err, payments.ErrMismatch) {
		t.Fatalf("second transaction: %v, want ErrMismatch", err)
	}
	if got, _ := e.st.GetOrder(ctx, o.ID); got.ProviderTxnID != "TXN1" {
		t.Fatalf("second transaction overwrote the first: %q", got.ProviderTxnID)
	}
}

func TestConfirmClosedOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 500)
	if err := e.st.MarkClosed(ctx, o.ID, e.now); err != nil {
		t.Fatal(err)
	}
	paid, err := e.svc.Confirm(ctx, aliIface(t, e), paidTrade(o, "TXNLATE"))
	if err != nil || paid.Status != domain.OrderPaid {
		t.Fatalf("late payment of a closed order: %+v %v", paid, err)
	}
	if n := len(e.pub.events()); n != 1 {
		t.Fatalf("%d events", n)
	}
}

// TestConfirmPublishFailure: the send fails → an error (the provider retries),
// the lease is released, and the retry sends the event exactly once.
func TestConfirmPublishFailure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 1234)
	iface := aliIface(t, e)
	tr := paidTrade(o, "TXN1")
	e.pub.failNext = 1
	_, err := e.svc.Confirm(ctx, iface, tr)
	if err == nil || errors.Is(err, payments.ErrMismatch) || errors.Is(err, payments.ErrInProgress) {
		t.Fatalf("publish failure: err = %v, want a downstream error", err)
	}
	got, _ := e.st.GetOrder(ctx, o.ID)
	if got.Status != domain.OrderPaid || got.EventSent {
		t.Fatalf("after failed publish: %+v", got)
	}
	if got.EventLease != 0 {
		t.Errorf("lease not released after failed publish: event_lease=%d (local DynamoDB ignores REMOVE: see report)", got.EventLease)
	}

	// The provider retries at once (same clock): the event goes out now.
	again, err := e.svc.Confirm(ctx, iface, tr)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.Status != domain.OrderPaid {
		t.Fatalf("retry returned %+v", again)
	}
	if n := len(e.pub.events()); n != 1 {
		t.Fatalf("%d events sent, want 1", n)
	}
	if got, _ := e.st.GetOrder(ctx, o.ID); !got.EventSent {
		t.Fatal("event not recorded as sent after the retry")
	}
	if _, err := e.svc.Confirm(ctx, iface, tr); err != nil {
		t.Fatal(err)
	}
	if n := len(e.pub.events()); n != 1 {
		t.Fatalf("%d events sent after another duplicate, want 1", n)
	}
}

// TestConfirmConcurrent: deliveries racing each other move the order once and
// send one event; losers answer ErrInProgress (retry) or success.
func TestConfirmConcurrent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 1234)
	iface := aliIface(t, e)
	tr := paidTrade(o, "TXN1")
	e.pub.gate = make(chan struct{})
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.svc.Confirm(ctx, iface, tr)
			errs <- err
		}()
	}
	// Every delivery but the publishing one finishes while the publish is held.
	// (If several deliveries published, they would all wait at the gate: the
	// deadline then opens it and the count below fails.)
	var results []error
	deadline := time.After(10 * time.Second)
wait:
	for range n - 1 {
		select {
		case err := <-errs:
			results = append(results, err)
		case <-deadline:
			t.Errorf("only %d of %d deliveries finished while one publish was in flight", len(results), n-1)
			break wait
		}
	}
	close(e.pub.gate)
	for len(results) < n {
		results = append(results, <-errs)
	}
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, payments.ErrInProgress):
		default:
			t.Fatalf("concurrent Confirm: %v", err)
		}
	}
	if ok < 1 {
		t.Fatal("no delivery succeeded")
	}
	if got := len(e.pub.events()); got != 1 || e.pub.attempts != 1 {
		t.Fatalf("%d events (%d attempts), want exactly 1", got, e.pub.attempts)
	}
	got, _ := e.st.GetOrder(ctx, o.ID)
	if got.Status != domain.OrderPaid || !got.EventSent || got.ProviderTxnID != "TXN1" {
		t.Fatalf("final order = %+v", got)
	}
	// A late retry of a loser now succeeds without sending again.
	if _, err := e.svc.Confirm(ctx, iface, tr); err != nil {
		t.Fatal(err)
	}
	if len(e.pub.events()) != 1 {
		t.Fatal("late retry sent again")
	}
}

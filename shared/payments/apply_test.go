package payments_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

// newAlipayOrder creates a PENDING Alipay order of amount at tokBoth.
func newAlipayOrder(t *testing.T, e *env, k string, amount int64) order.Order {
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

func paidTrade(o order.Order, txn string) pay.Trade {
	return pay.Trade{OrderID: o.ID, ProviderTxnID: txn, State: pay.TradePaid, AmountFen: o.AmountFen,
		PaidAt: time.Date(2025, 3, 1, 10, 0, 5, 0, time.UTC), MerchantID: aliSeller, AppID: aliApp, PayerID: "2088buyer"}
}

func TestApplyTradeRejectsMismatch(t *testing.T) {
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
		{"app missing", iface, func(t pay.Trade) pay.Trade { t.AppID = ""; return t }},
		{"other app", iface, func(t pay.Trade) pay.Trade { t.AppID = "2021999999999999"; return t }},
		{"report for another interface", wx, func(t pay.Trade) pay.Trade { return t }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.ApplyTrade(ctx, c.iface, c.trade(paidTrade(o, "TXN1")))
			if !errors.Is(err, payments.ErrMismatch) {
				t.Fatalf("err = %v, want ErrMismatch", err)
			}
		})
	}
	got, err := e.orders.Get(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != order.Pending || !got.PaidAt.IsZero() || got.ProviderTxnID != "" || got.Version != o.Version {
		t.Fatalf("mismatched reports changed the order: %+v", got)
	}
	if n := len(e.published()); n != 0 {
		t.Fatalf("mismatched reports made %d events", n)
	}
	tr := paidTrade(o, "TXN1")
	tr.OrderID = "EPAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if _, err := e.svc.ApplyTrade(ctx, iface, tr); !errors.Is(err, payments.ErrUnknownOrder) {
		t.Fatalf("unknown order: %v, want ErrUnknownOrder", err)
	}
}

func TestApplyTradeOnceAndDuplicates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 1234)
	iface := aliIface(t, e)
	tr := paidTrade(o, "TXN1")
	paid, err := e.svc.ApplyTrade(ctx, iface, tr)
	if err != nil {
		t.Fatal(err)
	}
	if paid.Status != order.Paid || paid.ProviderTxnID != "TXN1" || paid.BusinessDay != "2025-03-01" {
		t.Fatalf("confirmed = %+v", paid)
	}
	for range 3 { // the provider delivers again (and again)
		again, err := e.svc.ApplyTrade(ctx, iface, tr)
		if err != nil || again.Status != order.Paid || again.Version != paid.Version {
			t.Fatalf("duplicate: %+v %v", again, err)
		}
	}
	evs := e.published()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Type != order.EventPaid || ev.OrderID != o.ID || ev.AmountFen != 1234 || ev.CommunityID != "com-both" || ev.CompanyID != "co-1" ||
		ev.Channel != "alipay" || ev.IfaceID != "ali-1" || ev.MerchantID != aliSeller || ev.ProviderTxnID != "TXN1" || !ev.PaidAt.Equal(tr.PaidAt) {
		t.Fatalf("event = %+v", ev)
	}
	if _, err := e.svc.ApplyTrade(ctx, iface, paidTrade(o, "TXN2")); !errors.Is(err, payments.ErrMismatch) {
		t.Fatalf("second transaction: %v, want ErrMismatch", err)
	}
}

func TestApplyTradeClosedOrderGetsLatePayment(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 500)
	if _, err := e.orders.Update(ctx, o.ID, func(o *order.Order) error { return o.Close(e.clock()) }); err != nil {
		t.Fatal(err)
	}
	paid, err := e.svc.ApplyTrade(ctx, aliIface(t, e), paidTrade(o, "TXNLATE"))
	if err != nil || paid.Status != order.Paid {
		t.Fatalf("late payment of a closed order: %+v %v", paid, err)
	}
	if evs := e.published(); len(evs) != 2 || evs[0].Type != order.EventClosed || evs[1].Type != order.EventPaid {
		t.Fatalf("events %+v", evs)
	}
}

// Deliveries racing each other move the order once and make one event; all succeed.
func TestApplyTradeConcurrent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 1234)
	iface := aliIface(t, e)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.ApplyTrade(ctx, iface, paidTrade(o, "TXN1"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if evs := e.published(); len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
}

// An Alipay order made without a payer identity takes its history key from
// the verified report's buyer, under the app our auth_base step uses: the
// payer finds it at 我的缴费记录 without having authorised before paying.
func TestApplyTradeKeysAlipayPayerFromReport(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := newAlipayOrder(t, e, key, 1234)
	if o.PayerKey != "" {
		t.Fatalf("order made without an identity has key %q", o.PayerKey)
	}
	paid, err := e.svc.ApplyTrade(ctx, aliIface(t, e), paidTrade(o, "TXN1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "alipay:" + aliApp + ":2088buyer"; paid.PayerKey != want {
		t.Fatalf("payer key %q, want %q", paid.PayerKey, want)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	alipaysb "github.com/estatepay/estatepay/infra/sandbox/alipay"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/payments"
)

func sweep(t testing.TB, s *stack.Stack) payments.SweepReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := s.FireSchedule(ctx, "SweeperFunction.Sweep", "")
	if err != nil {
		t.Fatalf("sweep: %v (%s)", err, out)
	}
	var rep payments.SweepReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("sweep result %s: %v", out, err)
	}
	t.Logf("sweep: %+v", rep)
	return rep
}

// backdate changes a stored order as a test fixture, through the order
// repository (so the index attributes stay derived from the order): the
// sweeper compares with the wall clock, so "10 minutes later" is simulated by
// moving the order's times into the past. It is not a state change, so it
// makes no event.
func backdate(t testing.TB, s *stack.Stack, id string, change func(o *order.Order)) {
	t.Helper()
	_, err := s.Store().OrderRepo().Update(context.Background(), id, func(o *order.Order) error {
		change(o)
		o.Version++
		return nil
	})
	if err != nil {
		t.Fatalf("backdate %s: %v", id, err)
	}
}

// due makes an order's next provider check due now.
func due(o *order.Order) { o.NextCheckAt = time.Now().Add(-30 * time.Minute) }

// expired makes an order's payment window over (and its check due).
func expired(o *order.Order) {
	due(o)
	o.ExpireAt = time.Now().Add(-20 * time.Minute)
}

// workAt is the work index sort key as stored.
func workAt(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// onlyEvent drains the events and checks they are exactly one, of type typ,
// for the stored order id's latest change.
func onlyEvent(t testing.TB, s *stack.Stack, typ, id string) order.Event {
	t.Helper()
	evs := stacktest.DrainEvents(t, s)
	if len(evs) != 1 {
		t.Fatalf("want exactly one %s event for %s, got %d: %+v", typ, id, len(evs), evs)
	}
	stacktest.CheckEvent(t, evs[0], typ, stacktest.StoredOrder(t, s, id))
	return evs[0]
}

// wechatProvider is our own WeChat Pay adapter for the demo merchant, to ask
// the sandbox about a trade (or refund one) the way the product does.
func wechatProvider(t testing.TB, s *stack.Stack) *wechatpay.Provider {
	t.Helper()
	k := s.Keys()
	p, err := wechatpay.New(wechatpay.Config{Mode: wechatpay.ModeDirect, AppID: stack.DemoWeChatAppID, MchID: stack.DemoWeChatMchID,
		MerchantSerialNo: stack.DemoWeChatSerialNo, MerchantPrivateKey: k.WeChatMerchant, APIv3Key: k.APIv3Key,
		PlatformPublicKeyID: stack.DemoWeChatPublicKeyID, PlatformPublicKey: &k.WeChatPlatform.PublicKey, BaseURL: s.URLs.WeChatSandbox})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wechatQuery(t testing.TB, s *stack.Stack, id string) pay.Trade {
	t.Helper()
	tr, err := wechatProvider(t, s).Query(context.Background(), id)
	if err != nil {
		t.Fatalf("query %s: %v", id, err)
	}
	return tr
}

// payLosingCallbacks pays the order at the WeChat sandbox while every
// callback delivery fails (our interface record is briefly unusable for
// callbacks, so they are rejected), until the sandbox gives up: only the
// sweeper can learn of the payment.
func payLosingCallbacks(t testing.TB, s *stack.Stack, id string) {
	t.Helper()
	ctx := context.Background()
	iface, err := s.Store().GetInterface(ctx, "demo-wechat")
	if err != nil {
		t.Fatal(err)
	}
	broken := iface
	broken.Channel = domain.Alipay
	if err := s.Store().PutInterface(ctx, broken); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Store().PutInterface(ctx, iface); err != nil {
			t.Fatal(err)
		}
	}()
	deliveries, stop := s.WeChat().Subscribe()
	defer stop()
	if err := s.WeChat().Pay(id); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	deadline := time.After(30 * time.Second)
	for {
		select {
		case d := <-deliveries:
			if d.OutTradeNo != id {
				continue
			}
			attempts++
			if d.OK || d.Status != http.StatusBadRequest {
				t.Fatalf("delivery should have been rejected: %+v", d)
			}
			if d.Final {
				if attempts < 2 {
					t.Fatalf("only %d delivery attempts", attempts)
				}
				return
			}
		case <-deadline:
			t.Fatal("sandbox did not give up delivering")
		}
	}
}

func openCashier(t testing.TB, o stacktest.OrderView) {
	t.Helper()
	resp, err := stacktest.HTTPClient.Get(o.Pay.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cashier: %d", resp.StatusCode)
	}
}

// TestSweeper runs the scheduled SweeperFunction against the real stack.
// Subtests run in order and leave no unpaid order due behind them.
func TestSweeper(t *testing.T) {
	s := stacktest.Start(t)
	token := stacktest.CommunityToken(t, s, "demo-both")
	openID := wechatsb.OpenID(stack.DemoWeChatAppID, "resident-sweep")

	t.Run("NothingDue", func(t *testing.T) {
		// A fresh pending order is not due yet (SweepAfter 2 minutes).
		o := stacktest.CreateOrder(t, s, token, "wechat", 100, openID)
		rep := sweep(t, s)
		if rep != (payments.SweepReport{}) {
			t.Fatalf("report %+v, want nothing examined", rep)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != order.Pending || st.NextCheckAt.Sub(st.CreatedAt) != 2*time.Minute {
			t.Fatalf("order %+v", st)
		}
		// It is in the work index under its next check.
		raw := stacktest.RawOrder(t, s, o.OrderID)
		if !strings.HasPrefix(stacktest.Attr(raw, "work_pk"), "W#") || stacktest.Attr(raw, "work_at") != workAt(st.NextCheckAt) ||
			stacktest.Attr(raw, "rec_pk") != "" {
			t.Fatalf("index attributes of a pending order: %v", raw)
		}
		// Leave it out of the next subtests: close it at the provider and here.
		backdate(t, s, o.OrderID, expired)
		if rep := sweep(t, s); rep.Closed != 1 || rep.Examined != 1 {
			t.Fatalf("report %+v", rep)
		}
		onlyEvent(t, s, order.EventClosed, o.OrderID)
	})

	t.Run("PendingNotExpiredPushedBack", func(t *testing.T) {
		// Bug 5: an unexpired pending order is asked about once, then its
		// next check moves back, so it is not re-queried on every run and
		// cannot block the orders behind it.
		o := stacktest.CreateOrder(t, s, token, "wechat", 101, openID)
		backdate(t, s, o.OrderID, due)
		before := time.Now()
		rep := sweep(t, s)
		if rep.Examined != 1 || rep.Postponed != 1 || rep.Paid != 0 || rep.Closed != 0 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != order.Pending || st.NextCheckAt.Before(before.Add(2*time.Minute).Add(-time.Second)) || st.NextCheckAt.After(st.ExpireAt) {
			t.Fatalf("order not pushed back (next check %v, expiry %v): %+v", st.NextCheckAt, st.ExpireAt, st)
		}
		if got := stacktest.Attr(stacktest.RawOrder(t, s, o.OrderID), "work_at"); got != workAt(st.NextCheckAt) {
			t.Fatalf("work_at %q, want the next check %q", got, workAt(st.NextCheckAt))
		}
		if tr := wechatQuery(t, s, o.OrderID); tr.State != pay.TradePending {
			t.Fatalf("sandbox trade %+v", tr)
		}
		if rep := sweep(t, s); rep.Examined != 0 {
			t.Fatalf("second run examined the pushed-back order again: %+v", rep)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("pushing back emitted %d events", n)
		}
		backdate(t, s, o.OrderID, expired)
		if rep := sweep(t, s); rep.Closed != 1 {
			t.Fatalf("report %+v", rep)
		}
		onlyEvent(t, s, order.EventClosed, o.OrderID)
	})

	t.Run("ExpiredWeChatOrderClosed", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, token, "wechat", 4321, openID)
		backdate(t, s, o.OrderID, func(o *order.Order) { expired(o); o.CreatedAt = o.ExpireAt.Add(-10 * time.Minute) })
		rep := sweep(t, s)
		if rep.Closed != 1 || rep.Paid != 0 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != order.Closed || st.ClosedAt.IsZero() || !st.PaidAt.IsZero() || !st.NextCheckAt.IsZero() {
			t.Fatalf("order %+v", st)
		}
		if raw := stacktest.RawOrder(t, s, o.OrderID); stacktest.Attr(raw, "work_pk") != "" || stacktest.Attr(raw, "rec_pk") != "" {
			t.Fatalf("closed order in the work or records index: %v", raw)
		}
		if v := stacktest.GetOrder(t, s, o.OrderID); v.Status != "CLOSED" {
			t.Fatalf("GET order %+v", v)
		}
		if tr := wechatQuery(t, s, o.OrderID); tr.State != pay.TradeClosed {
			t.Fatalf("sandbox trade not closed: %+v", tr)
		}
		if err := s.WeChat().Pay(o.OrderID); !errors.Is(err, wechatsb.ErrTradeState) {
			t.Fatalf("paying a closed trade at the sandbox: %v", err)
		}
		e := onlyEvent(t, s, order.EventClosed, o.OrderID)
		if e.PaidAt != nil || e.ProviderTxnID != "" || e.From != order.Pending || e.AmountFen != 4321 || e.MerchantID != stack.DemoWeChatMchID {
			t.Fatalf("closed event %+v", e)
		}
	})

	t.Run("ExpiredAlipayOrders", func(t *testing.T) {
		opened := stacktest.CreateOrder(t, s, token, "alipay", 600, "")
		openCashier(t, opened)
		neverOpened := stacktest.CreateOrder(t, s, token, "alipay", 601, "")
		for _, id := range []string{opened.OrderID, neverOpened.OrderID} {
			backdate(t, s, id, expired)
		}
		rep := sweep(t, s)
		if rep.Closed != 2 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 2 {
			t.Fatalf("want one order.closed event per order, got %+v", evs)
		}
		byOrder := map[string]order.Event{}
		for _, e := range evs {
			byOrder[e.OrderID] = e
		}
		for _, id := range []string{opened.OrderID, neverOpened.OrderID} {
			st := stacktest.StoredOrder(t, s, id)
			if st.Status != order.Closed {
				t.Fatalf("order %+v", st)
			}
			e, ok := byOrder[id]
			if !ok {
				t.Fatalf("no event for %s: %+v", id, evs)
			}
			stacktest.CheckEvent(t, e, order.EventClosed, st)
		}
		if st, err := s.Alipay().TradeStatus(opened.OrderID); err != nil || st != alipaysb.StatusClosed {
			t.Fatalf("sandbox trade: %q %v", st, err)
		}
		if err := s.Alipay().Pay(opened.OrderID); !errors.Is(err, alipaysb.ErrNotPayable) {
			t.Fatalf("paying a closed trade: %v", err)
		}
	})

	t.Run("CallbackLost", func(t *testing.T) {
		// Paid at WeChat, but every callback delivery fails. The sandbox
		// gives up; the sweeper finds the payment by querying.
		o := stacktest.CreateOrder(t, s, token, "wechat", 2468, openID)
		payLosingCallbacks(t, s, o.OrderID)
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != order.Pending || stacktest.QueueDepth(t, s) != 0 {
			t.Fatalf("order changed without a callback: %+v", st)
		}
		tr := wechatQuery(t, s, o.OrderID)
		if tr.State != pay.TradePaid {
			t.Fatalf("sandbox trade %+v", tr)
		}
		backdate(t, s, o.OrderID, due)
		rep := sweep(t, s)
		if rep.Paid != 1 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != order.Paid || st.ProviderTxnID != tr.ProviderTxnID || !st.PaidAt.Equal(tr.PaidAt) || st.PayerID != openID {
			t.Fatalf("order %+v, sandbox %+v", st, tr)
		}
		if raw := stacktest.RawOrder(t, s, o.OrderID); stacktest.Attr(raw, "work_pk") != "" || stacktest.Attr(raw, "rec_pk") != "demo-both" {
			t.Fatalf("paid order's index attributes: %v", raw)
		}
		e := onlyEvent(t, s, order.EventPaid, o.OrderID)
		if e.AmountFen != 2468 || e.ProviderTxnID != tr.ProviderTxnID || e.MerchantID != stack.DemoWeChatMchID {
			t.Fatalf("event %+v", e)
		}
		if rep := sweep(t, s); rep.Examined != 0 {
			t.Fatalf("second sweep examined a paid order: %+v", rep)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("second sweep emitted %d events", n)
		}
	})

	t.Run("RefundedBeforeAnyCallback", func(t *testing.T) {
		// Bug 1: the callback is lost and the trade is refunded inside the
		// expiry window. The sweeper's query reports it refunded: the order
		// becomes REFUNDED with one order.refunded event, never PAID and
		// never a payment.succeeded.
		o := stacktest.CreateOrder(t, s, token, "wechat", 1357, openID)
		payLosingCallbacks(t, s, o.OrderID)
		paidAt := wechatQuery(t, s, o.OrderID).PaidAt
		if _, err := wechatProvider(t, s).Refund(context.Background(), pay.RefundRequest{
			OrderID: o.OrderID, RefundID: "R" + o.OrderID, AmountFen: 1357, TotalFen: 1357, Reason: "test"}); err != nil {
			t.Fatalf("refund at the sandbox: %v", err)
		}
		tr := wechatQuery(t, s, o.OrderID)
		if tr.State != pay.TradeRefunded {
			t.Fatalf("sandbox trade after refund %+v", tr)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != order.Pending || stacktest.QueueDepth(t, s) != 0 {
			t.Fatalf("order changed without a callback: %+v", st)
		}
		backdate(t, s, o.OrderID, due)
		rep := sweep(t, s)
		if rep.Refunded != 1 || rep.Paid != 0 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != order.Refunded || st.ProviderTxnID != tr.ProviderTxnID || !st.PaidAt.Equal(paidAt) || st.RefundedAt.IsZero() {
			t.Fatalf("order %+v, sandbox %+v", st, tr)
		}
		if v := stacktest.GetOrder(t, s, o.OrderID); v.Status != "REFUNDED" {
			t.Fatalf("GET order %+v", v)
		}
		if raw := stacktest.RawOrder(t, s, o.OrderID); stacktest.Attr(raw, "work_pk") != "" {
			t.Fatalf("refunded order still in the work index: %v", raw)
		}
		e := onlyEvent(t, s, order.EventRefunded, o.OrderID)
		if e.From != order.Pending || e.AmountFen != 1357 || e.ProviderTxnID != tr.ProviderTxnID {
			t.Fatalf("refund event %+v", e)
		}
		if rep := sweep(t, s); rep.Examined != 0 {
			t.Fatalf("second sweep examined a refunded order: %+v", rep)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("second sweep emitted %d events", n)
		}
	})

	t.Run("PerOrderFailureDoesNotFailInvocation", func(t *testing.T) {
		// One order cannot be swept (its interface is gone) and another,
		// due later, can: the run still succeeds, counts the failure, keeps
		// the failed order for a later run and still handles the other.
		bad := stacktest.CreateOrder(t, s, token, "wechat", 321, openID)
		good := stacktest.CreateOrder(t, s, token, "wechat", 322, openID)
		backdate(t, s, bad.OrderID, func(o *order.Order) { due(o); o.IfaceID = "gone-iface" })
		backdate(t, s, good.OrderID, expired)
		before := time.Now()
		rep := sweep(t, s) // fails the test if the invocation errors
		if rep.Failed != 1 || rep.Closed != 1 || rep.Paid != 0 || rep.Examined != 2 {
			t.Fatalf("report %+v", rep)
		}
		onlyEvent(t, s, order.EventClosed, good.OrderID)
		st := stacktest.StoredOrder(t, s, bad.OrderID)
		if st.Status != order.Pending || !st.NextCheckAt.After(before) {
			t.Fatalf("failed order not kept and pushed back: %+v", st)
		}
		if raw := stacktest.RawOrder(t, s, bad.OrderID); stacktest.Attr(raw, "work_pk") == "" || stacktest.Attr(raw, "work_at") != workAt(st.NextCheckAt) {
			t.Fatalf("failed order's work index attributes: %v", raw)
		}
		if rep := sweep(t, s); rep.Examined != 0 {
			t.Fatalf("the failed order was retried at once: %+v", rep)
		}
		// Repaired and expired: the next run closes it.
		backdate(t, s, bad.OrderID, func(o *order.Order) { expired(o); o.IfaceID = "demo-wechat" })
		if rep := sweep(t, s); rep.Failed != 0 || rep.Closed != 1 {
			t.Fatalf("after repair: %+v", rep)
		}
		onlyEvent(t, s, order.EventClosed, bad.OrderID)
	})

	t.Run("WorkIndexDrained", func(t *testing.T) {
		// Every order above is final: none is left in the sweeper's work
		// index, and no event is left unread.
		if rep := sweep(t, s); rep.Examined != 0 {
			t.Errorf("sweeper still examines %d finished orders", rep.Examined)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Errorf("%d events left", n)
		}
	})
}

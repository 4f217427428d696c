package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/events"
)

var txnRE = regexp.MustCompile(`^4200\d{24}$`)

// TestWeChatNotify drives POST /notify/wechat/{iface} through the real stack:
// gateway → WechatNotifyFunction bootstrap → DynamoDB + SQS, with callbacks from
// the WeChat Pay sandbox or built exactly like it.
func TestWeChatNotify(t *testing.T) {
	s := stacktest.Start(t)
	token := stacktest.CommunityToken(t, s, "demo-both")
	openID := wechatsb.OpenID(stack.DemoWeChatAppID, "resident-1")

	t.Run("GenuineSandboxCallback", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, token, "wechat", 1234, openID)
		if o.Pay == nil || o.Pay.JSAPI["package"] == "" {
			t.Fatalf("no JSAPI prepay: %+v", o.Pay)
		}
		deliveries, stop := s.WeChat().Subscribe()
		defer stop()
		if err := s.WeChat().Pay(o.OrderID); err != nil {
			t.Fatal(err)
		}
		var first *wechatsb.Delivery
		deadline := time.After(20 * time.Second)
	wait:
		for {
			select {
			case d := <-deliveries:
				if d.OutTradeNo != o.OrderID {
					continue
				}
				if first == nil {
					first = &d
				}
				if d.OK || d.Final {
					break wait
				}
			case <-deadline:
				t.Fatal("no callback delivery from the sandbox")
			}
		}
		// Nothing else races the first delivery: it must be accepted at once with 204.
		if first.Attempt != 1 || first.Status != http.StatusNoContent || !first.OK {
			t.Fatalf("first delivery: %+v", *first)
		}

		v := stacktest.GetOrder(t, s, o.OrderID)
		if v.Status != "PAID" || v.PaidAt == nil || v.AmountFen != 1234 {
			t.Fatalf("order after callback: %+v", v)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != "PAID" || !st.EventSent || st.PaidAt == nil || !txnRE.MatchString(st.ProviderTxnID) || st.PayerID != openID {
			t.Fatalf("stored order: %+v", st)
		}
		if st.RecPK != "demo-both" {
			t.Errorf("paid order not in the community's records index: rec_pk=%q", st.RecPK)
		}
		// EventSent REMOVEs work_pk/work_at so the sweeper stops looking at the order.
		if st.WorkPK != "" || st.WorkAt != "" || st.EventLease != 0 {
			t.Errorf("order still in the sweeper's work index after its event was sent: work_pk=%q work_at=%q event_lease=%d "+
				"(the local DynamoDB ignores UpdateItem REMOVE clauses)", st.WorkPK, st.WorkAt, st.EventLease)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 {
			t.Fatalf("want exactly 1 payment event, got %d: %+v", len(evs), evs)
		}
		e := evs[0]
		want := events.PaymentSucceeded{Type: events.PaymentSucceededType, OrderID: o.OrderID, CommunityID: "demo-both",
			CompanyID: stack.DemoCompanyID, Channel: "wechat", IfaceID: "demo-wechat", MerchantID: stack.DemoWeChatMchID,
			AmountFen: 1234, ProviderTxnID: st.ProviderTxnID}
		got := e
		got.PaidAt = time.Time{}
		if got != want || !e.PaidAt.Equal(*st.PaidAt) {
			t.Fatalf("event:\n got %+v\nwant %+v (paid_at %v)", e, want, st.PaidAt)
		}

		// WeChat redelivers the same transaction (new event id, fresh signature):
		// 204 with no body, nothing changes, no second event.
		req, err := s.WeChat().SignedNotification(context.Background(), o.OrderID, wechatsb.NotifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		req.URL, _ = req.URL.Parse(s.URLs.Gateway + "/notify/wechat/demo-wechat")
		r := send(t, req)
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("duplicate: %d %q", r.Status, r.Body)
		}
		again := stacktest.StoredOrder(t, s, o.OrderID)
		if !again.PaidAt.Equal(*st.PaidAt) || again.ProviderTxnID != st.ProviderTxnID || !again.EventSent {
			t.Fatalf("duplicate changed the order: %+v", again)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("duplicate emitted %d more events", n)
		}
	})

	t.Run("RejectedCallbacks", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, token, "wechat", 2000, openID)
		otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		genuine := wxCallback{OrderID: o.OrderID, AmountFen: 2000, OpenID: openID}
		with := func(f func(c *wxCallback)) wxCallback { c := genuine; f(&c); return c }

		cases := []struct {
			name string
			cb   wxCallback
		}{
			{"ForgedSignature", with(func(c *wxCallback) { c.SigningKey = otherKey })},
			{"TamperedCiphertextAfterSigning", with(func(c *wxCallback) { c.TamperAfterSign = true })},
			{"TamperedCiphertextSigned", with(func(c *wxCallback) { c.TamperBeforeSign = true })},
			{"WrongAPIv3Key", with(func(c *wxCallback) { c.APIv3Key = strings.Repeat("k", 32) })},
			{"StaleTimestamp", with(func(c *wxCallback) { c.Timestamp = time.Now().Add(-6 * time.Minute) })},
			{"FutureTimestamp", with(func(c *wxCallback) { c.Timestamp = time.Now().Add(6 * time.Minute) })},
			{"WrongKeyID", with(func(c *wxCallback) { c.KeyID = "PUB_KEY_ID_0119000000012025112100000000009999" })},
			{"NoSignatureHeaders", with(func(c *wxCallback) { c.NoHeaders = true })},
			{"UnknownInterface", with(func(c *wxCallback) { c.Iface = "no-such-iface" })},
			{"AlipayInterfaceOnWeChatPath", with(func(c *wxCallback) { c.Iface = "demo-alipay" })},
			{"MalformedJSON", with(func(c *wxCallback) { c.RawBody = []byte(`{"id":"x","resource":`) })},
			{"HugeBody", with(func(c *wxCallback) { c.PadTo = 64<<10 + 1 })},
			{"WrongAmount", with(func(c *wxCallback) { c.AmountFen = 1999 })},
			{"ZeroAmount", with(func(c *wxCallback) { c.AmountFen = 0 })},
			{"WrongMerchant", with(func(c *wxCallback) { c.MchID = "1900000002" })},
			{"WrongApp", with(func(c *wxCallback) { c.AppID = "wx9999999999999999" })},
			{"UnknownOrder", with(func(c *wxCallback) { c.OrderID = "EPAAAAAAAAAAAAAAAAAAAAAAAAAA" })},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := send(t, tc.cb.request(t, s))
				if r.Status < 400 || r.Status > 499 {
					t.Errorf("status %d (%q), want 4xx", r.Status, r.Body)
				}
				failBody(t, r)
			})
		}

		// The sandbox's own forging options against the same (unpaid) trade.
		sbCases := map[string]wechatsb.NotifyOptions{
			"SandboxForgedKey":       {SigningKey: otherKey},
			"SandboxTamperAfterSign": {TamperAfterSign: true},
			"SandboxTamperCipher":    {TamperCiphertext: true},
			"SandboxStale":           {Timestamp: time.Now().Add(-10 * time.Minute)},
			"SandboxWrongKeyID":      {KeyID: "PUB_KEY_ID_WRONG"},
			"SandboxWrongAPIv3Key":   {APIv3Key: strings.Repeat("z", 32)},
		}
		for name, opt := range sbCases {
			t.Run(name, func(t *testing.T) {
				opt.URL = s.URLs.Gateway + "/notify/wechat/demo-wechat"
				req, err := s.WeChat().SignedNotification(context.Background(), o.OrderID, opt)
				if err != nil {
					t.Fatal(err)
				}
				r := send(t, req)
				if r.Status < 400 || r.Status > 499 {
					t.Errorf("status %d (%q), want 4xx", r.Status, r.Body)
				}
				failBody(t, r)
			})
		}

		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != "PENDING" || st.PaidAt != nil || st.ProviderTxnID != "" || st.EventSent {
			t.Fatalf("rejected callbacks changed the order: %+v", st)
		}
		if v := stacktest.GetOrder(t, s, o.OrderID); v.Status != "PENDING" {
			t.Fatalf("GET order: %+v", v)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("rejected callbacks emitted %d events", n)
		}

		// Control: the genuine variant of the same builder is accepted, so each
		// rejection above is due to its one defect.
		r := send(t, genuine.request(t, s))
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("genuine built callback: %d %q", r.Status, r.Body)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != "PAID" || !st.EventSent {
			t.Fatalf("after genuine callback: %+v", st)
		}
		if evs := stacktest.DrainEvents(t, s); len(evs) != 1 || evs[0].OrderID != o.OrderID || evs[0].AmountFen != 2000 {
			t.Fatalf("events: %+v", evs)
		}

		// A genuine report that this paid order was paid by a different
		// transaction is refused and changes nothing.
		other := genuine
		other.TxnID = newTxnID()
		r = send(t, other.request(t, s))
		if r.Status != http.StatusBadRequest {
			t.Errorf("second transaction for a paid order: %d %q", r.Status, r.Body)
		}
		failBody(t, r)
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("second transaction emitted %d events", n)
		}
	})

	t.Run("ConcurrentDuplicates", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, token, "wechat", 777, openID)
		cb := wxCallback{OrderID: o.OrderID, AmountFen: 777, OpenID: openID}.filled(s)
		body, hdr := cb.build(t, s)
		const n = 50
		replies := make([]reply, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/notify/wechat/demo-wechat", bytes.NewReader(body))
				req.Header = hdr.Clone()
				<-start
				r, err := do(req)
				if err != nil {
					t.Errorf("delivery %d: %v", i, err)
				}
				replies[i] = r
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, r := range replies {
			switch {
			case r.Status == http.StatusNoContent && len(r.Body) == 0:
				ok++
			case r.Status >= 500:
				failBody(t, r)
			default:
				t.Errorf("delivery %d: %d %q (want 204 or 5xx FAIL)", i, r.Status, r.Body)
			}
		}
		if ok == 0 {
			t.Fatal("no delivery was accepted")
		}
		t.Logf("%d of %d concurrent deliveries answered 204", ok, n)
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != "PAID" || !st.EventSent || st.ProviderTxnID != cb.TxnID || st.PaidAt == nil || !st.PaidAt.Equal(cb.PaidAt) {
			t.Fatalf("stored order: %+v (want txn %s paid_at %v)", st, cb.TxnID, cb.PaidAt)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 || evs[0].OrderID != o.OrderID || evs[0].AmountFen != 777 || evs[0].ProviderTxnID != cb.TxnID {
			t.Fatalf("want exactly one event for %s, got %+v", o.OrderID, evs)
		}
		// WeChat retries the ones that failed: now every redelivery is a 204.
		req, _ := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/notify/wechat/demo-wechat", bytes.NewReader(body))
		req.Header = hdr.Clone()
		if r := send(t, req); r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("final redelivery: %d %q", r.Status, r.Body)
		}
		if again := stacktest.StoredOrder(t, s, o.OrderID); !again.PaidAt.Equal(*st.PaidAt) || again.ProviderTxnID != st.ProviderTxnID {
			t.Fatalf("order changed by redelivery: %+v", again)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("redelivery emitted %d events", n)
		}
	})

	t.Run("BodyLimitBoundary", func(t *testing.T) {
		// A genuine callback padded (inside the signature) to just over 64 KiB
		// is refused; padded to exactly 64 KiB it is accepted.
		o := stacktest.CreateOrder(t, s, token, "wechat", 640, openID)
		cb := wxCallback{OrderID: o.OrderID, AmountFen: 640, OpenID: openID}
		cb.PadTo = 64<<10 + 1
		r := send(t, cb.request(t, s))
		if r.Status != http.StatusBadRequest {
			t.Fatalf("64 KiB + 1: %d %q", r.Status, r.Body)
		}
		failBody(t, r)
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != "PENDING" || stacktest.QueueDepth(t, s) != 0 {
			t.Fatalf("oversized callback changed the order: %+v", st)
		}
		cb.PadTo = 64 << 10
		if r := send(t, cb.request(t, s)); r.Status != http.StatusNoContent {
			t.Fatalf("64 KiB: %d %q", r.Status, r.Body)
		}
		if evs := stacktest.DrainEvents(t, s); len(evs) != 1 || evs[0].OrderID != o.OrderID {
			t.Fatalf("events %+v", evs)
		}
	})

	t.Run("ClosedOrderPaidLate", func(t *testing.T) {
		// A verified report that money arrived wins over our own expiry.
		o := stacktest.CreateOrder(t, s, token, "wechat", 505, openID)
		if err := s.Store().MarkClosed(context.Background(), o.OrderID, time.Now()); err != nil {
			t.Fatal(err)
		}
		r := send(t, wxCallback{OrderID: o.OrderID, AmountFen: 505, OpenID: openID}.request(t, s))
		if r.Status != http.StatusNoContent {
			t.Fatalf("late payment of a closed order: %d %q", r.Status, r.Body)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != "PAID" || !st.EventSent {
			t.Fatalf("stored order: %+v", st)
		}
		if evs := stacktest.DrainEvents(t, s); len(evs) != 1 || evs[0].OrderID != o.OrderID {
			t.Fatalf("events: %+v", evs)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain/order"
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
		if st.Status != order.Paid || st.PaidAt.IsZero() || !txnRE.MatchString(st.ProviderTxnID) || st.PayerID != openID ||
			st.AmountFen != 1234 || st.MerchantID != stack.DemoWeChatMchID || !st.NextCheckAt.IsZero() {
			t.Fatalf("stored order: %+v", st)
		}
		// The index attributes follow the state: out of the sweeper's work
		// index, into the community's records and the settlement index.
		raw := stacktest.RawOrder(t, s, o.OrderID)
		if stacktest.Attr(raw, "work_pk") != "" || stacktest.Attr(raw, "work_at") != "" {
			t.Errorf("paid order still in the sweeper's work index: work_pk=%q work_at=%q", stacktest.Attr(raw, "work_pk"), stacktest.Attr(raw, "work_at"))
		}
		if stacktest.Attr(raw, "rec_pk") != "demo-both" || !strings.HasSuffix(stacktest.Attr(raw, "rec_sk"), "#"+o.OrderID) {
			t.Errorf("paid order not in the community's records index: rec_pk=%q rec_sk=%q", stacktest.Attr(raw, "rec_pk"), stacktest.Attr(raw, "rec_sk"))
		}
		if want := "wechat#" + stack.DemoWeChatMchID + "#" + string(st.BusinessDay) + "#"; !strings.HasPrefix(stacktest.Attr(raw, "settle_pk"), want) {
			t.Errorf("settle_pk %q, want prefix %q", stacktest.Attr(raw, "settle_pk"), want)
		}
		// The wire contract of the one event: field names and formats as
		// consumers read them.
		evs := stacktest.DrainEventJSON(t, s)
		if len(evs) != 1 {
			t.Fatalf("want exactly 1 payment event, got %d: %+v", len(evs), evs)
		}
		e := evs[0]
		want := map[string]any{
			"event_id": o.OrderID + ":" + strconv.FormatInt(st.Version, 10), "type": "payment.succeeded", "order_id": o.OrderID,
			"amount_fen": float64(1234), "merchant_id": stack.DemoWeChatMchID, "channel": "wechat", "community_id": "demo-both",
			"company_id": stack.DemoCompanyID, "iface_id": "demo-wechat", "provider_txn_id": st.ProviderTxnID,
			"business_day": st.PaidAt.In(time.FixedZone("UTC+8", 8*3600)).Format("2006-01-02"),
		}
		for k, v := range want {
			if e[k] != v {
				t.Errorf("event %s = %#v, want %#v", k, e[k], v)
			}
		}
		if ps, _ := e["paid_at"].(string); ps == "" {
			t.Errorf("event paid_at %#v", e["paid_at"])
		} else if pt, err := time.Parse(time.RFC3339, ps); err != nil || !pt.Equal(st.PaidAt) {
			t.Errorf("event paid_at %q (%v), want the instant %v", ps, err, st.PaidAt)
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
		if !again.PaidAt.Equal(st.PaidAt) || again.ProviderTxnID != st.ProviderTxnID || again.Version != st.Version {
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
		pendingVersion := stacktest.StoredOrder(t, s, o.OrderID).Version
		genuine := wxCallback{OrderID: o.OrderID, AmountFen: 2000, OpenID: openID, TxnID: newTxnID()}
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
		if st.Status != order.Pending || !st.PaidAt.IsZero() || st.ProviderTxnID != "" || st.Version != pendingVersion {
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
		paid := stacktest.StoredOrder(t, s, o.OrderID)
		if paid.Status != order.Paid || paid.ProviderTxnID != genuine.TxnID || paid.Version != pendingVersion+1 {
			t.Fatalf("after genuine callback: %+v", paid)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 || evs[0].AmountFen != 2000 {
			t.Fatalf("events: %+v", evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventPaid, paid)

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
		pendingVersion := stacktest.StoredOrder(t, s, o.OrderID).Version
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
		if st.Status != order.Paid || st.ProviderTxnID != cb.TxnID || !st.PaidAt.Equal(cb.PaidAt) || st.Version != pendingVersion+1 {
			t.Fatalf("stored order: %+v (want txn %s paid_at %v, one change)", st, cb.TxnID, cb.PaidAt)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 || evs[0].AmountFen != 777 || evs[0].ProviderTxnID != cb.TxnID {
			t.Fatalf("want exactly one event for %s, got %+v", o.OrderID, evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventPaid, st)
		// WeChat retries the ones that failed: now every redelivery is a 204.
		req, _ := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/notify/wechat/demo-wechat", bytes.NewReader(body))
		req.Header = hdr.Clone()
		if r := send(t, req); r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("final redelivery: %d %q", r.Status, r.Body)
		}
		if again := stacktest.StoredOrder(t, s, o.OrderID); again.Version != st.Version || !again.PaidAt.Equal(st.PaidAt) || again.ProviderTxnID != st.ProviderTxnID {
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
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != order.Pending || stacktest.QueueDepth(t, s) != 0 {
			t.Fatalf("oversized callback changed the order: %+v", st)
		}
		cb.PadTo = 64 << 10
		if r := send(t, cb.request(t, s)); r.Status != http.StatusNoContent {
			t.Fatalf("64 KiB: %d %q", r.Status, r.Body)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 {
			t.Fatalf("events %+v", evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventPaid, stacktest.StoredOrder(t, s, o.OrderID))
	})

	t.Run("ClosedOrderPaidLate", func(t *testing.T) {
		// A verified report that money arrived wins over our own expiry: two
		// state changes, two events (order.closed, then payment.succeeded).
		o := stacktest.CreateOrder(t, s, token, "wechat", 505, openID)
		if _, err := s.Store().OrderRepo().Update(context.Background(), o.OrderID, func(o *order.Order) error { return o.Close(time.Now()) }); err != nil {
			t.Fatal(err)
		}
		closed := stacktest.StoredOrder(t, s, o.OrderID)
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 {
			t.Fatalf("events after closing: %+v", evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventClosed, closed)
		r := send(t, wxCallback{OrderID: o.OrderID, AmountFen: 505, OpenID: openID}.request(t, s))
		if r.Status != http.StatusNoContent {
			t.Fatalf("late payment of a closed order: %d %q", r.Status, r.Body)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != order.Paid || st.Version != closed.Version+1 || !st.ClosedAt.Equal(closed.ClosedAt) {
			t.Fatalf("stored order: %+v", st)
		}
		evs = stacktest.DrainEvents(t, s)
		if len(evs) != 1 {
			t.Fatalf("events after the late payment: %+v", evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventPaid, st)
		if evs[0].From != order.Closed {
			t.Errorf("event from %q, want CLOSED", evs[0].From)
		}
	})
}

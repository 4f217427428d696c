package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	alipaysb "github.com/estatepay/estatepay/infra/sandbox/alipay"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/alipay"
)

type reply struct {
	Status int
	Body   string
}

// postForm posts an Alipay-style async notification to our webhook.
func postForm(t testing.TB, s *stack.Stack, iface, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/notify/alipay/"+iface, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := stacktest.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b)}
}

// openCashier opens the order's signed wap.pay URL like the payer's browser,
// so the sandbox creates the trade.
func openCashier(t testing.TB, s *stack.Stack, o stacktest.OrderView) {
	t.Helper()
	if o.Pay == nil || !strings.HasPrefix(o.Pay.RedirectURL, s.URLs.AlipayGateway) {
		t.Fatalf("order has no Alipay redirect URL to the sandbox: %+v", o.Pay)
	}
	resp, err := stacktest.HTTPClient.Get(o.Pay.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cashier: %d %s", resp.StatusCode, b)
	}
	if st, err := s.Alipay().TradeStatus(o.OrderID); err != nil || st != alipaysb.StatusWaitBuyerPay {
		t.Fatalf("sandbox trade after opening the cashier: %q %v\n%s", st, err, b)
	}
}

// paidNotification is the genuine TRADE_SUCCESS notification Alipay would send
// for the (opened, possibly unpaid) trade.
func paidNotification(t testing.TB, s *stack.Stack, orderID string) alipaysb.Notification {
	t.Helper()
	n, err := s.Alipay().NotificationFor(orderID)
	if err != nil {
		t.Fatal(err)
	}
	if n.TradeStatus != alipaysb.StatusSuccess {
		n.TradeStatus = alipaysb.StatusSuccess
		n.GmtPayment = time.Now().Truncate(time.Second)
		n.BuyerID, n.BuyerOpenID, n.BuyerLogonID = "2088102177846880", "", "buyer***@example.com"
	}
	return n
}

func sign(t testing.TB, n alipaysb.Notification, key *rsa.PrivateKey) url.Values {
	t.Helper()
	f, err := n.Form(key)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// padded is n's genuinely signed form with an extra "body" parameter sized so
// the encoded form is exactly size bytes.
func padded(t testing.TB, n alipaysb.Notification, key *rsa.PrivateKey, size int) string {
	t.Helper()
	v := sign(t, n, key)
	v.Set("body", "")
	if err := alipaysb.SignForm(key, v); err != nil {
		t.Fatal(err)
	}
	// The URL-encoded signature's length varies with its content (+ / = are
	// escaped): try random pads, steering the length, until it is exact.
	pad := size - len(v.Encode())
	for range 500 {
		if pad < 0 {
			t.Fatalf("form already over %d bytes", size)
		}
		b := make([]byte, pad)
		_, _ = rand.Read(b)
		for i := range b {
			b[i] = 'a' + b[i]%26
		}
		v.Set("body", string(b))
		if err := alipaysb.SignForm(key, v); err != nil {
			t.Fatal(err)
		}
		diff := size - len(v.Encode())
		if diff == 0 {
			return v.Encode()
		}
		pad += diff
	}
	t.Fatalf("could not pad the form to %d bytes", size)
	return v.Encode()
}

// TestAlipayNotify drives POST /notify/alipay/{iface} through the real stack
// with notifications from the Alipay sandbox (or built and signed like it).
func TestAlipayNotify(t *testing.T) {
	s := stacktest.Start(t)
	alipayKey := s.Keys().AlipayPlatform

	for _, community := range []string{"demo-both", "demo-alipay-only"} {
		t.Run("SandboxPays/"+community, func(t *testing.T) {
			o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, community), "alipay", 8888, "")
			openCashier(t, s, o)
			if err := s.Alipay().Pay(o.OrderID); err != nil {
				t.Fatal(err)
			}
			// The sandbox delivers asynchronously; the order turns PAID when we
			// have processed it (and the sandbox got "success").
			var v stacktest.OrderView
			stacktest.WaitFor(t, "order PAID after the sandbox's notification", 20*time.Second, func() bool {
				v = stacktest.GetOrder(t, s, o.OrderID)
				return v.Status == "PAID"
			})
			st := stacktest.StoredOrder(t, s, o.OrderID)
			if st.Status != order.Paid || st.PaidAt.IsZero() || !strings.HasPrefix(st.ProviderTxnID, "20") || st.PayerID == "" ||
				st.MerchantID != stack.DemoAlipaySellerID || st.CommunityID != community || st.AmountFen != 8888 {
				t.Fatalf("stored order: %+v", st)
			}
			raw := stacktest.RawOrder(t, s, o.OrderID)
			if stacktest.Attr(raw, "work_pk") != "" || stacktest.Attr(raw, "rec_pk") != community {
				t.Errorf("index attributes of the paid order: work_pk=%q rec_pk=%q", stacktest.Attr(raw, "work_pk"), stacktest.Attr(raw, "rec_pk"))
			}
			n, err := s.Alipay().NotificationFor(o.OrderID)
			if err != nil {
				t.Fatal(err)
			}
			if st.ProviderTxnID != n.TradeNo || !st.PaidAt.Equal(n.GmtPayment.Truncate(time.Second)) {
				t.Errorf("stored txn %s paid %v, sandbox trade_no %s paid %v", st.ProviderTxnID, st.PaidAt, n.TradeNo, n.GmtPayment)
			}
			evs := stacktest.DrainEvents(t, s)
			if len(evs) != 1 {
				t.Fatalf("want 1 event, got %+v", evs)
			}
			e := evs[0]
			if e.Type != order.EventPaid || e.OrderID != o.OrderID || e.AmountFen != 8888 || e.Channel != "alipay" ||
				e.IfaceID != "demo-alipay" || e.MerchantID != stack.DemoAlipaySellerID || e.CommunityID != community ||
				e.CompanyID != stack.DemoCompanyID || e.ProviderTxnID != n.TradeNo || e.PaidAt == nil || !e.PaidAt.Equal(n.GmtPayment.Truncate(time.Second)) {
				t.Fatalf("event %+v", e)
			}
			stacktest.CheckEvent(t, e, order.EventPaid, st)

			// Alipay notifies again (new notify_id): "success", nothing changes.
			r := postForm(t, s, "demo-alipay", sign(t, n, alipayKey).Encode())
			if r.Status != http.StatusOK || r.Body != "success" {
				t.Fatalf("duplicate: %d %q", r.Status, r.Body)
			}
			if again := stacktest.StoredOrder(t, s, o.OrderID); again.Version != st.Version || !again.PaidAt.Equal(st.PaidAt) || again.ProviderTxnID != st.ProviderTxnID {
				t.Fatalf("duplicate changed the order: %+v", again)
			}
			if n := stacktest.QueueDepth(t, s); n != 0 {
				t.Fatalf("duplicate emitted %d events", n)
			}
		})
	}

	t.Run("RejectedNotifications", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "alipay", 2500, "")
		openCashier(t, s, o)
		pendingVersion := stacktest.StoredOrder(t, s, o.OrderID).Version
		genuine := paidNotification(t, s, o.OrderID)
		otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		form := func(f func(n *alipaysb.Notification)) string {
			n := genuine
			f(&n)
			return sign(t, n, alipayKey).Encode()
		}
		after := func(f func(v url.Values)) string {
			v := sign(t, genuine, alipayKey)
			f(v)
			return v.Encode()
		}
		cases := []struct {
			name, iface, body string
		}{
			{"AmountChangedAfterSigning", "demo-alipay", after(func(v url.Values) { v.Set("total_amount", "0.01") })},
			{"OrderChangedAfterSigning", "demo-alipay", after(func(v url.Values) { v.Set("out_trade_no", "EPAAAAAAAAAAAAAAAAAAAAAAAAAA") })},
			{"ExtraParamAfterSigning", "demo-alipay", after(func(v url.Values) { v.Set("refund_fee", "25.00") })},
			{"ForgedSignature", "demo-alipay", sign(t, genuine, otherKey).Encode()},
			{"MissingSign", "demo-alipay", after(func(v url.Values) { v.Del("sign") })},
			{"SignTypeRSA", "demo-alipay", after(func(v url.Values) { v.Set("sign_type", "RSA") })},
			{"GarbageSign", "demo-alipay", after(func(v url.Values) { v.Set("sign", "bm90IGEgc2lnbmF0dXJl") })},
			{"UnknownOrder", "demo-alipay", form(func(n *alipaysb.Notification) { n.OutTradeNo = "EPAAAAAAAAAAAAAAAAAAAAAAAAAA" })},
			{"WrongAppID", "demo-alipay", form(func(n *alipaysb.Notification) { n.AppID, n.AuthAppID = "2021000000009999", "2021000000009999" })},
			{"WrongSeller", "demo-alipay", form(func(n *alipaysb.Notification) { n.SellerID = "2088000000009999" })},
			{"WrongAmountSigned", "demo-alipay", form(func(n *alipaysb.Notification) { n.TotalFen = 1 })},
			{"UnknownInterface", "no-such-iface", sign(t, genuine, alipayKey).Encode()},
			{"WeChatInterfaceOnAlipayPath", "demo-wechat", sign(t, genuine, alipayKey).Encode()},
			{"EmptyBody", "demo-alipay", ""},
			{"NotAForm", "demo-alipay", "%zz%%"},
			{"HugeBody", "demo-alipay", padded(t, genuine, alipayKey, 64<<10+1)},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := postForm(t, s, tc.iface, tc.body)
				if r.Status < 400 || r.Status > 499 || r.Body != "fail" {
					t.Errorf("got %d %q, want 4xx \"fail\"", r.Status, r.Body)
				}
			})
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != order.Pending || !st.PaidAt.IsZero() || st.ProviderTxnID != "" || st.Version != pendingVersion {
			t.Fatalf("rejected notifications changed the order: %+v", st)
		}
		if v := stacktest.GetOrder(t, s, o.OrderID); v.Status != "PENDING" {
			t.Fatalf("GET order: %+v", v)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("rejected notifications emitted %d events", n)
		}

		// Control: the same notification, genuinely signed, is accepted.
		r := postForm(t, s, "demo-alipay", sign(t, genuine, alipayKey).Encode())
		if r.Status != http.StatusOK || r.Body != "success" {
			t.Fatalf("genuine: %d %q", r.Status, r.Body)
		}
		paid := stacktest.StoredOrder(t, s, o.OrderID)
		if paid.Status != order.Paid || paid.ProviderTxnID != genuine.TradeNo || paid.Version != pendingVersion+1 || !paid.PaidAt.Equal(genuine.GmtPayment) {
			t.Fatalf("after genuine: %+v", paid)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 || evs[0].AmountFen != 2500 {
			t.Fatalf("events: %+v", evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventPaid, paid)
		// Duplicate (fresh notify_id): success, still one event.
		dup := genuine
		dup.NotifyID = "dup" + genuine.NotifyID
		if r := postForm(t, s, "demo-alipay", sign(t, dup, alipayKey).Encode()); r.Status != http.StatusOK || r.Body != "success" {
			t.Fatalf("duplicate: %d %q", r.Status, r.Body)
		}
		// A different trade_no for the already paid order is refused.
		other := genuine
		other.TradeNo = "2099" + genuine.TradeNo[4:]
		if r := postForm(t, s, "demo-alipay", sign(t, other, alipayKey).Encode()); r.Status != http.StatusBadRequest || r.Body != "fail" {
			t.Errorf("second trade for a paid order: %d %q", r.Status, r.Body)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("duplicates emitted %d events", n)
		}
		if again := stacktest.StoredOrder(t, s, o.OrderID); again.Version != paid.Version || again.ProviderTxnID != paid.ProviderTxnID {
			t.Fatalf("duplicates changed the order: %+v", again)
		}
	})

	t.Run("BodyLimitBoundary", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "alipay", 640, "")
		openCashier(t, s, o)
		n := paidNotification(t, s, o.OrderID)
		if r := postForm(t, s, "demo-alipay", padded(t, n, alipayKey, 64<<10+1)); r.Status != http.StatusBadRequest || r.Body != "fail" {
			t.Fatalf("64 KiB + 1: %d %q", r.Status, r.Body)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != order.Pending || stacktest.QueueDepth(t, s) != 0 {
			t.Fatalf("oversized notification changed the order: %+v", st)
		}
		if r := postForm(t, s, "demo-alipay", padded(t, n, alipayKey, 64<<10)); r.Status != http.StatusOK || r.Body != "success" {
			t.Fatalf("64 KiB: %d %q", r.Status, r.Body)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 {
			t.Fatalf("events %+v", evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventPaid, stacktest.StoredOrder(t, s, o.OrderID))
	})

	t.Run("NonPaymentStatusesChangeNothing", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "alipay", 300, "")
		openCashier(t, s, o)
		pendingVersion := stacktest.StoredOrder(t, s, o.OrderID).Version
		n, err := s.Alipay().NotificationFor(o.OrderID) // WAIT_BUYER_PAY
		if err != nil {
			t.Fatal(err)
		}
		if r := postForm(t, s, "demo-alipay", sign(t, n, alipayKey).Encode()); r.Status != http.StatusOK || r.Body != "success" {
			t.Fatalf("WAIT_BUYER_PAY: %d %q", r.Status, r.Body)
		}
		n.TradeStatus, n.GmtClose = alipaysb.StatusClosed, time.Now()
		if r := postForm(t, s, "demo-alipay", sign(t, n, alipayKey).Encode()); r.Status != http.StatusOK || r.Body != "success" {
			t.Fatalf("TRADE_CLOSED: %d %q", r.Status, r.Body)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != order.Pending || st.Version != pendingVersion {
			t.Fatalf("order: %+v", st)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("%d events", n)
		}
	})

	t.Run("RefundAfterPayment", func(t *testing.T) {
		// Paid, then refunded in full at Alipay: two changes, two events
		// (payment.succeeded, then order.refunded), and the refund
		// notification's redeliveries change nothing.
		o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "alipay", 4200, "")
		openCashier(t, s, o)
		if err := s.Alipay().Pay(o.OrderID); err != nil {
			t.Fatal(err)
		}
		stacktest.WaitFor(t, "order PAID", 20*time.Second, func() bool { return stacktest.StoredOrder(t, s, o.OrderID).Status == order.Paid })
		paid := stacktest.StoredOrder(t, s, o.OrderID)
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 {
			t.Fatalf("events after payment: %+v", evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventPaid, paid)

		res, err := alipayProvider(t, s).Refund(context.Background(), pay.RefundRequest{OrderID: o.OrderID, RefundID: "R" + o.OrderID, AmountFen: 4200, TotalFen: 4200, Reason: "test"})
		if err != nil {
			t.Fatalf("refund at the sandbox: %v", err)
		}
		t.Logf("refund: %+v", res)
		stacktest.WaitFor(t, "order REFUNDED after the refund notification", 20*time.Second, func() bool {
			return stacktest.StoredOrder(t, s, o.OrderID).Status == order.Refunded
		})
		refunded := stacktest.StoredOrder(t, s, o.OrderID)
		if refunded.Version != paid.Version+1 || refunded.ProviderTxnID != paid.ProviderTxnID || !refunded.PaidAt.Equal(paid.PaidAt) ||
			refunded.BusinessDay != paid.BusinessDay || refunded.RefundedAt.IsZero() {
			t.Fatalf("refunded order %+v, paid %+v", refunded, paid)
		}
		evs = stacktest.DrainEvents(t, s)
		if len(evs) != 1 {
			t.Fatalf("events after refund: %+v", evs)
		}
		stacktest.CheckEvent(t, evs[0], order.EventRefunded, refunded)
		if evs[0].From != order.Paid {
			t.Errorf("refund event from %q, want PAID", evs[0].From)
		}

		// Redeliveries: the refund notification again, and a late copy of
		// the payment notification.
		n, err := s.Alipay().NotificationFor(o.OrderID)
		if err != nil || n.TradeStatus != alipaysb.StatusClosed {
			t.Fatalf("sandbox notification after refund: %+v %v", n, err)
		}
		late := n
		late.TradeStatus, late.GmtClose, late.RefundFeeFen, late.GmtRefund, late.OutBizNo = alipaysb.StatusSuccess, time.Time{}, 0, time.Time{}, ""
		for name, m := range map[string]alipaysb.Notification{"refund": n, "payment": late} {
			m.NotifyID = "again" + m.NotifyID
			if r := postForm(t, s, "demo-alipay", sign(t, m, alipayKey).Encode()); r.Status != http.StatusOK || r.Body != "success" {
				t.Errorf("%s redelivered: %d %q", name, r.Status, r.Body)
			}
		}
		if again := stacktest.StoredOrder(t, s, o.OrderID); again.Version != refunded.Version || again.Status != order.Refunded {
			t.Fatalf("redeliveries changed the refunded order: %+v", again)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("redeliveries emitted %d events", n)
		}
	})
}

// alipayProvider is our own Alipay adapter for the demo app, talking to the
// sandbox the way the product does (here: to refund a trade).
func alipayProvider(t testing.TB, s *stack.Stack) *alipay.Provider {
	t.Helper()
	k := s.Keys()
	pub, err := x509.MarshalPKIXPublicKey(&k.AlipayPlatform.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p, err := alipay.New(alipay.Config{
		AppID: stack.DemoAlipayAppID, SellerID: stack.DemoAlipaySellerID, GatewayURL: s.URLs.AlipayGateway,
		PrivateKey:      string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.AlipayApp)})),
		AlipayPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

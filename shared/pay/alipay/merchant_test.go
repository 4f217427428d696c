package alipay_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sandbox "github.com/estatepay/estatepay/infra/sandbox/alipay"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/alipay"
)

// The ISV of these tests acts for two merchants, each with its own token.
const (
	isvApp         = "2021000000000002"
	merchantSeller = "2088000000000099"
	merchantApp    = "2021000000000077"
	merchantToken  = "202503BB1234567890"
	otherSeller    = "2088000000000098"
	otherApp       = "2021000000000078"
	otherToken     = "202503BB0987654321"
)

func isvEnv(t *testing.T) *env {
	return newEnv(t, func(c *sandbox.Config) {
		c.Apps = append(c.Apps,
			sandbox.App{AppID: isvApp, PublicKey: &appKey.PublicKey, SellerID: merchantSeller, AuthAppID: merchantApp, AuthTokens: []string{merchantToken}},
			sandbox.App{AppID: isvApp, PublicKey: &appKey.PublicKey, SellerID: otherSeller, AuthAppID: otherApp, AuthTokens: []string{otherToken}})
	})
}

func isvProvider(t *testing.T, e *env) *alipay.Provider {
	return e.provider(t, alipay.Config{AppID: isvApp, AppAuthToken: merchantToken, SellerID: merchantSeller, AuthAppID: merchantApp})
}

// payWith opens p's trade at the cashier and pays it (no notify URL: tests
// build the notifications themselves).
func payWith(t *testing.T, e *env, p *alipay.Provider, orderID string, fen int64) {
	t.Helper()
	res, err := p.Prepay(context.Background(), pay.PrepayRequest{OrderID: orderID, AmountFen: fen, Description: "物业费"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ticket := e.openCashier(t, res.RedirectURL); ticket == "" {
		t.Fatal("no cashier ticket")
	}
	if err := e.sb.Pay(orderID); err != nil {
		t.Fatal(err)
	}
}

// Fail closed: an adapter that does not know whose money it collects (the
// seller, and in ISV mode the merchant's app) cannot be built.
func TestNewRequiresWhoReceivesTheMoney(t *testing.T) {
	keys(t)
	base := alipay.Config{AppID: testAppID, PrivateKey: privatePEM(t, appKey), AlipayPublicKey: publicPEM(t, &alipayKey.PublicKey), SellerID: testSeller}
	if _, err := alipay.New(base); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*alipay.Config){
		"no seller":                      func(c *alipay.Config) { c.SellerID = "" },
		"ISV without the merchant's app": func(c *alipay.Config) { c.AppAuthToken = merchantToken },
		"merchant app without a token":   func(c *alipay.Config) { c.AuthAppID = merchantApp },
	} {
		c := base
		mutate(&c)
		if _, err := alipay.New(c); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// C1 on notifications of our own app: seller_id is required and must be ours;
// the report carries what Alipay said.
func TestNotifyMustNameOurSeller(t *testing.T) {
	e := newEnv(t)
	e.paidTrade(t, "ORD-C1", 500)
	base, err := e.sb.NotificationFor("ORD-C1")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(n sandbox.Notification) (pay.Notification, error) {
		f, err := n.Form(alipayKey)
		if err != nil {
			t.Fatal(err)
		}
		return e.p.ParseNotification(context.Background(), notifyRequest(f))
	}
	if base.SellerID != testSeller || base.AuthAppID != testAppID {
		t.Fatalf("sandbox notification seller_id %q auth_app_id %q: Alipay sends both", base.SellerID, base.AuthAppID)
	}
	if n, err := parse(base); err != nil || n.MerchantID != testSeller || n.AppID != testAppID {
		t.Fatalf("genuine: %+v, %v", n, err)
	}
	for name, mutate := range map[string]func(*sandbox.Notification){
		"no seller_id":               func(n *sandbox.Notification) { n.SellerID = "" },
		"other seller_id":            func(n *sandbox.Notification) { n.SellerID = otherSeller },
		"auth_app_id of another app": func(n *sandbox.Notification) { n.AuthAppID = otherApp },
		"app_id of another app":      func(n *sandbox.Notification) { n.AppID, n.AuthAppID = otherApp, otherApp },
	} {
		n := base
		mutate(&n)
		if got, err := parse(n); !errors.Is(err, pay.ErrMalformed) {
			t.Errorf("%s: accepted (%+v, %v)", name, got.Trade, err)
		}
	}
}

// C1 in ISV mode: the notification's app_id is the ISV's; the merchant's app is
// auth_app_id, which is required, must be the authorising merchant's, and is
// what the report names.
func TestISVNotifyMustNameMerchantApp(t *testing.T) {
	e := isvEnv(t)
	p := isvProvider(t, e)
	payWith(t, e, p, "ORD-ISV-N", 700)
	base, err := e.sb.NotificationFor("ORD-ISV-N")
	if err != nil {
		t.Fatal(err)
	}
	if base.AppID != isvApp || base.AuthAppID != merchantApp || base.SellerID != merchantSeller {
		t.Fatalf("sandbox ISV notification app_id %q auth_app_id %q seller_id %q", base.AppID, base.AuthAppID, base.SellerID)
	}
	parse := func(n sandbox.Notification) (pay.Notification, error) {
		f, err := n.Form(alipayKey)
		if err != nil {
			t.Fatal(err)
		}
		return p.ParseNotification(context.Background(), notifyRequest(f))
	}
	n, err := parse(base)
	if err != nil || n.MerchantID != merchantSeller || n.AppID != merchantApp || n.State != pay.TradePaid || n.AmountFen != 700 {
		t.Fatalf("genuine ISV notification: %+v, %v", n, err)
	}
	for name, mutate := range map[string]func(*sandbox.Notification){
		"another merchant's auth_app_id":   func(n *sandbox.Notification) { n.AuthAppID = otherApp },
		"no auth_app_id":                   func(n *sandbox.Notification) { n.AuthAppID = "" },
		"the ISV's own app as auth_app_id": func(n *sandbox.Notification) { n.AuthAppID = isvApp },
		"another merchant's seller_id":     func(n *sandbox.Notification) { n.SellerID = otherSeller },
	} {
		forged := base
		mutate(&forged)
		if got, err := parse(forged); !errors.Is(err, pay.ErrMalformed) {
			t.Errorf("%s: accepted (%+v, %v)", name, got.Trade, err)
		}
	}
}

// C1 on queries. alipay.trade.query answers carry no seller_id and no
// auth_app_id; the answer is scoped to the calling app and app_auth_token. In
// ISV mode the adapter has Alipay confirm which merchant the token acts for
// before it reports a queried trade as that merchant's: a token that belongs to
// another merchant than the record says fails the query instead of reporting
// the other merchant's money as ours.
func TestISVQueryReportsTheTokensMerchant(t *testing.T) {
	e := isvEnv(t)
	ctx := context.Background()
	p := isvProvider(t, e)
	payWith(t, e, p, "ORD-ISV-Q", 900)
	tr, err := p.Query(ctx, "ORD-ISV-Q")
	if err != nil || tr.State != pay.TradePaid || tr.MerchantID != merchantSeller || tr.AppID != merchantApp || tr.AmountFen != 900 {
		t.Fatalf("ISV query: %+v, %v", tr, err)
	}
	// The record names merchant A but its token is merchant B's: B's trade
	// (same out_trade_no) must not come back as A's.
	other := e.provider(t, alipay.Config{AppID: isvApp, AppAuthToken: otherToken, SellerID: otherSeller, AuthAppID: otherApp})
	payWith(t, e, other, "ORD-ISV-B", 900)
	mixed := e.provider(t, alipay.Config{AppID: isvApp, AppAuthToken: otherToken, SellerID: merchantSeller, AuthAppID: merchantApp})
	if tr, err := mixed.Query(ctx, "ORD-ISV-B"); !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("query through another merchant's token reported %+v, %v", tr, err)
	}
	// Our own app: the query is scoped to it and reports its seller and app.
	e.paidTrade(t, "ORD-OWN-Q", 300)
	if tr, err := e.p.Query(ctx, "ORD-OWN-Q"); err != nil || tr.MerchantID != testSeller || tr.AppID != testAppID {
		t.Fatalf("own-app query: %+v, %v", tr, err)
	}
	// A trade Alipay never saw names nobody.
	if tr, err := e.p.Query(ctx, "ORD-NEVER"); err != nil || tr.State != pay.TradeNotFound || tr.MerchantID != "" || tr.AppID != "" {
		t.Fatalf("unknown trade: %+v, %v", tr, err)
	}
}

// Bug 1, adapter side: Alipay says TRADE_CLOSED both for a trade closed unpaid
// and for one refunded in full. Only the second is TradeRefunded, on
// notifications and queries alike.
func TestTradeClosedPaidOrUnpaid(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// Closed unpaid (timeout): never refunded, never paid.
	e.openCashier(t, e.prepay(t, "ORD-CL-U", 100, e.clock.Now().Add(time.Minute)))
	e.clock.Advance(2 * time.Minute)
	tr, err := e.p.Query(ctx, "ORD-CL-U")
	if err != nil || tr.State != pay.TradeClosed || !tr.PaidAt.IsZero() {
		t.Fatalf("closed unpaid query: %+v, %v", tr, err)
	}
	n, err := e.sb.NotificationFor("ORD-CL-U")
	if err != nil {
		t.Fatal(err)
	}
	if n.TradeStatus != sandbox.StatusClosed || !n.GmtPayment.IsZero() {
		t.Fatalf("sandbox closed notification %+v", n)
	}
	f, _ := n.Form(alipayKey)
	if got, err := e.p.ParseNotification(ctx, notifyRequest(f)); err != nil || got.State != pay.TradeClosed || !got.PaidAt.IsZero() {
		t.Fatalf("closed unpaid notification: %+v, %v", got, err)
	}

	// Paid, then refunded in full: TRADE_CLOSED with a payment on record.
	paid := e.paidTrade(t, "ORD-CL-R", 800)
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-CL-R", RefundID: "RF-ALL", AmountFen: 800, TotalFen: 800}); err != nil {
		t.Fatal(err)
	}
	if got := e.waitNote(t); got.State != pay.TradeRefunded || got.PaidAt.IsZero() {
		t.Fatalf("full refund notification: %+v", got)
	}
	tr, err = e.p.Query(ctx, "ORD-CL-R")
	if err != nil || tr.State != pay.TradeRefunded || !tr.PaidAt.Equal(paid.PaidAt) {
		t.Fatalf("refunded query: %+v, %v (paid at %v)", tr, err, paid.PaidAt)
	}
	// A forged-looking but signed TRADE_CLOSED without any payment is closed,
	// not refunded.
	n, _ = e.sb.NotificationFor("ORD-CL-R")
	n.GmtPayment, n.OutBizNo, n.RefundFeeFen = time.Time{}, "", 0
	f, _ = n.Form(alipayKey)
	if strings.Contains(f.Encode(), "buyer_pay_amount") {
		t.Fatalf("notification without payment still carries buyer_pay_amount: %s", f.Encode())
	}
	if got, err := e.p.ParseNotification(ctx, notifyRequest(f)); err != nil || got.State != pay.TradeClosed {
		t.Fatalf("TRADE_CLOSED without payment: %+v, %v", got, err)
	}
	// buyer_pay_amount > 0 alone shows a payment.
	f.Set("buyer_pay_amount", "8.00")
	if err := sandbox.SignForm(alipayKey, f); err != nil {
		t.Fatal(err)
	}
	if got, err := e.p.ParseNotification(ctx, notifyRequest(f)); err != nil || got.State != pay.TradeRefunded {
		t.Fatalf("TRADE_CLOSED with buyer_pay_amount: %+v, %v", got, err)
	}
}

package alipay_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/estatepay/estatepay/shared/pay"
)

func TestWapPayEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	expire := e.clock.Now().Add(15 * time.Minute)
	u := e.prepay(t, "ORD-20250314-0001", 1234, expire)

	// The signed URL carries the wap.pay request exactly.
	q, _ := url.Parse(u)
	params := q.Query()
	if params.Get("method") != "alipay.trade.wap.pay" || params.Get("sign_type") != "RSA2" || params.Get("notify_url") != e.notifyURL {
		t.Fatalf("unexpected common params: %v", params)
	}
	var biz map[string]string
	if err := json.Unmarshal([]byte(params.Get("biz_content")), &biz); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"out_trade_no": "ORD-20250314-0001", "total_amount": "12.34", "product_code": "QUICK_WAP_WAY",
		"time_expire": "2025-03-14 10:15:00", "quit_url": "https://pay.example.com/quit"}
	for k, v := range want {
		if biz[k] != v {
			t.Errorf("biz_content %s = %q, want %q", k, biz[k], v)
		}
	}

	// Before the payer opens the cashier Alipay knows nothing.
	if tr, err := e.p.Query(ctx, "ORD-20250314-0001"); err != nil || tr.State != pay.TradeNotFound {
		t.Fatalf("Query before cashier = %+v, %v", tr, err)
	}
	page, ticket := e.openCashier(t, u)
	for _, s := range []string{"¥12.34", "物业费 2025年3月 3-2-501", "支付", "取消", "2025-03-14 10:15:00"} {
		if !strings.Contains(page, s) {
			t.Errorf("cashier page lacks %q", s)
		}
	}
	if tr, err := e.p.Query(ctx, "ORD-20250314-0001"); err != nil || tr.State != pay.TradePending || tr.AmountFen != 1234 {
		t.Fatalf("Query after cashier = %+v, %v", tr, err)
	}

	resp := e.press(t, u, "cashier/pay", ticket)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pay: HTTP %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if !strings.HasPrefix(loc.String(), "https://pay.example.com/return?o=ORD-20250314-0001&") {
		t.Fatalf("return redirect = %s", loc)
	}
	// The sync return parameters are signed by Alipay.
	verifier, err := sdk.New(testAppID, privatePEM(t, appKey), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifier.LoadAliPayPublicKey(publicPEM(t, &alipayKey.PublicKey)); err != nil {
		t.Fatal(err)
	}
	ret := loc.Query()
	ret.Del("o")
	if err := verifier.VerifySign(ret); err != nil {
		t.Fatalf("return params do not verify: %v", err)
	}
	if ret.Get("method") != "alipay.trade.wap.pay.return" || ret.Get("total_amount") != "12.34" {
		t.Fatalf("return params: %v", ret)
	}

	n := e.waitNote(t)
	if n.OrderID != "ORD-20250314-0001" || n.AmountFen != 1234 || n.State != pay.TradePaid ||
		n.MerchantID != testSeller || n.AppID != testAppID || n.PayerID == "" || n.EventID == "" ||
		n.ProviderTxnID != ret.Get("trade_no") || !n.PaidAt.Equal(e.clock.Now()) {
		t.Fatalf("notification = %+v", n)
	}
	d := e.waitDelivery(t)
	if !d.Acked || d.Attempt != 1 {
		t.Fatalf("delivery = %+v", d)
	}
	tr, err := e.p.Query(ctx, "ORD-20250314-0001")
	if err != nil || tr.State != pay.TradePaid || tr.ProviderTxnID != n.ProviderTxnID || !tr.PaidAt.Equal(n.PaidAt) || tr.PayerID != n.PayerID {
		t.Fatalf("Query after pay = %+v, %v", tr, err)
	}
	// Paying twice is impossible: reopening the URL shows ACQ.TRADE_HAS_SUCCESS.
	if page, ticket := e.openCashier(t, u); ticket != "" || !strings.Contains(page, "ACQ.TRADE_HAS_SUCCESS") {
		t.Fatalf("reopened paid trade: %s", page)
	}
}

func TestCashierCancelAndEscaping(t *testing.T) {
	e := newEnv(t)
	res, err := e.p.Prepay(context.Background(), pay.PrepayRequest{
		OrderID: "ORD-XSS", AmountFen: 1, Description: `<script>alert("x")</script>`,
		NotifyURL: e.notifyURL, QuitURL: "https://pay.example.com/quit?o=ORD-XSS",
	})
	if err != nil {
		t.Fatal(err)
	}
	page, ticket := e.openCashier(t, res.RedirectURL)
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "¥0.01") {
		t.Fatalf("subject not escaped: %s", page)
	}
	resp := e.press(t, res.RedirectURL, "cashier/cancel", ticket)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://pay.example.com/quit?o=ORD-XSS" {
		t.Fatalf("cancel: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if tr, _ := e.p.Query(context.Background(), "ORD-XSS"); tr.State != pay.TradePending {
		t.Fatalf("cancel changed state: %+v", tr)
	}
}

func TestQueryAndCloseStates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// Closing a trade Alipay never saw is success.
	if err := e.p.Close(ctx, "ORD-NEVER"); err != nil {
		t.Fatalf("Close never-opened: %v", err)
	}

	u := e.prepay(t, "ORD-CLOSE", 500, time.Time{})
	_, ticket := e.openCashier(t, u)
	if err := e.p.Close(ctx, "ORD-CLOSE"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if tr, err := e.p.Query(ctx, "ORD-CLOSE"); err != nil || tr.State != pay.TradeClosed || !tr.PaidAt.IsZero() {
		t.Fatalf("Query closed = %+v, %v", tr, err)
	}
	if err := e.p.Close(ctx, "ORD-CLOSE"); err != nil {
		t.Fatalf("Close twice: %v", err)
	}
	// The cashier of a closed trade cannot pay.
	if resp := e.press(t, u, "cashier/pay", ticket); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("paid a closed trade")
	}
	if err := e.sb.Pay("ORD-CLOSE"); err == nil {
		t.Fatal("sandbox Pay of a closed trade succeeded")
	}

	e.paidTrade(t, "ORD-PAID", 700)
	err := e.p.Close(ctx, "ORD-PAID")
	if !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("Close paid trade = %v, want ErrProvider", err)
	}
}

func TestTimeExpireHonoured(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.prepay(t, "ORD-EXP", 100, e.clock.Now().Add(10*time.Minute))
	_, ticket := e.openCashier(t, u)
	e.clock.Advance(10 * time.Minute)
	if tr, err := e.p.Query(ctx, "ORD-EXP"); err != nil || tr.State != pay.TradeClosed {
		t.Fatalf("Query after expiry = %+v, %v", tr, err)
	}
	if resp := e.press(t, u, "cashier/pay", ticket); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("paid an expired trade")
	}
	// A URL whose time_expire has passed never opens a cashier.
	u2 := e.prepay(t, "ORD-EXP2", 100, e.clock.Now().Add(-time.Second))
	if page, ticket := e.openCashier(t, u2); ticket != "" || !strings.Contains(page, "ACQ.TRADE_HAS_CLOSE") {
		t.Fatalf("expired URL opened a cashier: %s", page)
	}
}

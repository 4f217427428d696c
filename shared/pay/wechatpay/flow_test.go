package wechatpay_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"

	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

func verifyPaySign(t *testing.T, pub *rsa.PublicKey, js map[string]string) {
	t.Helper()
	msg := js["appId"] + "\n" + js["timeStamp"] + "\n" + js["nonceStr"] + "\n" + js["package"] + "\n"
	sig, err := base64.StdEncoding.DecodeString(js["paySign"])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(msg))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("paySign does not verify: %v", err)
	}
	if js["signType"] != "RSA" {
		t.Fatalf("signType = %q", js["signType"])
	}
}

func TestDirectFlow(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	ctx := context.Background()
	const order, openid = "ORDER20240101A", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

	res := e.prepay(t, order, 12345, openid)
	verifyPaySign(t, &keys().direct.PublicKey, res.JSAPI)
	if res.JSAPI["appId"] != directAppID || res.JSAPI["package"] != "prepay_id="+res.ProviderRef {
		t.Fatalf("JSAPI params %v", res.JSAPI)
	}

	tr, err := e.p.Query(ctx, order)
	if err != nil || tr.State != pay.TradePending || tr.AmountFen != 12345 {
		t.Fatalf("query before pay: %+v %v", tr, err)
	}

	if err := e.sb.Pay(order); err != nil {
		t.Fatal(err)
	}
	got := e.next(t)
	if got.err != nil {
		t.Fatalf("ParseNotification: %v", got.err)
	}
	n := got.n
	if n.OrderID != order || n.AmountFen != 12345 || n.State != pay.TradePaid || n.MerchantID != directMchID ||
		n.AppID != directAppID || n.PayerID != openid || n.ProviderTxnID == "" || n.EventID == "" || n.PaidAt.IsZero() {
		t.Fatalf("notification %+v", n)
	}
	if d := time.Since(n.PaidAt); d < -time.Minute || d > time.Minute {
		t.Fatalf("paid_at %v not now", n.PaidAt)
	}

	tr, err = e.p.Query(ctx, order)
	if err != nil || tr.State != pay.TradePaid || tr.ProviderTxnID != n.ProviderTxnID || !tr.PaidAt.Equal(n.PaidAt) || tr.PayerID != openid {
		t.Fatalf("query after pay: %+v %v", tr, err)
	}

	// Closing a paid order is refused.
	if err := e.p.Close(ctx, order); !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("close paid order: %v", err)
	}

	rr, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: order, RefundID: "R" + order, AmountFen: 2345, TotalFen: 12345, Reason: "多缴"})
	if err != nil || rr.ProviderRefundID == "" || rr.Status != "SUCCESS" {
		t.Fatalf("refund: %+v %v", rr, err)
	}
	// Same out_refund_no again is idempotent.
	rr2, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: order, RefundID: "R" + order, AmountFen: 2345, TotalFen: 12345})
	if err != nil || rr2.ProviderRefundID != rr.ProviderRefundID {
		t.Fatalf("refund replay: %+v %v", rr2, err)
	}
	// More than what is left is refused.
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: order, RefundID: "R2" + order, AmountFen: 10001, TotalFen: 12345}); !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("over-refund: %v", err)
	}
	tr, err = e.p.Query(ctx, order)
	if err != nil || tr.State != pay.TradeRefunded {
		t.Fatalf("query after refund: %+v %v", tr, err)
	}

	// Today's bill is not generated yet; tomorrow it holds the trade and the refund.
	if _, err := e.p.TradeBill(ctx, e.clock.Now()); !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("today's bill: %v", err)
	}
	day := e.clock.Now()
	e.clock.Advance(24 * time.Hour)
	bill, err := e.p.TradeBill(ctx, day)
	if err != nil {
		t.Fatalf("trade bill: %v", err)
	}
	text := string(bill)
	for _, want := range []string{"`" + order, "`" + n.ProviderTxnID, "`SUCCESS", "`REFUND", "`123.45", "`23.45", "`R" + order, "总交易单数", "`2,`123.45,`23.45"} {
		if !strings.Contains(text, want) {
			t.Errorf("bill lacks %q:\n%s", want, text)
		}
	}
	// A day without trades has no statement.
	if _, err := e.p.TradeBill(ctx, day.AddDate(0, 0, -3)); !errors.Is(err, wechatpay.ErrNoStatement) || !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("empty day: %v", err)
	}
}

func TestPartnerFlow(t *testing.T) {
	e := newEnv(t, wechatpay.ModePartner, nil)
	ctx := context.Background()
	const order, openid = "PARTNER_0001", "oSubOpenid000000000000000001"
	res := e.prepay(t, order, 500, openid)
	verifyPaySign(t, &keys().sp.PublicKey, res.JSAPI)
	if res.JSAPI["appId"] != subAppID {
		t.Fatalf("partner JSAPI appId = %q, want sub_appid", res.JSAPI["appId"])
	}
	if err := e.sb.Pay(order); err != nil {
		t.Fatal(err)
	}
	got := e.next(t)
	if got.err != nil {
		t.Fatal(got.err)
	}
	n := got.n
	if n.OrderID != order || n.AmountFen != 500 || n.MerchantID != subMchID || n.AppID != spAppID || n.PayerID != openid || n.State != pay.TradePaid {
		t.Fatalf("partner notification %+v", n)
	}
	tr, err := e.p.Query(ctx, order)
	if err != nil || tr.State != pay.TradePaid || tr.MerchantID != subMchID || tr.PayerID != openid {
		t.Fatalf("partner query %+v %v", tr, err)
	}
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: order, RefundID: "RF1", AmountFen: 500, TotalFen: 500}); err != nil {
		t.Fatal(err)
	}
	if tr, _ := e.p.Query(ctx, order); tr.State != pay.TradeRefunded {
		t.Fatalf("after refund %v", tr.State)
	}
	if err := e.p.Close(ctx, "PARTNER_0002"); !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("close unknown: %v", err)
	}
	e.prepay(t, "PARTNER_0002", 100, openid)
	if err := e.p.Close(ctx, "PARTNER_0002"); err != nil {
		t.Fatal(err)
	}
	if tr, _ := e.p.Query(ctx, "PARTNER_0002"); tr.State != pay.TradeClosed {
		t.Fatalf("closed partner trade: %v", tr.State)
	}
	day := e.clock.Now()
	e.clock.Advance(24 * time.Hour)
	bill, err := e.p.TradeBill(ctx, day)
	if err != nil || !strings.Contains(string(bill), "`"+subMchID+",") || !strings.Contains(string(bill), "`"+order) {
		t.Fatalf("partner bill %v:\n%s", err, bill)
	}
}

func TestPartnerWithoutSubAppIDUsesSpOpenID(t *testing.T) {
	e := newEnv(t, wechatpay.ModePartner, nil)
	cfg := e.cfg
	cfg.SubAppID = ""
	p, err := wechatpay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	res := e.prepay(t, "SPOPENID_01", 100, "oSpOpenid")
	if res.JSAPI["appId"] != spAppID {
		t.Fatalf("appId = %q, want sp_appid", res.JSAPI["appId"])
	}
	if err := e.sb.Pay("SPOPENID_01"); err != nil {
		t.Fatal(err)
	}
	if got := e.next(t); got.err != nil || got.n.PayerID != "oSpOpenid" {
		t.Fatalf("%+v", got)
	}
}

func TestCloseAndExpiry(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	ctx := context.Background()
	e.prepay(t, "CLOSE_0001", 100, "oA")
	if err := e.p.Close(ctx, "CLOSE_0001"); err != nil {
		t.Fatal(err)
	}
	if tr, err := e.p.Query(ctx, "CLOSE_0001"); err != nil || tr.State != pay.TradeClosed {
		t.Fatalf("%+v %v", tr, err)
	}
	if err := e.sb.Pay("CLOSE_0001"); err == nil {
		t.Fatal("paid a closed trade")
	}
	if _, err := e.p.Prepay(ctx, e.prepayReq("CLOSE_0001", 100, "oA")); !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("prepay on closed order: %v", err)
	}

	e.prepay(t, "EXPIRE_0001", 100, "oA") // expires in 30 minutes
	e.clock.Advance(31 * time.Minute)
	if tr, err := e.p.Query(ctx, "EXPIRE_0001"); err != nil || tr.State != pay.TradeClosed {
		t.Fatalf("expired trade: %+v %v", tr, err)
	}
	if err := e.sb.Pay("EXPIRE_0001"); err == nil {
		t.Fatal("paid an expired trade")
	}

	if tr, err := e.p.Query(ctx, "NEVER_SEEN_1"); err != nil || tr.State != pay.TradeNotFound {
		t.Fatalf("unknown order: %+v %v", tr, err)
	}
}

func TestDuplicatePrepay(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	req := e.prepayReq("DUP_000001", 100, "oA")
	a, err := e.p.Prepay(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.p.Prepay(context.Background(), req)
	if err != nil || b.ProviderRef != a.ProviderRef {
		t.Fatalf("same params: %v %v vs %v", err, b.ProviderRef, a.ProviderRef)
	}
	req.AmountFen = 101
	_, err = e.p.Prepay(context.Background(), req)
	var ae *core.APIError
	if !errors.Is(err, pay.ErrProvider) || !errors.As(err, &ae) || ae.Code != "INVALID_REQUEST" {
		t.Fatalf("different params: %v", err)
	}
}

func TestSandboxRejectsBadRequests(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	ctx := context.Background()
	apiCode := func(err error) (int, string) {
		var ae *core.APIError
		if !errors.Is(err, pay.ErrProvider) || !errors.As(err, &ae) {
			t.Fatalf("want API error wrapped in ErrProvider, got %v", err)
		}
		return ae.StatusCode, ae.Code
	}

	// Merchant key that does not match the registered public key.
	cfg := e.cfg
	cfg.MerchantPrivateKey = keys().other
	p, _ := wechatpay.New(cfg)
	_, err := p.Prepay(ctx, e.prepayReq("BADSIGN_01", 100, "oA"))
	if st, code := apiCode(err); st != 401 || code != "SIGN_ERROR" {
		t.Fatalf("bad merchant signature: %d %s", st, code)
	}

	// Responses signed by a key we do not trust fail validation.
	cfg = e.cfg
	cfg.PlatformPublicKey = &keys().other.PublicKey
	p, _ = wechatpay.New(cfg)
	if _, err := p.Prepay(ctx, e.prepayReq("UNTRUSTED_1", 100, "oA")); !errors.Is(err, pay.ErrProvider) || !strings.Contains(err.Error(), "verify") {
		t.Fatalf("untrusted platform key: %v", err)
	}

	// appid not bound to the mchid.
	cfg = e.cfg
	cfg.AppID = "wx0000000000000000"
	p, _ = wechatpay.New(cfg)
	_, err = p.Prepay(ctx, e.prepayReq("APPID_0001", 100, "oA"))
	if st, code := apiCode(err); st != 400 || code != "APPID_MCHID_NOT_MATCH" {
		t.Fatalf("unbound appid: %d %s", st, code)
	}

	// Notify URL with a query string, like production, is a PARAM_ERROR.
	req := e.prepayReq("PARAM_0001", 100, "oA")
	req.NotifyURL += "?x=1"
	_, err = e.p.Prepay(ctx, req)
	if st, code := apiCode(err); st != 400 || code != "PARAM_ERROR" {
		t.Fatalf("notify url with query: %d %s", st, code)
	}
}

func TestConfigValidation(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	for name, mut := range map[string]func(*wechatpay.Config){
		"mode":    func(c *wechatpay.Config) { c.Mode = "x" },
		"mchid":   func(c *wechatpay.Config) { c.MchID = "" },
		"apiv3":   func(c *wechatpay.Config) { c.APIv3Key = "short" },
		"key":     func(c *wechatpay.Config) { c.MerchantPrivateKey = nil },
		"baseurl": func(c *wechatpay.Config) { c.BaseURL = "::" },
	} {
		cfg := e.cfg
		mut(&cfg)
		if _, err := wechatpay.New(cfg); err == nil {
			t.Errorf("%s: New accepted invalid config", name)
		}
	}
}

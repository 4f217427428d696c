package wechatpay_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

// openCashier opens the sandbox cashier with JSAPI parameters as the JS
// bridge does; it returns the status and page.
func openCashier(t *testing.T, e *env, js map[string]string) (int, string) {
	t.Helper()
	q := url.Values{}
	for k, v := range js {
		q.Set(k, v)
	}
	res, err := http.Get(e.url + "/sandbox/cashier?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestExposureAndFenfuPackage(t *testing.T) {
	for _, mode := range []string{wechatpay.ModeDirect, wechatpay.ModePartner} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, mode, nil)
			ctx := context.Background()
			e.sb.SetFenfuPayer("oNoCredit", wechat.FenfuPayer{Grade: "D", Eligible: false})
			e.sb.SetFenfuPayer("oGradeA", wechat.FenfuPayer{Grade: "A", Eligible: true})

			no, err := e.p.Exposure(ctx, "oNoCredit", 5000)
			if err != nil || no.Show || no.Token != "" || no.Grade != "D" {
				t.Fatalf("ineligible payer: %+v %v", no, err)
			}
			ex, err := e.p.Exposure(ctx, "oGradeA", 5000)
			if err != nil || !ex.Show || ex.Token == "" || ex.Grade != "A" {
				t.Fatalf("eligible payer: %+v %v", ex, err)
			}

			// the token travels in the package, signed again
			req := e.prepayReq("FF_"+mode, 5000, "oGradeA")
			req.ExposureToken = ex.Token
			res, err := e.p.Prepay(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			pub := &keys().direct.PublicKey
			if mode == wechatpay.ModePartner {
				pub = &keys().sp.PublicKey
			}
			verifyPaySign(t, pub, res.JSAPI)
			if res.JSAPI["package"] != "prepay_id="+res.ProviderRef+"&market_exposure_token="+ex.Token {
				t.Fatalf("package %q", res.JSAPI["package"])
			}
			// a token for another amount or payer is refused by the cashier
			other := e.prepayReq("FX_"+mode, 6000, "oGradeA")
			other.ExposureToken = ex.Token
			bad, err := e.p.Prepay(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			if st, page := openCashier(t, e, bad.JSAPI); st != http.StatusBadRequest || !strings.Contains(page, "market_exposure_token") {
				t.Fatalf("token of another amount: %d %s", st, page)
			}
			if st, page := openCashier(t, e, res.JSAPI); st != http.StatusOK || !strings.Contains(page, "分付") {
				t.Fatalf("cashier: %d %s", st, page)
			}
			if !e.sb.Fenfu("FF_"+mode) || e.sb.Fenfu("FX_"+mode) {
				t.Fatal("the trade the token opened is not marked 分付")
			}
			if err := e.sb.PayWithoutCallback("FF_" + mode); err != nil {
				t.Fatal(err)
			}
			day := e.clock.Now()
			e.clock.Advance(24 * time.Hour)
			b, err := e.p.TradeBill(ctx, day)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "`FENFU,") {
				t.Fatalf("the bill does not mark the 分付 payment:\n%s", b)
			}
		})
	}
}

package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// A notice's pay URL opens like a code URL (README "Contracts"): the
// scanning app gets the items and the total (WeChat after its OAuth round
// trip), any other browser the page that says which apps to scan with; an
// unknown notice is a Chinese 404; a paid notice shows 已缴清 and no amount.
func TestNoticePage(t *testing.T) {
	s := stacktest.Start(t)
	gw := s.URLs.Gateway
	h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "5", "1", "302", "赵六", 10000, 2345)
	n := stacktest.SeedNotice(t, s, h)
	u := gw + "/n/" + n.ID

	p := get(t, noRedirect(), u, uaAlipay)
	if p.status != 200 || !strings.Contains(p.body, `id="total">¥123.45<`) || !strings.Contains(p.body, `data-channel="alipay"`) ||
		!strings.Contains(p.body, "5栋1单元302 · 赵*") || strings.Contains(p.body, "赵六") || !strings.Contains(p.body, "物业费") {
		t.Fatalf("Alipay: %d\n%s", p.status, p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'sha256-") {
		t.Fatalf("CSP %q", csp)
	}
	p = get(t, noRedirect(), u, uaDesktop)
	if p.status != 200 || message(p) != "请使用微信或支付宝扫码" || strings.Contains(p.body, `id="pay"`) {
		t.Fatalf("desktop: %d %q", p.status, message(p))
	}
	// WeChat: OAuth first (back to the notice), then the items with the WeChat button.
	jar, _ := cookiejar.New(nil)
	p = get(t, noRedirectJar(jar), u, uaWeChat)
	loc, _ := url.Parse(p.header.Get("Location"))
	if p.status != http.StatusFound || loc.Path != "/connect/oauth2/authorize" || loc.Query().Get("redirect_uri") != u {
		t.Fatalf("WeChat: %d %q, want OAuth coming back to the notice", p.status, p.header.Get("Location"))
	}
	p = get(t, &http.Client{Jar: jar}, p.header.Get("Location"), uaWeChat)
	if p.status != 200 || !strings.Contains(p.body, `data-channel="wechat"`) || !strings.Contains(p.body, "微信支付 ¥123.45") {
		t.Fatalf("WeChat after OAuth: %d %s\n%s", p.status, p.url, p.body)
	}
	if payer := payerFromJar(t, jar, p.url, s); payer.OpenID == "" || payer.Iface != "demo-wechat" {
		t.Fatalf("payer cookie for the notice: %+v", payer)
	}

	p = get(t, noRedirect(), gw+"/n/AAAAAAAAAAAAAAAAAAAAAA", uaAlipay)
	if p.status != 404 || !strings.Contains(p.body, "缴费通知单无效") {
		t.Fatalf("unknown notice: %d %s", p.status, p.body)
	}

	// A payment in progress holds the bills: nothing to pay now.
	status, _, raw := stacktest.PayNotice(t, s, n.ID, "alipay", 12345, "")
	if status != http.StatusCreated {
		t.Fatalf("pay: %d %s", status, raw)
	}
	p = get(t, noRedirect(), u, uaAlipay)
	if p.status != 200 || !strings.Contains(p.body, "正在支付") || strings.Contains(p.body, `id="pay"`) {
		t.Fatalf("while a payment holds the bills: %d\n%s", p.status, p.body)
	}
}

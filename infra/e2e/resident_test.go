package e2e

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// readableTime is how the receipt writes a time (Asia/Shanghai).
var readableTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)

// checkReceipt checks the result page shows the receipt of order id.
func checkReceipt(t *testing.T, tab context.Context, id, amount, channel string, fields map[string]string, paidAt string) {
	t.Helper()
	for el, want := range map[string]string{
		"status": statusPaid, "payee": "示例物业服务有限公司", "community": "阳光花园", "amount": "¥" + amount,
		"channel": channel, "order-no": id, "paid-at": paidAt,
	} {
		if got := textOf(t, tab, el); got != want {
			t.Errorf("receipt #%s = %q, want %q", el, got, want)
		}
	}
	if !readableTime.MatchString(paidAt) {
		t.Errorf("payment time %q is not 2006-01-02 15:04:05", paidAt)
	}
	if hidden := run(t, tab, "paid-at visible", chromedp.Evaluate[bool](`document.getElementById("paid-at").hidden`)); hidden {
		t.Error("the payment time is hidden on a paid receipt")
	}
	shown := run(t, tab, "payer fields", chromedp.Evaluate[map[string]string](`(function(){
  var out = {}, dts = document.querySelectorAll("#result dt");
  for (var i = 0; i < dts.length; i++) { var dd = dts[i].nextElementSibling; if (dd && dd.classList.contains("payer-field")) out[dts[i].textContent] = dd.textContent; }
  return out;
})()`))
	if !maps.Equal(shown, fields) {
		t.Errorf("receipt payer fields %v, want %v", shown, fields)
	}
}

// paidAtReadable is the order's payment time from the API (ISO 8601, +08:00)
// as the receipt writes it.
func paidAtReadable(t *testing.T, ctx context.Context, gateway, id string) string {
	t.Helper()
	var o struct {
		Status string `json:"status"`
		PaidAt string `json:"paid_at"`
	}
	if err := getJSON(ctx, nil, gateway+"/api/orders/"+id, &o); err != nil {
		t.Fatal(err)
	}
	pt, err := time.Parse(time.RFC3339, o.PaidAt)
	if o.Status != "PAID" || err != nil || !strings.HasSuffix(o.PaidAt, "+08:00") {
		t.Fatalf("order %s: status %s paid_at %q (%v), want PAID at a +08:00 time", id, o.Status, o.PaidAt, err)
	}
	return pt.Format("2006-01-02 15:04:05")
}

// TestReceiptAndDone: after paying with Alipay the result page is a receipt
// (payee, community, amount, channel, 房号, order number, payment time in
// Asia/Shanghai), also after a reload; 完成 closes Alipay's WebView
// (AlipayJSBridge popWindow) and, outside the apps, goes back to the form.
func TestReceiptAndDone(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, alipayUA)
	c := community(t, s, "demo-both")
	page := s.URLs.Gateway + "/c/" + c.Token

	do(t, tab, "open pay page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("payform")),
		chromedp.SendKeys(chromedp.ID("amount"), "12.34"), chromedp.SendKeys(chromedp.ID("field-room"), "3-201"))
	screenshots(t, tab, "form-alipay")
	do(t, tab, "pay", chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.CSS("#cashier #pay")),
		chromedp.Click(chromedp.CSS("#cashier #pay")))
	loc := waitLocation(t, tab, "the result page", func(l string) bool { return strings.HasPrefix(l, page+"/orders/") })
	id := resultOrder(t, loc, s.URLs.Gateway, c.Token)
	waitStatus(t, tab, statusPaid)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := paidAtReadable(t, ctx, s.URLs.Gateway, id)
	eventually(t, tab, 10*time.Second, "the payment time on the receipt", func() (bool, string) {
		got := textOf(t, tab, "paid-at")
		return got == want, got
	})
	checkReceipt(t, tab, id, "12.34", "支付宝", map[string]string{"房号": "3-201"}, want)
	// The same receipt rendered by the server (a reload, or Back to it later).
	do(t, tab, "reload the receipt", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("done")))
	if st := run(t, tab, "state", chromedp.Evaluate[string](`document.getElementById("result").dataset.state`)); st != "paid" {
		t.Errorf("reloaded receipt state %q, want paid", st)
	}
	checkReceipt(t, tab, id, "12.34", "支付宝", map[string]string{"房号": "3-201"}, want)
	screenshots(t, tab, "receipt-alipay")

	// 完成 in Alipay: AlipayJSBridge.call('popWindow'), and the page stays.
	do(t, tab, "stub AlipayJSBridge", chromedp.Evaluate[chromedp.Void](
		`window.__bridge = []; window.AlipayJSBridge = { call: function (name) { window.__bridge.push(name); } };`))
	do(t, tab, "完成", chromedp.Click(chromedp.ID("done")))
	if calls := run(t, tab, "bridge calls", chromedp.Evaluate[[]string](`window.__bridge`)); len(calls) != 1 || calls[0] != "popWindow" {
		t.Fatalf("完成 called %v on AlipayJSBridge, want [popWindow]", calls)
	}
	if l := run(t, tab, "location", chromedp.Location()); l != loc {
		t.Errorf("完成 in Alipay navigated to %q", l)
	}
	// Without an app bridge 完成 goes back to the form.
	do(t, tab, "no bridge", chromedp.Evaluate[chromedp.Void](`delete window.AlipayJSBridge`), chromedp.Click(chromedp.ID("done")))
	waitLocation(t, tab, "the form after 完成", func(l string) bool { return l == page })
	do(t, tab, "form", chromedp.WaitVisible(chromedp.ID("payform")))
}

// TestWeChatBackAndRefreshAfterPaying (bug 12): in the WeChat WebView, Back
// from the receipt, a reload, and replaying the used OAuth code all show the
// form again, never 微信授权失败; without the payer cookie the used code
// leads through OAuth again, silently; 完成 asks WeChat to close the WebView;
// and the form reached by Back still pays.
func TestWeChatBackAndRefreshAfterPaying(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, "")
	c := community(t, s, "demo-both")
	start := s.URLs.WeChatWebView + "/c/" + c.Token

	do(t, tab, "open the form", chromedp.Navigate(start), chromedp.WaitVisible(chromedp.ID("payform")))
	oauthURL := run(t, tab, "navigation URL", chromedp.Evaluate[string](`performance.getEntriesByType("navigation")[0].name`))
	if !strings.HasPrefix(oauthURL, start+"?") || !strings.Contains(oauthURL, "code=") || !strings.Contains(oauthURL, "state=") {
		t.Fatalf("the form was loaded from %q, want the OAuth return %s?code=…&state=…", oauthURL, start)
	}
	if loc := run(t, tab, "location", chromedp.Location()); loc != start {
		t.Errorf("form address %q, want %s (the used code removed)", loc, start)
	}
	payer := payerCookie(t, tab, s, s.URLs.WeChatWebView+"/api/orders")
	screenshots(t, tab, "form-wechat")

	payWeChat := func(amount string) string {
		t.Helper()
		do(t, tab, "pay "+amount, clearAmount, setRoom, chromedp.SendKeys(chromedp.ID("amount"), amount),
			chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("wxsandbox-cashier")))
		clickInCashier(t, tab, "¥"+amount, "pay")
		loc := waitLocation(t, tab, "the receipt", func(l string) bool { return strings.HasPrefix(l, start+"/orders/") })
		waitStatus(t, tab, statusPaid)
		return resultOrder(t, loc, s.URLs.WeChatWebView, c.Token)
	}
	first := payWeChat("0.03")
	if ch := textOf(t, tab, "channel"); ch != "微信支付" {
		t.Errorf("receipt channel %q, want 微信支付", ch)
	}
	screenshots(t, tab, "receipt-wechat")

	// 完成 asks WeChat to close the WebView.
	do(t, tab, "record bridge calls", chromedp.Evaluate[chromedp.Void](
		`window.__bridge = []; WeixinJSBridge.invoke = function (name) { window.__bridge.push(name); };`))
	do(t, tab, "完成", chromedp.Click(chromedp.ID("done")))
	if calls := run(t, tab, "bridge calls", chromedp.Evaluate[[]string](`window.__bridge`)); len(calls) != 1 || calls[0] != "closeWindow" {
		t.Fatalf("完成 invoked %v on WeixinJSBridge, want [closeWindow]", calls)
	}

	formAgain := func(what string) {
		t.Helper()
		do(t, tab, what, chromedp.WaitVisible(chromedp.ID("payform")))
		if body := run(t, tab, "page text", chromedp.Evaluate[string](`document.body.innerText`)); strings.Contains(body, "微信授权失败") {
			t.Fatalf("%s: the page says 微信授权失败", what)
		}
	}
	do(t, tab, "Back", chromedp.NavigateBack())
	formAgain("Back to the form")
	do(t, tab, "reload", chromedp.Reload())
	formAgain("reloaded form")
	// What WeChat's WebView may do on Back or refresh: load the OAuth return
	// address again, with its used code.
	do(t, tab, "replay the used code", chromedp.Navigate(oauthURL))
	formAgain("replayed OAuth code")
	if p := payerCookie(t, tab, s, s.URLs.WeChatWebView+"/api/orders"); p.OpenID != payer.OpenID {
		t.Errorf("payer after the replay %q, want %q", p.OpenID, payer.OpenID)
	}
	// The payer cookie gone (expired): the used code leads through OAuth again.
	deletePayerCookies(t, tab, s)
	do(t, tab, "replay without the payer cookie", chromedp.Navigate(oauthURL))
	formAgain("replayed code without the payer cookie")
	nav := run(t, tab, "navigation URL", chromedp.Evaluate[string](`performance.getEntriesByType("navigation")[0].name`))
	if !strings.Contains(nav, "oauth_retry=1") || !strings.Contains(nav, "code=") {
		t.Errorf("the form came from %q, want a fresh OAuth return (oauth_retry=1 with a new code)", nav)
	}
	if p := payerCookie(t, tab, s, s.URLs.WeChatWebView+"/api/orders"); p.OpenID != payer.OpenID {
		t.Errorf("payer after re-authorising %q, want %q", p.OpenID, payer.OpenID)
	}
	second := payWeChat("0.04")
	if second == first {
		t.Fatalf("the second payment reused order %s", first)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if n := countPaid(t, ctx, s); n != 2 {
		t.Errorf("demo-both lists %d payments, want 2", n)
	}
}

// TestNewKeyAfterFailureAndExpiry (bug 2, page side): the pay page starts a
// new order (a new Idempotency-Key) after an expired order, after an error
// answer and after a cancel (TestWeChatCancelThenPay), and keeps the key only
// to retry a request whose answer was lost. The answers are shaped in the page
// (the real request still reaches the server); the server's 409 order_expired
// is covered by the orders function's tests.
func TestNewKeyAfterFailureAndExpiry(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, alipayUA)
	c := community(t, s, "demo-both")
	do(t, tab, "open pay page", chromedp.Navigate(s.URLs.Gateway+"/c/"+c.Token), chromedp.WaitVisible(chromedp.ID("payform")),
		chromedp.Evaluate[chromedp.Void](`(function () {
  window.__keys = []; window.__answers = [];
  var f = window.fetch;
  window.fetch = function (u, o) {
    var p = f.apply(this, arguments);
    if (String(u).indexOf("/api/orders") < 0) { return p; }
    window.__keys.push(o.headers["Idempotency-Key"]);
    var a = window.__answers.shift();
    function reply(status, code, msg) {
      return p.then(function () { return new Response(JSON.stringify({ error: { code: code, message: msg } }), { status: status, headers: { "Content-Type": "application/json" } }); });
    }
    if (a === "expired") { return reply(409, "order_expired", "订单已过期，请重新支付"); }
    if (a === "error") { return reply(502, "provider_error", "支付渠道暂不可用，请稍后重试"); }
    if (a === "lost") { return p.then(function () { throw new TypeError("Failed to fetch"); }); }
    return p;
  };
})()`), setRoom, chromedp.SendKeys(chromedp.ID("amount"), "0.07"))

	submit := func(answer, wantMsg string) string {
		t.Helper()
		do(t, tab, "submit ("+answer+")", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.__answers.push(%q); document.getElementById("error").textContent = "x-reset"`, answer)),
			chromedp.Click(chromedp.ID("pay")))
		var got string
		eventually(t, tab, 10*time.Second, "the message after "+answer, func() (bool, string) {
			got = textOf(t, tab, "error")
			return got != "x-reset" && got != "", got
		})
		if got != wantMsg {
			t.Errorf("after %s the page says %q, want %q", answer, got, wantMsg)
		}
		if run(t, tab, "button", chromedp.Evaluate[bool](`document.getElementById("pay").disabled`)) {
			t.Errorf("after %s the pay button stays disabled", answer)
		}
		keys := run(t, tab, "keys", chromedp.Evaluate[[]string](`window.__keys`))
		return keys[len(keys)-1]
	}
	k1 := submit("expired", "订单已过期，请重新支付")
	k2 := submit("error", "支付渠道暂不可用，请稍后重试")
	k3 := submit("lost", "网络异常，请重试")
	if k1 == "" || k2 == k1 || k3 == k2 || k3 == k1 {
		t.Fatalf("keys %q, %q, %q: want a new key after an expired order and after an error", k1, k2, k3)
	}
	// The answer to k3 was lost: the retry reuses k3 and gets its order.
	do(t, tab, "retry", chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.CSS("#cashier #pay")))
	if got, want := textOf(t, tab, "out-trade-no"), payments.OrderID(c.Token, k3); got != want {
		t.Errorf("the retry after a lost answer is order %s, want %s (the same key)", got, want)
	}
}

// TestPayerFieldsRequired (M5): 阳光花园 requires 房号. The form shows it
// (and the optional 备注), refuses to send an order without it, the API
// refuses one too, and the order stores what was filled in. A community
// without fields shows none.
func TestPayerFieldsRequired(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, alipayUA)
	c := community(t, s, "demo-both")
	do(t, tab, "open pay page", chromedp.Navigate(s.URLs.Gateway+"/c/"+c.Token), chromedp.WaitVisible(chromedp.ID("field-room")),
		chromedp.Evaluate[chromedp.Void](`(function(){
  window.__orders = 0;
  var f = window.fetch;
  window.fetch = function (u) { if (String(u).indexOf("/api/orders") >= 0) { window.__orders++; } return f.apply(this, arguments); };
})()`))
	labels := run(t, tab, "labels", chromedp.Evaluate[[]string](`Array.prototype.map.call(document.querySelectorAll(".field label"), function (l) { return l.textContent; })`))
	if strings.Join(labels, "|") != "房号|备注（选填）" {
		t.Errorf("field labels %q, want 房号 and 备注（选填）", labels)
	}
	for _, room := range []string{"", "   "} {
		do(t, tab, "submit without 房号", setRoomTo(room), clearAmount, chromedp.SendKeys(chromedp.ID("amount"), "1"), chromedp.Click(chromedp.ID("pay")))
		eventually(t, tab, 5*time.Second, "请填写房号", func() (bool, string) {
			got := textOf(t, tab, "error")
			return got == "请填写房号", got
		})
		if bad := run(t, tab, "marked", chromedp.Evaluate[bool](`document.getElementById("field-room").classList.contains("bad")`)); !bad {
			t.Error("the empty 房号 input is not marked")
		}
	}
	screenshots(t, tab, "form-missing-room")
	if n := run(t, tab, "fetch count", chromedp.Evaluate[int](`window.__orders`)); n != 0 {
		t.Fatalf("the page sent %d orders without 房号", n)
	}
	// The server checks too, whatever the page does.
	type apiReply struct {
		Status int `json:"status"`
		Body   struct {
			Error struct{ Code, Message string } `json:"error"`
		} `json:"body"`
	}
	r := run(t, tab, "POST without 房号", chromedp.Evaluate[apiReply](fmt.Sprintf(`fetch("/api/orders", {method: "POST",
  headers: {"Content-Type": "application/json", "Idempotency-Key": "e2e-no-room-000001"},
  body: JSON.stringify({token: %q, channel: "alipay", amount_fen: 100})
}).then(function (r) { return r.json().then(function (b) { return {status: r.status, body: b}; }); })`, c.Token), chromedp.EvalAwaitPromise))
	if r.Status != 400 || r.Body.Error.Message != "请填写房号" {
		t.Fatalf("API without 房号: %+v, want 400 请填写房号", r)
	}
	// Filled in: the order is created and stores the values.
	do(t, tab, "pay with 房号", setRoomTo(" 5-502 "), chromedp.SendKeys(chromedp.ID("field-note"), "二月物业费"),
		chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.CSS("#cashier #pay")))
	id := textOf(t, tab, "out-trade-no")
	o, err := s.Store().OrderRepo().Get(context.Background(), id)
	if err != nil || !maps.Equal(o.Fields, map[string]string{"room": "5-502", "note": "二月物业费"}) {
		t.Fatalf("order %s fields %v (%v)", id, o.Fields, err)
	}
	// 翠湖小区 asks for nothing.
	other := newTab(t, browser, alipayUA)
	do(t, other, "open 翠湖小区", chromedp.Navigate(s.URLs.Gateway+"/c/"+community(t, s, "demo-alipay-only").Token), chromedp.WaitVisible(chromedp.ID("payform")))
	if n := run(t, other, "fields", chromedp.Evaluate[int](`document.querySelectorAll(".payer-field").length`)); n != 0 {
		t.Errorf("翠湖小区 shows %d payer fields", n)
	}
}

func setRoomTo(v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById("field-room").value = %q`, v))
}

// TestNotFoundPage: "/" and unknown addresses show a Chinese 404 page in a
// browser, in WeChat's WebView too.
func TestNotFoundPage(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, desktopUA)
	for _, u := range []string{s.URLs.Gateway + "/", s.URLs.Gateway + "/no/such/page", s.URLs.WeChatWebView + "/", s.URLs.Gateway + "/c/" + community(t, s, "demo-both").Token + "/x"} {
		do(t, tab, "open "+u, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("message")))
		if got := textOf(t, tab, "message"); got != web.MsgPageNotFound {
			t.Errorf("%s: #message %q, want %q", u, got, web.MsgPageNotFound)
		}
		if title := run(t, tab, "title", chromedp.Evaluate[string](`document.title + "|" + document.documentElement.lang`)); title != "页面不存在|zh-CN" {
			t.Errorf("%s: title|lang %q", u, title)
		}
	}
	do(t, tab, "open /", chromedp.Navigate(s.URLs.Gateway+"/"), chromedp.WaitVisible(chromedp.ID("message")), phoneViewport)
	screenshots(t, tab, "notfound")
}

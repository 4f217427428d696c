package e2e

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

var resultPathRE = regexp.MustCompile(`^/c/([A-Za-z0-9_-]+)/orders/(EP[A-Z2-7]{26})$`)

// resultOrder checks that loc is our result page for token and returns the
// order id in it.
func resultOrder(t *testing.T, loc, base, token string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("e2e: result URL %q: %v", loc, err)
	}
	b, _ := url.Parse(base)
	m := resultPathRE.FindStringSubmatch(u.Path)
	if u.Host != b.Host || m == nil || m[1] != token {
		t.Fatalf("e2e: landed on %q, want %s/c/%s/orders/{id}", loc, base, token)
	}
	return m[2]
}

// TestAlipayPayment: a resident scans demo-both's code with Alipay, enters
// 12.34, pays on the Alipay cashier and sees 支付成功; the admin records list
// the payment.
func TestAlipayPayment(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, alipayUA)
	c := community(t, s, "demo-both")

	do(t, tab, "open pay page",
		chromedp.Navigate(s.URLs.Gateway+"/c/"+c.Token),
		chromedp.WaitVisible(chromedp.ID("payform")),
	)
	if got := run(t, tab, "form channel", chromedp.Evaluate[string](`document.getElementById("payform").dataset.channel`)); got != "alipay" {
		t.Fatalf("pay form channel = %q, want alipay", got)
	}
	if got := textOf(t, tab, "pay"); got != "支付宝支付" {
		t.Errorf("pay button = %q, want 支付宝支付", got)
	}
	shot := saveScreenshot(t, tab, t.TempDir(), "pay-alipay.png")
	t.Logf("pay page screenshot: %s", shot)

	do(t, tab, "enter amount and pay",
		setRoom,
		chromedp.SendKeys(chromedp.ID("amount"), "12.34"),
		chromedp.Click(chromedp.ID("pay")),
	)
	// The Alipay sandbox cashier (its page has #cashier; ours does not).
	do(t, tab, "alipay cashier", chromedp.WaitVisible(chromedp.CSS("#cashier #pay")))
	loc := run(t, tab, "cashier location", chromedp.Location())
	if !strings.HasPrefix(loc, s.URLs.AlipayGateway) && !strings.HasPrefix(loc, s.URLs.AlipaySandbox) {
		t.Fatalf("cashier at %q, want the Alipay sandbox (%s)", loc, s.URLs.AlipaySandbox)
	}
	if got := textOf(t, tab, "amount"); got != "¥12.34" {
		t.Errorf("cashier amount = %q, want ¥12.34", got)
	}
	outTradeNo := textOf(t, tab, "out-trade-no")

	do(t, tab, "pay on cashier", chromedp.Click(chromedp.CSS("#cashier #pay")))
	loc = waitLocation(t, tab, "return to the result page", func(l string) bool {
		return strings.HasPrefix(l, s.URLs.Gateway+"/c/")
	})
	id := resultOrder(t, loc, s.URLs.Gateway, c.Token)
	if outTradeNo != id {
		t.Errorf("cashier out_trade_no = %q, want the order id %s", outTradeNo, id)
	}
	waitStatus(t, tab, statusPaid)
	if got := textOf(t, tab, "amount"); !strings.Contains(got, "12.34") {
		t.Errorf("result amount = %q, want it to show 12.34", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var o orderView
	if err := getJSON(ctx, nil, s.URLs.Gateway+"/api/orders/"+id, &o); err != nil {
		t.Fatal(err)
	}
	if o.Status != "PAID" || o.AmountFen != 1234 || o.Channel != "alipay" {
		t.Errorf("order = %+v, want PAID 1234 fen via alipay", o)
	}
	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	eventually(t, ctx, 20*time.Second, "the payment in the admin records", func() (bool, string) {
		var p paymentsPage
		if err := getJSON(ctx, admin.Client, s.URLs.Gateway+"/admin/api/communities/demo-both/payments", &p); err != nil {
			return false, err.Error()
		}
		for _, r := range p.Payments {
			if r.OrderID == id {
				if r.AmountFen != 1234 || r.Amount != "12.34" || r.Channel != "alipay" || r.PaidAt == nil || r.ProviderTxnID == "" {
					t.Fatalf("admin record = %+v, want 1234 fen (12.34) via alipay with paid_at and provider_txn_id", r)
				}
				return true, ""
			}
		}
		ids := make([]string, 0, len(p.Payments))
		for _, r := range p.Payments {
			ids = append(ids, r.OrderID)
		}
		return false, "records: [" + strings.Join(ids, ",") + "]"
	})
}

// TestWeChatPayment: a resident opens demo-both's code in WeChat (the sandbox
// WebView), is silently authorised through the sandbox OAuth, enters 0.01,
// pays on the WeChat cashier that WeixinJSBridge opens over the page, and sees
// 支付成功.
func TestWeChatPayment(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, "") // the WebView proxy supplies the MicroMessenger UA
	c := community(t, s, "demo-both")
	start := s.URLs.WeChatWebView + "/c/" + c.Token

	do(t, tab, "open pay page in the WebView",
		chromedp.Navigate(start),
		chromedp.WaitVisible(chromedp.ID("payform")),
	)
	// The OAuth round trip came back through the WebView; the page then drops
	// the single-use code and state from its address.
	if loc := run(t, tab, "location", chromedp.Location()); loc != start {
		t.Fatalf("pay page at %q, want %s (code and state removed)", loc, start)
	}
	form := run(t, tab, "form data", chromedp.Evaluate[map[string]string](`Object.assign({}, document.getElementById("payform").dataset)`))
	if form["channel"] != "wechat" {
		t.Fatalf("pay form channel = %q, want wechat", form["channel"])
	}
	if _, ok := form["payer"]; ok {
		t.Errorf("the form carries a payer id (%q); it belongs in the signed cookie only", form["payer"])
	}
	payer := payerCookie(t, tab, s, s.URLs.WeChatWebView+"/api/orders")
	if want := sandboxOpenID(t, tab, s); payer.OpenID != want {
		t.Errorf("payer cookie openid %q, want the sandbox user's %q", payer.OpenID, want)
	}
	if !run(t, tab, "bridge", chromedp.Evaluate[bool](`!!(window.WeixinJSBridge && window.WeixinJSBridge.__sandbox)`)) {
		t.Fatal("the WebView did not inject the sandbox WeixinJSBridge")
	}

	do(t, tab, "enter amount and pay",
		setRoom,
		chromedp.SendKeys(chromedp.ID("amount"), "0.01"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("wxsandbox-cashier")),
	)
	clickInCashier(t, tab, "¥0.01", "pay")

	loc := waitLocation(t, tab, "the result page after paying", func(l string) bool {
		return strings.HasPrefix(l, s.URLs.WeChatWebView+"/c/"+c.Token+"/orders/")
	})
	id := resultOrder(t, loc, s.URLs.WeChatWebView, c.Token)
	waitStatus(t, tab, statusPaid)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var o orderView
	if err := getJSON(ctx, nil, s.URLs.Gateway+"/api/orders/"+id, &o); err != nil {
		t.Fatal(err)
	}
	if o.Status != "PAID" || o.AmountFen != 1 || o.Channel != "wechat" {
		t.Errorf("order = %+v, want PAID 1 fen via wechat", o)
	}
	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	eventually(t, ctx, 15*time.Second, "the payment in the admin records", func() (bool, string) {
		var p paymentsPage
		if err := getJSON(ctx, admin.Client, s.URLs.Gateway+"/admin/api/communities/demo-both/payments", &p); err != nil {
			return false, err.Error()
		}
		for _, r := range p.Payments {
			if r.OrderID == id {
				if r.AmountFen != 1 || r.Channel != "wechat" || r.PayerID != payer.OpenID {
					t.Fatalf("admin record = %+v, want 1 fen via wechat paid by %s", r, payer.OpenID)
				}
				return true, ""
			}
		}
		return false, "not listed yet"
	})
}

// clickInCashier waits for the sandbox cashier inside the bridge's iframe to
// show amount, then presses its button with id button ("pay" is 支付,
// "cancel" is 取消).
func clickInCashier(t *testing.T, tab context.Context, amount, button string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		frames := run(t, tab, "cashier iframe", chromedp.Nodes(chromedp.CSS("#wxsandbox-cashier")))
		if len(frames) == 1 {
			qctx, cancel := context.WithTimeout(tab, 2*time.Second)
			got, err := chromedp.Run(qctx, chromedp.Text(chromedp.CSS("#amount"), chromedp.FromNode(frames[0])))
			if err == nil && strings.TrimSpace(got) == amount {
				err = chromedp.Do(qctx, chromedp.Click(chromedp.CSS("#"+button), chromedp.FromNode(frames[0])))
				cancel()
				if err != nil {
					t.Fatalf("e2e: click #%s in the cashier: %v\n%s", button, err, pageState(tab))
				}
				return
			}
			cancel()
			if err == nil {
				t.Fatalf("e2e: cashier shows %q, want %q", got, amount)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("e2e: the WeChat cashier never showed %s in #wxsandbox-cashier; it shows %q\n%s", amount, frameText(tab), pageState(tab))
		}
	}
}

// frameText is the text of the cashier iframe, for failure messages.
func frameText(tab context.Context) string {
	ctx, cancel := context.WithTimeout(tab, 2*time.Second)
	defer cancel()
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#wxsandbox-cashier")))
	if err != nil || len(frames) == 0 {
		return "(no cashier iframe)"
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"), chromedp.FromNode(frames[0])))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return text
}

// recordOrders makes the page keep every /api/orders response body in
// window.__orderResponses.
var recordOrders = chromedp.Evaluate[chromedp.Void](`(function(){
  window.__orderResponses = [];
  var f = window.fetch;
  window.fetch = function (u) {
    var p = f.apply(this, arguments);
    if (String(u).indexOf("/api/orders") >= 0) {
      var o = arguments[1] || {}, key = (o.headers && o.headers["Idempotency-Key"]) || "";
      p.then(function (r) { return r.clone().json().then(function (b) { window.__orderResponses.push({status: r.status, key: key, body: b}); }); }).catch(function () {});
    }
    return p;
  };
})()`)

type orderResponse struct {
	Status int    `json:"status"`
	Key    string `json:"key"` // the request's Idempotency-Key
	Body   struct {
		OrderID   string `json:"order_id"`
		Status    string `json:"status"`
		AmountFen int64  `json:"amount_fen"`
		Error     *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"body"`
}

// orderResponses waits until the page has seen n /api/orders responses and
// returns them.
func orderResponses(t *testing.T, tab context.Context, n int) []orderResponse {
	t.Helper()
	var got []orderResponse
	eventually(t, tab, 15*time.Second, fmt.Sprintf("%d /api/orders responses", n), func() (bool, string) {
		got = run(t, tab, "order responses", chromedp.Evaluate[[]orderResponse](`window.__orderResponses`))
		return len(got) >= n, fmt.Sprintf("%+v", got)
	})
	return got
}

// openWeChatPayPage opens demo-both's code through the WeChat WebView and
// waits for the form.
func openWeChatPayPage(t *testing.T, s *stack.Stack, tab context.Context) string {
	t.Helper()
	page := s.URLs.WeChatWebView + "/c/" + community(t, s, "demo-both").Token
	do(t, tab, "open pay page in the WebView", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("payform")), recordOrders)
	return run(t, tab, "location", chromedp.Location())
}

// cancelInWeChatCashier submits amount, cancels on the cashier and checks the
// page is back to the form saying 已取消支付.
func cancelInWeChatCashier(t *testing.T, tab context.Context, input, shown string) {
	t.Helper()
	do(t, tab, "pay "+input,
		clearAmount,
		setRoom,
		chromedp.SendKeys(chromedp.ID("amount"), input),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("wxsandbox-cashier")),
	)
	clickInCashier(t, tab, shown, "cancel")
	do(t, tab, "cashier closes", chromedp.WaitNotPresent(chromedp.ID("wxsandbox-cashier")))
	eventually(t, tab, 10*time.Second, "已取消支付 on the form", func() (bool, string) {
		got := textOf(t, tab, "error")
		return got == "已取消支付", got
	})
	if run(t, tab, "button", chromedp.Evaluate[bool](`document.getElementById("pay").disabled`)) {
		t.Fatal("the pay button stays disabled after a cancelled payment")
	}
}

// TestWeChatCancelThenPay: the resident cancels on the WeChat cashier, is
// back on the form and pays the same amount again: the retry is a new order
// with a new Idempotency-Key (bug 2: never a cancelled attempt's order), the
// cancelled one stays unpaid, and exactly one payment is recorded.
func TestWeChatCancelThenPay(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, "")
	page := openWeChatPayPage(t, s, tab)

	cancelInWeChatCashier(t, tab, "0.02", "¥0.02")
	first := orderResponses(t, tab, 1)[0]
	if first.Status != 201 || first.Body.OrderID == "" || first.Body.AmountFen != 2 {
		t.Fatalf("first /api/orders response = %+v, want 201 with a 2-fen order", first)
	}
	if loc := run(t, tab, "location", chromedp.Location()); loc != page {
		t.Fatalf("cancelling moved the page to %q", loc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var o orderView
	if err := getJSON(ctx, nil, s.URLs.Gateway+"/api/orders/"+first.Body.OrderID, &o); err != nil {
		t.Fatal(err)
	}
	if o.Status == "PAID" {
		t.Fatalf("a cancelled order is %s", o.Status)
	}

	do(t, tab, "pay again",
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("wxsandbox-cashier")),
	)
	second := orderResponses(t, tab, 2)[1]
	if second.Status != 201 || second.Key == first.Key || second.Body.OrderID == first.Body.OrderID {
		t.Fatalf("retry after cancel: %d key %q order %s; want 201 with a new key (first %q) and a new order (first %s)",
			second.Status, second.Key, second.Body.OrderID, first.Key, first.Body.OrderID)
	}
	clickInCashier(t, tab, "¥0.02", "pay")
	loc := waitLocation(t, tab, "the result page", func(l string) bool { return strings.Contains(l, "/orders/") })
	id := resultOrder(t, loc, s.URLs.WeChatWebView, community(t, s, "demo-both").Token)
	if id != second.Body.OrderID {
		t.Errorf("paid order %s, want the retry's order %s", id, second.Body.OrderID)
	}
	waitStatus(t, tab, statusPaid)
	if err := getJSON(ctx, nil, s.URLs.Gateway+"/api/orders/"+first.Body.OrderID, &o); err != nil {
		t.Fatal(err)
	}
	if o.Status == "PAID" {
		t.Errorf("the cancelled order %s became PAID", first.Body.OrderID)
	}
	if n := countPaid(t, ctx, s); n != 1 {
		t.Errorf("demo-both lists %d payments, want 1", n)
	}
}

// TestWeChatCancelChangeAmountThenPay: after cancelling, the resident corrects
// the amount and pays; the cashier must charge the new amount.
func TestWeChatCancelChangeAmountThenPay(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, "")
	openWeChatPayPage(t, s, tab)

	cancelInWeChatCashier(t, tab, "0.02", "¥0.02")
	do(t, tab, "pay 0.05",
		clearAmount,
		setRoom,
		chromedp.SendKeys(chromedp.ID("amount"), "0.05"),
		chromedp.Click(chromedp.ID("pay")),
	)
	second := orderResponses(t, tab, 2)[1]
	if second.Status >= 300 {
		t.Fatalf("/api/orders for the corrected amount answered %d %+v; the page shows %q (the page must not reuse a cancelled attempt's Idempotency-Key)",
			second.Status, second.Body.Error, textOf(t, tab, "error"))
	}
	do(t, tab, "cashier", chromedp.WaitVisible(chromedp.ID("wxsandbox-cashier")))
	clickInCashier(t, tab, "¥0.05", "pay")
	waitLocation(t, tab, "the result page", func(l string) bool { return strings.Contains(l, "/orders/") })
	waitStatus(t, tab, statusPaid)
}

// countPaid counts demo-both's payment records (as the demo company's admin).
func countPaid(t *testing.T, ctx context.Context, s *stack.Stack) int {
	t.Helper()
	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	var p paymentsPage
	if err := getJSON(ctx, admin.Client, s.URLs.Gateway+"/admin/api/communities/demo-both/payments?limit=100", &p); err != nil {
		t.Fatal(err)
	}
	return len(p.Payments)
}

// TestAlipayCancelThenPay: 取消 on the Alipay cashier goes back to the pay
// page (quit_url); the first order stays unpaid, and a new amount pays.
func TestAlipayCancelThenPay(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, alipayUA)
	c := community(t, s, "demo-both")
	page := s.URLs.Gateway + "/c/" + c.Token

	do(t, tab, "pay 0.50",
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.ID("payform")),
		setRoom,
		chromedp.SendKeys(chromedp.ID("amount"), "0.50"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.CSS("#cashier #cancel")),
	)
	firstID := textOf(t, tab, "out-trade-no")
	do(t, tab, "cancel on the cashier", chromedp.Click(chromedp.CSS("#cashier #cancel")))
	waitLocation(t, tab, "back on the pay page", func(l string) bool { return l == page })
	do(t, tab, "pay form again", chromedp.WaitVisible(chromedp.ID("payform")))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var o orderView
	if err := getJSON(ctx, nil, s.URLs.Gateway+"/api/orders/"+firstID, &o); err != nil {
		t.Fatalf("the cancelled order %q: %v", firstID, err)
	}
	if o.Status == "PAID" || o.AmountFen != 50 {
		t.Fatalf("cancelled order = %+v, want unpaid 50 fen", o)
	}

	do(t, tab, "pay 0.60",
		setRoom,
		chromedp.SendKeys(chromedp.ID("amount"), "0.60"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.CSS("#cashier #pay")),
	)
	if got := textOf(t, tab, "amount"); got != "¥0.60" {
		t.Fatalf("cashier amount = %q, want ¥0.60", got)
	}
	do(t, tab, "pay on the cashier", chromedp.Click(chromedp.CSS("#cashier #pay")))
	loc := waitLocation(t, tab, "the result page", func(l string) bool { return strings.HasPrefix(l, page+"/orders/") })
	id := resultOrder(t, loc, s.URLs.Gateway, c.Token)
	if id == firstID {
		t.Fatalf("the second payment reused the cancelled order %s", id)
	}
	waitStatus(t, tab, statusPaid)
	if err := getJSON(ctx, nil, s.URLs.Gateway+"/api/orders/"+firstID, &o); err != nil {
		t.Fatal(err)
	}
	if o.Status == "PAID" {
		t.Errorf("the cancelled order %s became PAID", firstID)
	}
	if n := countPaid(t, ctx, s); n != 1 {
		t.Errorf("demo-both lists %d payments, want 1", n)
	}
}

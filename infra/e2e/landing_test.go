package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// TestLandingMessages: who may pay where (C2/C3). A scan from an app the
// community has not enabled, or from a community with no channel, shows
// exactly 小区暂未开通此功能 and no form; a desktop browser is told which apps
// to scan with.
func TestLandingMessages(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	cases := []struct {
		name, ua, community string
		viaWebView          bool
		want                string
	}{
		{"wechat on alipay-only", wechatUA, "demo-alipay-only", false, msgNotOpen},
		{"wechat webview on alipay-only", "", "demo-alipay-only", true, msgNotOpen},
		{"desktop on none", desktopUA, "demo-none", false, msgNotOpen},
		{"alipay on none", alipayUA, "demo-none", false, msgNotOpen},
		{"wechat on none", wechatUA, "demo-none", false, msgNotOpen},
		{"desktop on both", desktopUA, "demo-both", false, msgScanWithBoth},
		{"desktop on alipay-only", desktopUA, "demo-alipay-only", false, msgScanAlipay},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTab(t, browser, tc.ua)
			base := s.URLs.Gateway
			if tc.viaWebView {
				base = s.URLs.WeChatWebView
			}
			page := base + "/c/" + community(t, s, tc.community).Token
			do(t, tab, "open "+page, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("message")))
			if got := textOf(t, tab, "message"); got != tc.want {
				t.Errorf("#message = %q, want exactly %q", got, tc.want)
			}
			forms := run(t, tab, "count forms", chromedp.Evaluate[int](`document.querySelectorAll("#payform, form, input").length`))
			if forms != 0 {
				t.Errorf("page has %d form elements, want none\n%s", forms, pageState(tab))
			}
			if loc := run(t, tab, "location", chromedp.Location()); loc != page {
				t.Errorf("page moved to %q, want it to stay at %q (no OAuth redirect for a closed channel)", loc, page)
			}
		})
	}
}

var clearAmount = chromedp.Evaluate[chromedp.Void](`document.getElementById("amount").value = ""`)

// setRoom fills 阳光花园's required 房号 (a payer field, M5).
var setRoom = chromedp.Evaluate[chromedp.Void](`document.getElementById("field-room").value = "3-201"`)

// TestAmountValidation: the pay form rejects amounts C4 does not allow in the
// browser and sends no order; a valid amount then does create one (so the
// check below can see an order).
func TestAmountValidation(t *testing.T) {
	browser := startBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	tab := newTab(t, browser, alipayUA)
	page := s.URLs.Gateway + "/c/" + community(t, s, "demo-both").Token
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	do(t, tab, "open pay page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("payform")))
	before := countOrders(t, ctx, s)
	if before != 0 {
		t.Fatalf("OrdersTable holds %d items on a fresh stack, want 0", before)
	}
	maxFen, err := strconv.ParseInt(run(t, tab, "max", chromedp.Evaluate[string](`document.getElementById("payform").dataset.max`)), 10, 64)
	if err != nil || maxFen < 1 {
		t.Fatalf("pay form data-max: %v (%d)", err, maxFen)
	}
	// Count the page's calls to /api/orders, whatever the page does.
	do(t, tab, "watch fetch", chromedp.Evaluate[chromedp.Void](`(function(){
  window.__orders = 0;
  var f = window.fetch;
  window.fetch = function (u) { if (String(u).indexOf("/api/orders") >= 0) { window.__orders++; } return f.apply(this, arguments); };
})()`, chromedp.EvalIgnoreExceptions))

	const badFormat = "请输入正确的金额（最多两位小数）"
	const tooSmall = "金额至少 0.01 元"
	above := maxFen + 1
	cases := []struct{ input, want string }{
		{"0", tooSmall},
		{"0.00", tooSmall},
		{"abc", badFormat},
		{"1.234", badFormat},
		{"-1", badFormat},
		{"", badFormat},
		{fmt.Sprintf("%d.%02d", above/100, above%100), fmt.Sprintf("单笔金额不能超过 %d.%02d 元", maxFen/100, maxFen%100)},
	}
	for _, tc := range cases {
		do(t, tab, "try "+strconv.Quote(tc.input),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("error").textContent = "x-reset"`),
			// chromedp.Clear resets only the value attribute, not what was
			// typed, and SetValue refuses "": empty the field in the page.
			clearAmount,
			chromedp.SendKeys(chromedp.ID("amount"), tc.input),
		)
		if v := run(t, tab, "typed value", chromedp.Value(chromedp.ID("amount"))); v != tc.input {
			t.Fatalf("typed %q, the input holds %q", tc.input, v)
		}
		do(t, tab, "submit "+strconv.Quote(tc.input), chromedp.Click(chromedp.ID("pay")))
		// The submit handler clears the box first, so the reset marker is gone
		// once it ran.
		var got string
		eventually(t, ctx, 5*time.Second, "the validation message for "+strconv.Quote(tc.input), func() (bool, string) {
			got = textOf(t, tab, "error")
			return got != "x-reset" && got != "", got
		})
		if got != tc.want {
			t.Errorf("amount %q: #error = %q, want %q", tc.input, got, tc.want)
		}
		if disabled := run(t, tab, "button state", chromedp.Evaluate[bool](`document.getElementById("pay").disabled`)); disabled {
			t.Errorf("amount %q: the pay button stays disabled after a validation error", tc.input)
		}
		if loc := run(t, tab, "location", chromedp.Location()); loc != page {
			t.Fatalf("amount %q: page moved to %q", tc.input, loc)
		}
	}
	if n := run(t, tab, "fetch count", chromedp.Evaluate[int](`window.__orders`)); n != 0 {
		t.Errorf("the page called /api/orders %d times for invalid amounts, want 0", n)
	}
	if n := countOrders(t, ctx, s); n != before {
		t.Errorf("OrdersTable holds %d items after invalid amounts, want %d", n, before)
	}

	// Control: the smallest valid amount goes through and creates an order.
	do(t, tab, "pay 0.01",
		clearAmount,
		setRoom,
		chromedp.SendKeys(chromedp.ID("amount"), "0.01"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.CSS("#cashier #pay")),
	)
	if got := textOf(t, tab, "amount"); got != "¥0.01" {
		t.Errorf("cashier amount = %q, want ¥0.01", got)
	}
	if n := countOrders(t, ctx, s); n <= before {
		t.Errorf("OrdersTable holds %d items after a valid order, want more than %d", n, before)
	}
	if !strings.HasPrefix(run(t, tab, "location", chromedp.Location()), s.URLs.AlipayGateway) {
		t.Errorf("a valid amount did not reach the Alipay cashier\n%s", pageState(tab))
	}
}

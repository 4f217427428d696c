package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// payInWeChat pays amount (e.g. "0.01") through demo-both's code in the
// WeChat WebView and returns the order id once the receipt reads 支付成功.
func payInWeChat(t *testing.T, s *stack.Stack, tab context.Context, amount string) string {
	t.Helper()
	c := community(t, s, "demo-both")
	do(t, tab, "open the pay page and pay "+amount,
		chromedp.Navigate(s.URLs.WeChatWebView+"/c/"+c.Token),
		chromedp.WaitVisible(chromedp.ID("payform")),
		setRoom,
		chromedp.SendKeys(chromedp.ID("amount"), amount),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("wxsandbox-cashier")),
	)
	clickInCashier(t, tab, "¥"+amount, "pay")
	loc := waitLocation(t, tab, "the receipt after paying "+amount, func(l string) bool {
		return strings.HasPrefix(l, s.URLs.WeChatWebView+"/c/"+c.Token+"/orders/")
	})
	id := resultOrder(t, loc, s.URLs.WeChatWebView, c.Token)
	waitStatus(t, tab, statusPaid)
	return id
}

type historyRowView struct {
	Link, Amount, When, Status string
}

// TestPayerHistory (X4): one WeChat user pays twice, another once; the
// first, following 我的缴费记录 from the receipt, sees exactly their two
// payments, newest first, each opening its receipt.
func TestPayerHistory(t *testing.T) {
	first := startBrowser(t) // two browsers: two WeChat users (sandbox users by profile)
	second := startBrowser(t)
	s := stacktest.Start(t)
	me := newTab(t, first, "")
	other := newTab(t, second, "")

	older := payInWeChat(t, s, me, "0.01")
	theirs := payInWeChat(t, s, other, "0.03")
	newer := payInWeChat(t, s, me, "0.02")

	c := community(t, s, "demo-both")
	do(t, me, "我的缴费记录 from the receipt",
		chromedp.Click(chromedp.ID("history-link")),
		chromedp.WaitVisible(chromedp.ID("history")),
	)
	if loc := run(t, me, "location", chromedp.Location()); loc != s.URLs.WeChatWebView+"/c/"+c.Token+"/history" {
		t.Errorf("history at %q", loc)
	}
	rows := run(t, me, "history rows", chromedp.Evaluate[[]historyRowView](`Array.from(document.querySelectorAll("#history li a")).map(function (a) {
  return {Link: a.getAttribute("href"), Amount: a.querySelector(".amt").textContent, When: a.querySelector("small").textContent, Status: a.querySelector(".tag").textContent};
})`))
	if len(rows) != 2 {
		t.Fatalf("history lists %d rows, want exactly 2: %+v", len(rows), rows)
	}
	for i, want := range []struct{ id, amount string }{{newer, "¥0.02"}, {older, "¥0.01"}} {
		r := rows[i]
		if r.Link != "/c/"+c.Token+"/orders/"+want.id || r.Amount != want.amount || r.Status != statusPaid || !readableTime.MatchString(r.When) {
			t.Errorf("row %d = %+v, want %s %s 支付成功", i, r, want.id, want.amount)
		}
		if strings.Contains(r.Link, theirs) {
			t.Errorf("row %d is the other user's payment", i)
		}
	}
	screenshots(t, me, "history-wechat")

	// A row opens its receipt.
	do(t, me, "open the newest row", chromedp.Click(chromedp.CSS("#history li a")), chromedp.WaitVisible(chromedp.ID("order-no")))
	if got := textOf(t, me, "order-no"); got != newer {
		t.Errorf("the first row opened the receipt of %q, want %q", got, newer)
	}

	// The other user sees only theirs.
	do(t, other, "the other user's history", chromedp.Navigate(s.URLs.WeChatWebView+"/c/"+c.Token+"/history"), chromedp.WaitVisible(chromedp.ID("history")))
	n := run(t, other, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#history li").length`))
	if n != 1 {
		t.Errorf("the other user's history lists %d rows, want 1", n)
	}
}

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// A refund through the console's pages (issue 8, "Done when": an admin
// refunds part of a payment and sees it in records): a resident pays 20.00
// by WeChat; the demo admin opens the payment from the records page, refunds
// 5.00 of it, the sweeper's schedule fires (the console holds no merchant
// keys: the sweeper submits the refund to the provider), and the payment's
// page and the records show 已退款 and the refunded amount.
func TestConsoleAdminRefundsPartOfAPayment(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "wechat", 2000, "oRefundE2EPayer")
	if err := s.WeChat().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the payment paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	admin := account(t, s, "admin", false)

	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, admin.Phone, admin.Password, "/admin")
	records := s.URLs.Gateway + "/admin/communities/demo-both/records"
	if st := open(t, tab, records); st != http.StatusOK {
		t.Fatalf("records answered %d", st)
	}
	if st := follow(t, tab, "open the payment", `a[href="/admin/orders/`+o.OrderID+`"]`); st != http.StatusOK {
		t.Fatalf("the payment's page answered %d\n%s", st, pageState(tab))
	}
	txt := bodyText(t, tab)
	for _, want := range []string{"付款详情", o.OrderID, "20.00", "已支付", "微信支付", "没有退款", "申请退款"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the payment's page lacks %q:\n%s", want, txt)
		}
	}

	// Too much first: refused on the page, in Chinese.
	fill(t, tab, "refund form", map[string]string{"refund-amount": "20.01", "refund-reason": "重复缴费"})
	if st := submit(t, tab, "refund too much", `#refund-form`); st != http.StatusConflict {
		t.Fatalf("refunding 20.01 of 20.00 answered %d\n%s", st, pageState(tab))
	}
	if txt := bodyText(t, tab); !strings.Contains(txt, "超过可退金额 20.00 元") {
		t.Fatalf("the refusal:\n%s", txt)
	}
	fill(t, tab, "refund form", map[string]string{"refund-amount": "5.00", "refund-reason": "重复缴费"})
	if st := submit(t, tab, "refund 5.00", `#refund-form`); st != http.StatusOK {
		t.Fatalf("refunding answered %d\n%s", st, pageState(tab))
	}
	if txt := bodyText(t, tab); !strings.Contains(txt, "退款已申请") || !strings.Contains(txt, "申请中") || !strings.Contains(txt, "可退金额\n15.00") {
		t.Fatalf("after asking:\n%s", txt)
	}

	// The sweeper's schedule, fired as EventBridge would.
	resp, err := http.Post(s.URLs.Control+"/schedules/SweeperFunction.Sweep", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("firing the sweeper: %d", resp.StatusCode)
	}
	page := s.URLs.Gateway + "/admin/orders/" + o.OrderID
	eventually(t, tab, 20*time.Second, "the refund confirmed", func() (bool, string) {
		open(t, tab, page)
		txt := bodyText(t, tab)
		return strings.Contains(txt, "已退款\t") && strings.Contains(txt, "已退款金额\n5.00 元") && strings.Contains(txt, "部分退款"), txt
	})
	consoleShots(t, tab, "order-refunded")

	if st := open(t, tab, records); st != http.StatusOK {
		t.Fatalf("records answered %d", st)
	}
	row := run(t, tab, "the payment's row", chromedp.Evaluate[string](`(() => { const a = document.querySelector('a[href="/admin/orders/`+o.OrderID+`"]'); return a ? a.closest("tr").innerText : "" })()`))
	if !strings.Contains(row, "20.00\t5.00") || !strings.Contains(row, "部分退款") {
		t.Fatalf("the records row: %q", row)
	}
	consoleShots(t, tab, "records-refunded")
}

// follow clicks the link matching sel and returns the status of the page it
// leads to.
func follow(t *testing.T, tab context.Context, what, sel string) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("e2e: %s: %v\n%s", what, err, pageState(tab))
	}
	return resp.Status
}

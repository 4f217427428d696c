package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/web"
)

// TestInvoiceFromTheReceipt: a resident who paid a notice in WeChat opens
// the receipt, taps 申请开票, chooses 单位, is told a wrong tax number by the
// page, corrects it and submits; the receipt shows 开票中, and once the
// platform (sandbox) has issued it, 已开票 with the number and the PDF link.
func TestInvoiceFromTheReceipt(t *testing.T) {
	browser := startBrowser(t)
	s := stacktest.Start(t)
	ctx := context.Background()
	h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "9", "2", "902", "孙八", 37630, 3000)
	n := stacktest.SeedNotice(t, s, h)
	status, o, raw := stacktest.PayNotice(t, s, n.ID, "wechat", 40630, "oE2EInvoice")
	if status != http.StatusCreated {
		t.Fatalf("pay notice: %d %s", status, raw)
	}
	if err := s.WeChat().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	col, err := s.Store().LoadCommunity(ctx, "demo-both")
	if err != nil {
		t.Fatal(err)
	}
	cookie := strings.TrimPrefix(stacktest.PayerCookie(t, s, col, "oE2EInvoice"), web.PayerCookieName+"=")

	tab := newTab(t, browser, wechatUA)
	if _, err := chromedp.Call(tab, network.SetCookie, network.SetCookieParams{Name: web.PayerCookieName, Value: cookie,
		URL: s.URLs.Gateway + "/n/", Path: "/n/", SameSite: network.CookieSameSiteLax}); err != nil {
		t.Fatal(err)
	}
	receipt := s.URLs.Gateway + "/n/" + n.ID + "/orders/" + o.OrderID
	do(t, tab, "receipt", chromedp.Navigate(receipt), chromedp.WaitVisible(chromedp.ID("invoice-apply")))
	screenshots(t, tab, "invoice-receipt")
	do(t, tab, "申请开票", chromedp.Click(chromedp.ID("invoice-apply")), chromedp.WaitVisible(chromedp.ID("invoice-form")))
	if vis := run(t, tab, "tax field", chromedp.Evaluate[bool](`!document.getElementById("taxno-field").hidden`)); vis {
		t.Error("tax number shown for a personal title")
	}
	do(t, tab, "fill as a company",
		chromedp.Click(chromedp.ID("kind-company")),
		chromedp.SendKeys(chromedp.ID("name"), "上海某某科技有限公司"),
		chromedp.SendKeys(chromedp.ID("taxno"), "12345"),
		chromedp.SendKeys(chromedp.ID("email"), "finance@example.com"),
		chromedp.Click(chromedp.ID("submit")))
	if got := textOf(t, tab, "error"); !strings.Contains(got, "税号") {
		t.Fatalf("wrong tax number: error %q", got)
	}
	screenshots(t, tab, "invoice-form")
	do(t, tab, "correct and submit",
		chromedp.SetValue(chromedp.ID("taxno"), "91310000ma1fl0000x"),
		chromedp.Click(chromedp.ID("submit")))
	waitLocation(t, tab, "back on the receipt", func(l string) bool { return l == receipt })
	do(t, tab, "invoice pending", chromedp.WaitVisible(chromedp.CSS(".invoice .invoice-status")))
	// InvoicesTable's stream submits the request at once (no schedule
	// fires) and the sandbox issues it 300 ms later: the receipt shows
	// 开票中 or, if it was quick, already 已开票.
	if got := run(t, tab, "status", chromedp.Evaluate[string](`document.querySelector(".invoice .invoice-status").textContent`)); got != "开票中" && got != "已开票" {
		t.Fatalf("status %q, want 开票中 (or 已开票)", got)
	}
	stacktest.WaitFor(t, "issued", 20*time.Second, func() bool {
		l := stacktest.Invoices(t, s, o.OrderID)
		return len(l) == 1 && l[0].Number != ""
	})
	do(t, tab, "reload", chromedp.Navigate(receipt), chromedp.WaitVisible(chromedp.CSS(".invoice-pdf")))
	inv := stacktest.Invoices(t, s, o.OrderID)[0]
	if got := run(t, tab, "number", chromedp.Evaluate[string](`document.querySelector(".invoice-number").textContent`)); got != inv.Number || inv.Title.TaxNo != "91310000MA1FL0000X" {
		t.Errorf("number %q, stored %+v", got, inv)
	}
	if href := run(t, tab, "link", chromedp.Evaluate[string](`document.querySelector(".invoice-pdf").href`)); href != inv.PDFURL {
		t.Errorf("link %q, want %q", href, inv.PDFURL)
	}
	if run(t, tab, "no second offer", chromedp.Evaluate[bool](`!!document.getElementById("invoice-apply")`)) {
		t.Error("申请开票 still offered")
	}
	screenshots(t, tab, "invoice-issued")
}

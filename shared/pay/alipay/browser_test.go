package alipay_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/pay"
)

var ticketRe = regexp.MustCompile(`name="ticket" value="([0-9a-f]+)"`)

// noRedirect is a browser that shows us redirects instead of following them.
func (e *env) browser() *http.Client {
	c := *e.gw.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// openCashier GETs the wap pay URL like the payer's browser; it returns the
// page and the cashier ticket ("" when the page is an error page).
func (e *env) openCashier(t *testing.T, redirectURL string) (page, ticket string) {
	t.Helper()
	resp, err := e.browser().Get(redirectURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cashier: HTTP %d: %s", resp.StatusCode, b)
	}
	if m := ticketRe.FindStringSubmatch(string(b)); m != nil {
		ticket = m[1]
	}
	return string(b), ticket
}

// press posts a cashier button (cashier/pay or cashier/cancel) relative to
// the gateway, as the page's form does, and returns the response.
func (e *env) press(t *testing.T, redirectURL, action, ticket string) *http.Response {
	t.Helper()
	base, _ := url.Parse(redirectURL)
	target := base.ResolveReference(&url.URL{Path: action})
	resp, err := e.browser().PostForm(target.String(), url.Values{"ticket": {ticket}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e *env) prepay(t *testing.T, orderID string, fen int64, expire time.Time) string {
	t.Helper()
	res, err := e.p.Prepay(context.Background(), pay.PrepayRequest{
		OrderID: orderID, AmountFen: fen, Description: "物业费 2025年3月 3-2-501",
		ExpireAt: expire, NotifyURL: e.notifyURL,
		ReturnURL: "https://pay.example.com/return?o=" + orderID, QuitURL: "https://pay.example.com/quit",
	})
	if err != nil {
		t.Fatalf("Prepay: %v", err)
	}
	if !strings.HasPrefix(res.RedirectURL, e.gw.URL+"/gateway.do?") {
		t.Fatalf("RedirectURL %q is not on the gateway", res.RedirectURL)
	}
	return res.RedirectURL
}

// paidTrade opens the cashier, pays with the 支付 button and waits for the
// notification to be acknowledged.
func (e *env) paidTrade(t *testing.T, orderID string, fen int64) pay.Notification {
	t.Helper()
	u := e.prepay(t, orderID, fen, time.Time{})
	_, ticket := e.openCashier(t, u)
	if ticket == "" {
		t.Fatal("no cashier ticket")
	}
	if resp := e.press(t, u, "cashier/pay", ticket); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pay button: HTTP %d", resp.StatusCode)
	}
	return e.waitNote(t)
}

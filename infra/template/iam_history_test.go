package template_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/web"
)

const (
	uaWeChat = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"
	uaAlipay = "Mozilla/5.0 (iPhone) AlipayClient/10.5.36"
)

// payerHistory pays payment notices as residents do — in WeChat and in
// Alipay, and one left to expire (the sweeper closes it and frees its
// bills): what the landing, orders, notify and sweeper functions' BillsTable
// grants are for — then opens 我的缴费记录 from a code and from a notice, in
// WeChat (snsapi_base through the sandbox) and in Alipay (auth_base): the
// OAuth round trip, then the LandingFunction's Query on the payer index.
func payerHistory(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	wxCookie := func() string {
		set, err := web.PayerCookies{Key: []byte(s.Keys().PayerCookieKey)}.Issue(web.Payer{Iface: "demo-wechat", AppID: stack.DemoWeChatAppID, OpenID: "oIAMHistory"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return strings.SplitN(set[0], ";", 2)[0]
	}()
	var lastNotice string
	payNotice := func(room, channel string) stacktest.OrderView {
		h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "77", "1", room, "赵六", 1000)
		n := stacktest.SeedNotice(t, s, h)
		lastNotice = n.ID
		ua := map[string]string{"wechat": uaWeChat, "alipay": uaAlipay}[channel]
		send(t, http.MethodGet, s.URLs.Gateway+"/n/"+n.ID, ua, wxCookie, nil)
		raw, _ := json.Marshal(map[string]any{"notice": n.ID, "channel": channel, "amount_fen": 1000})
		status, body := send(t, http.MethodPost, s.URLs.Gateway+"/api/orders", ua, wxCookie, raw)
		var v stacktest.OrderView
		if status != http.StatusCreated || json.Unmarshal(body, &v) != nil || v.OrderID == "" {
			t.Fatalf("notice order (%s): %d %s", channel, status, body)
		}
		return v
	}
	wx := payNotice("701", "wechat")
	if err := s.WeChat().Pay(wx.OrderID); err != nil {
		t.Fatal(err)
	}
	ali := payNotice("702", "alipay")
	send(t, http.MethodGet, ali.Pay.RedirectURL, uaAlipay, "", nil) // the cashier opens: the trade exists
	if err := s.Alipay().Pay(ali.OrderID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{wx.OrderID, ali.OrderID} {
		stacktest.WaitFor(t, "notice order paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, id).Status == "PAID" })
	}
	lapsed := payNotice("703", "alipay")
	if _, err := s.Store().OrderRepo().Update(ctx, lapsed.OrderID, func(o *order.Order) error {
		o.ExpireAt, o.NextCheckAt, o.Version = time.Now().Add(-time.Minute), time.Now().Add(-time.Minute), o.Version+1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FireSchedule(ctx, "SweeperFunction.Sweep", ""); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the lapsed notice order closed", 20*time.Second, func() bool {
		return stacktest.GetOrder(t, s, lapsed.OrderID).Status == "CLOSED"
	})

	tok := stacktest.CommunityToken(t, s, "demo-both")
	for _, path := range []string{"/c/" + tok + "/history", "/n/" + lastNotice + "/history"} {
		for _, ua := range []string{uaWeChat, uaAlipay} {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Transport: stacktest.HTTPClient.Transport}
			req, _ := http.NewRequest(http.MethodGet, s.URLs.Gateway+path, nil)
			req.Header.Set("User-Agent", ua)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), "我的缴费记录") || resp.Request.URL.Path != path {
				t.Fatalf("%s %s: history %d at %s: %.300s", ua, path, resp.StatusCode, resp.Request.URL, b)
			}
		}
	}
	// The WeChat payer's own list holds the notice payment.
	status, body := send(t, http.MethodGet, s.URLs.Gateway+"/n/"+lastNotice+"/history", uaWeChat, wxCookie, nil)
	if status != 200 || !strings.Contains(string(body), wx.OrderID) {
		t.Fatalf("the payer's history lacks their notice payment: %d %.300s", status, body)
	}
}

// send makes one request with a User-Agent, an optional cookie and body.
func send(t *testing.T, method, url, ua, cookie string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("User-Agent", ua)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", stacktest.RandomKey(t))
	}
	resp, err := stacktest.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

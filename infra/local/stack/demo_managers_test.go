package stack_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

const uaAlipay = "Mozilla/5.0 (iPhone) AlipayClient/10.5.36"

func page(t *testing.T, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("User-Agent", uaAlipay)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The contract for outside checks (issue 11): the demo manager in
// demo.accounts signs in through POST /admin/api/session and GET /m/api/code
// answers their current code {url, expires_at: null} (the account's
// code_url); POST /m/api/code/refresh issues a new one; the old one pays
// until the local clock control ages it by 3 hours, then answers 410
// 此收款码已失效. A payment through the code is at the top of the records
// with the payer's fields; the seeded extra code presets 房号.
func TestDemoManagerContract(t *testing.T) {
	s := stacktest.Start(t)
	a := stacktest.DemoAccount(t, s, "manager", stack.DemoCompanyID)
	if a.CodeURL == "" || !strings.HasPrefix(a.CodeURL, s.URLs.Gateway+"/c/") || !strings.HasPrefix(a.WeChatCodeURL, s.URLs.WeChatWebView+"/c/") {
		t.Fatalf("demo manager account: %+v", a)
	}
	c := stacktest.ConsoleAs(t, s, a)
	var code struct {
		URL       string  `json:"url"`
		ExpiresAt *string `json:"expires_at"`
		Code      struct {
			ID, Kind string
		} `json:"code"`
	}
	c.GetJSON(t, "/m/api/code", &code)
	want := strings.Replace(a.CodeURL, s.URLs.Gateway, "", 1)
	if !strings.HasSuffix(code.URL, want) || code.ExpiresAt != nil || code.Code.Kind != "default" {
		t.Fatalf("GET /m/api/code: %+v, want …%s", code, want)
	}
	var codes struct {
		Codes []struct {
			ID, Name, URL string
			Preset        map[string]string
		} `json:"codes"`
	}
	c.GetJSON(t, "/m/api/codes", &codes)
	if len(codes.Codes) != 2 || codes.Codes[1].Preset["room"] != stack.DemoManagerExtraRoom {
		t.Fatalf("demo codes: %+v", codes.Codes)
	}

	// A customer pays the default code (Alipay, 房号 filled in) and it is at the top of the records.
	tok := code.URL[strings.LastIndex(code.URL, "/")+1:]
	o := stacktest.CreateOrder(t, s, tok, "alipay", 2345, "")
	page(t, o.Pay.RedirectURL) // the browser opens the cashier: the trade exists at Alipay
	if err := s.Alipay().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the manager's payment paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	var recs struct {
		Records []struct {
			ID          string            `json:"id"`
			AmountFen   int64             `json:"amount_fen"`
			PayerFields map[string]string `json:"payer_fields"`
			CreatedAt   string            `json:"created_at"`
		} `json:"records"`
		Next *string `json:"next"`
	}
	c.GetJSON(t, "/m/api/records", &recs)
	if len(recs.Records) == 0 || recs.Records[0].ID != o.OrderID || recs.Records[0].AmountFen != 2345 || recs.Records[0].PayerFields["room"] == "" ||
		!strings.HasSuffix(recs.Records[0].CreatedAt, "+08:00") {
		t.Fatalf("records: %+v", recs)
	}

	// With 接收收款成功通知 on (设置), the next payment through their code
	// reaches the manager on the official account (the outbox), and nothing
	// reached them while it was off.
	toManager := func() int {
		n := 0
		for _, m := range s.Outbox().Messages() {
			if m.Channel == "wechat_oa" && m.To == stack.DemoManagerOpenID {
				n++
			}
		}
		return n
	}
	stacktest.WaitFor(t, "the fan-out to take the first payment", 20*time.Second, func() bool {
		v, f, ok := s.SQS().Depth("NotifyEventsQueue.fifo")
		return s.StreamsCaughtUp() && ok && v == 0 && f == 0
	})
	if n := toManager(); n != 0 {
		t.Fatalf("%d messages to the manager before they asked", n)
	}
	if status, raw := c.Call(t, "PUT", "/m/api/settings", "application/json", []byte(`{"notify_payments":true}`)); status != 200 {
		t.Fatalf("settings: %d %s", status, raw)
	}
	o2 := stacktest.CreateOrder(t, s, tok, "alipay", 3456, "")
	page(t, o2.Pay.RedirectURL)
	if err := s.Alipay().Pay(o2.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the manager told of the payment", 20*time.Second, func() bool { return toManager() == 1 })
	for _, m := range s.Outbox().Messages() {
		if m.To == stack.DemoManagerOpenID && !strings.Contains(m.Body, "34.56") {
			t.Fatalf("the manager's message: %+v", m)
		}
	}

	// Refresh; the old code pays until its 3 hours have passed (clock control).
	status, raw := c.Call(t, "POST", "/m/api/code/refresh", "", nil)
	var ref struct {
		URL      string `json:"url"`
		Previous struct {
			URL       string `json:"url"`
			ExpiresAt string `json:"expires_at"`
		} `json:"previous"`
	}
	if status != 200 || json.Unmarshal(raw, &ref) != nil || ref.URL == code.URL || ref.Previous.URL != code.URL || !strings.HasSuffix(ref.Previous.ExpiresAt, "+08:00") {
		t.Fatalf("refresh: %d %s", status, raw)
	}
	old := s.URLs.Gateway + "/c/" + tok
	// (Not opened before the aging: the landing function would cache it
	// for store.DirectoryTTL. That it pays until then: functions/landing.)
	resp, err := http.Post(s.URLs.Control+"/manager-codes/age?by=3h", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("clock control: %v %v", resp, err)
	}
	resp.Body.Close()
	stacktest.WaitFor(t, "the old code to answer 410", 40*time.Second, func() bool {
		st, body := page(t, old)
		return st == http.StatusGone && strings.Contains(body, "此收款码已失效")
	})
	if st, body := page(t, ref.URL); st != 200 || !strings.Contains(body, `id="payform"`) {
		t.Fatalf("the new code: %d %s", st, body)
	}
}

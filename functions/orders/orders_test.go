package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/web"
)

type reply struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

func (r reply) errMessage() string {
	e, _ := r.json["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func do(t *testing.T, method, u, contentType, key string, body []byte, cookies ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.Header.Add("Cookie", c)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.json)
	return r
}

// room is a payer field value for 阳光花园 (demo-both requires 房号).
var room = map[string]string{"room": "3-201"}

func orderBody(token, channel string, amount any, fields map[string]string) []byte {
	m := map[string]any{"token": token, "channel": channel, "amount_fen": amount}
	if fields != nil {
		m["fields"] = fields
	}
	b, _ := json.Marshal(m)
	return b
}

// payerCookie is the Cookie header value of a payer cookie signed with the
// stack's key (as the landing function issues it after OAuth).
func payerCookie(t *testing.T, s *stack.Stack, p web.Payer, key string, at time.Time) string {
	t.Helper()
	set, err := web.PayerCookies{Key: []byte(key)}.Issue(p, at)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitN(set[1], ";", 2)[0]
}

func demoPayer(openid string) web.Payer {
	return web.Payer{Iface: "demo-wechat", AppID: stack.DemoWeChatAppID, OpenID: openid}
}

func countOrders(t *testing.T, s *stack.Stack) int {
	t.Helper()
	st := s.Store()
	out, err := st.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(st.Orders)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Items)
}

func token(t *testing.T, s *stack.Stack, id string) string {
	t.Helper()
	for _, c := range s.Demo.Communities {
		if c.ID == id {
			return c.Token
		}
	}
	t.Fatalf("no demo community %s", id)
	return ""
}

const jsonCT = "application/json"

func TestOrders(t *testing.T) {
	s := stacktest.Start(t)
	api := s.URLs.Gateway + "/api/orders"
	both, aliOnly, none := token(t, s, "demo-both"), token(t, s, "demo-alipay-only"), token(t, s, "demo-none")
	keyN := 0
	newKey := func() string { keyN++; return fmt.Sprintf("test-key-%016d", keyN) }

	t.Run("validation writes nothing", func(t *testing.T) {
		valid := orderBody(both, "alipay", 100, room)
		ck := payerCookie(t, s, demoPayer(wechatsb.OpenID(stack.DemoWeChatAppID, "validation")), s.Keys().PayerCookieKey, time.Now())
		cases := []struct {
			name   string
			ct     string
			key    string
			body   []byte
			status int
			code   string // the error code, when the case pins it
			msg    string // the exact message, when the case pins it
			cookie string
		}{
			{name: "malformed json", ct: jsonCT, key: newKey(), body: []byte(`{"token":`), status: 400, code: "bad_json"},
			{name: "json array", ct: jsonCT, key: newKey(), body: []byte(`[1,2]`), status: 400, code: "bad_json"},
			{name: "two objects", ct: jsonCT, key: newKey(), body: append(append([]byte{}, valid...), valid...), status: 400, code: "bad_json"},
			{name: "unknown field", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"alipay","amount_fen":100,"admin":true}`), status: 400, code: "bad_json"},
			{name: "amount as string", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", "1.00", room), status: 400, code: "bad_amount"},
			{name: "amount fractional", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"alipay","amount_fen":1.5}`), status: 400, code: "bad_amount"},
			{name: "amount exponent", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"alipay","amount_fen":1e2}`), status: 400, code: "bad_amount"},
			{name: "amount huge", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"alipay","amount_fen":99999999999999999999}`), status: 400, code: "bad_amount"},
			{name: "missing amount", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"alipay"}`), status: 400, code: "missing_amount", msg: "请输入金额"},
			{name: "missing token", ct: jsonCT, key: newKey(), body: []byte(`{"channel":"alipay","amount_fen":100}`), status: 400, code: "missing_token"},
			{name: "empty body", ct: jsonCT, key: newKey(), body: nil, status: 400},
			{name: "text/plain", ct: "text/plain", key: newKey(), body: valid, status: 415},
			{name: "no content type", ct: "", key: newKey(), body: valid, status: 415},
			{name: "form content type", ct: "application/x-www-form-urlencoded", key: newKey(), body: valid, status: 415},
			{name: "json with charset ok but bad key", ct: "application/json; charset=utf-8", key: "", body: valid, status: 400, code: "bad_idempotency_key"},
			{name: "missing Idempotency-Key", ct: jsonCT, key: "", body: valid, status: 400, code: "bad_idempotency_key"},
			{name: "short Idempotency-Key", ct: jsonCT, key: "short-key", body: valid, status: 400, code: "bad_idempotency_key"},
			{name: "Idempotency-Key bad chars", ct: jsonCT, key: "key with spaces!!", body: valid, status: 400, code: "bad_idempotency_key"},
			{name: "amount 0", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 0, room), status: 400, msg: "金额至少 0.01 元"},
			{name: "amount negative", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", -100, room), status: 400, msg: "金额至少 0.01 元"},
			{name: "amount above max", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 5_000_001, room), status: 400, msg: "单笔金额不能超过 50000.00 元"},
			{name: "bad channel", ct: jsonCT, key: newKey(), body: orderBody(both, "unionpay", 100, room), status: 400, code: "bad_channel"},
			// Bug 9: the payer identity never comes from the body.
			{name: "payer_id in body", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"wechat","amount_fen":100,"payer_id":"oSomeone"}`), status: 400, code: "payer_id_not_accepted", cookie: ck},
			{name: "payer_id markup", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"wechat","amount_fen":100,"payer_id":"<script>alert(1)</script>"}`), status: 400, code: "payer_id_not_accepted"},
			{name: "payer_id 60000 chars", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"wechat","amount_fen":100,"payer_id":"` + strings.Repeat("o", 60000) + `"}`), status: 413},
			{name: "wechat without payer cookie", ct: jsonCT, key: newKey(), body: orderBody(both, "wechat", 100, room), status: 401, code: "payer_required", msg: "微信授权已过期，请刷新页面后重试"},
			{name: "wechat with a forged payer cookie", ct: jsonCT, key: newKey(), body: orderBody(both, "wechat", 100, room), status: 401, code: "payer_required",
				cookie: payerCookie(t, s, demoPayer("oAttacker"), strings.Repeat("k", 32), time.Now())},
			{name: "wechat with an expired payer cookie", ct: jsonCT, key: newKey(), body: orderBody(both, "wechat", 100, room), status: 401, code: "payer_required",
				cookie: payerCookie(t, s, demoPayer("oLate"), s.Keys().PayerCookieKey, time.Now().Add(-web.PayerCookieTTL-time.Second))},
			{name: "wechat with another app's payer", ct: jsonCT, key: newKey(), body: orderBody(both, "wechat", 100, room), status: 401, code: "payer_required",
				cookie: payerCookie(t, s, web.Payer{Iface: "demo-wechat", AppID: "wx0000000000000000", OpenID: "oOther"}, s.Keys().PayerCookieKey, time.Now())},
			// Payer fields (M5): 阳光花园 requires 房号.
			{name: "missing 房号", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 100, nil), status: 400, code: "invalid", msg: "请填写房号"},
			{name: "房号 too long", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 100, map[string]string{"room": strings.Repeat("房", 21)}), status: 400, msg: "房号最多 20 个字"},
			{name: "房号 with a newline", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 100, map[string]string{"room": "3\n201"}), status: 400, msg: "房号含有不支持的字符"},
			{name: "field not offered", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 100, map[string]string{"room": "1", "owner": "x"}), status: 400, msg: "不支持的填写项：owner"},
			{name: "field key markup", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 100, map[string]string{"<b>": "x"}), status: 400, code: "bad_fields"},
			{name: "field value huge", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 100, map[string]string{"room": strings.Repeat("x", 201)}), status: 400, code: "bad_fields"},
			{name: "body over 8 KiB", ct: jsonCT, key: newKey(), body: orderBody(both, "alipay", 100, map[string]string{"room": strings.Repeat("x", 9000)}), status: 413},
			{name: "body over 64 KiB", ct: jsonCT, key: newKey(), body: []byte(`{"token":"` + both + `","channel":"alipay","amount_fen":100,"note":"` + strings.Repeat("x", 64<<10) + `"}`), status: 413},
			{name: "unknown token", ct: jsonCT, key: newKey(), body: orderBody("AAAAAAAAAAAAAAAAAAAAAA", "alipay", 100, nil), status: 404},
			{name: "wechat on alipay-only", ct: jsonCT, key: newKey(), body: orderBody(aliOnly, "wechat", 100, nil), status: 403, cookie: ck},
			{name: "alipay on none", ct: jsonCT, key: newKey(), body: orderBody(none, "alipay", 100, nil), status: 403},
			{name: "wechat on none", ct: jsonCT, key: newKey(), body: orderBody(none, "wechat", 100, nil), status: 403, cookie: ck},
		}
		for _, c := range cases {
			var cks []string
			if c.cookie != "" {
				cks = append(cks, c.cookie)
			}
			r := do(t, http.MethodPost, api, c.ct, c.key, c.body, cks...)
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d (%s)", c.name, r.status, c.status, r.raw)
				continue
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || r.errMessage() == "" {
				t.Errorf("%s: no JSON error message: %q", c.name, r.raw)
			}
			e, _ := r.json["error"].(map[string]any)
			if c.code != "" && e["code"] != c.code {
				t.Errorf("%s: code %v, want %s", c.name, e["code"], c.code)
			}
			if c.msg != "" && r.errMessage() != c.msg {
				t.Errorf("%s: message %q, want %q", c.name, r.errMessage(), c.msg)
			}
			if strings.Contains(r.raw, "goroutine") || strings.Contains(r.raw, ".go:") || strings.Contains(r.raw, "<script>") {
				t.Errorf("%s: internals or input leaked: %s", c.name, r.raw)
			}
			if c.status == 403 && r.errMessage() != "小区暂未开通此功能" {
				t.Errorf("%s: message %q", c.name, r.errMessage())
			}
		}
		if n := countOrders(t, s); n != 0 {
			t.Fatalf("rejected requests wrote %d orders", n)
		}
	})

	t.Run("gateway body limit", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 10<<20+1)
		if r := do(t, http.MethodPost, api, jsonCT, newKey(), big); r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("10 MiB + 1: status %d", r.status)
		}
		if n := countOrders(t, s); n != 0 {
			t.Fatalf("%d orders", n)
		}
	})

	var aliOrder, aliRedirect string
	t.Run("alipay order idempotent", func(t *testing.T) {
		k := newKey()
		r1 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "alipay", 1234, room))
		if r1.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r1.status, r1.raw)
		}
		id, _ := r1.json["order_id"].(string)
		p, _ := r1.json["pay"].(map[string]any)
		redirect, _ := p["redirect_url"].(string)
		aliOrder, aliRedirect = id, redirect
		if !strings.HasPrefix(redirect, s.URLs.AlipayGateway+"?") || r1.json["status"] != "PENDING" || r1.json["amount"] != "12.34" || r1.json["amount_fen"] != 1234.0 {
			t.Fatalf("create reply %s", r1.raw)
		}
		if r1.json["result_url"] != "/c/"+both+"/orders/"+id {
			t.Fatalf("result_url %v", r1.json["result_url"])
		}
		r2 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "alipay", 1234, room))
		if r2.status != http.StatusOK || r2.json["order_id"] != id {
			t.Fatalf("retry: %d %s", r2.status, r2.raw)
		}
		r3 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "alipay", 1235, room))
		if r3.status != http.StatusConflict || r3.errMessage() == "" {
			t.Fatalf("same key, other amount: %d %s", r3.status, r3.raw)
		}
		if n := countOrders(t, s); n != 1 {
			t.Fatalf("%d orders, want 1", n)
		}
	})

	t.Run("order status view", func(t *testing.T) {
		if aliOrder == "" {
			t.Fatal("no order from the previous step")
		}
		r := do(t, http.MethodGet, api+"/"+aliOrder, "", "", nil)
		if r.status != http.StatusOK || r.json["order_id"] != aliOrder || r.json["status"] != "PENDING" || r.json["channel"] != "alipay" {
			t.Fatalf("status: %d %s", r.status, r.raw)
		}
		for _, k := range []string{"payer_id", "merchant_id", "app_id", "iface_id", "company_id", "code_token", "prepay", "pay", "request_hash", "provider_txn_id"} {
			if _, ok := r.json[k]; ok {
				t.Errorf("status view exposes %q", k)
			}
		}
		for _, low := range []string{stack.DemoAlipaySellerID, stack.DemoAlipayAppID} {
			if strings.Contains(r.raw, low) {
				t.Errorf("status view contains merchant data %q", low)
			}
		}
		for _, bad := range []string{"EPshort", "ep" + strings.Repeat("a", 26), "EP" + strings.Repeat("A", 26), "EP" + strings.Repeat("1", 26), "%2e%2e"} {
			if r := do(t, http.MethodGet, api+"/"+bad, "", "", nil); r.status != http.StatusNotFound {
				t.Errorf("GET %s: %d", bad, r.status)
			}
		}

		// The browser opens the cashier (which opens the trade), the payer pays:
		// the notification reaches us and the view says PAID.
		if r := do(t, http.MethodGet, aliRedirect, "", "", nil); r.status != http.StatusOK {
			t.Fatalf("cashier: %d %s", r.status, r.raw)
		}
		if err := s.Alipay().Pay(aliOrder); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			r := do(t, http.MethodGet, api+"/"+aliOrder, "", "", nil)
			if r.json["status"] == "PAID" {
				if r.json["paid_at"] == nil {
					t.Fatalf("paid without paid_at: %s", r.raw)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order never became PAID: %s", r.raw)
			}
			<-tick.C
		}
	})

	t.Run("wechat order", func(t *testing.T) {
		openid := wechatsb.OpenID(stack.DemoWeChatAppID, "orders-test-user")
		ck := payerCookie(t, s, demoPayer(openid), s.Keys().PayerCookieKey, time.Now())
		k := newKey()
		r := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "wechat", 1, room), ck)
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.raw)
		}
		p, _ := r.json["pay"].(map[string]any)
		js, _ := p["jsapi"].(map[string]any)
		for _, f := range []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} {
			if v, _ := js[f].(string); v == "" {
				t.Errorf("jsapi.%s missing in %s", f, r.raw)
			}
		}
		if js["appId"] != stack.DemoWeChatAppID || !strings.HasPrefix(fmt.Sprint(js["package"]), "prepay_id=") || js["signType"] != "RSA" {
			t.Errorf("jsapi = %v", js)
		}
		if strings.Contains(r.raw, openid) {
			t.Error("reply echoes the payer's openid")
		}
		id := fmt.Sprint(r.json["order_id"])
		if g := do(t, http.MethodGet, api+"/"+id, "", "", nil); strings.Contains(g.raw, openid) {
			t.Error("status view exposes the openid")
		}
		// The order carries the cookie's openid and the cleaned payer fields.
		o, err := s.Store().OrderRepo().Get(context.Background(), id)
		if err != nil || o.PayerID != openid || o.Fields["room"] != "3-201" || len(o.Fields) != 1 {
			t.Fatalf("stored order payer %q fields %v (%v)", o.PayerID, o.Fields, err)
		}
		// Retry with the same key and body: 200, same prepay.
		r2 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "wechat", 1, room), ck)
		p2, _ := r2.json["pay"].(map[string]any)
		js2, _ := p2["jsapi"].(map[string]any)
		if r2.status != http.StatusOK || r2.json["order_id"] != r.json["order_id"] || js2["package"] != js["package"] {
			t.Fatalf("retry: %d %s", r2.status, r2.raw)
		}
		// Same key, other payer: conflict.
		other := payerCookie(t, s, demoPayer(wechatsb.OpenID(stack.DemoWeChatAppID, "other")), s.Keys().PayerCookieKey, time.Now())
		if r3 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "wechat", 1, room), other); r3.status != http.StatusConflict {
			t.Fatalf("other payer: %d %s", r3.status, r3.raw)
		}
	})
}

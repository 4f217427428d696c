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

func do(t *testing.T, method, u, contentType, key string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
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

func orderBody(token, channel string, amount any, payer string) []byte {
	m := map[string]any{"token": token, "channel": channel, "amount_fen": amount}
	if payer != "" {
		m["payer_id"] = payer
	}
	b, _ := json.Marshal(m)
	return b
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
		valid := orderBody(both, "alipay", 100, "")
		cases := []struct {
			name   string
			ct     string
			key    string
			body   []byte
			status int
		}{
			{"malformed json", jsonCT, newKey(), []byte(`{"token":`), 400},
			{"json array", jsonCT, newKey(), []byte(`[1,2]`), 400},
			{"two objects", jsonCT, newKey(), append(append([]byte{}, valid...), valid...), 400},
			{"unknown field", jsonCT, newKey(), []byte(`{"token":"` + both + `","channel":"alipay","amount_fen":100,"admin":true}`), 400},
			{"amount as string", jsonCT, newKey(), orderBody(both, "alipay", "1.00", ""), 400},
			{"amount fractional", jsonCT, newKey(), []byte(`{"token":"` + both + `","channel":"alipay","amount_fen":1.5}`), 400},
			{"missing amount", jsonCT, newKey(), []byte(`{"token":"` + both + `","channel":"alipay"}`), 400},
			{"missing token", jsonCT, newKey(), []byte(`{"channel":"alipay","amount_fen":100}`), 400},
			{"empty body", jsonCT, newKey(), nil, 400},
			{"text/plain", "text/plain", newKey(), valid, 415},
			{"no content type", "", newKey(), valid, 415},
			{"form content type", "application/x-www-form-urlencoded", newKey(), valid, 415},
			{"json with charset ok but bad key", "application/json; charset=utf-8", "", valid, 400},
			{"missing Idempotency-Key", jsonCT, "", valid, 400},
			{"short Idempotency-Key", jsonCT, "short-key", valid, 400},
			{"Idempotency-Key bad chars", jsonCT, "key with spaces!!", valid, 400},
			{"amount 0", jsonCT, newKey(), orderBody(both, "alipay", 0, ""), 400},
			{"amount negative", jsonCT, newKey(), orderBody(both, "alipay", -100, ""), 400},
			{"amount above max", jsonCT, newKey(), orderBody(both, "alipay", 5_000_001, ""), 400},
			{"bad channel", jsonCT, newKey(), orderBody(both, "unionpay", 100, ""), 400},
			{"wechat without payer", jsonCT, newKey(), orderBody(both, "wechat", 100, ""), 400},
			{"body over 64 KiB", jsonCT, newKey(), []byte(`{"token":"` + both + `","channel":"alipay","amount_fen":100,"payer_id":"` + strings.Repeat("x", 64<<10) + `"}`), 413},
			{"unknown token", jsonCT, newKey(), orderBody("AAAAAAAAAAAAAAAAAAAAAA", "alipay", 100, ""), 404},
			{"wechat on alipay-only", jsonCT, newKey(), orderBody(aliOnly, "wechat", 100, "oSomeone"), 403},
			{"alipay on none", jsonCT, newKey(), orderBody(none, "alipay", 100, ""), 403},
			{"wechat on none", jsonCT, newKey(), orderBody(none, "wechat", 100, "oSomeone"), 403},
		}
		for _, c := range cases {
			r := do(t, http.MethodPost, api, c.ct, c.key, c.body)
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d (%s)", c.name, r.status, c.status, r.raw)
				continue
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || r.errMessage() == "" {
				t.Errorf("%s: no JSON error message: %q", c.name, r.raw)
			}
			if strings.Contains(r.raw, "goroutine") || strings.Contains(r.raw, ".go:") {
				t.Errorf("%s: internals leaked: %s", c.name, r.raw)
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
		r1 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "alipay", 1234, ""))
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
		r2 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "alipay", 1234, ""))
		if r2.status != http.StatusOK || r2.json["order_id"] != id {
			t.Fatalf("retry: %d %s", r2.status, r2.raw)
		}
		r3 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "alipay", 1235, ""))
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
		k := newKey()
		r := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "wechat", 1, openid))
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
		if g := do(t, http.MethodGet, api+"/"+fmt.Sprint(r.json["order_id"]), "", "", nil); strings.Contains(g.raw, openid) {
			t.Error("status view exposes the openid")
		}
		// Retry with the same key and body: 200, same prepay.
		r2 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "wechat", 1, openid))
		p2, _ := r2.json["pay"].(map[string]any)
		js2, _ := p2["jsapi"].(map[string]any)
		if r2.status != http.StatusOK || r2.json["order_id"] != r.json["order_id"] || js2["package"] != js["package"] {
			t.Fatalf("retry: %d %s", r2.status, r2.raw)
		}
		// Same key, other payer: conflict.
		if r3 := do(t, http.MethodPost, api, jsonCT, k, orderBody(both, "wechat", 1, wechatsb.OpenID(stack.DemoWeChatAppID, "other"))); r3.status != http.StatusConflict {
			t.Fatalf("other payer: %d %s", r3.status, r3.raw)
		}
	})
}

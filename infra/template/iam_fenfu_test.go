package template_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/web"
)

// fenfuPaidAndWatched pays the demo's 分付 merchant by 分付 three times in a
// row as a resident does in WeChat — the form offers 分付, the order asks the
// sandbox's exposure, counts into the payer's daily total and records the
// night rule (OrdersFunction's FenfuTable grants, the payer index for the
// first payment of the day), the cashier honours the token — the payments
// reported as of yesterday (late callbacks: the hold of the third is placed
// with the check that its day has no settlement run — WechatNotifyFunction's
// StatsTable grants; the order copies and records its FenfuTable Puts),
// then a large one at night is refused with the ordinary alternative (the
// local risk clock), and the risk officer reads the warning (AdminFunction's
// Query).
func fenfuPaidAndWatched(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	const openid = "oIAMFenfu"
	set, err := web.PayerCookies{Key: []byte(s.Keys().PayerCookieKey)}.Issue(web.Payer{Iface: "demo-wechat", AppID: stack.DemoWeChatAppID, OpenID: openid}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cookie := strings.SplitN(set[0], ";", 2)[0]
	tok := stacktest.CommunityToken(t, s, "demo-both")
	if status, page := send(t, http.MethodGet, s.URLs.Gateway+"/c/"+tok, uaWeChat, cookie, nil); status != http.StatusOK || !strings.Contains(string(page), `id="method-fenfu"`) {
		t.Fatalf("the form offers no 分付: %d %.400s", status, page)
	}
	s.WeChat().SetFenfuPayer(openid, wechat.FenfuPayer{Grade: "A", Eligible: true})
	if err := s.SetRiskClock(time.Time{}); err != nil {
		t.Fatal(err)
	}
	col, err := s.Store().LoadCollection(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range col.PayerFields() {
		if f.Required {
			fields[f.Key] = strings.Repeat("1", max(f.MinLen, 1))
		}
	}
	order := func(fen int64) (int, map[string]any) {
		raw, _ := json.Marshal(map[string]any{"token": tok, "channel": "wechat", "amount_fen": fen, "method": fenfu.Method, "fields": fields})
		status, body := send(t, http.MethodPost, s.URLs.Gateway+"/api/orders", uaWeChat, cookie, raw)
		var v map[string]any
		_ = json.Unmarshal(body, &v)
		return status, v
	}
	yesterday := time.Now().Add(-24 * time.Hour)
	var last string
	for i := range 3 {
		status, v := order(2000)
		if status != http.StatusCreated {
			t.Fatalf("分付 order %d: %d %v", i, status, v)
		}
		id := v["order_id"].(string)
		js := v["pay"].(map[string]any)["jsapi"].(map[string]any)
		if !strings.Contains(js["package"].(string), "&market_exposure_token=") {
			t.Fatalf("package %v", js["package"])
		}
		q := url.Values{}
		for k, val := range js {
			q.Set(k, val.(string))
		}
		get(t, s.URLs.WeChatSandbox+"/sandbox/cashier?"+q.Encode(), uaWeChat)
		if !s.WeChat().Fenfu(id) {
			t.Fatalf("the sandbox did not take order %s as 分付", id)
		}
		if err := s.WeChat().PayWithoutCallback(id); err != nil {
			t.Fatal(err)
		}
		paidAt := yesterday.Add(time.Duration(i) * time.Minute)
		req, err := s.WeChat().SignedNotification(ctx, id, wechat.NotifyOptions{Transaction: func(m map[string]any) {
			m["success_time"] = paidAt.Format(time.RFC3339)
		}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := stacktest.HTTPClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("callback of %s: %d", id, resp.StatusCode)
		}
		if o := stacktest.StoredOrder(t, s, id); o.Method != fenfu.Method || o.Status != "PAID" {
			t.Fatalf("order %s: %s %s", id, o.Method, o.Status)
		}
		last = id
	}
	// A large 分付 payment at 23:30 is refused, with ordinary payment offered.
	night := time.Date(2026, 12, 6, 23, 30, 0, 0, time.FixedZone("CST", 8*3600))
	if err := s.SetRiskClock(night); err != nil {
		t.Fatal(err)
	}
	status, v := order(fenfu.DefaultLimits().NightLargeFen)
	_ = s.SetRiskClock(time.Time{})
	e, _ := v["error"].(map[string]any)
	if status != http.StatusConflict || e["code"] != "fenfu_night" || e["alternative"] != "ordinary" || !strings.Contains(e["message"].(string), "普通微信支付") {
		t.Fatalf("night-time large 分付: %d %v", status, v)
	}
	// The risk officer sees the warning.
	risk := stacktest.Console(t, s, "risk_officer", stack.DemoCompanyID)
	var out struct {
		Records []struct {
			OrderID string `json:"order_id"`
			Rule    string `json:"rule"`
			Warning bool   `json:"warning"`
		} `json:"records"`
	}
	risk.GetJSON(t, "/admin/api/fenfu/risk?warnings=1", &out)
	warned := false
	for _, r := range out.Records {
		warned = warned || (r.OrderID == last && r.Rule == fenfu.RuleInARow && r.Warning)
	}
	if !warned {
		t.Fatalf("no three-in-a-row warning for %s: %+v", last, out.Records)
	}
	// F6: the payer's openid is stored sealed (FENFU_KEY_REF), never in the clear.
	items, err := s.Store().DB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.Tables["FenfuTable"])})
	if err != nil {
		t.Fatal(err)
	}
	sealed := 0
	for _, it := range items.Items {
		v, ok := it["payer_openid"].(*types.AttributeValueMemberS)
		if !ok {
			continue
		}
		if strings.Contains(v.Value, openid) || !strings.HasPrefix(v.Value, "v1:") {
			t.Fatalf("FenfuTable %v holds the payer's openid as %q", it["pk"], v.Value)
		}
		sealed++
	}
	if sealed == 0 {
		t.Fatal("no sealed payer openid in FenfuTable")
	}
}

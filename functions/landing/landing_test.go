package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

const (
	uaWeChat  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2f) NetType/WIFI Language/zh_CN"
	uaAlipay  = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/69.0 Mobile Safari/537.36 AlipayClient/10.5.36.8100 Language/zh-Hans"
	uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)

type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func get(t *testing.T, c *http.Client, u, ua string, cookies ...*http.Cookie) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(b), url: resp.Request.URL}
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var messageRE = regexp.MustCompile(`id="message">([^<]*)<`)

func message(p page) string {
	m := messageRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func hasForm(p page) bool { return strings.Contains(p.body, `id="payform"`) }

func demo(t *testing.T, s *stack.Stack, id string) stack.DemoCommunity {
	t.Helper()
	for _, c := range s.Demo.Communities {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no demo community %s", id)
	return stack.DemoCommunity{}
}

func TestLanding(t *testing.T) {
	s := stacktest.Start(t)
	gw := s.URLs.Gateway
	c := noRedirect()

	t.Run("C2C3 matrix", func(t *testing.T) {
		type want struct {
			form    string // "" = no form, else the data-channel
			msg     string
			oauth   bool // redirected to WeChat OAuth first
			content string
		}
		cases := []struct {
			community, ua string
			want          want
		}{
			{"demo-both", uaWeChat, want{oauth: true}},
			{"demo-both", uaAlipay, want{form: "alipay"}},
			{"demo-both", uaDesktop, want{msg: "请使用微信或支付宝扫码"}},
			{"demo-alipay-only", uaWeChat, want{msg: "小区暂未开通此功能"}},
			{"demo-alipay-only", uaAlipay, want{form: "alipay"}},
			{"demo-alipay-only", uaDesktop, want{msg: "请使用支付宝扫码"}},
			{"demo-none", uaWeChat, want{msg: "小区暂未开通此功能"}},
			{"demo-none", uaAlipay, want{msg: "小区暂未开通此功能"}},
			{"demo-none", uaDesktop, want{msg: "小区暂未开通此功能"}},
			{"demo-none", "", want{msg: "小区暂未开通此功能"}},
		}
		for _, tc := range cases {
			name := tc.community + "/" + map[string]string{uaWeChat: "wechat", uaAlipay: "alipay", uaDesktop: "desktop", "": "no-ua"}[tc.ua]
			t.Run(name, func(t *testing.T) {
				dc := demo(t, s, tc.community)
				p := get(t, c, gw+"/c/"+dc.Token, tc.ua)
				if tc.want.oauth {
					if p.status != http.StatusFound || !strings.HasPrefix(p.header.Get("Location"), s.URLs.WeChatSandbox+"/connect/oauth2/authorize?") {
						t.Fatalf("status %d location %q, want 302 to WeChat OAuth", p.status, p.header.Get("Location"))
					}
					return
				}
				if p.status != http.StatusOK {
					t.Fatalf("status %d", p.status)
				}
				if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
					t.Fatalf("content type %q", p.header.Get("Content-Type"))
				}
				if !strings.Contains(p.body, dc.Name) {
					t.Errorf("page does not name the community %q", dc.Name)
				}
				if tc.want.form != "" {
					if !hasForm(p) || !strings.Contains(p.body, `data-channel="`+tc.want.form+`"`) || !strings.Contains(p.body, `data-token="`+dc.Token+`"`) {
						t.Fatalf("want the %s form; body:\n%s", tc.want.form, p.body)
					}
					if message(p) != "" {
						t.Errorf("form page also shows message %q", message(p))
					}
					if !strings.Contains(p.body, `data-max="5000000"`) {
						t.Errorf("form without the deployment maximum")
					}
					return
				}
				if hasForm(p) || strings.Contains(p.body, "<form") {
					t.Fatalf("a form is shown; want only %q", tc.want.msg)
				}
				if got := message(p); got != tc.want.msg {
					t.Fatalf("message %q, want exactly %q", got, tc.want.msg)
				}
			})
		}
	})

	t.Run("unknown and malformed tokens", func(t *testing.T) {
		for _, path := range []string{
			"/c/AAAAAAAAAAAAAAAAAAAAAA",              // well-formed, unknown
			"/c/short",                               // too short
			"/c/" + strings.Repeat("a", 65),          // too long
			"/c/abc%21defghijklmnopqrstuvwxyz",       // bad character
			"/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E", // markup
		} {
			for _, ua := range []string{uaWeChat, uaAlipay, uaDesktop} {
				p := get(t, c, gw+path, ua)
				if p.status != http.StatusNotFound {
					t.Fatalf("%s (%s): status %d, want 404", path, ua[:12], p.status)
				}
				if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, "该收款码不存在或已停用") || hasForm(p) {
					t.Fatalf("%s: not the friendly page: %s", path, p.body)
				}
				if strings.Contains(p.body, "<script>alert") {
					t.Fatalf("%s: token reflected unescaped", path)
				}
			}
		}
	})

	t.Run("revoked code", func(t *testing.T) {
		tok := "RevokedCode0123456789ab"
		if err := s.Store().PutCode(context.Background(), store.Code{Token: tok, CommunityID: "demo-both", Kind: "community", Status: "revoked"}); err != nil {
			t.Fatal(err)
		}
		if p := get(t, c, gw+"/c/"+tok, uaAlipay); p.status != http.StatusNotFound || hasForm(p) {
			t.Fatalf("revoked code: status %d form %v", p.status, hasForm(p))
		}
	})

	t.Run("WeChat OAuth redirect", func(t *testing.T) {
		dc := demo(t, s, "demo-both")
		p := get(t, c, gw+"/c/"+dc.Token, uaWeChat)
		if p.status != http.StatusFound {
			t.Fatalf("status %d", p.status)
		}
		loc, err := url.Parse(p.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if loc.Path != "/connect/oauth2/authorize" || q.Get("appid") != stack.DemoWeChatAppID || q.Get("scope") != "snsapi_base" ||
			q.Get("response_type") != "code" || q.Get("state") == "" || loc.Fragment != "wechat_redirect" {
			t.Fatalf("authorize URL %s", loc)
		}
		if q.Get("redirect_uri") != gw+"/c/"+dc.Token {
			t.Fatalf("redirect_uri %q, want %q", q.Get("redirect_uri"), gw+"/c/"+dc.Token)
		}
		var state *http.Cookie
		for _, ck := range (&http.Response{Header: p.header}).Cookies() {
			if ck.Name == "ep_oauth_state" {
				state = ck
			}
		}
		if state == nil || state.Value != q.Get("state") || !state.HttpOnly {
			t.Fatalf("state cookie %+v, want HttpOnly with the state %q", state, q.Get("state"))
		}
		// Every scan gets a fresh state.
		p2 := get(t, c, gw+"/c/"+dc.Token, uaWeChat)
		loc2, _ := url.Parse(p2.header.Get("Location"))
		if loc2.Query().Get("state") == q.Get("state") {
			t.Fatal("state reused across scans")
		}
	})

	t.Run("WeChat OAuth round trip", func(t *testing.T) {
		dc := demo(t, s, "demo-both")
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar}
		p := get(t, browser, gw+"/c/"+dc.Token, uaWeChat)
		if p.status != http.StatusOK || !hasForm(p) || !strings.Contains(p.body, `data-channel="wechat"`) {
			t.Fatalf("after OAuth: status %d url %s body:\n%s", p.status, p.url, p.body)
		}
		// The page carries no payer identity: it is in the signed, HttpOnly payer cookie.
		if strings.Contains(p.body, "data-payer") {
			t.Fatal("the form exposes a payer id")
		}
		var uid string
		sb, _ := url.Parse(s.URLs.WeChatSandbox)
		for _, ck := range jar.Cookies(sb) {
			if ck.Name == "wxsandbox_uid" {
				uid = ck.Value
			}
		}
		want := wechatsb.OpenID(stack.DemoWeChatAppID, uid)
		for _, path := range []string{"/api/orders", "/c/" + dc.Token} {
			u, _ := url.Parse(gw + path)
			payer := payerFromJar(t, jar, u, s)
			if uid == "" || payer.OpenID != want || payer.AppID != stack.DemoWeChatAppID || payer.Iface != "demo-wechat" {
				t.Fatalf("payer cookie sent to %s: %+v, want openid %s (uid %q) of the demo app", path, payer, want, uid)
			}
		}
		setCookies := strings.Join(p.header.Values("Set-Cookie"), "\n")
		for _, attr := range []string{"ep_payer=", "HttpOnly", "SameSite=Lax", "Path=/api/orders", "Path=/c/", "Max-Age=1800"} {
			if !strings.Contains(setCookies, attr) {
				t.Errorf("payer cookie without %s:\n%s", attr, setCookies)
			}
		}
		// The OAuth state is single use: the form response clears its cookie.
		gwURL, _ := url.Parse(gw + "/c/")
		for _, ck := range jar.Cookies(gwURL) {
			if ck.Name == "ep_oauth_state" {
				t.Fatalf("state cookie still set after OAuth: %v", ck)
			}
		}
		// Bug 12: replaying the used code (Back, reload) with the payer cookie
		// shows the form again, silently, without another OAuth round trip.
		replay := get(t, noRedirectJar(jar), p.url.String(), uaWeChat)
		if replay.status != http.StatusOK || !hasForm(replay) {
			t.Fatalf("replayed code with the payer cookie: %d %s", replay.status, message(replay))
		}
		// A plain reload of the code URL needs no OAuth either.
		if r := get(t, noRedirectJar(jar), gw+"/c/"+dc.Token, uaWeChat); r.status != http.StatusOK || !hasForm(r) {
			t.Fatalf("reload with the payer cookie: %d", r.status)
		}
		// Without the payer cookie a replayed code redoes OAuth silently (once) ...
		r := get(t, c, p.url.String(), uaWeChat)
		loc, _ := url.Parse(r.header.Get("Location"))
		if r.status != http.StatusFound || loc.Path != "/connect/oauth2/authorize" || loc.Query().Get("redirect_uri") != gw+"/c/"+dc.Token+"?oauth_retry=1" {
			t.Fatalf("replayed code without the cookie: %d %q, want a retry of OAuth", r.status, r.header.Get("Location"))
		}
		// ... and the whole retry, in a fresh browser, ends on the form.
		jar2, _ := cookiejar.New(nil)
		if r := get(t, &http.Client{Jar: jar2}, p.url.String(), uaWeChat); r.status != http.StatusOK || !hasForm(r) {
			t.Fatalf("replayed code in a fresh browser: %d %q", r.status, message(r))
		}
	})

	t.Run("WeChat OAuth failures", func(t *testing.T) {
		dc := demo(t, s, "demo-both")
		p := get(t, c, gw+"/c/"+dc.Token, uaWeChat)
		loc, _ := url.Parse(p.header.Get("Location"))
		state := loc.Query().Get("state")
		// Obtain a genuine code from the sandbox, then come back with another state.
		sbResp := get(t, c, loc.String(), uaWeChat)
		back, err := url.Parse(sbResp.header.Get("Location"))
		if err != nil || back.Query().Get("code") == "" {
			t.Fatalf("sandbox authorize: %d %q", sbResp.status, sbResp.header.Get("Location"))
		}
		code := back.Query().Get("code")
		for name, tc := range map[string]struct {
			query  string
			cookie *http.Cookie
		}{
			"no cookie":     {"code=" + code + "&state=" + state, nil},
			"other state":   {"code=" + code + "&state=forged", &http.Cookie{Name: "ep_oauth_state", Value: state}},
			"empty state":   {"code=" + code + "&state=", &http.Cookie{Name: "ep_oauth_state", Value: ""}},
			"cookie forged": {"code=" + code + "&state=" + state, &http.Cookie{Name: "ep_oauth_state", Value: "x" + state}},
			"bad code":      {"code=bogus&state=" + state, &http.Cookie{Name: "ep_oauth_state", Value: state}},
			"forged payer":  {"code=bogus&state=" + state, &http.Cookie{Name: "ep_payer", Value: "MXw5OTk5OTk5OTk5fGRlbW8td2VjaGF0fHd4ODg4fG9BdHRhY2tlcg.AAAA"}},
		} {
			var cks []*http.Cookie
			if tc.cookie != nil {
				cks = append(cks, tc.cookie)
			}
			// First failure: OAuth again, marked as a retry; never a form.
			r := get(t, c, gw+"/c/"+dc.Token+"?"+tc.query, uaWeChat, cks...)
			if hasForm(r) || r.status != http.StatusFound || !strings.Contains(r.header.Get("Location"), url.QueryEscape("?oauth_retry=1")) {
				t.Errorf("%s: status %d location %q, want a silent OAuth retry", name, r.status, r.header.Get("Location"))
			}
			// A failure on the retry: the message, no loop, no form.
			r = get(t, c, gw+"/c/"+dc.Token+"?oauth_retry=1&"+tc.query, uaWeChat, cks...)
			if hasForm(r) || r.status != http.StatusOK || message(r) != "微信授权失败，请重新扫码" {
				t.Errorf("%s (retry): status %d message %q", name, r.status, message(r))
			}
		}
	})

	t.Run("HTML escaping", func(t *testing.T) {
		ctx := context.Background()
		st := s.Store()
		evil := `<script>alert(1)</script>`
		if err := st.PutCommunity(ctx, store.Community{ID: "evil", CompanyID: stack.DemoCompanyID, Name: evil + `"'&`}); err != nil {
			t.Fatal(err)
		}
		tok := "EvilCommunityToken0123456789"
		if err := st.PutCode(ctx, store.Code{Token: tok, CommunityID: "evil", Kind: "community", Status: "active"}); err != nil {
			t.Fatal(err)
		}
		for _, ua := range []string{uaAlipay, uaDesktop, uaWeChat} {
			p := get(t, c, gw+"/c/"+tok, ua)
			if p.status != http.StatusOK {
				t.Fatalf("status %d", p.status)
			}
			if strings.Contains(p.body, evil) || strings.Contains(p.body, "<script>alert") {
				t.Fatalf("unescaped community name in page:\n%s", p.body)
			}
			if !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Fatalf("escaped community name missing:\n%s", p.body)
			}
		}
		if p := get(t, c, gw+"/c/"+tok, uaAlipay); !hasForm(p) {
			t.Fatal("alipay form missing for the escaped community")
		}
		if p := get(t, c, gw+"/c/"+tok+"/orders/EP"+strings.Repeat("A", 26), uaAlipay); strings.Contains(p.body, evil) {
			t.Fatal("result page: unescaped community name")
		}
		if csp := get(t, c, gw+"/c/"+tok, uaAlipay).header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("CSP %q", csp)
		}
	})

	t.Run("healthz", func(t *testing.T) {
		p := get(t, c, gw+"/healthz", "")
		if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "application/json") {
			t.Fatalf("healthz: %d %q", p.status, p.header.Get("Content-Type"))
		}
		var body map[string]string
		if err := json.Unmarshal([]byte(p.body), &body); err != nil || len(body) != 1 || body["status"] != "ok" {
			t.Fatalf("healthz body %q", p.body)
		}
	})

	t.Run("result page", func(t *testing.T) {
		ctx := context.Background()
		dc := demo(t, s, "demo-both")
		other := demo(t, s, "demo-alipay-only")
		// Unknown and malformed orders, and unknown codes: 404 pages.
		for _, path := range []string{
			"/c/" + dc.Token + "/orders/EP" + strings.Repeat("B", 26),
			"/c/" + dc.Token + "/orders/EPshort",
			"/c/" + dc.Token + "/orders/ep" + strings.Repeat("b", 26),
			"/c/" + dc.Token + "/orders/EP" + strings.Repeat("1", 26),
			"/c/AAAAAAAAAAAAAAAAAAAAAA/orders/EP" + strings.Repeat("B", 26),
		} {
			if p := get(t, c, gw+path, uaAlipay); p.status != http.StatusNotFound || strings.Contains(p.body, "data-order") ||
				!strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || message(p) == "" {
				t.Errorf("%s: status %d message %q", path, p.status, message(p))
			}
		}
		// An order paid to another community is not shown under this code (bug 11).
		paidAt := time.Date(2026, 11, 28, 16, 0, 5, 0, time.UTC) // 2026-11-29 00:00:05 in Shanghai
		foreign := seedOrder(t, s, other, "EP"+strings.Repeat("F", 26), 777, nil, &paidAt)
		if p := get(t, c, gw+"/c/"+dc.Token+"/orders/"+foreign, uaAlipay); p.status != http.StatusNotFound || strings.Contains(p.body, "7.77") || message(p) != "未找到该订单，请返回重新支付。" {
			t.Fatalf("another code's order under this code: %d %q", p.status, message(p))
		}
		if p := get(t, c, gw+"/c/"+other.Token+"/orders/"+foreign, uaAlipay); p.status != http.StatusOK || !strings.Contains(p.body, "翠湖小区") {
			t.Fatalf("the order under its own code: %d", p.status)
		}
		// The receipt: payee, community, amount, channel, payer fields, order number, time (+08:00).
		id := seedOrder(t, s, dc, "EP"+strings.Repeat("R", 26), 1234, map[string]string{"room": "3-201"}, &paidAt)
		p := get(t, c, gw+"/c/"+dc.Token+"/orders/"+id, uaAlipay)
		if p.status != http.StatusOK {
			t.Fatalf("receipt: %d %s", p.status, p.body)
		}
		for _, want := range []string{`data-order="` + id + `"`, `data-state="paid"`, "支付成功", "¥12.34", "示例物业服务有限公司", "阳光花园", "支付宝",
			">" + id + "<", "2026-11-29 00:00:05", "房号", "3-201", `id="done"`, "完成"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("receipt lacks %q", want)
			}
		}
		// An unpaid order's receipt waits for the result and shows no time.
		pending := seedOrder(t, s, dc, "EP"+strings.Repeat("P", 26), 5, nil, nil)
		p = get(t, c, gw+"/c/"+dc.Token+"/orders/"+pending, uaWeChat)
		if p.status != http.StatusOK || !strings.Contains(p.body, `data-state="pending"`) || !strings.Contains(p.body, "正在确认支付结果") || !strings.Contains(p.body, "微信支付") && !strings.Contains(p.body, "支付宝") {
			t.Fatalf("pending receipt: %d", p.status)
		}
		if _, err := s.Store().OrderRepo().Get(ctx, pending); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("404 for unknown routes", func(t *testing.T) {
		browserAccept := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
		for _, tc := range []struct {
			method, path, accept string
			json                 bool
		}{
			{"GET", "/", browserAccept, false},
			{"GET", "/index.html", browserAccept, false},
			{"GET", "/c", browserAccept, false},
			{"GET", "/c/" + demo(t, s, "demo-both").Token + "/other", browserAccept, false},
			{"GET", "/", "", true},
			{"GET", "/nope", "application/json", true},
			{"GET", "/api/nope", browserAccept, true},
			{"DELETE", "/api/orders", "", true},
			{"GET", "/admin/api/nope", browserAccept, true},
			{"POST", "/notify/unionpay/x", "", true},
		} {
			req, _ := http.NewRequest(tc.method, gw+tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ct := resp.Header.Get("Content-Type")
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: status %d", tc.method, tc.path, resp.StatusCode)
				continue
			}
			if tc.json {
				var e struct {
					Error struct{ Code, Message string }
				}
				if !strings.HasPrefix(ct, "application/json") || json.Unmarshal(b, &e) != nil || e.Error.Code != "not_found" || e.Error.Message == "" {
					t.Errorf("%s %s: %q %s, want a JSON error", tc.method, tc.path, ct, b)
				}
				continue
			}
			if !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(b), "页面不存在") || !strings.Contains(string(b), `lang="zh-CN"`) {
				t.Errorf("%s %s: %q %s, want the Chinese 404 page", tc.method, tc.path, ct, b)
			}
		}
	})
}

// seedOrder stores an order of community dc's code (paid at paidAt when set)
// and returns its id.
func seedOrder(t *testing.T, s *stack.Stack, dc stack.DemoCommunity, id string, fen int64, fields map[string]string, paidAt *time.Time) string {
	t.Helper()
	o := order.Order{ID: id, CommunityID: dc.ID, CompanyID: stack.DemoCompanyID, CodeToken: dc.Token, Channel: domain.Alipay,
		IfaceID: "demo-alipay", MerchantID: stack.DemoAlipaySellerID, AppID: stack.DemoAlipayAppID, AmountFen: fen, Fields: fields}
	var at time.Time
	if paidAt != nil {
		at = *paidAt
	}
	stacktest.SeedOrder(t, s.Store(), o, time.Now(), at)
	return id
}

// payerFromJar verifies the payer cookie the jar would send to u.
func payerFromJar(t *testing.T, jar http.CookieJar, u *url.URL, s *stack.Stack) web.Payer {
	t.Helper()
	var req web.Request
	for _, ck := range jar.Cookies(u) {
		req.Cookies = append(req.Cookies, ck.Name+"="+ck.Value)
	}
	p, err := web.PayerCookies{Key: []byte(s.Keys().PayerCookieKey)}.Read(req, time.Now())
	if err != nil {
		t.Fatalf("payer cookie for %s: %v", u, err)
	}
	return p
}

func noRedirectJar(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

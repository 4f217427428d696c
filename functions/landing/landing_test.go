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

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/store"
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
		m := regexp.MustCompile(`data-payer="([^"]*)"`).FindStringSubmatch(p.body)
		if m == nil || !regexp.MustCompile(`^o[A-Za-z0-9_-]{27}$`).MatchString(m[1]) {
			t.Fatalf("data-payer = %v, want an openid", m)
		}
		// The openid is the sandbox user's stable openid for the demo app.
		var uid string
		sb, _ := url.Parse(s.URLs.WeChatSandbox)
		for _, ck := range jar.Cookies(sb) {
			if ck.Name == "wxsandbox_uid" {
				uid = ck.Value
			}
		}
		if uid == "" || m[1] != wechatsb.OpenID(stack.DemoWeChatAppID, uid) {
			t.Fatalf("payer %q is not the sandbox user's openid (uid %q)", m[1], uid)
		}
		// The OAuth state is single use: the form response clears its cookie.
		gwURL, _ := url.Parse(gw + "/c/")
		for _, ck := range jar.Cookies(gwURL) {
			if ck.Name == "ep_oauth_state" {
				t.Fatalf("state cookie still set after OAuth: %v", ck)
			}
		}
		// The code is single use: replaying the final URL shows no form.
		replay := get(t, browser, p.url.String(), uaWeChat)
		if hasForm(replay) {
			t.Fatal("a replayed OAuth code produced a form")
		}
	})

	t.Run("WeChat OAuth state mismatch", func(t *testing.T) {
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
		} {
			var cks []*http.Cookie
			if tc.cookie != nil {
				cks = append(cks, tc.cookie)
			}
			r := get(t, c, gw+"/c/"+dc.Token+"?"+tc.query, uaWeChat, cks...)
			if hasForm(r) || strings.Contains(r.body, "data-payer") {
				t.Errorf("%s: a form was shown", name)
			}
			if r.status != http.StatusOK || message(r) == "" {
				t.Errorf("%s: status %d message %q", name, r.status, message(r))
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
		dc := demo(t, s, "demo-both")
		id := "EP" + strings.Repeat("B", 26)
		p := get(t, c, gw+"/c/"+dc.Token+"/orders/"+id, uaAlipay)
		if p.status != http.StatusOK || !strings.Contains(p.body, `data-order="`+id+`"`) || !strings.Contains(p.body, dc.Name) {
			t.Fatalf("result page: %d\n%s", p.status, p.body)
		}
		for _, path := range []string{
			"/c/" + dc.Token + "/orders/EPshort",
			"/c/" + dc.Token + "/orders/ep" + strings.Repeat("b", 26),
			"/c/" + dc.Token + "/orders/EP" + strings.Repeat("1", 26),
			"/c/AAAAAAAAAAAAAAAAAAAAAA/orders/" + id,
		} {
			if p := get(t, c, gw+path, uaAlipay); p.status != http.StatusNotFound || strings.Contains(p.body, "data-order") {
				t.Errorf("%s: status %d", path, p.status)
			}
		}
	})
}

package main

import (
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
)

// M2 through the whole local stack: the demo manager opens the console in
// WeChat (the sandbox's WebView user agent and its snsapi_base OAuth), logs in
// with phone and password, gets the SMS step instead of a session (a WeChat
// identity not bound to the account yet), reads the code from the outbox
// (Tencent Cloud SMS sandbox), enters it and is signed in; the same identity
// logs in next time without a code; another identity gets no session without
// one (here: throttled, a second code within a minute).
func TestSMSStepUpFromAnotherWeChatIdentity(t *testing.T) {
	s := stacktest.Start(t)
	mgr := stacktest.DemoAccount(t, s, "manager", stack.DemoCompanyID)
	const wechatUA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"

	// One browser = one cookie jar = one sandbox WeChat user.
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 20 * time.Second}
	}
	fetch := func(c *http.Client, method, u string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, u, body)
		req.Header.Set("User-Agent", wechatUA)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	hidden := func(page, name string) string {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(page)
		if m == nil {
			return ""
		}
		return m[1]
	}
	smsCodes := func() []string {
		t.Helper()
		resp, err := stacktest.HTTPClient.Get(s.URLs.Outbox + "/messages")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var msgs []struct {
			Channel, To string
			Params      []string
		}
		if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, m := range msgs {
			if m.Channel == "sms" && m.To == "+86"+mgr.Phone && len(m.Params) == 1 {
				codes = append(codes, m.Params[0])
			}
		}
		return codes
	}
	// login opens the login page (OAuth round trip through the sandbox),
	// posts the credentials and returns the page it lands on.
	login := func(c *http.Client) (*http.Response, string) {
		t.Helper()
		resp, page := fetch(c, http.MethodGet, s.URLs.Gateway+"/admin/login", nil)
		if resp.StatusCode != 200 || !strings.Contains(resp.Request.URL.RawQuery, "code=") {
			t.Fatalf("login page in WeChat: %d %s (no OAuth round trip)", resp.StatusCode, resp.Request.URL)
		}
		wxcode, csrf := hidden(page, "wxcode"), hidden(page, "csrf")
		if wxcode == "" || csrf == "" {
			t.Fatalf("login form without the OAuth code: %s", page)
		}
		return fetch(c, http.MethodPost, s.URLs.Gateway+"/admin/login",
			url.Values{"csrf": {csrf}, "phone": {mgr.Phone}, "password": {mgr.Password}, "wxcode": {wxcode}, "next": {"/admin"}})
	}

	first := browser()
	before := len(smsCodes())
	_, page := login(first)
	if !strings.Contains(page, "短信验证") || hidden(page, "challenge") == "" {
		t.Fatalf("a new WeChat identity got no SMS step: %s", page)
	}
	codes := smsCodes()
	if len(codes) != before+1 || !regexp.MustCompile(`^\d{6}$`).MatchString(codes[0]) {
		t.Fatalf("outbox SMS codes %v (had %d)", codes, before)
	}
	// A wrong code is refused; the code from the outbox signs in.
	_, bad := fetch(first, http.MethodPost, s.URLs.Gateway+"/admin/login/sms",
		url.Values{"csrf": {hidden(page, "csrf")}, "challenge": {hidden(page, "challenge")}, "code": {"000000"}, "next": {"/admin"}})
	if !strings.Contains(bad, "验证码错误") {
		t.Fatalf("wrong code: %s", bad)
	}
	resp, _ := fetch(first, http.MethodPost, s.URLs.Gateway+"/admin/login/sms",
		url.Values{"csrf": {hidden(bad, "csrf")}, "challenge": {hidden(page, "challenge")}, "code": {codes[0]}, "next": {"/admin"}})
	if resp.StatusCode != 200 || strings.HasPrefix(resp.Request.URL.Path, "/admin/login") {
		t.Fatalf("after the SMS code: %d at %s", resp.StatusCode, resp.Request.URL)
	}

	// The bound identity logs in again (its session cookie dropped) without a code.
	gw, _ := url.Parse(s.URLs.Gateway + "/admin")
	first.Jar.SetCookies(gw, []*http.Cookie{{Name: SessionCookie, Value: "", Path: "/admin", MaxAge: -1}})
	n := len(smsCodes())
	resp, page = login(first)
	if strings.Contains(page, "短信验证") || strings.HasPrefix(resp.Request.URL.Path, "/admin/login") || len(smsCodes()) != n {
		t.Fatalf("the bound identity was asked for a code again: %s", resp.Request.URL)
	}
	// Another WeChat user (another browser) gets no session without a code:
	// within a minute of the last code the send is throttled (at most one
	// code per phone every 60 s), and the page says so.
	resp, page = login(browser())
	if !strings.HasPrefix(resp.Request.URL.Path, "/admin/login") || !strings.Contains(page, "验证码发送过于频繁") || len(smsCodes()) != n {
		t.Fatalf("another WeChat identity right after: %s %s", resp.Request.URL, page)
	}
}

package main

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// fakeWeChat is the console's official-account OAuth: codes it issued map to openids.
type fakeWeChat struct{ codes map[string]string }

func (w fakeWeChat) AuthorizeURL(redirectURI, state string) string {
	return "https://open.weixin.test/connect/oauth2/authorize?redirect_uri=" + url.QueryEscape(redirectURI) + "&state=" + state
}

func (w fakeWeChat) OpenID(_ context.Context, code string) (string, error) {
	if o, ok := w.codes[code]; ok {
		return o, nil
	}
	return "", errors.New("wechat oauth: errcode 40029: invalid code")
}

// Inside WeChat the login page first takes the snsapi_base round trip; the
// code comes back with the form and is exchanged only when it is posted, so
// the login carries the openid the server obtained (M2: a new identity then
// needs the SMS code). Outside WeChat, or with a state this browser did not
// start, the login carries none.
func TestLoginInsideWeChatCarriesTheOpenID(t *testing.T) {
	f := newFixture(t)
	f.h.WeChatLogin = fakeWeChat{codes: map[string]string{"CODE1": "oOpenID1"}}
	ua := map[string]string{"User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"}
	host := map[string]string{"User-Agent": ua["User-Agent"], "Host": "127.0.0.1:8081"}

	r := f.do(rq{method: "GET", path: "/admin/login", query: map[string]string{"next": "/admin/communities"}, headers: host})
	loc := r.Headers["Location"]
	state, c, ok := cookieValue(r, wxStateCookie)
	if r.StatusCode != 302 || !ok || !strings.Contains(loc, "state="+state) || !strings.Contains(c, "HttpOnly") ||
		!strings.Contains(loc, url.QueryEscape("http://127.0.0.1:8081/admin/login?")) && !strings.Contains(loc, url.QueryEscape("https://127.0.0.1:8081/admin/login?")) {
		t.Fatalf("WeChat login page: %d %s %v", r.StatusCode, loc, r.Cookies)
	}
	back := rq{method: "GET", path: "/admin/login", query: map[string]string{"wx": "1", "code": "CODE1", "state": state, "next": "/admin/communities"},
		headers: ua, cookies: []string{wxStateCookie + "=" + state}}
	r = f.do(back)
	tok, _, _ := cookieValue(r, preCookie)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `name="wxcode" value="CODE1"`) || tok == "" {
		t.Fatalf("login form after OAuth: %d %s", r.StatusCode, r.Body)
	}
	r = f.do(rq{method: "POST", path: "/admin/login", headers: ua, cookies: []string{preCookie + "=" + tok},
		form: url.Values{"csrf": {tok}, "phone": {"13800000003"}, "password": {"pw-manager-a"}, "wxcode": {"CODE1"}, "next": {"/admin"}}})
	if r.StatusCode != 302 {
		t.Fatalf("login: %d %s", r.StatusCode, r.Body)
	}
	if got := f.acc.openIDs; len(got) != 1 || got[0] != "oOpenID1" {
		t.Fatalf("logins carried %q, want the exchanged openid", got)
	}

	// A state this browser did not start: no code in the form.
	forged := back
	forged.cookies = []string{wxStateCookie + "=other"}
	if r := f.do(forged); strings.Contains(r.Body, `name="wxcode"`) {
		t.Fatal("a code with a foreign state reached the form")
	}
	// An unusable code: the login is refused with a message, nobody is logged in.
	tok = loginForm(t, f)
	r = f.do(rq{method: "POST", path: "/admin/login", headers: ua, cookies: []string{preCookie + "=" + tok},
		form: url.Values{"csrf": {tok}, "phone": {"13800000003"}, "password": {"pw-manager-a"}, "wxcode": {"USED"}}})
	if _, _, ok := cookieValue(r, SessionCookie); ok || !strings.Contains(r.Body, "微信授权已过期") || len(f.acc.openIDs) != 1 {
		t.Fatalf("stale code: %d %s (logins %q)", r.StatusCode, r.Body, f.acc.openIDs)
	}
	// Outside WeChat: no round trip.
	if r := f.do(get("/admin/login")); r.StatusCode != 200 {
		t.Fatalf("login page outside WeChat: %d", r.StatusCode)
	}
}

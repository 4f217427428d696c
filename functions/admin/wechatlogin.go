package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/web"
)

// Logging in inside WeChat (M2): the login page, opened in WeChat's browser,
// first takes the snsapi_base round trip through the console's official
// account, so the login carries the person's openid; a login from an openid
// other than the one bound to the account needs the SMS code
// (shared/accounts). The OAuth code travels with the login form and is
// exchanged for the openid only when the form is posted, so the openid
// cannot be forged by the browser.

// wxStateCookie holds the OAuth state of the console's login round trip.
const wxStateCookie = "ep_wxstate"

// WeChatLogin is the console's official-account authorisation (nil: logins
// carry no WeChat identity).
type WeChatLogin interface {
	AuthorizeURL(redirectURI, state string) string
	OpenID(ctx context.Context, code string) (string, error)
}

var _ WeChatLogin = wechatpay.OAuth{}

// wechatLoginRedirect answers a login page opened in WeChat without an OAuth
// code: the round trip to obtain one (once: a failed round trip shows the
// plain form).
func (h *Handler) wechatLoginRedirect(c *call) (web.Response, bool) {
	return h.wechatLoginRedirectTo(c, "/admin/login", safeNext)
}

// wechatLoginRedirectTo is wechatLoginRedirect for the login page at
// loginPath (the console's, or the managers' app's), keeping next through
// the round trip as the page's own check allows.
func (h *Handler) wechatLoginRedirectTo(c *call, loginPath string, keep func(string) string) (web.Response, bool) {
	if h.WeChatLogin == nil || domain.DetectApp(web.Header(c.req, "User-Agent")) != domain.WeChat {
		return web.Response{}, false
	}
	q := c.req.QueryStringParameters
	if q["code"] != "" || q["wx"] == "1" {
		return web.Response{}, false
	}
	state := randomToken(16)
	back := url.Values{"wx": {"1"}}
	if n := q["next"]; n != "" {
		back.Set("next", keep(n))
	}
	// Back to this host (behind a custom domain, the public one; locally the
	// WeChat WebView proxy the page was opened through).
	scheme := "https"
	if strings.HasPrefix(h.PublicBaseURL, "http://") {
		scheme = "http"
	}
	host := web.Header(c.req, "Host")
	if host == "" {
		host = c.req.RequestContext.DomainName
	}
	self := scheme + "://" + host + loginPath + "?" + back.Encode()
	r := web.Redirect(h.WeChatLogin.AuthorizeURL(self, state))
	cookie := wxStateCookie + "=" + state + "; Path=" + loginPath + "; Max-Age=600; HttpOnly; SameSite=Lax"
	if secure(c) {
		cookie += "; Secure"
	}
	r.Cookies = append(r.Cookies, cookie)
	return r, true
}

// wechatCode is the OAuth code the login form carries back, if its state
// matches the round trip this browser started.
func wechatCode(c *call) string {
	q := c.req.QueryStringParameters
	if q["code"] == "" || q["state"] == "" || q["state"] != web.Cookie(c.req, wxStateCookie) {
		return ""
	}
	return q["code"]
}

// loginOpenID exchanges the posted OAuth code for the openid ("" without a code).
func (h *Handler) loginOpenID(ctx context.Context, c *call) (string, error) {
	code := c.form.Get("wxcode")
	if code == "" || h.WeChatLogin == nil {
		return "", nil
	}
	return h.WeChatLogin.OpenID(ctx, code)
}

// wechatLoginFailed is the login page after an unusable OAuth code.
func (h *Handler) wechatLoginFailed(c *call, phone string) web.Response {
	return h.loginPage(c, http.StatusOK, "微信授权已过期，请重新打开登录页", phone)
}

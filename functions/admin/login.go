package main

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/web"
)

type loginBody struct{ Next, Phone, WxCode string }

type smsBody struct{ Challenge, Next, Phone string }

type setPasswordBody struct {
	Token string
	Done  bool
}

// home sends a signed-in person to their start page: the operator to the
// companies, company staff to the communities or the dashboard; a role with
// neither (a business manager, whose own codes and records come with the
// bills) gets a welcome page rather than 没有权限.
func (h *Handler) home(ctx context.Context, c *call) web.Response {
	switch {
	case c.p.Role == RoleOperator:
		return web.Redirect("/admin/companies")
	case can(c.p.Role, ActCommunityView):
		return web.Redirect("/admin/communities")
	case can(c.p.Role, ActDashboardView):
		return web.Redirect("/admin/dashboard")
	}
	return h.render(http.StatusOK, "message.html", h.page(c, "欢迎", messageBody{
		Text: c.p.Name + "，您好！您已以" + roleNames[c.p.Role] + "身份登录，目前没有可用的管理页面。"}))
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if (next != "/admin" && !strings.HasPrefix(next, "/admin/")) || strings.Contains(next, "..") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, "/admin/login") || strings.HasPrefix(next, "/admin/api/") || !utf8.ValidString(next) {
		return "/admin"
	}
	return next
}

// preForm sets a fresh ep_pre cookie and returns its token for the form.
func preForm(c *call, r *web.Response, token string) {
	cookie := preCookie + "=" + token + "; Path=/admin; Max-Age=3600; HttpOnly; SameSite=Strict"
	if secure(c) {
		cookie += "; Secure"
	}
	r.Cookies = append(r.Cookies, cookie)
}

// loginPage renders the login form with a message (errMsg may be "").
func (h *Handler) loginPage(c *call, status int, errMsg, phone string) web.Response {
	next := c.req.QueryStringParameters["next"]
	if c.form != nil && c.form.Get("next") != "" {
		next = c.form.Get("next")
	}
	if c.method == http.MethodGet && c.path != "/admin/login" {
		next = c.path
		if c.req.RawQueryString != "" {
			next += "?" + c.req.RawQueryString
		}
	}
	tok := randomToken(24)
	r := h.render(status, "login.html", view{Title: "登录", CSRF: tok, Error: errMsg, Narrow: true, Body: loginBody{Next: safeNext(next), Phone: phone, WxCode: wechatCode(c)}})
	preForm(c, &r, tok)
	return r
}

func (h *Handler) loginForm(ctx context.Context, c *call) web.Response {
	if sid := web.Cookie(c.req, SessionCookie); sid != "" {
		if _, err := h.Accounts.Authenticate(ctx, sid); err == nil {
			return web.Redirect(safeNext(c.req.QueryStringParameters["next"]))
		}
	}
	if r, ok := h.wechatLoginRedirect(c); ok {
		return r
	}
	return h.loginPage(c, http.StatusOK, "", "")
}

// sessionCookie is the Set-Cookie of a new session: no Max-Age (the
// server's idle and absolute expiry decide), Secure over HTTPS.
func sessionCookie(c *call, id string) string { return sessionCookieAt(c, id, "/admin") }

func sessionCookieAt(c *call, id, path string) string {
	v := SessionCookie + "=" + id + "; Path=" + path + "; HttpOnly; SameSite=Lax"
	if secure(c) {
		v += "; Secure"
	}
	return v
}

// sessionCookies are the Set-Cookies of a new session: the same cookie for
// the console (/admin) and the managers' app (/m), which the same function
// serves with the same session — and for nothing else (never the residents'
// pages).
func sessionCookies(c *call, id string) []string {
	return []string{sessionCookie(c, id), sessionCookieAt(c, id, "/m")}
}

// clearSession clears the session cookie on both paths.
func clearSession() []string {
	return []string{clearCookie(SessionCookie), SessionCookie + "=; Path=/m; Max-Age=0; HttpOnly; SameSite=Lax"}
}

func (h *Handler) loginSubmit(ctx context.Context, c *call) web.Response {
	phone := strings.TrimSpace(c.form.Get("phone"))
	openid, err := h.loginOpenID(ctx, c)
	if err != nil {
		h.Log.InfoContext(ctx, "console wechat code not usable", "err", err)
		return h.wechatLoginFailed(c, phone)
	}
	res, err := h.Accounts.Login(ctx, LoginRequest{Phone: phone, Password: c.form.Get("password"), IP: web.ClientIP(c.req), OpenID: openid})
	if err != nil {
		code, status, msg := errorInfo(err)
		if status == http.StatusInternalServerError {
			return h.internal(ctx, c, "login", err)
		}
		h.Log.InfoContext(ctx, "console login refused", "security_event", true, "reason", code, "source_ip", web.ClientIP(c.req))
		return h.loginPage(c, status, msg, phone)
	}
	return h.signedIn(c, res, phone)
}

// signedIn finishes a login: the SMS step when the service asks for it,
// else the session cookie and the redirect.
func (h *Handler) signedIn(c *call, res LoginResult, phone string) web.Response {
	next := safeNext(c.form.Get("next"))
	if res.SMSChallenge != "" {
		tok := randomToken(24)
		r := h.render(http.StatusOK, "sms.html", view{Title: "短信验证", CSRF: tok, Narrow: true,
			Body: smsBody{Challenge: res.SMSChallenge, Next: next, Phone: maskPhone(phone)}})
		preForm(c, &r, tok)
		return r
	}
	r := web.Redirect(next)
	r.Cookies = append(append(r.Cookies, sessionCookies(c, res.SessionID)...), clearCookie(preCookie))
	return r
}

func (h *Handler) smsSubmit(ctx context.Context, c *call) web.Response {
	challenge := c.form.Get("challenge")
	res, err := h.Accounts.VerifySMS(ctx, challenge, strings.TrimSpace(c.form.Get("code")), web.ClientIP(c.req))
	if err != nil {
		code, status, msg := errorInfo(err)
		if status == http.StatusInternalServerError {
			return h.internal(ctx, c, "verify sms", err)
		}
		h.Log.InfoContext(ctx, "console sms refused", "security_event", true, "reason", code, "source_ip", web.ClientIP(c.req))
		tok := randomToken(24)
		r := h.render(status, "sms.html", view{Title: "短信验证", CSRF: tok, Error: msg, Narrow: true,
			Body: smsBody{Challenge: challenge, Next: safeNext(c.form.Get("next"))}})
		preForm(c, &r, tok)
		return r
	}
	return h.signedIn(c, res, "")
}

func maskPhone(p string) string {
	if len(p) < 7 {
		return ""
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

func (h *Handler) setPasswordForm(ctx context.Context, c *call) web.Response {
	tok := randomToken(24)
	r := h.render(http.StatusOK, "setpw.html", view{Title: "设置密码", CSRF: tok, Narrow: true,
		Body: setPasswordBody{Token: c.req.QueryStringParameters["token"]}})
	preForm(c, &r, tok)
	return r
}

// MinPasswordRunes is the shortest password the console accepts.
const MinPasswordRunes = 8

func (h *Handler) setPasswordSubmit(ctx context.Context, c *call) web.Response {
	token, pw := c.form.Get("token"), c.form.Get("password")
	again := func(msg string) web.Response {
		tok := randomToken(24)
		r := h.render(http.StatusBadRequest, "setpw.html", view{Title: "设置密码", CSRF: tok, Error: msg, Narrow: true, Body: setPasswordBody{Token: token}})
		preForm(c, &r, tok)
		return r
	}
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordRunes || len(pw) > 128:
		return again("密码至少 8 位")
	case pw != c.form.Get("password2"):
		return again("两次输入的密码不一致")
	}
	if err := h.Accounts.SetPassword(ctx, token, pw); err != nil {
		code, status, msg := errorInfo(err)
		if status == http.StatusInternalServerError {
			return h.internal(ctx, c, "set password", err)
		}
		if code == "invalid" { // the password policy: correct it on the same link
			return again(msg)
		}
		h.Log.InfoContext(ctx, "set password refused", "security_event", true, "reason", "bad_link", "source_ip", web.ClientIP(c.req))
		return h.message(c, http.StatusBadRequest, "链接已失效", "设置密码的链接已使用或已过期，请联系管理员重新发送。", "/admin/login", "去登录")
	}
	r := h.render(http.StatusOK, "setpw.html", view{Title: "设置密码", Narrow: true, Body: setPasswordBody{Done: true}})
	r.Cookies = append(r.Cookies, clearCookie(preCookie))
	return r
}

func (h *Handler) logout(ctx context.Context, c *call) web.Response {
	if err := h.Accounts.Logout(ctx, c.sessionID); err != nil {
		return h.internal(ctx, c, "logout", err)
	}
	r := web.Redirect("/admin/login")
	r.Cookies = append(r.Cookies, clearSession()...)
	return r
}

// StaffJSON is the signed-in staff member in API answers.
type StaffJSON struct {
	ID        string `json:"id"`
	CompanyID string `json:"company_id"`
	Name      string `json:"name"`
	Phone     string `json:"phone"`
	Role      Role   `json:"role"`
}

// apiLogin is POST /admin/api/session: {"phone","password"} → 200
// {"csrf_token","staff"} and the ep_session cookie. Programs send the token
// as X-CSRF-Token with every state-changing call. The body must be JSON
// (a cross-site form cannot send it).
func (h *Handler) apiLogin(ctx context.Context, c *call) web.Response {
	var in struct{ Phone, Password string }
	if !decodeJSON(c, &in) {
		return web.Error(http.StatusBadRequest, "invalid", "请求须为 JSON：{\"phone\",\"password\"}")
	}
	res, err := h.Accounts.Login(ctx, LoginRequest{Phone: strings.TrimSpace(in.Phone), Password: in.Password, IP: web.ClientIP(c.req)})
	if err != nil {
		code, status, msg := errorInfo(err)
		if status == http.StatusInternalServerError {
			return h.internal(ctx, c, "login", err)
		}
		h.Log.InfoContext(ctx, "console login refused", "security_event", true, "reason", code, "source_ip", web.ClientIP(c.req))
		return web.Error(status, code, msg)
	}
	if res.SMSChallenge != "" {
		return web.Error(http.StatusForbidden, "sms_required", "需要短信验证，请在微信中登录")
	}
	p := res.Principal
	r := web.JSON(http.StatusOK, map[string]any{
		"csrf_token": p.CSRF,
		"staff":      StaffJSON{ID: p.StaffID, CompanyID: p.CompanyID, Name: p.Name, Phone: p.Phone, Role: p.Role},
	})
	r.Cookies = append(r.Cookies, sessionCookies(c, res.SessionID)...)
	return r
}

// apiLogout is DELETE /admin/api/session.
func (h *Handler) apiLogout(ctx context.Context, c *call) web.Response {
	if err := h.Accounts.Logout(ctx, c.sessionID); err != nil {
		return h.internal(ctx, c, "logout", err)
	}
	r := web.Response{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"}}
	r.Cookies = append(r.Cookies, clearSession()...)
	return r
}

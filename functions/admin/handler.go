package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
	"github.com/estatepay/estatepay/shared/web/console"
)

// SecretWriter stores a secret entered in the console and returns its
// reference (shared/secrets.Writer: Secrets Manager in the cloud, files
// under .local/keys locally).
type SecretWriter interface {
	Put(ctx context.Context, kind, name string, value []byte) (string, error)
}

// Handler serves the console: pages under /admin/… and the JSON API under
// /admin/api/…, both behind the ep_session cookie (routes.go lists them).
type Handler struct {
	Store    *store.Store
	Accounts Accounts
	Secrets  SecretWriter
	// Views filled by other parts of the console (codes.go, records.go,
	// dashboard.go); a nil view answers 501.
	Codes     CodeViews
	Records   RecordViews
	Dashboard DashboardViews
	// Cashier is the cashier desk (cashier.go; nil answers 501).
	Cashier *bills.Desk
	// Notices are the payment notices' houses, bills and notices (notices.go;
	// nil answers 501).
	Notices *Notices
	// Refunds are the payments' refunds (refunds.go; nil answers 501).
	Refunds Refunds
	// Settlements are the statements and exceptions (settlement.go; nil answers 501).
	Settlements Settlements
	// FenfuRisk is the 分付 risk records (fenfu_risk.go; nil answers 501).
	FenfuRisk FenfuRiskRecords
	// WeChatLogin is the console's official-account OAuth: logins inside
	// WeChat carry the openid (nil: they do not).
	WeChatLogin WeChatLogin
	// OA is the official account staff bind on 通知设置 (oabind.go; a zero
	// value offers no binding).
	OA OfficialAccount

	// SettlementClock is the time of settlement's holds, releases and
	// resolutions, and its default month (settlement.go; nil: time.Now).
	SettlementClock func() time.Time
	// Managers is the managers' app's codes and records (mobile_api.go;
	// nil answers 501).
	Managers *ManagerApp
	// Mobile is the business managers' app under /m (mobile_pages.go).
	Mobile Mobile
	// Screen is the app's screen code (F7, dyncode.go).
	Screen Screen
	// Announcements are the spoken payment announcements' polls (收款播报,
	// announce.go; nil answers 501).
	Announcements Announcements
	// Invoices are the e-invoices and each company's invoicing settings
	// (issue 13, invoicing.go; nil answers 501).
	Invoices *store.Invoices

	PublicBaseURL string // code URLs: <PublicBaseURL>/c/<token>
	MaxAmountFen  int64  // the deployment's default single-payment limit (C4)
	Log           *slog.Logger
}

// Cookie names.
const (
	SessionCookie = "ep_session" // the opaque session id (HttpOnly, SameSite=Lax, Path=/admin)
	preCookie     = "ep_pre"     // the CSRF token of the forms used before a session exists (login, set password)
)

// call is one request on its way through the console.
type call struct {
	req       web.Request
	method    string
	path      string
	params    map[string]string
	api       bool
	p         Principal
	sessionID string
	form      url.Values // the form of a page POST
	body      []byte     // the body of an API call
}

// Handle routes a request: find the route, authenticate the session, refuse
// a state change without the session's CSRF token, check the role's
// permission, run the route.
func (h *Handler) Handle(ctx context.Context, req web.Request) (web.Response, error) {
	c := &call{req: req, method: req.RequestContext.HTTP.Method, path: req.RawPath}
	if c.path == "" {
		c.path = req.RequestContext.HTTP.Path
	}
	if c.path != "/admin/" {
		c.path = strings.TrimSuffix(c.path, "/")
	} else {
		c.path = "/admin"
	}
	if c.method == http.MethodHead {
		c.method = http.MethodGet
	}
	c.api = strings.HasPrefix(c.path, "/admin/api/") || strings.HasPrefix(c.path, mobileAPIPrefix)
	rt, params, allowed := match(c.method, c.path)
	if rt == nil {
		if allowed != "" {
			r := h.fail(c, http.StatusMethodNotAllowed, "method_not_allowed", "不支持的请求方法")
			r.Headers["Allow"] = allowed
			return r, nil
		}
		return web.NotFound(req), nil
	}
	c.params = params
	changes := c.method != http.MethodGet

	if changes {
		body, err := web.Body(req)
		if rt.upload {
			body, err = uploadBody(req)
		}
		if err != nil {
			if rt.upload {
				return h.fail(c, http.StatusRequestEntityTooLarge, "too_large", "文件超过 10 MB，请分成几个文件导入"), nil
			}
			return h.fail(c, http.StatusRequestEntityTooLarge, "too_large", "请求内容过大"), nil
		}
		c.body = body
		if !c.api {
			mt, params, _ := mime.ParseMediaType(web.Header(req, "Content-Type"))
			switch {
			case rt.upload && mt == "multipart/form-data": // a page's file upload: its plain fields are the form (csrf, company)
				if c.form, err = multipartFields(body, params["boundary"]); err != nil {
					return h.fail(c, http.StatusBadRequest, "invalid", "上传的内容无法识别"), nil
				}
			case mt != "" && mt != "application/x-www-form-urlencoded":
				return h.fail(c, http.StatusUnsupportedMediaType, "unsupported_media_type", "不支持的提交格式"), nil
			default:
				if c.form, err = url.ParseQuery(string(body)); err != nil {
					return h.fail(c, http.StatusBadRequest, "invalid", "提交的内容无法识别"), nil
				}
			}
		}
	}

	if rt.public {
		if changes && !c.api && !h.preCSRFOK(c) {
			h.Log.WarnContext(ctx, "console csrf refused", "security_event", true, "reason", "bad_csrf", "route", rt.pattern, "source_ip", web.ClientIP(req))
			return h.csrfRefused(c), nil
		}
		return rt.handle(h, ctx, c), nil
	}

	c.sessionID = web.Cookie(req, SessionCookie)
	if c.sessionID == "" {
		if c.api {
			return web.Error(http.StatusUnauthorized, "unauthorized", "请先登录"), nil
		}
		if isMobile(c.path) { // the managers' app signs in on its own page (mobile_pages.go)
			return h.mobileSignIn(c, http.StatusUnauthorized, ""), nil
		}
		if c.method == http.MethodGet {
			next := c.path
			if req.RawQueryString != "" {
				next += "?" + req.RawQueryString
			}
			return web.Redirect("/admin/login?next=" + url.QueryEscape(next)), nil
		}
		return h.loginPage(c, http.StatusUnauthorized, "请先登录", ""), nil
	}
	p, err := h.Accounts.Authenticate(ctx, c.sessionID)
	if err != nil {
		return h.authFailed(ctx, c, err), nil
	}
	c.p = p

	if changes && !csrfOK(c, p.CSRF) {
		h.Log.WarnContext(ctx, "console csrf refused", "security_event", true, "reason", "bad_csrf", "route", rt.pattern,
			"staff_id", p.StaffID, "source_ip", web.ClientIP(req))
		return h.csrfRefused(c), nil
	}
	if !can(p.Role, rt.action) {
		h.Log.WarnContext(ctx, "console permission refused", "security_event", true, "reason", "forbidden", "route", rt.pattern,
			"staff_id", p.StaffID, "role", string(p.Role))
		return h.fail(c, http.StatusForbidden, "forbidden", "没有权限"), nil
	}
	return rt.handle(h, ctx, c), nil
}

// csrfOK compares the request's CSRF token (header X-CSRF-Token, or the
// form field csrf) with the session's, in constant time.
func csrfOK(c *call, want string) bool {
	got := web.Header(c.req, "X-CSRF-Token")
	if got == "" && c.form != nil {
		got = c.form.Get("csrf")
	}
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// preCSRFOK checks a form posted before a session exists: its csrf field
// must equal the ep_pre cookie the form's page set (double submit; the
// cookie is SameSite=Strict, so another site cannot post it).
func (h *Handler) preCSRFOK(c *call) bool {
	want, got := web.Cookie(c.req, preCookie), c.form.Get("csrf")
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (h *Handler) csrfRefused(c *call) web.Response {
	if c.api {
		return web.Error(http.StatusForbidden, "csrf", "缺少或错误的 CSRF 令牌")
	}
	return h.message(c, http.StatusForbidden, "页面已过期", "页面已过期或来源不明，请返回刷新后重试。", "/admin", "返回首页")
}

// authFailed answers a session that Authenticate refused: the squeezed-out
// and expired sessions say so (the cookie is cleared), the API as JSON, pages
// as the login page with the message.
func (h *Handler) authFailed(ctx context.Context, c *call, err error) web.Response {
	code, status, msg := errorInfo(err)
	switch {
	case errors.Is(err, ErrSqueezedOut), errors.Is(err, ErrSessionExpired), errors.Is(err, ErrNotFound), errors.Is(err, ErrForbidden):
		if code == "not_found" || code == "forbidden" {
			code, status, msg = "unauthorized", http.StatusUnauthorized, "请先登录"
		}
		h.Log.InfoContext(ctx, "console session refused", "reason", code, "source_ip", web.ClientIP(c.req))
		var r web.Response
		if isMobile(c.path) {
			return h.mobileSignedOut(c, code, status, msg)
		}
		if c.api {
			r = web.Error(status, code, msg)
		} else {
			r = h.loginPage(c, status, msg, "")
		}
		r.Cookies = append(r.Cookies, clearSession()...)
		return r
	}
	h.Log.ErrorContext(ctx, "authenticate", "err", err)
	return h.fail(c, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试")
}

// errorInfo maps an accounts error to its API code, HTTP status and the
// Chinese message people read.
func errorInfo(err error) (code string, status int, msg string) {
	switch {
	case errors.Is(err, ErrBadCredentials):
		return "bad_credentials", http.StatusUnauthorized, "手机号或密码错误"
	case errors.Is(err, ErrLocked):
		msg = "登录失败次数过多，请稍后再试"
		if s := err.Error(); strings.Contains(s, "分钟") {
			msg = s // "登录失败次数过多，请 N 分钟后再试"
		}
		return "locked", http.StatusTooManyRequests, msg
	case errors.Is(err, ErrSqueezedOut):
		return "squeezed_out", http.StatusUnauthorized, "您的账号已在其他地方登录"
	case errors.Is(err, ErrSessionExpired):
		return "session_expired", http.StatusUnauthorized, "登录已过期，请重新登录"
	case errors.Is(err, ErrForbidden):
		return "forbidden", http.StatusForbidden, "没有权限"
	case errors.Is(err, ErrNotFound):
		return "not_found", http.StatusNotFound, "您要找的内容不存在"
	case errors.Is(err, ErrBadCode):
		return "bad_code", http.StatusBadRequest, "验证码错误或已过期"
	}
	// The rest as the service describes them (a used or expired link, a
	// taken phone number, a password the policy refuses, …; else 500).
	status, code, msg = accounts.Describe(err)
	return code, status, msg
}

// fail answers an error: JSON for the API, a message page for people.
func (h *Handler) fail(c *call, status int, code, msg string) web.Response {
	if c.api {
		return web.Error(status, code, msg)
	}
	title := map[int]string{http.StatusNotFound: "页面不存在", http.StatusForbidden: "没有权限", http.StatusBadRequest: "无法处理"}[status]
	if title == "" {
		title = "出错了"
	}
	return h.message(c, status, title, msg, "/admin", "返回首页")
}

// internal logs err and answers 500.
func (h *Handler) internal(ctx context.Context, c *call, what string, err error) web.Response {
	h.Log.ErrorContext(ctx, what, "err", err)
	return h.fail(c, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试")
}

// notFound is the answer for anything missing or belonging to another
// company: the same 404, so nothing leaks.
func (h *Handler) notFound(c *call) web.Response {
	return h.fail(c, http.StatusNotFound, "not_found", "您要找的内容不存在")
}

// owns reports whether the caller may act on a resource of companyID: its
// own company, or any company for the operator.
func owns(p Principal, companyID string) bool {
	if p.Role == RoleOperator {
		return companyID != ""
	}
	return p.CompanyID != "" && companyID == p.CompanyID
}

// decodeJSON reads an API call's JSON body into v.
func decodeJSON(c *call, v any) bool {
	mt, _, _ := mime.ParseMediaType(web.Header(c.req, "Content-Type"))
	return mt == "application/json" && json.Unmarshal(c.body, v) == nil
}

// audit records an admin write (who, what, before/after). A failure is
// logged as an error (the write itself is done and stays done).
func (h *Handler) audit(ctx context.Context, c *call, action, kind, id string, before, after any) {
	if err := h.Accounts.Record(ctx, c.p, action, kind, id, before, after); err != nil {
		h.Log.ErrorContext(ctx, "audit record failed", "err", err, "action", action, "target", kind+"/"+id, "staff_id", c.p.StaffID)
	}
}

// newID is a random identifier: prefix + 16 lower-case base32 characters
// (80 bits).
func newID(prefix string) string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// render renders a console page with its security headers.
func (h *Handler) render(status int, name string, v view) web.Response {
	b, err := console.Render(name, v)
	if err != nil {
		h.Log.Error("render", "page", name, "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "页面生成失败")
	}
	r := web.Text(status, string(b))
	r.Headers["Content-Type"] = "text/html; charset=utf-8"
	r.Headers["Content-Security-Policy"] = console.CSP()
	r.Headers["X-Frame-Options"] = "DENY"
	return r
}

func clearCookie(name string) string {
	return name + "=; Path=/admin; Max-Age=0; HttpOnly; SameSite=Lax"
}

// secure reports whether the browser reached us over HTTPS (cookies are
// then Secure).
func secure(c *call) bool {
	return strings.EqualFold(web.Header(c.req, "X-Forwarded-Proto"), "https")
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/web"
)

// The business managers' app (星收付, issue 11): mobile pages under /m,
// opened from the official account's menu (商户服务 → 收款) in WeChat's
// browser. It signs in with the console's accounts (the same session,
// squeeze-out and SMS step-up; its cookies are scoped to /m) and reads the
// manager's codes and records through the /m/api routes. Pages are zh-CN,
// html/template (every value escaped), one inlined stylesheet and one
// inlined script, both allowed by hash in the Content-Security-Policy.

const (
	mobileAPIPrefix  = "/m/api/"
	mobileCookiePath = "/m"
	mobileHome       = "/m"
	mobileLoginPath  = "/m/login"
)

// isMobile reports whether path belongs to the managers' app.
func isMobile(path string) bool { return path == "/m" || strings.HasPrefix(path, "/m/") }

// Mobile is what the managers' app needs besides the console's parts.
type Mobile struct {
	// Codes reads a manager's codes (nil: through the GET /m/api/code route,
	// in process — the same application query the JSON API answers with).
	Codes ManagerCodes
	// Client fetches the payment page for 诊断 (nil: diagnoseTimeout).
	// Redirects are never followed: a redirect is the page answering.
	Client *http.Client
	// Now times the diagnosis (nil: time.Now).
	Now func() time.Time
}

func (m Mobile) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// ManagerCode is one of a manager's collection codes, as GET /m/api/code
// answers: its URL (what the QR encodes), when it stops working (nil for
// a current code), the code and what the customer fills in.
type ManagerCode struct {
	URL         string             `json:"url"`
	ExpiresAt   *string            `json:"expires_at"` // RFC 3339, +08:00
	Code        ManagerCodeInfo    `json:"code"`
	PayerFields domain.PayerFields `json:"payer_fields"`
}

// ManagerCodeInfo names a code: the default personal code or an extra one
// an admin configured, with its preset business values (M4).
type ManagerCodeInfo struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Kind   string            `json:"kind"`
	Preset map[string]string `json:"preset"`
}

// ManagerCodes is the managers' code query: the caller's code with id (""
// the current default code). ErrNotFound: no such code of the caller's;
// ErrForbidden: the caller has no codes.
type ManagerCodes interface {
	Code(ctx context.Context, p Principal, id string) (ManagerCode, error)
}

// errNoCodes: the managers' code query is not part of this deployment.
var errNoCodes = errors.New("mobile: no managers' code query")

// routeCodes answers ManagerCodes through the registered GET /m/api/code
// route, in process, as the signed-in caller.
type routeCodes struct {
	h *Handler
	c *call
}

func (r routeCodes) Code(ctx context.Context, p Principal, id string) (ManagerCode, error) {
	var q url.Values
	if id != "" {
		q = url.Values{"code": {id}}
	}
	var out ManagerCode
	err := r.h.inProcess(ctx, r.c, "/m/api/code", q, &out)
	return out, err
}

// codes is the code query of a request.
func (h *Handler) codes(c *call) ManagerCodes {
	if h.Mobile.Codes != nil {
		return h.Mobile.Codes
	}
	return routeCodes{h, c}
}

// inProcess answers GET path?query through its registered route as the
// caller of c (already signed in: no second session read) and decodes the
// JSON answer into out. A 404 is ErrNotFound, a 403 ErrForbidden, a missing
// route errNoCodes.
func (h *Handler) inProcess(ctx context.Context, c *call, path string, query url.Values, out any) error {
	rt, params, _ := match(http.MethodGet, path)
	if rt == nil || rt.public {
		return errNoCodes
	}
	if !can(c.p.Role, rt.action) {
		return ErrForbidden
	}
	req := c.req
	req.RawPath, req.RawQueryString = path, query.Encode()
	req.RequestContext.HTTP.Path, req.RequestContext.HTTP.Method = path, http.MethodGet
	req.QueryStringParameters = map[string]string{}
	for k := range query {
		req.QueryStringParameters[k] = query.Get(k)
	}
	req.Body, req.IsBase64Encoded = "", false
	sub := &call{req: req, method: http.MethodGet, path: path, params: params, api: true, p: c.p, sessionID: c.sessionID}
	r := rt.handle(h, ctx, sub)
	switch r.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal([]byte(r.Body), out); err != nil {
			return fmt.Errorf("mobile: %s: %w", path, err)
		}
		return nil
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusForbidden:
		return ErrForbidden
	}
	var e web.ErrorBody
	_ = json.Unmarshal([]byte(r.Body), &e)
	return &apiError{path: path, status: r.StatusCode, code: e.Error.Code, msg: e.Error.Message}
}

// apiError is another answer of an in-process route: the page says what
// the API said when it is the caller's to act on (4xx, e.g. 公司还没有可收款的小区).
type apiError struct {
	path      string
	status    int
	code, msg string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("mobile: %s answered %d %s: %s", e.path, e.status, e.code, e.msg)
}

// ---------------------------------------------------------------- pages

//go:embed mobile/*.html mobile/mobile.css mobile/mobile.js
var mobileFS embed.FS

var (
	mobileCSS = mustRead("mobile/mobile.css")
	mobileJS  = mustRead("mobile/mobile.js") + "\n" + announceJS // 收款播报 (announce.go) runs where the page has #announce
)

func mustRead(name string) string {
	b, err := mobileFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var mobilePages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"css": func() template.CSS { return template.CSS(mobileCSS) },
		"js":  func() template.JS { return template.JS(mobileJS) },
		// 收款播报 on the home page (announce.go; its script is part of mobileJS).
		"announceAttrs": func() announceAttrs { return newAnnounceAttrs("/m/api/announcements") },
	}).ParseFS(mobileFS, "mobile/*.html"))
})

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// mobileCSP allows the inlined stylesheet and script by hash, images from
// our origin or data: URLs, fetches to our origin and to the public origin of
// the payment pages (诊断 times loading one from the phone), forms to our
// origin, no framing.
func mobileCSP(publicBaseURL string) string {
	connect := "'self'"
	if u, err := url.Parse(publicBaseURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src " + hashSource(mobileJS) + "; style-src " + hashSource(mobileCSS) +
		"; img-src 'self' data:; connect-src " + connect + "; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// mobileView is what every page of the app renders.
type mobileView struct {
	Title  string
	Page   string // the script's part for the page (data-page)
	Tab    string // the bottom tab that is on: code, records, settings ("" no tabs)
	Me     *Principal
	CSRF   string
	Notice string
	Error  string
	Body   any
}

// mobileRender renders an app page with its security headers.
func (h *Handler) mobileRender(status int, name string, v mobileView) web.Response {
	var buf bytes.Buffer
	if err := mobilePages().ExecuteTemplate(&buf, name, v); err != nil {
		h.Log.Error("render", "page", name, "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "页面生成失败")
	}
	r := web.Text(status, buf.String())
	r.Headers["Content-Type"] = "text/html; charset=utf-8"
	r.Headers["Content-Security-Policy"] = mobileCSP(h.PublicBaseURL)
	r.Headers["X-Frame-Options"] = "DENY"
	return r
}

func (h *Handler) mobilePage(c *call, title, page, tab string, body any) mobileView {
	return mobileView{Title: title, Page: page, Tab: tab, Me: &c.p, CSRF: c.p.CSRF, Body: body}
}

type mobileMessageBody struct{ Text, Link, LinkText string }

// mobileMessage is a page with one message and a way on.
func (h *Handler) mobileMessage(c *call, status int, title, text, link, linkText string) web.Response {
	v := mobileView{Title: title, Body: mobileMessageBody{Text: text, Link: link, LinkText: linkText}}
	if c.p.StaffID != "" {
		v.Me, v.CSRF, v.Tab = &c.p, c.p.CSRF, "none"
	}
	return h.mobileRender(status, "m_message.html", v)
}

// mobileFail answers an error of the app: JSON for its API, a page for people.
func (h *Handler) mobileFail(ctx context.Context, c *call, err error, what string) web.Response {
	switch {
	case errors.Is(err, ErrNotFound):
		if c.api {
			return web.Error(http.StatusNotFound, "not_found", "收款码不存在")
		}
		return h.mobileMessage(c, http.StatusNotFound, "收款码不存在", "该收款码不存在或已不可用。", mobileHome, "返回收款码")
	case errors.Is(err, ErrForbidden):
		if c.api {
			return web.Error(http.StatusForbidden, "forbidden", "您的账号没有个人收款码")
		}
		return h.mobileMessage(c, http.StatusForbidden, "没有收款码", "您的账号没有个人收款码。星收付供业务经理收款使用，如需开通请联系管理员。", "", "")
	case errors.Is(err, errNoCodes):
		h.Log.ErrorContext(ctx, what, "err", err)
		if c.api {
			return web.Error(http.StatusServiceUnavailable, "unavailable", "收款码服务暂未开通")
		}
		return h.mobileMessage(c, http.StatusServiceUnavailable, "暂未开通", "收款码服务暂未开通，请联系管理员。", "", "")
	}
	if ae := (*apiError)(nil); errors.As(err, &ae) && ae.status >= 400 && ae.status < 500 && ae.msg != "" {
		if c.api {
			return web.Error(ae.status, ae.code, ae.msg)
		}
		return h.mobileMessage(c, ae.status, "无法显示", ae.msg, "", "")
	}
	h.Log.ErrorContext(ctx, what, "err", err)
	if c.api {
		return web.Error(http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试")
	}
	return h.mobileMessage(c, http.StatusInternalServerError, "出错了", "系统繁忙，请稍后再试。", c.path, "重试")
}

// collector admits the app's users: staff who collect with codes of their
// own (the roles whose collection records are theirs alone, staff.Own:
// business managers). Anyone else signed in is told where to go instead —
// the platform operator and the company-wide roles use the console — with a
// page (200) or, for the API, 404: there is nothing of theirs here.
func (h *Handler) collector(c *call) (web.Response, bool) {
	if c.p.CompanyID != "" && staff.ScopeOf(c.p.Role, staff.RecordsView) == staff.Own {
		return web.Response{}, true
	}
	if c.api {
		return web.Error(http.StatusNotFound, "not_found", "星收付供业务经理收款使用，您的账号没有个人收款码"), false
	}
	return h.mobileMessage(c, http.StatusOK, "星收付", "星收付供业务经理收款使用。您的账号（"+roleNames[c.p.Role]+"）没有个人收款码，请使用管理后台。", "/admin", "打开管理后台"), false
}

// ---------------------------------------------------------------- signing in

type mobileLoginBody struct {
	Next, Phone, WxCode string
	SqueezedOut         bool
}

type mobileSMSBody struct{ Challenge, Next, Phone string }

// msgSqueezedOut is what a manager reads when another login ended the session (M2).
const msgSqueezedOut = "您的账号已在其他设备登录"

// mobileSafeNext keeps a post-login redirect inside the app's pages.
func mobileSafeNext(next string) string {
	if (next != mobileHome && !strings.HasPrefix(next, "/m/") && !strings.HasPrefix(next, "/m?")) ||
		strings.Contains(next, "..") || strings.Contains(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, mobileLoginPath) || strings.HasPrefix(next, mobileAPIPrefix) || !utf8.ValidString(next) {
		return mobileHome
	}
	return next
}

func mobileCookie(c *call, name, value, extra string) string {
	v := name + "=" + value + "; Path=" + mobileCookiePath + "; HttpOnly; " + extra
	if secure(c) {
		v += "; Secure"
	}
	return v
}

func mobileClearCookie(name string) string {
	return name + "=; Path=" + mobileCookiePath + "; Max-Age=0; HttpOnly; SameSite=Lax"
}

// mobileLoginPage renders the login form (errMsg may be ""), with a fresh
// ep_pre token for it.
func (h *Handler) mobileLoginPage(c *call, status int, errMsg, phone string, squeezed bool) web.Response {
	next := c.req.QueryStringParameters["next"]
	if c.form != nil && c.form.Get("next") != "" {
		next = c.form.Get("next")
	}
	if c.method == http.MethodGet && c.path != mobileLoginPath && !c.api {
		next = c.path
		if c.req.RawQueryString != "" {
			next += "?" + c.req.RawQueryString
		}
	}
	tok := randomToken(24)
	r := h.mobileRender(status, "m_login.html", mobileView{Title: "登录", Page: "login", CSRF: tok, Error: errMsg,
		Body: mobileLoginBody{Next: mobileSafeNext(next), Phone: phone, WxCode: wechatCode(c), SqueezedOut: squeezed}})
	r.Cookies = append(r.Cookies, mobileCookie(c, preCookie, tok, "Max-Age=3600; SameSite=Strict"))
	return r
}

// mobileSignIn answers an app request without a session: a page goes to
// the login page (and back after it), anything else gets the form.
func (h *Handler) mobileSignIn(c *call, status int, msg string) web.Response {
	if c.method == http.MethodGet {
		next := c.path
		if c.req.RawQueryString != "" {
			next += "?" + c.req.RawQueryString
		}
		return web.Redirect(mobileLoginPath + "?next=" + url.QueryEscape(next))
	}
	return h.mobileLoginPage(c, status, "请先登录", "", false)
}

// mobileSignedOut answers an app request whose session was refused: the
// squeezed-out one with 您的账号已在其他设备登录, the expired one with
// 登录已过期; JSON for the API. The session cookie is cleared.
func (h *Handler) mobileSignedOut(c *call, code string, status int, msg string) web.Response {
	squeezed := code == "squeezed_out"
	if squeezed {
		msg = msgSqueezedOut
	}
	var r web.Response
	if c.api {
		r = web.Error(status, code, msg)
	} else {
		r = h.mobileLoginPage(c, status, msg, "", squeezed)
	}
	r.Cookies = append(r.Cookies, mobileClearCookie(SessionCookie))
	return r
}

func (h *Handler) mobileLoginForm(ctx context.Context, c *call) web.Response {
	if sid := web.Cookie(c.req, SessionCookie); sid != "" {
		if _, err := h.Accounts.Authenticate(ctx, sid); err == nil {
			return web.Redirect(mobileSafeNext(c.req.QueryStringParameters["next"]))
		}
	}
	if r, ok := h.wechatLoginRedirectTo(c, mobileLoginPath, mobileSafeNext); ok {
		return r
	}
	return h.mobileLoginPage(c, http.StatusOK, "", "", false)
}

func (h *Handler) mobileLoginSubmit(ctx context.Context, c *call) web.Response {
	phone := strings.TrimSpace(c.form.Get("phone"))
	openid, err := h.loginOpenID(ctx, c)
	if err != nil {
		h.Log.InfoContext(ctx, "mobile wechat code not usable", "err", err)
		return h.mobileLoginPage(c, http.StatusOK, "微信授权已过期，请重新打开登录页", phone, false)
	}
	res, err := h.Accounts.Login(ctx, LoginRequest{Phone: phone, Password: c.form.Get("password"), IP: web.ClientIP(c.req), OpenID: openid})
	if err != nil {
		code, status, msg := errorInfo(err)
		if status == http.StatusInternalServerError {
			h.Log.ErrorContext(ctx, "mobile login", "err", err)
			return h.mobileLoginPage(c, status, "系统繁忙，请稍后再试", phone, false)
		}
		h.Log.InfoContext(ctx, "mobile login refused", "security_event", true, "reason", code, "source_ip", web.ClientIP(c.req))
		return h.mobileLoginPage(c, status, msg, phone, false)
	}
	return h.mobileSignedIn(c, res, phone)
}

// mobileSignedIn finishes a login: the SMS step when the accounts service
// asks for it (a new WeChat identity), else the session cookie for the app.
func (h *Handler) mobileSignedIn(c *call, res LoginResult, phone string) web.Response {
	next := mobileSafeNext(c.form.Get("next"))
	if res.SMSChallenge != "" {
		tok := randomToken(24)
		r := h.mobileRender(http.StatusOK, "m_sms.html", mobileView{Title: "短信验证", Page: "login", CSRF: tok,
			Body: mobileSMSBody{Challenge: res.SMSChallenge, Next: next, Phone: maskPhone(phone)}})
		r.Cookies = append(r.Cookies, mobileCookie(c, preCookie, tok, "Max-Age=3600; SameSite=Strict"))
		return r
	}
	r := web.Redirect(next)
	r.Cookies = append(r.Cookies, mobileCookie(c, SessionCookie, res.SessionID, "SameSite=Lax"), mobileClearCookie(preCookie))
	return r
}

func (h *Handler) mobileSMSSubmit(ctx context.Context, c *call) web.Response {
	challenge := c.form.Get("challenge")
	res, err := h.Accounts.VerifySMS(ctx, challenge, strings.TrimSpace(c.form.Get("code")), web.ClientIP(c.req))
	if err != nil {
		code, status, msg := errorInfo(err)
		if status == http.StatusInternalServerError {
			h.Log.ErrorContext(ctx, "mobile verify sms", "err", err)
			msg = "系统繁忙，请稍后再试"
		} else {
			h.Log.InfoContext(ctx, "mobile sms refused", "security_event", true, "reason", code, "source_ip", web.ClientIP(c.req))
		}
		tok := randomToken(24)
		r := h.mobileRender(status, "m_sms.html", mobileView{Title: "短信验证", Page: "login", CSRF: tok, Error: msg,
			Body: mobileSMSBody{Challenge: challenge, Next: mobileSafeNext(c.form.Get("next"))}})
		r.Cookies = append(r.Cookies, mobileCookie(c, preCookie, tok, "Max-Age=3600; SameSite=Strict"))
		return r
	}
	return h.mobileSignedIn(c, res, "")
}

func (h *Handler) mobileLogout(ctx context.Context, c *call) web.Response {
	if err := h.Accounts.Logout(ctx, c.sessionID); err != nil {
		return h.mobileFail(ctx, c, err, "mobile logout")
	}
	r := web.Redirect(mobileLoginPath)
	r.Cookies = append(r.Cookies, mobileClearCookie(SessionCookie))
	return r
}

// ---------------------------------------------------------------- 收款码

type presetValue struct{ Label, Value string }

type mobileHomeBody struct {
	Code    ManagerCode
	QR      template.HTML // the code's URL as an inline SVG, rendered here
	Title   string
	Preset  []presetValue // what the customer will not have to fill in
	Expires string        // when this code stops working ("" a current code)
	Picked  bool          // a code chosen with 切换 (?code=)
}

// mobileNotices are the messages a redirect to the home page may show.
var mobileNotices = map[string]string{
	"gone": "您选择的收款码已不可用，已显示默认收款码",
}

// mobileHome is 收款码 (M3, M4): the manager's code, large, rendered in the
// first answer (one round trip: the code query runs here and the QR is an
// inline SVG). Tapping it refreshes (after a confirmation); 展开 shows 刷新,
// 切换 and 诊断.
func (h *Handler) mobileHome(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	id := strings.TrimSpace(c.req.QueryStringParameters["code"])
	code, err := h.codes(c).Code(ctx, c.p, id)
	if errors.Is(err, ErrNotFound) && id != "" {
		return web.Redirect(mobileHome + "?done=gone")
	}
	if err != nil {
		return h.mobileFail(ctx, c, err, "manager code")
	}
	qr, err := qrprint.Symbol(code.URL, "qr")
	if err != nil {
		return h.mobileFail(ctx, c, err, "manager code symbol")
	}
	body := mobileHomeBody{Code: code, QR: qr, Title: code.Code.Name, Preset: presetValues(code), Picked: id != ""}
	if body.Title == "" {
		body.Title = "我的收款码"
	}
	if code.ExpiresAt != nil {
		body.Expires = readableTime(*code.ExpiresAt)
	}
	v := h.mobilePage(c, "收款码", "home", "code", body)
	v.Notice = mobileNotices[c.req.QueryStringParameters["done"]]
	if until := c.req.QueryStringParameters["refreshed"]; until != "" {
		v.Notice = "已刷新收款码"
		if t := readableTime(until); t != "" {
			v.Notice += "，之前的收款码将于 " + t + " 失效"
		}
	}
	return h.mobileRender(http.StatusOK, "m_home.html", v)
}

// presetValues lists a code's preset business values in the order of its
// payer fields (labels from them), then any others by key.
func presetValues(code ManagerCode) []presetValue {
	var out []presetValue
	seen := map[string]bool{}
	for _, f := range code.PayerFields {
		if v, ok := code.Code.Preset[f.Key]; ok && v != "" {
			out = append(out, presetValue{f.Label, v})
			seen[f.Key] = true
		}
	}
	var rest []string
	for k, v := range code.Code.Preset {
		if !seen[k] && v != "" {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, presetValue{k, code.Code.Preset[k]})
	}
	return out
}

// readableTime is an RFC 3339 instant as people read it in Asia/Shanghai
// ("" when it is not one).
func readableTime(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return ""
	}
	return calendar.FormatReadable(t)
}

// ---------------------------------------------------------------- 收款记录

type mobileRecordsBody struct {
	Labels string // JSON {key: label} of the company's payer fields
}

// mobileRecords is 收款记录 (M6): the page; the records come from
// GET /m/api/records as the manager scrolls, searches or sets 日期.
func (h *Handler) mobileRecords(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	// The labels of the payer fields: the company's, and the default
	// code's own (M5: a code may override them). Without them the keys show.
	labels := map[string]string{}
	co, err := h.Store.GetCompany(ctx, c.p.CompanyID)
	if err != nil {
		h.Log.WarnContext(ctx, "mobile records: company payer fields", "err", err)
	}
	for _, f := range co.PayerFields {
		labels[f.Key] = f.Label
	}
	code, err := h.codes(c).Code(ctx, c.p, "")
	if err != nil {
		h.Log.WarnContext(ctx, "mobile records: the code's payer fields", "err", err)
	}
	for _, f := range code.PayerFields {
		labels[f.Key] = f.Label
	}
	b, _ := json.Marshal(labels)
	return h.mobileRender(http.StatusOK, "m_records.html", h.mobilePage(c, "收款记录", "records", "records", mobileRecordsBody{Labels: string(b)}))
}

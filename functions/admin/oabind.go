package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/web"
)

// Binding the official account (公众号) the staff notifications go
// through. On 通知设置 a staff member asks for a bind link (POST
// /admin/notifications/oa-bind): a QR code and the link, valid 10 minutes,
// once, for their own account (shared/accounts). Opened in WeChat, the link
// (GET /admin/oa-bind?t=…, public: WeChat's browser has no console session)
// checks the token, takes the snsapi_base round trip through the official
// account (the console's WeChatLogin: the same account sends the messages),
// with a state kept in a cookie of this browser, and on the way back binds
// the openid: 绑定成功, or 链接已失效 / 链接已被使用.

func init() {
	register(
		route{method: "POST", pattern: "/admin/notifications/oa-bind", action: actSignedIn, handle: (*Handler).issueOABind},
		route{method: "GET", pattern: "/admin/oa-bind", public: true, handle: (*Handler).oaBind},
	)
	actionNames["staff.official_account_bind"] = "绑定公众号" // the audit log (staff.go)
}

// OABinder is what binding needs of shared/accounts (*accounts.Service).
type OABinder interface {
	IssueBindLink(ctx context.Context, by Principal) (accounts.BindLink, error)
	CheckBindLink(ctx context.Context, token string) error
	BindOfficialAccount(ctx context.Context, token, openid string) (StaffView, error)
	OfficialAccount(ctx context.Context, by Principal) (accounts.OfficialBinding, error)
}

// OfficialAccount is the official account as 通知设置 offers it.
type OfficialAccount struct {
	Binder OABinder // nil: no binding offered
	// FollowURL is the account's follow link (the URL of its QR code from
	// the official-account platform, e.g. http://weixin.qq.com/r/…): shown
	// as a QR code to a recipient who must follow it ("" the page names the
	// account's search instead).
	FollowURL string
	// Test sends a test template message (nil: no 重新发送测试消息).
	Test OATester
}

// bindable reports whether links can be issued and opened: a binder and
// the official account's OAuth.
func (h *Handler) bindable() bool { return h.OA.Binder != nil && h.WeChatLogin != nil }

// oaStateCookie holds the OAuth state of a bind round trip (this browser's).
const oaStateCookie = "ep_oabind"

const oaBindPath = "/admin/oa-bind"

// issueOABind makes a bind link for the signed-in staff member and shows
// 通知设置 with its QR code.
func (h *Handler) issueOABind(ctx context.Context, c *call) web.Response {
	if c.p.CompanyID == "" {
		return h.message(c, http.StatusOK, "通知设置", "收款通知只发给物业公司的员工；平台运营账号没有通知设置。", "/admin", "返回")
	}
	if !h.bindable() {
		return h.message(c, http.StatusServiceUnavailable, "绑定公众号", "公众号尚未开通，暂不能绑定。", "/admin/notifications", "返回通知设置")
	}
	link, err := h.OA.Binder.IssueBindLink(ctx, c.p)
	if err != nil {
		if errors.Is(err, ErrForbidden) || errors.Is(err, ErrNotFound) {
			return h.fail(c, http.StatusForbidden, "forbidden", "没有权限")
		}
		return h.internal(ctx, c, "issue bind link", err)
	}
	r := h.renderNotifications(ctx, c, &link)
	r.Headers["Cache-Control"] = "no-store" // the page holds a live link
	return r
}

// bindURL is the link a bind token opens.
func (h *Handler) bindURL(token string) string {
	return strings.TrimRight(h.PublicBaseURL, "/") + oaBindPath + "?" + url.Values{"t": {token}}.Encode()
}

// oaBind is the bind link opened in WeChat: first the token is checked and
// the OAuth round trip starts; the round trip comes back here with code and
// state, and the openid is bound.
func (h *Handler) oaBind(ctx context.Context, c *call) web.Response {
	q := c.req.QueryStringParameters
	token := q["t"]
	switch {
	case !h.bindable():
		return h.bindResult(c, http.StatusServiceUnavailable, "绑定公众号", "公众号尚未开通，暂不能绑定。")
	case domain.DetectApp(web.Header(c.req, "User-Agent")) != domain.WeChat:
		return h.bindResult(c, http.StatusOK, "请在微信中打开",
			"请用微信扫描控制台“通知设置”页上的二维码，或在微信中打开此链接，才能绑定公众号。")
	}
	if err := h.OA.Binder.CheckBindLink(ctx, token); err != nil {
		return h.bindFailed(ctx, c, err)
	}
	if q["code"] == "" {
		state := randomToken(16)
		back := h.selfURL(c, oaBindPath+"?"+url.Values{"t": {token}}.Encode())
		r := web.Redirect(h.WeChatLogin.AuthorizeURL(back, state))
		r.Cookies = append(r.Cookies, h.oaStateCookie(c, state, 600))
		return r
	}
	// The way back: only the browser that started the round trip, with its state.
	if !stateMatches(c, oaStateCookie, q["state"]) {
		h.Log.WarnContext(ctx, "bind link: OAuth state refused", "security_event", true, "source_ip", web.ClientIP(c.req))
		return h.bindResult(c, http.StatusBadRequest, "微信授权已过期", "请重新扫描控制台“通知设置”页上的二维码。")
	}
	openid, err := h.WeChatLogin.OpenID(ctx, q["code"])
	if err != nil || openid == "" {
		h.Log.WarnContext(ctx, "bind link: OAuth code refused", "err", err)
		return h.bindResult(c, http.StatusBadGateway, "微信授权失败", "请重新扫描控制台“通知设置”页上的二维码。")
	}
	v, err := h.OA.Binder.BindOfficialAccount(ctx, token, openid)
	if err != nil {
		return h.bindFailed(ctx, c, err)
	}
	h.Log.InfoContext(ctx, "official account bound", "staff_id", v.ID, "company_id", v.CompanyID)
	h.clearOAProblems(ctx, v.CompanyID, v.ID)
	r := h.bindResult(c, http.StatusOK, "绑定成功",
		"此微信已绑定到“"+v.Name+"”的账号，收款通知将通过公众号发送到这里。如果还没有关注公众号，请先关注，否则收不到通知。")
	r.Cookies = append(r.Cookies, h.oaStateCookie(c, "", 0))
	return r
}

// bindFailed is the page of an unusable link.
func (h *Handler) bindFailed(ctx context.Context, c *call, err error) web.Response {
	switch {
	case errors.Is(err, accounts.ErrBindUsed):
		return h.bindResult(c, http.StatusConflict, "链接已被使用",
			"此绑定链接已经使用过，只能使用一次。如果刚刚已绑定成功，无需再次操作；如需重新绑定，请在控制台“通知设置”页重新生成二维码。")
	case errors.Is(err, accounts.ErrBindExpired):
		return h.bindResult(c, http.StatusGone, "链接已失效",
			"绑定链接 10 分钟内有效，此链接已过期或无效。请在控制台“通知设置”页重新生成二维码。")
	}
	h.Log.ErrorContext(ctx, "bind link", "err", err)
	return h.bindResult(c, http.StatusInternalServerError, "出错了", "系统繁忙，请稍后再试。")
}

// bindResult is a page of the bind link (no session: a plain message).
func (h *Handler) bindResult(c *call, status int, title, text string) web.Response {
	r := h.render(status, "message.html", view{Title: title, Body: messageBody{Text: text}, Narrow: true})
	r.Headers["Cache-Control"] = "no-store"
	return r
}

func (h *Handler) oaStateCookie(c *call, value string, maxAge int) string {
	return h.oauthStateCookie(c, oaStateCookie, oaBindPath, value, maxAge)
}

// selfURL is path on the host the request came to (behind a custom domain
// the public one; locally the WeChat WebView proxy the page was opened
// through), with the scheme of PublicBaseURL.
func (h *Handler) selfURL(c *call, path string) string {
	scheme := "https"
	if strings.HasPrefix(h.PublicBaseURL, "http://") {
		scheme = "http"
	}
	host := web.Header(c.req, "Host")
	if host == "" {
		host = c.req.RequestContext.DomainName
	}
	return scheme + "://" + host + path
}

// clearOAProblems forgets the delivery problems of a staff member's
// official-account preferences (after binding a WeChat or a test message
// that arrived: they were about the identity as it was). Best effort: the
// next message records a problem again if there is one.
func (h *Handler) clearOAProblems(ctx context.Context, companyID, staffID string) {
	repo := h.Store.NotificationRepo()
	prefs, err := repo.Preferences(ctx, companyID, staffID)
	if err != nil {
		h.Log.WarnContext(ctx, "clear notification problems", "staff_id", staffID, "err", err)
		return
	}
	for _, p := range prefs {
		if p.Channel == notification.WeChatOA && p.Problem != "" {
			if err := repo.SetProblem(ctx, companyID, p.CommunityID, staffID, ""); err != nil {
				h.Log.WarnContext(ctx, "clear notification problem", "staff_id", staffID, "err", err)
			}
		}
	}
}

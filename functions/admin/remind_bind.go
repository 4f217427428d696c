package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/web"
)

// Residents bind a WeChat to their house for the arrears reminders
// (微信接收缴费提醒). The payment notice's page /n/{id}, opened in WeChat,
// links here; this takes the snsapi_base round trip through the platform's
// official account — the console's WeChatLogin, the account that sends the
// template messages, so the openid is the one RemindFunction can write to —
// and stores the openid on the house's reminder throttle (a conditional
// write at the version read), audited without the openid.
//
//	GET  /admin/remind-bind?n=<notice id>                 public: WeChat's browser has no console session
//	POST /admin/cashier/houses/{hid}/remind-wechat        staff: unbind=1 takes the binding off
//
// AdminFunction rather than LandingFunction: it already holds the official
// account's OAuth secret (the staff bind their WeChat the same way,
// oabind.go) and writes the houses' throttles (不接收催缴); LandingFunction
// would need a second WeChat secret it has no other use for.
//
// The notice id is what lets a resident bind: whoever holds a house's pay
// link may pay its bills and, now, be reminded of them (the reminder shows
// no more than the notice does). The round trip's state is kept in a
// cookie of this browser together with the notice: the way back must come
// to the browser that started it, for the notice it started with.
func init() {
	register(
		route{method: "GET", pattern: remindBindPath, public: true, handle: (*Handler).remindBind},
		route{method: "POST", pattern: "/admin/cashier/houses/{hid}/remind-wechat", action: ActBillsCollect, handle: (*Handler).remindUnbind},
	)
	actionNames["reminder.wechat_bind"] = "微信接收催缴"
	actionNames["reminder.wechat_unbind"] = "解除微信催缴"
	notices["remind_wechat_off"] = "已解除微信提醒"
}

const (
	remindBindPath   = "/admin/remind-bind"
	remindBindCookie = "ep_remindbind"
)

// remindBindable reports whether residents can bind: the official
// account's OAuth and the bills table.
func (h *Handler) remindBindable() bool {
	return h.WeChatLogin != nil && h.Store != nil && h.Store.Bills != "" && h.Notices != nil
}

// oauthStateCookie keeps a round trip's state in this browser (HttpOnly,
// on path only; maxAge 0 clears it).
func (h *Handler) oauthStateCookie(c *call, name, path, value string, maxAge int) string {
	cookie := name + "=" + value + "; Path=" + path + "; Max-Age=" + strconv.Itoa(maxAge) + "; HttpOnly; SameSite=Lax"
	if secure(c) {
		cookie += "; Secure"
	}
	return cookie
}

// stateMatches reports whether the way back carries the state this
// browser's cookie holds (constant time; an empty cookie never matches).
func stateMatches(c *call, cookieName, state string) bool {
	want := web.Cookie(c.req, cookieName)
	return want != "" && subtle.ConstantTimeCompare([]byte(state), []byte(want)) == 1
}

func (h *Handler) remindBind(ctx context.Context, c *call) web.Response {
	q := c.req.QueryStringParameters
	nid := q["n"]
	switch {
	case !h.remindBindable():
		return h.bindResult(c, http.StatusServiceUnavailable, "微信接收缴费提醒", "公众号尚未开通，暂不能开启微信提醒。")
	case domain.DetectApp(web.Header(c.req, "User-Agent")) != domain.WeChat:
		return h.bindResult(c, http.StatusOK, "请在微信中打开", "请在微信中打开缴费通知单，再点“微信接收缴费提醒”。")
	case nid == "" || len(nid) > 64:
		return h.bindResult(c, http.StatusNotFound, "缴费通知单无效", "该缴费通知单不存在或已作废，请联系物业管理处。")
	}
	n, err := h.Notices.Houses.GetNotice(ctx, nid)
	if errors.Is(err, notice.ErrNotFound) {
		return h.bindResult(c, http.StatusNotFound, "缴费通知单无效", "该缴费通知单不存在或已作废，请联系物业管理处。")
	} else if err != nil {
		h.Log.ErrorContext(ctx, "remind bind: notice", "err", err)
		return h.bindResult(c, http.StatusInternalServerError, "出错了", "系统繁忙，请稍后再试。")
	}
	self := remindBindPath + "?" + url.Values{"n": {n.ID}}.Encode()
	if q["code"] == "" {
		state := randomToken(16)
		r := web.Redirect(h.WeChatLogin.AuthorizeURL(h.selfURL(c, self), state))
		r.Cookies = append(r.Cookies, h.oauthStateCookie(c, remindBindCookie, remindBindPath, state+"."+n.ID, 600))
		return r
	}
	// The way back: the browser that started it, for this notice.
	if !stateMatches(c, remindBindCookie, q["state"]+"."+n.ID) {
		h.Log.WarnContext(ctx, "remind bind: OAuth state refused", "security_event", true, "source_ip", web.ClientIP(c.req))
		return h.bindResult(c, http.StatusBadRequest, "微信授权已过期", "请回到缴费通知单，重新点“微信接收缴费提醒”。")
	}
	openid, err := h.WeChatLogin.OpenID(ctx, q["code"])
	if err != nil || openid == "" {
		h.Log.WarnContext(ctx, "remind bind: OAuth code refused", "err", err)
		return h.bindResult(c, http.StatusBadGateway, "微信授权失败", "请回到缴费通知单，重新点“微信接收缴费提醒”。")
	}
	// The house as the notice's company has it (another company's: refused).
	hs, err := h.Store.HouseRepo().GetHouse(ctx, n.CompanyID, n.HouseID)
	if err != nil || hs.CompanyID != n.CompanyID {
		h.Log.WarnContext(ctx, "remind bind: the notice's house is not its company's", "security_event", true, "notice_prefix", n.ID[:min(6, len(n.ID))], "err", err)
		return h.bindResult(c, http.StatusNotFound, "缴费通知单无效", "该缴费通知单不存在或已作废，请联系物业管理处。")
	}
	before, err := h.Store.ReminderRepo().SetOpenID(ctx, hs.CompanyID, hs.ID, openid, h.now())
	if err != nil {
		h.Log.ErrorContext(ctx, "remind bind", "house", hs.ID, "err", err)
		return h.bindResult(c, http.StatusInternalServerError, "出错了", "系统繁忙，请稍后再试。")
	}
	if before.OpenID != openid { // the audit names no openid
		resident := accounts.Principal{StaffID: "resident", CompanyID: hs.CompanyID, Name: "住户（微信）"}
		if err := h.Accounts.Record(ctx, resident, "reminder.wechat_bind", "house", hs.ID,
			map[string]bool{"wechat_bound": before.OpenID != ""}, map[string]bool{"wechat_bound": true}); err != nil {
			h.Log.ErrorContext(ctx, "audit record failed", "err", err, "action", "reminder.wechat_bind", "target", "house/"+hs.ID)
		}
	}
	h.Log.InfoContext(ctx, "reminder WeChat bound", "company_id", hs.CompanyID, "house", hs.ID)
	text := hs.Label() + " 的逾期缴费提醒将通过公众号消息发送到此微信。请先关注公众号，否则收不到提醒（未关注时改发短信）。"
	if before.OptedOut {
		text = hs.Label() + " 已设为不接收催缴：绑定已保存，但不会发送提醒。如需恢复，请联系物业服务中心。"
	}
	r := h.render(http.StatusOK, "message.html", view{Title: "已开启微信提醒", Narrow: true,
		Body: messageBody{Text: text, Link: "/n/" + url.PathEscape(n.ID), LinkText: "返回缴费通知单"}})
	r.Headers["Cache-Control"] = "no-store"
	r.Cookies = append(r.Cookies, h.oauthStateCookie(c, remindBindCookie, remindBindPath, "", 0))
	return r
}

// remindUnbind: POST /admin/cashier/houses/{hid}/remind-wechat (unbind=1):
// staff take a house's WeChat binding off (the resident asked, or the
// house changed hands); its reminders go by SMS again.
func (h *Handler) remindUnbind(ctx context.Context, c *call) web.Response {
	if h.Store == nil || h.Store.Bills == "" || c.p.CompanyID == "" {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	hid := c.params["hid"]
	if _, err := h.Store.HouseRepo().GetHouse(ctx, c.p.CompanyID, hid); err != nil {
		if errors.Is(err, house.ErrNotFound) {
			return h.notFound(c)
		}
		return h.internal(ctx, c, "get house", err)
	}
	if c.form.Get("unbind") != "1" {
		return h.formError(c, "只能解除绑定；绑定需由住户在微信中打开缴费通知单完成。", "/admin/cashier/houses/"+url.PathEscape(hid))
	}
	before, err := h.Store.ReminderRepo().SetOpenID(ctx, c.p.CompanyID, hid, "", h.now())
	if err != nil {
		return h.internal(ctx, c, "reminder unbind", err)
	}
	if before.OpenID != "" {
		h.audit(ctx, c, "reminder.wechat_unbind", "house", hid, map[string]bool{"wechat_bound": true}, map[string]bool{"wechat_bound": false})
	}
	return c.done("/admin/cashier/houses/"+url.PathEscape(hid), "remind_wechat_off")
}

// remindChannels names how a house's reminders go: 微信 (a bound WeChat,
// when the channel is on) and/or 短信 (a phone).
func remindChannels(hs house.House, th reminder.Throttle) string {
	var out []string
	if th.OpenID != "" {
		out = append(out, "微信")
	}
	if reminder.Contact(hs) != "" {
		out = append(out, "短信")
	}
	return strings.Join(out, " / ")
}

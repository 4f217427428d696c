package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/setup"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// 重新发送测试消息: a staff member told to follow the official account
// (43004 on their last message) follows it and sends themselves a test
// template message through the account; when it arrives the recorded
// problems are cleared, when it does not the page says why.

func init() {
	register(route{method: "POST", pattern: "/admin/notifications/oa-test", action: actSignedIn, handle: (*Handler).sendOATest})
}

// OATester sends a test template message to an official-account openid.
type OATester interface {
	SendTest(ctx context.Context, openid string, at time.Time) error
}

// notFollowing reports whether a recorded delivery problem is WeChat's
// 43004 (the recipient does not follow the account): FanoutFunction records
// it as "请先关注公众号，…".
func notFollowing(problem string) bool { return strings.Contains(problem, "关注公众号") }

func (h *Handler) sendOATest(ctx context.Context, c *call) web.Response {
	const back, backText = "/admin/notifications", "返回通知设置"
	if c.p.CompanyID == "" {
		return h.message(c, http.StatusOK, "通知设置", "收款通知只发给物业公司的员工；平台运营账号没有通知设置。", "/admin", "返回")
	}
	if h.OA.Binder == nil || h.OA.Test == nil {
		return h.message(c, http.StatusServiceUnavailable, "测试消息", "公众号通知尚未开通，不能发送测试消息。", back, backText)
	}
	b, err := h.OA.Binder.OfficialAccount(ctx, c.p)
	if err != nil {
		return h.internal(ctx, c, "official account binding", err)
	}
	if b.OpenID == "" {
		return h.message(c, http.StatusOK, "请先绑定公众号", "还没有绑定公众号：请先在“通知设置”页生成二维码，用微信扫码绑定。", back, backText)
	}
	err = h.OA.Test.SendTest(ctx, b.OpenID, time.Now())
	var api *wechatoa.APIError
	switch {
	case errors.As(err, &api) && api.Code == wechatoa.CodeNotFollowing:
		return h.message(c, http.StatusOK, "仍未关注公众号", "测试消息没有送达：绑定的微信还没有关注公众号。请先关注公众号，再重新发送测试消息。", back, backText)
	case errors.As(err, &api) && api.Code == wechatoa.CodeInvalidOpenID:
		return h.message(c, http.StatusOK, "绑定的微信无效", "测试消息没有送达：绑定的微信不属于此公众号。请重新生成二维码并用微信扫码绑定。", back, backText)
	case err != nil:
		h.Log.WarnContext(ctx, "official account test message", "staff_id", c.p.StaffID, "err", err)
		return h.message(c, http.StatusBadGateway, "测试消息发送失败", "公众号暂时无法发送消息，请稍后再试。", back, backText)
	}
	h.Log.InfoContext(ctx, "official account test message sent", "staff_id", c.p.StaffID)
	h.clearOAProblems(ctx, c.p.CompanyID, c.p.StaffID)
	return h.message(c, http.StatusOK, "测试消息已发送", "请在微信中查看公众号发来的测试消息。收到即表示收款通知可以送达。", back, backText)
}

// templateTest is OATester on the official account's client, with the
// payment template (fields: title, community, amount, count, total, time).
type templateTest struct {
	Client     *wechatoa.Client
	TemplateID string
	LinkURL    string // opened when the message is tapped
}

func (t templateTest) SendTest(ctx context.Context, openid string, at time.Time) error {
	return t.Client.Send(ctx, wechatoa.Template{ToOpenID: openid, TemplateID: t.TemplateID, URL: t.LinkURL, Data: map[string]string{
		"title": "测试消息（非收款）", "community": "通知设置", "amount": "0.00元", "count": "0笔", "total": "0.00元",
		"time": calendar.FormatReadable(at)}})
}

// oaTokenCache keeps the official account's access token in the
// AccessTable, shared with FanoutFunction and RemindFunction.
type oaTokenCache = setup.OATokenCache

// officialAccount wires 通知设置's official account: binding through the
// console's OAuth (login), the follow link (CONSOLE_WECHAT_FOLLOW_URL), and
// test messages when the payment template is configured
// (NOTIFY_WECHAT_TEMPLATE_ID, NOTIFY_WECHAT_API_BASE_URL), with the app
// secret the console's OAuth already holds.
func officialAccount(binder OABinder, login WeChatLogin, st *store.Store, publicBase string) OfficialAccount {
	oa := OfficialAccount{Binder: binder, FollowURL: os.Getenv("CONSOLE_WECHAT_FOLLOW_URL")}
	auth, ok := login.(wechatpay.OAuth)
	tpl := os.Getenv("NOTIFY_WECHAT_TEMPLATE_ID")
	if !ok || tpl == "" || os.Getenv("NOTIFY_WECHAT_API_BASE_URL") == "" {
		return oa
	}
	oa.Test = templateTest{TemplateID: tpl, LinkURL: strings.TrimRight(publicBase, "/") + "/admin/notifications",
		Client: &wechatoa.Client{BaseURL: os.Getenv("NOTIFY_WECHAT_API_BASE_URL"), AppID: auth.AppID, Secret: auth.Secret,
			Cache: oaTokenCache{N: st.NotificationRepo()}, HTTP: &http.Client{Timeout: 5 * time.Second}}}
	return oa
}

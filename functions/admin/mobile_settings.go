package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/web"
)

// 设置 (M7): 接收收款成功通知 for the payments through the manager's own
// codes (personal, extra, printed plates), off unless chosen, stored as the
// staff member's notification preference for notification.OwnCodes with
// the console's repository (store.Notifications), and whether messages can
// reach the manager: a WeChat identity bound to the account, and the last
// delivery problem the fan-out recorded (e.g. 43004: follow the account).

// mobileSettingsJSON is GET/PUT /m/api/settings.
type mobileSettingsJSON struct {
	NotifyPayments bool   `json:"notify_payments"`
	Channel        string `json:"channel"`      // how messages come (wechat_oa unless chosen on the console's 通知设置)
	ChannelName    string `json:"channel_name"` // 微信公众号, …
	WeChatBound    bool   `json:"wechat_bound"` // a WeChat identity messages can go to
	Problem        string `json:"problem,omitempty"`
}

// mobileSettingsState reads the caller's preference and WeChat binding.
func (h *Handler) mobileSettingsState(ctx context.Context, p Principal) (mobileSettingsJSON, notification.Preference, error) {
	pref, _, err := h.Store.NotificationRepo().Preference(ctx, p.CompanyID, notification.OwnCodes, p.StaffID)
	if err != nil {
		return mobileSettingsJSON{}, pref, err
	}
	st, err := h.Store.AccessRepo().GetStaff(ctx, p.StaffID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return mobileSettingsJSON{}, pref, err
	}
	ch := pref.Channel
	if ch == "" {
		ch = notification.WeChatOA
	}
	return mobileSettingsJSON{NotifyPayments: pref.Payments, Channel: string(ch), ChannelName: ch.Label(),
		WeChatBound: st.OpenID != "" || pref.OpenID != "", Problem: pref.Problem}, pref, nil
}

func (h *Handler) mobileGetSettings(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	s, _, err := h.mobileSettingsState(ctx, c.p)
	if err != nil {
		return h.mobileFail(ctx, c, err, "mobile settings")
	}
	return web.JSON(http.StatusOK, s)
}

// mobilePutSettings is PUT /m/api/settings {"notify_payments": bool}: the
// choice is stored (and audited) when it changes; the channel, the bound
// openid and anything else of the preference stay.
func (h *Handler) mobilePutSettings(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	var in struct {
		NotifyPayments *bool `json:"notify_payments"`
	}
	if !decodeJSON(c, &in) || in.NotifyPayments == nil {
		return web.Error(http.StatusBadRequest, "invalid", "请求须为 JSON：{\"notify_payments\": true 或 false}")
	}
	s, before, err := h.mobileSettingsState(ctx, c.p)
	if err != nil {
		return h.mobileFail(ctx, c, err, "mobile settings")
	}
	if s.NotifyPayments != *in.NotifyPayments {
		after := notification.Preference{CompanyID: c.p.CompanyID, CommunityID: notification.OwnCodes, StaffID: c.p.StaffID,
			Payments: *in.NotifyPayments, Channel: notification.Channel(s.Channel), OpenID: before.OpenID, UpdatedAt: h.Mobile.now()}
		if err := h.Store.NotificationRepo().PutPreference(ctx, after); err != nil {
			return h.mobileFail(ctx, c, err, "save mobile settings")
		}
		h.audit(ctx, c, "notifications.update", "own_codes", c.p.StaffID,
			map[string]any{"payments": s.NotifyPayments, "channel": s.Channel}, map[string]any{"payments": after.Payments, "channel": after.Channel})
		s.NotifyPayments, s.Problem = after.Payments, "" // a stored choice clears the recorded problem
	}
	return web.JSON(http.StatusOK, s)
}

type mobileSettingsBody struct {
	S           mobileSettingsJSON
	RoleName    string
	Window      int // minutes between two messages
	PhoneMasked string
}

// mobileSettings is 设置: the switch, the binding hint, signing out.
func (h *Handler) mobileSettings(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	s, _, err := h.mobileSettingsState(ctx, c.p)
	if err != nil {
		return h.mobileFail(ctx, c, err, "mobile settings")
	}
	return h.mobileRender(http.StatusOK, "m_settings.html", h.mobilePage(c, "设置", "settings", "settings",
		mobileSettingsBody{S: s, RoleName: roleNames[c.p.Role], Window: int(notification.Window / time.Minute), PhoneMasked: maskPhone(c.p.Phone)}))
}

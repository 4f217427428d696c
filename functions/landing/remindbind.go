package main

import (
	"context"
	"net/url"

	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// RemindBind offers the arrears reminders by official-account message on a
// notice opened in WeChat: 微信接收缴费提醒 links to the console's
// /admin/remind-bind?n=<notice> (AdminFunction holds the platform official
// account's OAuth secret and takes the round trip; README, "Arrears
// reminders"), and once a WeChat is bound the page says 已开启微信提醒.
type RemindBind struct {
	Throttles RemindThrottles
}

// RemindThrottles reads a house's reminder throttle (shared/store.Reminders).
type RemindThrottles interface {
	Throttle(ctx context.Context, companyID, houseID string) (reminder.Throttle, error)
}

// remindBindLink fills the notice page's reminder line (only in WeChat,
// only when the channel is on; a read error leaves the link, logged).
func (h *Handler) remindBindLink(ctx context.Context, view payments.NoticeView, page *web.NoticePage) {
	if h.RemindBind == nil || page.Channel != "wechat" {
		return
	}
	n := view.Notice
	th, err := h.RemindBind.Throttles.Throttle(ctx, n.CompanyID, n.HouseID)
	if err != nil {
		h.Log.WarnContext(ctx, "reminder throttle", "notice_prefix", n.ID[:min(6, len(n.ID))], "err", err)
	}
	page.RemindBound = err == nil && th.OpenID != "" && !th.OptedOut
	page.RemindBindURL = "/admin/remind-bind?" + url.Values{"n": {n.ID}}.Encode()
	if page.RemindBound && h.Unsub != nil { // the template message's way out: its url is this page
		page.RemindUnsubURL = reminder.UnsubURL("", h.Unsub.Key, n.CompanyID, n.HouseID)
	}
}

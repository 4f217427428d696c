package main

import (
	"context"
	"html/template"
	"net/http"
	"sort"
	"time"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/web"
)

func init() {
	register(
		route{method: "GET", pattern: "/admin/notifications", action: actSignedIn, handle: (*Handler).notificationsPage},
		route{method: "POST", pattern: "/admin/notifications", action: actSignedIn, handle: (*Handler).saveNotifications},
	)
}

// notifyRow is one community on the 通知设置 page.
type notifyRow struct {
	ID, Name string
	On       bool
	Channel  string
	Problem  string // why the last message could not be delivered (what to do)
}

type notifyBody struct {
	Rows     []notifyRow
	Channels []struct{ Value, Label string }
	OA       oaSection
}

// oaSection is the official account (公众号) part of 通知设置 (oabind.go).
type oaSection struct {
	Offered   bool // binding can be done (the account is configured)
	Bound     bool
	BoundAt   time.Time
	LoginOnly bool // not bound, but a WeChat identity from a login inside WeChat is used meanwhile
	// A bind link just issued: its QR code, URL and end.
	Link       string
	LinkSymbol template.HTML
	LinkUntil  time.Time
	// NotFollowing: a message through the account failed with 43004; the
	// follow link (and its QR code) when configured, and whether a test
	// message can be sent.
	NotFollowing bool
	FollowURL    string
	FollowSymbol template.HTML
	CanTest      bool
}

var notifyChannels = []notification.Channel{notification.WeChatOA, notification.SMS, notification.Email}

// notifyState reads the signed-in staff member's preferences and the
// company's communities (the only ones that can be chosen).
func (h *Handler) notifyState(ctx context.Context, c *call) ([]notifyRow, map[string]notification.Preference, error) {
	cms, err := h.Store.ListCommunities(ctx, c.p.CompanyID)
	if err != nil {
		return nil, nil, err
	}
	prefs, err := h.Store.NotificationRepo().Preferences(ctx, c.p.CompanyID, c.p.StaffID)
	if err != nil {
		return nil, nil, err
	}
	byCommunity := map[string]notification.Preference{}
	for _, p := range prefs {
		byCommunity[p.CommunityID] = p
	}
	sort.Slice(cms, func(i, j int) bool { return cms[i].Name < cms[j].Name })
	rows := make([]notifyRow, 0, len(cms))
	for _, cm := range cms {
		p := byCommunity[cm.ID]
		ch := string(p.Channel)
		if ch == "" {
			ch = string(notification.WeChatOA)
		}
		rows = append(rows, notifyRow{ID: cm.ID, Name: cm.Name, On: p.Payments, Channel: ch, Problem: p.Problem})
	}
	return rows, byCommunity, nil
}

// notificationsPage is 通知设置: per community of the staff member's
// company, 接收收款成功通知 (off unless chosen) and the channel.
func (h *Handler) notificationsPage(ctx context.Context, c *call) web.Response {
	if c.p.CompanyID == "" {
		return h.message(c, http.StatusOK, "通知设置", "收款通知只发给物业公司的员工；平台运营账号没有通知设置。", "/admin", "返回")
	}
	return h.renderNotifications(ctx, c, nil)
}

// renderNotifications is 通知设置, with the QR code of a bind link just
// issued (nil none).
func (h *Handler) renderNotifications(ctx context.Context, c *call, link *accounts.BindLink) web.Response {
	rows, _, err := h.notifyState(ctx, c)
	if err != nil {
		return h.internal(ctx, c, "notification preferences", err)
	}
	body := notifyBody{Rows: rows}
	for _, ch := range notifyChannels {
		body.Channels = append(body.Channels, struct{ Value, Label string }{string(ch), ch.Label()})
	}
	if body.OA, err = h.oaSection(ctx, c, rows, link); err != nil {
		return h.internal(ctx, c, "official account section", err)
	}
	return h.render(http.StatusOK, "notifications.html", h.page(c, "通知设置", body))
}

// oaSection reads the caller's binding and the problems of their
// official-account preferences.
func (h *Handler) oaSection(ctx context.Context, c *call, rows []notifyRow, link *accounts.BindLink) (oaSection, error) {
	var s oaSection
	for _, r := range rows {
		if r.Channel == string(notification.WeChatOA) && notFollowing(r.Problem) {
			s.NotFollowing = true
		}
	}
	if h.OA.Binder == nil {
		return s, nil
	}
	b, err := h.OA.Binder.OfficialAccount(ctx, c.p)
	if err != nil {
		return s, err
	}
	s.Offered = h.bindable()
	s.Bound, s.BoundAt, s.LoginOnly = b.OpenID != "", b.BoundAt, b.OpenID == "" && b.LoginOpenID
	s.CanTest = s.Bound && h.OA.Test != nil
	if link != nil {
		s.Link, s.LinkUntil = h.bindURL(link.Token), link.ExpiresAt
		if s.LinkSymbol, err = qrprint.Symbol(s.Link, "qr"); err != nil {
			return s, err
		}
	}
	if s.NotFollowing && h.OA.FollowURL != "" {
		s.FollowURL = h.OA.FollowURL
		if s.FollowSymbol, err = qrprint.Symbol(s.FollowURL, "qr"); err != nil {
			return s, err
		}
	}
	return s, nil
}

// saveNotifications stores the choices that changed (form fields pay_<id>
// and ch_<id> for the company's communities; other ids are ignored).
func (h *Handler) saveNotifications(ctx context.Context, c *call) web.Response {
	if c.p.CompanyID == "" {
		return h.message(c, http.StatusOK, "通知设置", "收款通知只发给物业公司的员工；平台运营账号没有通知设置。", "/admin", "返回")
	}
	rows, prefs, err := h.notifyState(ctx, c)
	if err != nil {
		return h.internal(ctx, c, "notification preferences", err)
	}
	repo := h.Store.NotificationRepo()
	for _, r := range rows {
		on := c.form.Get("pay_"+r.ID) == "1"
		ch, err := notification.ParseChannel(c.form.Get("ch_" + r.ID))
		if err != nil {
			return h.formError(c, "请选择通知方式："+r.Name, "/admin/notifications")
		}
		before, had := prefs[r.ID]
		if had && before.Payments == on && before.Channel == ch || !had && !on {
			continue
		}
		after := notification.Preference{CompanyID: c.p.CompanyID, CommunityID: r.ID, StaffID: c.p.StaffID, Payments: on, Channel: ch,
			OpenID: before.OpenID, UpdatedAt: time.Now()}
		if err := repo.PutPreference(ctx, after); err != nil {
			return h.internal(ctx, c, "save notification preference", err)
		}
		h.audit(ctx, c, "notifications.update", "community", r.ID,
			map[string]any{"payments": before.Payments, "channel": before.Channel}, map[string]any{"payments": on, "channel": ch})
	}
	return c.done("/admin/notifications", "saved")
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/web"
)

// Unsubscribe serves the arrears reminders' 退订 link (GET /u/{token}: the
// question; POST /u/{token}: 不接收催缴, a conditional write on the house's
// reminder throttle). The token is the house id and its signature
// (shared/domain/reminder.UnsubToken); a GET changes nothing, so a link
// preview or prefetch cannot unsubscribe anyone.
type Unsubscribe struct {
	Key       []byte
	Reminders UnsubStore
	Names     func(ctx context.Context, communityID string) string // the community's name ("" if unknown)
	Now       func() time.Time
}

// UnsubStore is the reminders' store as the 退订 link uses it (shared/store.Reminders).
type UnsubStore interface {
	HouseByID(ctx context.Context, houseID string) (house.House, error)
	SetOptOut(ctx context.Context, companyID, houseID string, out bool, by string, at time.Time) error
}

const (
	msgUnsubBad  = "退订链接无效，请核对短信中的链接，或联系物业服务中心。"
	msgUnsubAsk  = "%s 不再接收逾期缴费提醒（短信和微信消息）？"
	msgUnsubDone = "已退订：%s 不再接收逾期缴费提醒（短信和微信消息）。"
)

func (h *Handler) unsubscribe(ctx context.Context, req web.Request) (web.Response, error) {
	u := h.Unsub
	page := func(status int, p web.UnsubPage) web.Response {
		if p.Title == "" {
			p.Title = "退订催缴提醒"
		}
		r := web.Render(status, "unsub.html", p)
		r.Headers["Cache-Control"] = "no-store"
		r.Headers["Referrer-Policy"] = "no-referrer"
		return r
	}
	if u == nil {
		return web.NotFound(req), nil
	}
	token := req.PathParameters["token"]
	houseID, sig, ok := reminder.ParseUnsub(token)
	if !ok {
		return page(http.StatusNotFound, web.UnsubPage{Message: msgUnsubBad}), nil
	}
	hs, err := u.Reminders.HouseByID(ctx, houseID)
	if errors.Is(err, house.ErrNotFound) || (err == nil && !reminder.VerifyUnsub(u.Key, hs.CompanyID, houseID, sig)) {
		return page(http.StatusNotFound, web.UnsubPage{Message: msgUnsubBad}), nil
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "unsubscribe: read house", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "服务暂时不可用，请稍后再试"), nil
	}
	name := ""
	if u.Names != nil {
		name = u.Names(ctx, hs.CommunityID)
	}
	label := hs.Label()
	if req.RequestContext.HTTP.Method != http.MethodPost {
		return page(http.StatusOK, web.UnsubPage{Community: name, Message: fmt.Sprintf(msgUnsubAsk, label), Confirm: true,
			Action: "/u/" + url.PathEscape(token)}), nil
	}
	if err := u.Reminders.SetOptOut(ctx, hs.CompanyID, hs.ID, true, "resident", u.Now()); err != nil {
		h.Log.ErrorContext(ctx, "unsubscribe: write", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "服务暂时不可用，请稍后再试"), nil
	}
	h.Log.InfoContext(ctx, "reminders unsubscribed", "company", hs.CompanyID, "house", hs.ID)
	return page(http.StatusOK, web.UnsubPage{Community: name, Message: fmt.Sprintf(msgUnsubDone, label)}), nil
}

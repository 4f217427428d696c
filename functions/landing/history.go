package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// PayerHistory lists one payer's payments in one community (store.Orders).
type PayerHistory interface {
	PayerOrders(ctx context.Context, companyID, communityID, payerKey, after string, limit int32) (order.Page, error)
}

// historyPageSize is how many payments one history page lists.
const historyPageSize = 20

// Messages of the history page.
const (
	msgHistoryOAuthFailed = "授权失败，暂时无法查看缴费记录，请稍后重试"
	msgHistoryNoAlipay    = "暂不支持在支付宝中查看缴费记录，请联系物业管理处"
)

// codeHistory is 我的缴费记录 opened from a code's page.
func (h *Handler) codeHistory(ctx context.Context, req web.Request) (web.Response, error) {
	token := req.PathParameters["token"]
	col, resp, ok, err := h.collection(ctx, token)
	if !ok || err != nil {
		return resp, err
	}
	back := "/c/" + url.PathEscape(token)
	return h.history(ctx, req, col, back)
}

// noticeHistory is 我的缴费记录 opened from a notice's page: the payer's
// payments in the notice's community.
func (h *Handler) noticeHistory(ctx context.Context, req web.Request) (web.Response, error) {
	view, err := h.Notices.Notice(ctx, req.PathParameters["id"])
	if errors.Is(err, payments.ErrUnknownNotice) {
		return noticeNotFound(), nil
	}
	if err != nil {
		return web.Response{}, err
	}
	return h.history(ctx, req, view.Collection, "/n/"+url.PathEscape(view.Notice.ID))
}

// history lists the payments of the payer the server identified — the
// verified payer cookie, obtained through the scanning app's OAuth step
// when missing — in col's community, newest first, each linking to its
// receipt. Nothing in the request names the payer: only which page of
// their own list (after, a cursor within their own partition).
func (h *Handler) history(ctx context.Context, req web.Request, col store.Collection, back string) (web.Response, error) {
	title := col.Community.Name
	msg := func(m string) web.Response {
		return web.Render(http.StatusOK, "message.html", web.MessagePage{Title: title, Community: title, Message: m})
	}
	decision := domain.DecideLanding(web.Header(req, "User-Agent"), col.Availability())
	if !decision.ShowForm {
		return msg(decision.Message), nil
	}
	iface := col.Interface(decision.App)
	if decision.App == domain.Alipay && iface.OAuthSecretRef == "" {
		return msg(msgHistoryNoAlipay), nil
	}
	page := back + "/history"
	payer, cookies, redirect, err := h.payer(ctx, req, *iface, page)
	if err != nil {
		h.Log.WarnContext(ctx, "history oauth failed", "channel", decision.App, "err", err)
		return msg(msgHistoryOAuthFailed), nil
	}
	if redirect != nil {
		return *redirect, nil
	}
	key := order.PayerKeyOf(decision.App, payer.AppID, payer.OpenID)
	list, err := h.History.PayerOrders(ctx, col.Company.ID, col.Community.ID, key, req.QueryStringParameters["after"], historyPageSize)
	if errors.Is(err, store.ErrBadCursor) {
		list, err = h.History.PayerOrders(ctx, col.Company.ID, col.Community.ID, key, "", historyPageSize)
	}
	if err != nil {
		return web.Response{}, err
	}
	p := web.HistoryPage{Title: "我的缴费记录 - " + title, Community: title, Company: col.Company.Name, Back: back}
	for _, o := range list.Orders {
		p.Rows = append(p.Rows, historyRow(o))
	}
	if list.Next != "" {
		p.More = page + "?after=" + url.QueryEscape(list.Next)
	}
	r := web.Render(http.StatusOK, "history.html", p)
	r.Headers["Cache-Control"] = "no-store"
	r.Cookies = cookies
	return r, nil
}

// historyRow is how the history lists o: amount, time, status, the house
// of a notice payment, and the link to its receipt (reachable, as
// before, by its order id alone).
func historyRow(o order.Order) web.HistoryRow {
	row := web.HistoryRow{Amount: domain.FormatYuan(o.AmountFen), PaidAt: calendar.FormatReadable(o.PaidAt), House: o.HouseLabel,
		Link: "/c/" + url.PathEscape(o.CodeToken) + "/orders/" + url.PathEscape(o.ID)}
	if o.NoticeID != "" {
		row.Link = "/n/" + url.PathEscape(o.NoticeID) + "/orders/" + url.PathEscape(o.ID)
	}
	switch {
	case o.Status == order.Refunded || o.BillsRefused || (o.RefundedFen > 0 && o.RefundedFen >= o.AmountFen):
		row.State, row.StatusText = "refunded", "已退款"
	case o.RefundedFen > 0:
		row.State, row.StatusText = "partial", "部分退款"
	case o.Status == order.Paid:
		row.State, row.StatusText = "paid", "支付成功"
	default:
		row.State, row.StatusText = "closed", "订单已关闭"
	}
	return row
}

package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// Notices answers what a payment notice asks now (payments.Service.Notice).
type Notices interface {
	Notice(ctx context.Context, id string) (payments.NoticeView, error)
}

func noticeNotFound() web.Response {
	return web.Render(http.StatusNotFound, "message.html", web.MessagePage{Title: "缴费通知单无效", Community: "缴费通知单无效", Message: "该缴费通知单不存在或已作废，请联系物业管理处。"})
}

// loadNotice reads the notice the path names; an unknown one is the Chinese
// 404 page (ok false).
func (h *Handler) loadNotice(ctx context.Context, req web.Request) (payments.NoticeView, web.Response, bool, error) {
	view, err := h.Notices.Notice(ctx, req.PathParameters["id"])
	if errors.Is(err, payments.ErrUnknownNotice) {
		return view, noticeNotFound(), false, nil
	}
	return view, web.Response{}, err == nil, err
}

var itemStateText = map[notice.ItemState]string{notice.ItemPaid: "已缴", notice.ItemPaying: "正在支付", notice.ItemWaived: "已减免"}

// notice is a payment notice's pay page (C6): opened like a code (C3: the
// scanning app decides the channel; any other browser is told which apps
// the community accepts), it lists the items and asks exactly what is left;
// a settled notice asks nothing (已缴清).
func (h *Handler) notice(ctx context.Context, req web.Request) (web.Response, error) {
	view, resp, ok, err := h.loadNotice(ctx, req)
	if !ok || err != nil {
		return resp, err
	}
	col, n, sum := view.Collection, view.Notice, view.Summary
	title := col.Community.Name
	page := web.NoticePage{Title: title + " 缴费通知单", Community: title, Company: col.Company.Name, NoticeID: n.ID,
		House: n.Label(), Owner: maskName(n.OwnerName), DueDate: string(n.DueDate),
		OpenFen: sum.OpenFen, Open: domain.FormatYuan(sum.OpenFen), Settled: sum.Settled, Paying: sum.Paying}
	for _, it := range sum.Items {
		page.Items = append(page.Items, web.NoticeItem{FeeItem: it.Bill.FeeItem, Period: it.Bill.Period, Amount: domain.FormatYuan(it.Bill.AmountFen),
			State: string(it.State), StateText: itemStateText[it.State]})
	}
	decision := domain.DecideLanding(web.Header(req, "User-Agent"), col.Availability())
	if !decision.ShowForm && !sum.Settled {
		return web.Render(http.StatusOK, "message.html", web.MessagePage{Title: title, Community: title, Message: decision.Message}), nil
	}
	page.Channel = string(decision.App)
	h.remindBindLink(ctx, view, &page)
	if decision.App != domain.WeChat || sum.Settled {
		return web.Render(http.StatusOK, "notice.html", page), nil
	}
	_, cookies, redirect, err := h.payer(ctx, req, *col.WeChat, "/n/"+url.PathEscape(n.ID))
	if err != nil {
		h.Log.WarnContext(ctx, "wechat oauth failed", "notice_prefix", n.ID[:6], "err", err)
		return web.Render(http.StatusOK, "message.html", web.MessagePage{Title: title, Community: title, Message: msgOAuthFailed}), nil
	}
	if redirect != nil {
		return *redirect, nil
	}
	r := web.Render(http.StatusOK, "notice.html", page)
	r.Cookies = cookies
	return r, nil
}

// maskName shows an owner's family name only (张**): the notice's URL is
// printed on paper, and whoever holds it may pay, not learn who lives there.
func maskName(name string) string {
	r := []rune(name)
	if len(r) == 0 {
		return ""
	}
	out := string(r[0])
	for range r[1:] {
		out += "*"
	}
	return out
}

// noticeResult is the receipt of a payment of this notice.
func (h *Handler) noticeResult(ctx context.Context, req web.Request) (web.Response, error) {
	view, resp, ok, err := h.loadNotice(ctx, req)
	if !ok || err != nil {
		return resp, err
	}
	id := view.Notice.ID
	title := view.Collection.Community.Name
	orderNotFound := web.Render(http.StatusNotFound, "message.html", web.MessagePage{Title: title, Community: title, Message: msgOrderNotFound})
	oid := req.PathParameters["oid"]
	if !payments.IsOrderID(oid) {
		return orderNotFound, nil
	}
	o, err := h.Orders.Get(ctx, oid)
	if errors.Is(err, order.ErrNotFound) {
		return orderNotFound, nil
	}
	if err != nil {
		return web.Response{}, err
	}
	if o.NoticeID != id {
		h.Log.WarnContext(ctx, "result page for another notice's order", "order_id", oid)
		return orderNotFound, nil
	}
	p := receipt(view.Collection, o)
	p.Back, p.House = "/n/"+url.PathEscape(id), view.Notice.Label()
	byID := map[string]notice.Item{}
	for _, it := range view.Summary.Items {
		byID[it.Bill.ID] = it
	}
	for _, bid := range o.BillIDs {
		if it, ok := byID[bid]; ok {
			p.Items = append(p.Items, web.ReceiptItem{Label: it.Bill.FeeItem + " " + it.Bill.Period, Amount: domain.FormatYuan(it.Bill.AmountFen)})
		}
	}
	h.invoiceBlock(ctx, req, &p, o, "/n/"+url.PathEscape(id)+"/orders/"+url.PathEscape(oid))
	return web.Render(http.StatusOK, "result.html", p), nil
}

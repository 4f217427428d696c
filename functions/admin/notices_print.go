package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// The notices' pages: the print page (one notice, or a batch of a
// community's), and the console's list and notice pages.

func yuan(fen int64) string { return domain.FormatYuan(domain.Fen(fen)) }

// itemStates are the lines' states as printed.
var itemStates = map[notice.ItemState]string{
	notice.ItemOpen: "未缴", notice.ItemPaying: "正在支付", notice.ItemPaid: "已缴", notice.ItemWaived: "已减免",
}

// printContext is what every sheet of a print page shares: the company,
// the community and which apps scan its codes (C2/C3 words).
type printContext struct {
	company store.Company
	cm      store.Community
	scan    string
}

func (h *Handler) printContextOf(ctx context.Context, cm store.Community) (printContext, error) {
	co, err := h.Store.GetCompany(ctx, cm.CompanyID)
	if err != nil {
		return printContext{}, err
	}
	ifaces, err := h.companyInterfaces(ctx, co.ID)
	if err != nil {
		return printContext{}, err
	}
	return printContext{company: co, cm: cm, scan: domain.DecideLanding("", availability(co, cm, ifaces)).Message}, nil
}

func (h *Handler) sheet(pc printContext, s standing) qrprint.NoticeSheet {
	sh := qrprint.NoticeSheet{ID: s.ID, URL: notice.NoticeURL(h.Notices.PublicBaseURL, s.ID), Company: pc.company.Name, Community: pc.cm.Name,
		House: s.Label(), Owner: s.OwnerName, Issued: string(calendar.BusinessDay(s.CreatedAt)), DueDate: string(s.DueDate),
		Total: yuan(s.sum.TotalFen), Remaining: yuan(s.sum.OpenFen), Settled: s.sum.Settled, Paying: s.sum.Paying, ScanMessage: pc.scan}
	if s.sum.PaidFen > 0 {
		sh.Paid = yuan(s.sum.PaidFen)
	}
	for _, it := range s.sum.Items {
		sh.Lines = append(sh.Lines, qrprint.NoticeLine{FeeItem: it.Bill.FeeItem, Period: it.Bill.Period, Amount: yuan(it.Bill.AmountFen),
			State: itemStates[it.State], Done: it.State == notice.ItemPaid || it.State == notice.ItemWaived})
	}
	return sh
}

// paperQuery is the request's query with size set (the A4/A5 links).
func paperQuery(c *call, size string) string {
	q := url.Values{}
	for k, v := range c.req.QueryStringParameters {
		if k != "size" && k != "done" {
			q.Set(k, v)
		}
	}
	q.Set("size", size)
	return "?" + q.Encode()
}

func (h *Handler) renderPrint(ctx context.Context, c *call, p qrprint.NoticePrint) web.Response {
	p.Paper = qrprint.ParsePaper(c.req.QueryStringParameters["size"])
	p.A4Link, p.A5Link = paperQuery(c, "a4"), paperQuery(c, "a5")
	b, err := qrprint.RenderNotices(p)
	if err != nil {
		return h.internal(ctx, c, "render notices", err)
	}
	r := file("text/html; charset=utf-8", b, false)
	r.Headers["Content-Security-Policy"] = qrprint.NoticesCSP
	r.Headers["Cache-Control"] = "no-store" // what remains changes with every payment
	return r
}

// printNotice: GET /admin/notices/{nid}/print and /admin/api/notices/{nid}/print
// (?size=a5), one notice as it stands now.
func (h *Handler) printNotice(ctx context.Context, c *call) web.Response {
	n, resp, ok := h.loadNotice(ctx, c)
	if !ok {
		return resp
	}
	cm, err := h.Store.GetCommunity(ctx, n.CommunityID)
	if err != nil {
		return h.internal(ctx, c, "get community", err)
	}
	pc, err := h.printContextOf(ctx, cm)
	if err != nil {
		return h.internal(ctx, c, "print context", err)
	}
	ss, err := h.Notices.summarize(ctx, []notice.Notice{n})
	if err != nil {
		return h.internal(ctx, c, "notice bills", err)
	}
	return h.renderPrint(ctx, c, qrprint.NoticePrint{Title: "缴费通知单 · " + n.Label(), Sheets: []qrprint.NoticeSheet{h.sheet(pc, ss[0])},
		Back: "/admin/notices/" + url.PathEscape(n.ID)})
}

// printNotices: GET /admin/communities/{id}/notices/print (?building=,
// ?unit=, ?size=, ?cursor=): the newest notice of each house, at most
// printBatch a page, with a link to the next batch. A house's notices are
// listed together (oldest first), so when a page ends inside a house's
// run, the run is read to its end before the page is cut.
func (h *Handler) printNotices(ctx context.Context, c *call) web.Response {
	if h.Notices == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	q := c.req.QueryStringParameters
	building, unit := strings.TrimSpace(q["building"]), strings.TrimSpace(q["unit"])
	if building == "" {
		unit = ""
	}
	r := h.Notices.Houses
	page, err := r.ListNotices(ctx, cm.CompanyID, cm.ID, building, unit, q["cursor"], printBatch)
	if errors.Is(err, store.ErrBadCursor) {
		return h.fail(c, http.StatusBadRequest, "bad_cursor", "分页参数无效，请从头开始")
	}
	if err != nil {
		return h.internal(ctx, c, "list notices", err)
	}
	items, next := page.Items, page.Next
	for next != "" && len(items) > 0 {
		peek, err := r.ListNotices(ctx, cm.CompanyID, cm.ID, building, unit, next, 1)
		if err != nil {
			return h.internal(ctx, c, "list notices", err)
		}
		if len(peek.Items) == 0 || peek.Items[0].HouseID != items[len(items)-1].HouseID {
			if len(peek.Items) == 0 {
				next = peek.Next
			}
			break
		}
		items, next = append(items, peek.Items[0]), peek.Next
	}
	var newest []notice.Notice
	for i, n := range items {
		if i+1 < len(items) && items[i+1].HouseID == n.HouseID {
			continue // a newer notice of the same house follows
		}
		newest = append(newest, n)
	}
	ss, err := h.Notices.summarize(ctx, newest)
	if err != nil {
		return h.internal(ctx, c, "notice bills", err)
	}
	pc, err := h.printContextOf(ctx, cm)
	if err != nil {
		return h.internal(ctx, c, "print context", err)
	}
	p := qrprint.NoticePrint{Title: "缴费通知单 · " + cm.Name + scopeLabel(building, unit), Back: "/admin/communities/" + url.PathEscape(cm.ID) + "/notices"}
	for _, s := range ss {
		p.Sheets = append(p.Sheets, h.sheet(pc, s))
	}
	p.Note = "本页 " + strconv.Itoa(len(p.Sheets)) + " 张（每户最新的一张通知单）。"
	if len(p.Sheets) == 0 {
		p.Note = "没有可打印的通知单：请先在通知单页面生成。"
	}
	if next != "" {
		nq := url.Values{"cursor": {next}}
		for _, k := range []string{"building", "unit", "size"} {
			if v := q[k]; v != "" {
				nq.Set(k, v)
			}
		}
		p.Next = "/admin/communities/" + url.PathEscape(cm.ID) + "/notices/print?" + nq.Encode()
		p.Note += "还有更多，打印完本页后请点“下一批”。"
	}
	return h.renderPrint(ctx, c, p)
}

// scopeLabel is " · 3栋" / " · 3栋2单元" for a building or unit, "" for the
// whole community.
func scopeLabel(building, unit string) string {
	if building == "" {
		return ""
	}
	return " · " + house.Label(building, unit, "")
}

// ---------------------------------------------------------------- console pages

type noticeRow struct {
	ID, House, Owner, Due, Created, Total, Remaining string
	Settled, Paying                                  bool
}

type issueView struct {
	Created, Existing, NoBills int
	Next                       string // cursor of the next batch
	Building, Unit             string
}

type noticesBody struct {
	ID, Community    string
	Building, Unit   string
	Rows             []noticeRow
	Next, First      string
	PrintA4, PrintA5 string
	CanIssue         bool
	Result           *issueView
}

func (h *Handler) renderNoticesPage(c *call, l listing, status int, result *issueView) web.Response {
	base := "/admin/communities/" + url.PathEscape(l.cm.ID) + "/notices"
	filter := url.Values{}
	if l.building != "" {
		filter.Set("building", l.building)
		if l.unit != "" {
			filter.Set("unit", l.unit)
		}
	}
	b := noticesBody{ID: l.cm.ID, Community: l.cm.Name, Building: l.building, Unit: l.unit, CanIssue: can(c.p.Role, ActNoticesIssue), Result: result}
	for _, size := range []string{"a4", "a5"} {
		q := url.Values{"size": {size}}
		for k, v := range filter {
			q[k] = v
		}
		if size == "a4" {
			b.PrintA4 = base + "/print?" + q.Encode()
		} else {
			b.PrintA5 = base + "/print?" + q.Encode()
		}
	}
	if l.next != "" {
		q := url.Values{"cursor": {l.next}}
		for k, v := range filter {
			q[k] = v
		}
		b.Next = base + "?" + q.Encode()
	}
	if c.req.QueryStringParameters["cursor"] != "" {
		b.First = base
		if len(filter) > 0 {
			b.First += "?" + filter.Encode()
		}
	}
	for _, s := range l.items {
		b.Rows = append(b.Rows, noticeRow{ID: s.ID, House: s.Label(), Owner: s.OwnerName, Due: string(s.DueDate),
			Created: calendar.FormatReadable(s.CreatedAt)[:16], Total: yuan(s.sum.TotalFen), Remaining: yuan(s.sum.OpenFen),
			Settled: s.sum.Settled, Paying: s.sum.Paying})
	}
	return h.render(status, "notices.html", h.page(c, "缴费通知单 · "+l.cm.Name, b))
}

// noticesPage: GET /admin/communities/{id}/notices.
func (h *Handler) noticesPage(ctx context.Context, c *call) web.Response {
	l, resp, ok := h.listNotices(ctx, c, listLimit)
	if !ok {
		return resp
	}
	return h.renderNoticesPage(c, l, http.StatusOK, nil)
}

// issueNoticesForm: POST /admin/communities/{id}/notices. With a room: the
// house's notice (then its page); without: a batch of the building, unit or
// community, answered with the list and what was made (re-posting makes
// nothing twice).
func (h *Handler) issueNoticesForm(ctx context.Context, c *call) web.Response {
	if h.Notices == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	back := "/admin/communities/" + url.PathEscape(cm.ID) + "/notices"
	building, unit, room := strings.TrimSpace(c.form.Get("building")), strings.TrimSpace(c.form.Get("unit")), strings.TrimSpace(c.form.Get("room"))
	if room != "" {
		if building == "" {
			return h.formError(c, "请填写楼栋和房号", back)
		}
		out, resp, ok := h.issueForHouse(ctx, c, house.ID(cm.CompanyID, cm.ID, building, unit, room))
		if !ok {
			if resp.StatusCode == http.StatusNotFound {
				return h.formError(c, "本小区没有 "+house.Label(building, unit, room)+" 这套房屋，请检查楼栋、单元和房号", back)
			}
			return resp
		}
		done := "notice"
		if len(out.Created) == 0 {
			done = "notice_exists"
		}
		return c.done("/admin/notices/"+url.PathEscape(out.IDs[0]), done)
	}
	out, resp, ok := h.issueForCommunity(ctx, c, cm.ID, building, unit, c.form.Get("cursor"))
	if !ok {
		if resp.StatusCode == http.StatusBadRequest {
			return h.formError(c, "按单元生成时请同时填写楼栋", back)
		}
		return resp
	}
	c.req.QueryStringParameters = map[string]string{"building": building, "unit": unit}
	l, resp, ok := h.listNotices(ctx, c, listLimit)
	if !ok {
		return resp
	}
	return h.renderNoticesPage(c, l, http.StatusOK, &issueView{Created: len(out.Created), Existing: len(out.Existing), NoBills: out.NoBills,
		Next: out.Next, Building: building, Unit: unit})
}

type noticeLine struct {
	FeeItem, Period, Amount, Due, State, Class string
}

type noticeBody struct {
	ID, URL, CommunityID, Community string
	House, Owner, Due, Created      string
	Lines                           []noticeLine
	Total, Paid, Remaining          string
	Settled, Paying                 bool
	PrintA4, PrintA5, JSON, Back    string
}

var stateClass = map[notice.ItemState]string{notice.ItemOpen: "warn", notice.ItemPaying: "warn", notice.ItemPaid: "ok", notice.ItemWaived: ""}

// noticePage: GET /admin/notices/{nid}, the notice as it stands, with its
// 打印 buttons and the printer warning.
func (h *Handler) noticePage(ctx context.Context, c *call) web.Response {
	n, resp, ok := h.loadNotice(ctx, c)
	if !ok {
		return resp
	}
	cm, err := h.Store.GetCommunity(ctx, n.CommunityID)
	if err != nil {
		return h.internal(ctx, c, "get community", err)
	}
	ss, err := h.Notices.summarize(ctx, []notice.Notice{n})
	if err != nil {
		return h.internal(ctx, c, "notice bills", err)
	}
	s := ss[0]
	id := url.PathEscape(n.ID)
	b := noticeBody{ID: n.ID, URL: notice.NoticeURL(h.Notices.PublicBaseURL, n.ID), CommunityID: cm.ID, Community: cm.Name,
		House: n.Label(), Owner: n.OwnerName, Due: string(n.DueDate), Created: calendar.FormatReadable(n.CreatedAt),
		Total: yuan(s.sum.TotalFen), Remaining: yuan(s.sum.OpenFen), Settled: s.sum.Settled, Paying: s.sum.Paying,
		PrintA4: "/admin/notices/" + id + "/print?size=a4", PrintA5: "/admin/notices/" + id + "/print?size=a5",
		JSON: "/admin/api/notices/" + id, Back: "/admin/communities/" + url.PathEscape(cm.ID) + "/notices"}
	if s.sum.PaidFen > 0 {
		b.Paid = yuan(s.sum.PaidFen)
	}
	for _, it := range s.sum.Items {
		b.Lines = append(b.Lines, noticeLine{FeeItem: it.Bill.FeeItem, Period: it.Bill.Period, Amount: yuan(it.Bill.AmountFen),
			Due: string(it.Bill.DueDate), State: itemStates[it.State], Class: stateClass[it.State]})
	}
	return h.render(http.StatusOK, "notice.html", h.page(c, "缴费通知单 · "+n.Label(), b))
}

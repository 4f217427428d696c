package main

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
	"github.com/estatepay/estatepay/shared/web/console"
)

// The console's routes (console_codes.go, console_records.go,
// console_dashboard.go) resolve the caller's resource and check permission
// and tenancy; these views render it with the code prints (codes.go), the
// records (records.go) and the dashboard (dashboard.go).

// tenantOf is the caller's scope for the prints and records.
func tenantOf(c *call) Tenant {
	if c.p.Role == RoleOperator {
		return Tenant{CompanyID: c.scopeCompany(), Platform: true}
	}
	return Tenant{CompanyID: c.p.CompanyID}
}

// communityRequest is the request the prints and records read: the
// community in the path, the code (if any) and the caller's query.
func communityRequest(c *call, communityID, code string) web.Request {
	req := c.req
	req.PathParameters = map[string]string{"id": communityID}
	q := map[string]string{}
	for k, v := range c.req.QueryStringParameters {
		q[k] = v
	}
	if code != "" {
		q["code"] = code
	}
	req.QueryStringParameters = q
	return req
}

// codeViews renders codes with CodePrints.
type codeViews struct{ prints *CodePrints }

type codePage struct {
	Company, Community, URL string
	Symbol                  template.HTML
	PNG, SVG, Poster        string
	Screen                  string // the counter display (F7, dyncode.go)
}

func (v codeViews) CodePage(ctx context.Context, h *Handler, c *call, t CodeTarget) web.Response {
	sym, err := qrprint.Symbol(t.URL, "qr")
	if err != nil {
		return h.internal(ctx, c, "code symbol", err)
	}
	base := "/admin/api/communities/" + url.PathEscape(t.Community.ID)
	q := "?code=" + url.QueryEscape(t.Code.Token)
	if c.p.Role == RoleOperator {
		q += "&company=" + url.QueryEscape(t.Company.ID)
	}
	return h.render(http.StatusOK, "code.html", h.page(c, "收款码", codePage{
		Company: t.Company.Name, Community: t.Community.Name, URL: t.URL, Symbol: sym,
		PNG: base + "/code.png" + q, SVG: base + "/code.svg" + q, Poster: "/admin/codes/" + url.PathEscape(t.Code.Token) + "/poster" + q,
		Screen: "/admin/codes/" + url.PathEscape(t.Code.Token) + "/screen" + q,
	}))
}

func (v codeViews) Poster(ctx context.Context, h *Handler, c *call, t CodeTarget) web.Response {
	return v.prints.Poster(ctx, tenantOf(c), communityRequest(c, t.Community.ID, t.Code.Token))
}

func (v codeViews) PNG(ctx context.Context, h *Handler, c *call, t CodeTarget) web.Response {
	return v.prints.PNG(ctx, tenantOf(c), communityRequest(c, t.Community.ID, t.Code.Token))
}

func (v codeViews) SVG(ctx context.Context, h *Handler, c *call, t CodeTarget) web.Response {
	return v.prints.SVG(ctx, tenantOf(c), communityRequest(c, t.Community.ID, t.Code.Token))
}

// recordViews serves records with Records.
type recordViews struct{ records *Records }

// recordFilters are the records page's filter fields (query parameters),
// kept in the paging and export links.
var recordFilters = []string{"from", "to", "channel", "status", "min", "max", "q"}

type recordRow struct {
	PaidAt, Amount, Channel, Status, StatusClass, Payer, OrderID, TxnID string
	Refunded                                                            string // yuan refunded so far, "" for none
	BillsRefused                                                        bool   // refunded automatically: its bills were paid by someone else
	Href                                                                string // the payment's page
}

type recordsPage struct {
	ID, Community    string
	Filter           map[string]string // the filters as entered
	Rows             []recordRow
	Error            string // a filter to correct
	CSV, Next, First string // links: export, next page, back to the first
	Filtered         bool
}

// RecordsPage is the community's records for people: the filters (GET
// form), one page newest first, the next page's link, the CSV export with
// the same filters.
func (v recordViews) RecordsPage(ctx context.Context, h *Handler, c *call, cm store.Community) web.Response {
	req := communityRequest(c, cm.ID, "")
	q := url.Values{}
	b := recordsPage{ID: cm.ID, Community: cm.Name, Filter: map[string]string{}}
	for _, k := range recordFilters {
		if val := strings.TrimSpace(req.QueryStringParameters[k]); val != "" {
			b.Filter[k] = val
			q.Set(k, val)
		}
	}
	b.Filtered = len(q) > 0
	base := "/admin/communities/" + url.PathEscape(cm.ID) + "/records"
	b.CSV = "/admin/api/communities/" + url.PathEscape(cm.ID) + "/payments.csv"
	if len(q) > 0 {
		b.CSV += "?" + q.Encode()
	}
	if req.QueryStringParameters["cursor"] != "" {
		b.First = base
		if len(q) > 0 {
			b.First += "?" + q.Encode()
		}
	}
	delete(req.QueryStringParameters, "limit") // the page's own size
	page, err := v.records.Query(ctx, tenantOf(c), req)
	var re *recordsError
	switch {
	case errors.As(err, &re) && re.status == http.StatusBadRequest:
		b.Error = re.msg // a filter to correct: the form again, with the message
	case err != nil:
		if errors.As(err, &re) {
			return h.fail(c, re.status, re.code, re.msg)
		}
		return h.internal(ctx, c, "records page", err)
	}
	labels := map[string]string{}
	if co, err := h.Store.GetCompany(ctx, cm.CompanyID); err == nil {
		for _, f := range csvFields(co.PayerFields, cm.PayerFields) {
			labels[f.Key] = f.Label
		}
	}
	for _, r := range page.Payments {
		row := recordRow{Amount: r.Amount, Channel: r.Channel.Name(), OrderID: r.OrderID, TxnID: r.ProviderTxnID, PaidAt: r.PaidAt,
			BillsRefused: r.BillsRefused, Href: "/admin/orders/" + url.PathEscape(r.OrderID)}
		row.Status, row.StatusClass = orderStatusName(order.Order{Status: r.Status, RefundedFen: r.RefundedFen, BillsRefused: r.BillsRefused})
		if r.RefundedFen > 0 {
			row.Refunded = domain.FormatYuan(r.RefundedFen)
		}
		if t, err := time.Parse(time.RFC3339, r.PaidAt); err == nil {
			row.PaidAt = console.When(t)
		}
		row.Payer = payerText(r.Fields, labels)
		b.Rows = append(b.Rows, row)
	}
	if page.NextCursor != "" {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("cursor", page.NextCursor)
		b.Next = base + "?" + nq.Encode()
	}
	return h.render(http.StatusOK, "records.html", h.page(c, cm.Name+" · 收款记录", b))
}

func (v recordViews) PaymentsJSON(ctx context.Context, h *Handler, c *call, cm store.Community) web.Response {
	return v.records.JSON(ctx, tenantOf(c), communityRequest(c, cm.ID, ""))
}

func (v recordViews) PaymentsCSV(ctx context.Context, h *Handler, c *call, cm store.Community) web.Response {
	return v.records.CSV(ctx, tenantOf(c), communityRequest(c, cm.ID, ""))
}

// dashboardViews renders the dashboard fragment inside the console layout.
type dashboardViews struct {
	dash *Dashboard
	now  func() time.Time
}

type dashboardPage struct{ HTML template.HTML }

func (v dashboardViews) Dashboard(ctx context.Context, h *Handler, c *call, co store.Company) web.Response {
	if c.req.RequestContext.HTTP.Path == "/admin/api/dashboard" {
		data, err := v.dash.DashboardJSON(ctx, co.ID, v.now())
		if err != nil {
			return h.internal(ctx, c, "dashboard", err)
		}
		return web.JSON(http.StatusOK, data)
	}
	page, err := v.dash.DashboardPage(ctx, co.ID, v.now())
	if err != nil {
		return h.internal(ctx, c, "dashboard", err)
	}
	frag, err := page.Fragment()
	if err != nil {
		return h.internal(ctx, c, "dashboard page", err)
	}
	return h.render(http.StatusOK, "dashboard.html", h.page(c, "概览", dashboardPage{HTML: frag}))
}

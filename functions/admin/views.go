package main

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
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

func (v recordViews) RecordsPage(ctx context.Context, h *Handler, c *call, cm store.Community) web.Response {
	// The records page is the JSON records of the community for now, with
	// its filters; the CSV export is linked from the community page.
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

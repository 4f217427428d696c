package main

import (
	"context"
	"net/http"

	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// The dashboard: today's and the last 30 days' collections per community and
// channel, from the aggregates (StatsTable). The route, scope and permission
// check are here; DashboardViews, filled by the dashboard part of the
// console, renders it.

// DashboardViews renders a company's dashboard (h and c give the page helpers).
type DashboardViews interface {
	Dashboard(ctx context.Context, h *Handler, c *call, co store.Company) web.Response // GET /admin/dashboard
}

func init() {
	register(
		route{method: "GET", pattern: "/admin/dashboard", action: ActDashboardView, handle: (*Handler).dashboard},
		route{method: "GET", pattern: "/admin/api/dashboard", action: ActDashboardView, handle: (*Handler).dashboard},
	)
}

func (h *Handler) dashboard(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	if h.Dashboard == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	return h.Dashboard.Dashboard(ctx, h, c, co)
}

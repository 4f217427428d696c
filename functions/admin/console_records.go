package main

import (
	"context"
	"net/http"

	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Records (C7): the records page with its filters and the CSV export. The
// routes, tenancy and permission checks are here; RecordViews, filled by the
// records part of the console, renders them: the page, the JSON API (the
// contract: same filters, limit and cursor) and the CSV export.

// RecordViews renders a community's records (h and c give the page helpers).
type RecordViews interface {
	RecordsPage(ctx context.Context, h *Handler, c *call, cm store.Community) web.Response  // GET /admin/communities/{id}/records
	PaymentsJSON(ctx context.Context, h *Handler, c *call, cm store.Community) web.Response // GET /admin/api/communities/{id}/payments
	PaymentsCSV(ctx context.Context, h *Handler, c *call, cm store.Community) web.Response  // GET /admin/api/communities/{id}/payments.csv
}

func init() {
	register(
		route{method: "GET", pattern: "/admin/communities/{id}/records", action: ActRecordsView, handle: recordsRoute(RecordViews.RecordsPage)},
		route{method: "GET", pattern: "/admin/api/communities/{id}/payments", action: ActRecordsView, handle: recordsRoute(RecordViews.PaymentsJSON)},
		route{method: "GET", pattern: "/admin/api/communities/{id}/payments.csv", action: ActRecordsView, handle: recordsRoute(RecordViews.PaymentsCSV)},
	)
}

func recordsRoute(v func(RecordViews, context.Context, *Handler, *call, store.Community) web.Response) func(*Handler, context.Context, *call) web.Response {
	return func(h *Handler, ctx context.Context, c *call) web.Response {
		cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
		if !ok {
			return resp
		}
		if h.Records == nil {
			return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
		}
		return v(h.Records, ctx, h, c, cm)
	}
}

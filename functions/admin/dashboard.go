package main

import (
	"context"
	"time"

	"github.com/estatepay/estatepay/shared/dashboard"
	"github.com/estatepay/estatepay/shared/store"
)

// Dashboard serves the console's dashboard (GET /admin/dashboard, GET
// /admin/api/dashboard): today's and the last 30 days' collections per
// community and channel of the caller's company, read from the aggregates
// StatsFunction keeps (StatsTable, one Query per community), never from the
// orders. The router authenticates and passes the caller's company id;
// now is the request time (the business days are Asia/Shanghai).
type Dashboard struct {
	Stats dashboard.Source // *store.Stats on STATS_TABLE
	// Communities lists a company's communities (the directory).
	Communities func(ctx context.Context, companyID string) ([]store.Community, error)
}

// DashboardJSON is the body of GET /admin/api/dashboard (dashboard.Data:
// amounts in fen with their yuan text, business days, per community and
// channel).
func (d *Dashboard) DashboardJSON(ctx context.Context, companyID string, now time.Time) (dashboard.Data, error) {
	cs, err := d.Communities(ctx, companyID)
	if err != nil {
		return dashboard.Data{}, err
	}
	list := make([]dashboard.Community, 0, len(cs))
	for _, c := range cs {
		if c.CompanyID == companyID { // the directory's answer, held to the caller's company once more
			list = append(list, dashboard.Community{ID: c.ID, Name: c.Name})
		}
	}
	return dashboard.Build(ctx, d.Stats, companyID, list, now)
}

// DashboardPage is the data of the page GET /admin/dashboard: the figures,
// the inline SVG charts and the tables; page.Fragment() renders them all as
// one <section> for the console's layout.
func (d *Dashboard) DashboardPage(ctx context.Context, companyID string, now time.Time) (dashboard.Page, error) {
	data, err := d.DashboardJSON(ctx, companyID, now)
	if err != nil {
		return dashboard.Page{}, err
	}
	return dashboard.NewPage(data), nil
}

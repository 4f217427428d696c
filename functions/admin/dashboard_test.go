package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// The dashboard reads the aggregates the stats consumer wrote, for the
// caller's company only.
func TestDashboardReadsTheCompanysAggregates(t *testing.T) {
	st := stacktest.NewStore(t)
	now := time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC) // 12:00 in Shanghai
	stats := &store.Stats{DB: st.DB, Table: "StatsTable", Clock: func() time.Time { return now }}
	ctx := context.Background()
	for i, e := range []struct {
		company, community, channel string
		fen                         int64
		day                         calendar.Day
	}{
		{"co1", "c1", "wechat", 1000, "2026-11-29"},
		{"co1", "c1", "alipay", 250, "2026-11-29"},
		{"co1", "c1", "alipay", 300, "2026-11-01"},
		{"co1", "c2", "alipay", 700, "2026-11-28"},
		{"co1", "c1", "alipay", 9900, "2026-10-30"}, // 31 days ago: outside
		{"co2", "x1", "alipay", 5000, "2026-11-29"}, // another company
	} {
		id := "EPDASH" + string(rune('A'+i))
		if _, err := stats.Add(ctx, order.Event{ID: id + ":3", Type: order.EventPaid, OrderID: id, From: order.Pending,
			CompanyID: e.company, CommunityID: e.community, Channel: e.channel, AmountFen: e.fen, BusinessDay: e.day}); err != nil {
			t.Fatal(err)
		}
	}
	directory := map[string][]store.Community{
		"co1": {{ID: "c1", CompanyID: "co1", Name: "阳光花园"}, {ID: "c2", CompanyID: "co1", Name: "翠湖小区"},
			{ID: "x1", CompanyID: "co2", Name: "别家小区"}}, // a directory answer that strays is held to the company
	}
	d := &Dashboard{Stats: stats, Communities: func(_ context.Context, company string) ([]store.Community, error) {
		return directory[company], nil
	}}

	data, err := d.DashboardJSON(ctx, "co1", now)
	if err != nil {
		t.Fatal(err)
	}
	if data.Today != "2026-11-29" || len(data.Communities) != 2 || data.Communities[0].Name != "阳光花园" || data.Communities[1].ID != "c2" {
		t.Fatalf("dashboard: today %s, communities %+v", data.Today, data.Communities)
	}
	c1 := data.Communities[0]
	if c1.Today.All.AmountFen != 1250 || c1.Today.ByChannel["wechat"].AmountFen != 1000 || c1.LastDays.All.AmountFen != 1550 || c1.LastDays.All.Count != 3 {
		t.Fatalf("c1: today %+v, 30 days %+v", c1.Today, c1.LastDays.All)
	}
	if tot := data.Total; tot.Today.All.AmountFen != 1250 || tot.LastDays.All.AmountFen != 2250 || tot.LastDays.All.Amount != "22.50" {
		t.Fatalf("company totals: today %+v, 30 days %+v", tot.Today.All, tot.LastDays.All)
	}

	page, err := d.DashboardPage(ctx, "co1", now)
	if err != nil {
		t.Fatal(err)
	}
	html, err := page.Fragment()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"阳光花园", "翠湖小区", "¥12.50（2 笔）", "<svg "} {
		if !strings.Contains(string(html), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(string(html), "别家小区") || strings.Contains(string(html), "50.00") {
		t.Errorf("another company's community or money on the page")
	}

	down := errors.New("directory unavailable")
	d.Communities = func(context.Context, string) ([]store.Community, error) { return nil, down }
	if _, err := d.DashboardPage(ctx, "co1", now); !errors.Is(err, down) {
		t.Fatalf("directory error: %v", err)
	}
}

package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

type exposingProvider struct {
	pay.Provider
	answer fenfu.Exposure
	asked  int
}

func (p *exposingProvider) Exposure(ctx context.Context, payer string, amount int64) (fenfu.Exposure, error) {
	p.asked++
	return p.answer, nil
}

type fakeHistory struct{ orders []order.Order } // newest first

func (h *fakeHistory) PayerOrders(ctx context.Context, companyID, communityID, payerKey, after string, limit int32) (order.Page, error) {
	var out []order.Order
	for _, o := range h.orders {
		if o.CompanyID == companyID && o.CommunityID == communityID && o.PayerKey == payerKey && int32(len(out)) < limit {
			o.Method = "" // the payer index does not project it
			out = append(out, o)
		}
	}
	return order.Page{Orders: out}, nil
}

func (h *fakeHistory) Get(ctx context.Context, id string) (order.Order, error) {
	for _, o := range h.orders {
		if o.ID == id {
			return o, nil
		}
	}
	return order.Order{}, order.ErrNotFound
}

type riskClock struct{ t time.Time }

func (c *riskClock) Now() time.Time { return c.t }

func fenfuGate(t *testing.T) (*payments.Fenfu, *fakeHistory, *riskClock) {
	st := newStore(t)
	clock := &riskClock{t: time.Date(2026, 12, 6, 10, 0, 0, 0, calendar.Shanghai)}
	hist := &fakeHistory{}
	return &payments.Fenfu{Store: &store.Fenfu{DB: st.DB, Table: "FenfuTable"}, History: hist, Orders: hist,
		Settlements: &store.Settlements{DB: st.DB, Table: "StatsTable"}, Limits: fenfu.DefaultLimits(), Now: clock.Now}, hist, clock
}

func fenfuOrder(id string, fen int64) order.Order {
	return order.Order{ID: id, CompanyID: "co", CommunityID: "cm", Channel: domain.WeChat, MerchantID: "1900000001", AmountFen: fen,
		PayerID: "oPayer", PayerKey: "wx:oPayer", Method: fenfu.Method, Status: order.Pending}
}

func TestFenfuAdmit(t *testing.T) {
	g, hist, clock := fenfuGate(t)
	ctx := context.Background()
	prov := &exposingProvider{answer: fenfu.Exposure{Show: true, Grade: "B", Token: "MET1"}}
	refusedAs := func(err error, code string) bool {
		var r *payments.FenfuRefused
		return errors.As(err, &r) && r.Code == code && r.Message != ""
	}
	// not offered by the merchant
	if _, err := g.Admit(ctx, fenfuOrder("o0", 5000), false, prov); !refusedAs(err, "fenfu_unavailable") {
		t.Fatalf("merchant without 分付: %v", err)
	}
	// the payer paid earlier today: 9.99 is not offered, 10.00 is
	hist.orders = []order.Order{{ID: "p1", CompanyID: "co", CommunityID: "cm", PayerKey: "wx:oPayer", PaidAt: clock.t.Add(-time.Hour)}}
	if _, err := g.Admit(ctx, fenfuOrder("o1", 999), true, prov); !refusedAs(err, "fenfu_unavailable") {
		t.Fatalf("9.99 not first of day: %v", err)
	}
	if tok, err := g.Admit(ctx, fenfuOrder("o2", 1000), true, prov); err != nil || tok != "MET1" {
		t.Fatalf("10.00: %q %v", tok, err)
	}
	// first payment of the day (last paid yesterday): 9.99 is offered
	hist.orders[0].PaidAt = clock.t.Add(-24 * time.Hour)
	if tok, err := g.Admit(ctx, fenfuOrder("o3", 999), true, prov); err != nil || tok != "MET1" {
		t.Fatalf("9.99 first of day: %q %v", tok, err)
	}
	// the provider says no
	prov.answer = fenfu.Exposure{Show: false, Grade: "D"}
	if _, err := g.Admit(ctx, fenfuOrder("o4", 5000), true, prov); !refusedAs(err, "fenfu_unavailable") {
		t.Fatalf("exposure false: %v", err)
	}
	prov.answer = fenfu.Exposure{Show: true, Grade: "A", Token: "MET2"}
	// night: a large payment refused at 23:00, recorded; ordinary-sized passes
	clock.t = time.Date(2026, 12, 6, 23, 0, 0, 0, calendar.Shanghai)
	if _, err := g.Admit(ctx, fenfuOrder("o5", g.Limits.NightLargeFen), true, prov); !refusedAs(err, "fenfu_night") {
		t.Fatalf("night large: %v", err)
	}
	if _, err := g.Admit(ctx, fenfuOrder("o6", g.Limits.NightLargeFen-1), true, prov); err != nil {
		t.Fatalf("night small: %v", err)
	}
	// daily limit, the next morning: 49,000 fits, then 1,000.01 more does not (refused, recorded)
	clock.t = time.Date(2026, 12, 7, 9, 0, 0, 0, calendar.Shanghai)
	if _, err := g.Admit(ctx, fenfuOrder("o8", 4_900_000), true, prov); err != nil {
		t.Fatalf("49,000: %v", err)
	}
	if _, err := g.Admit(ctx, fenfuOrder("o7", 100_001), true, prov); !refusedAs(err, "fenfu_daily_limit") {
		t.Fatalf("over the day: %v", err)
	}
	recs, _, err := g.Store.Records(ctx, "co", false, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]fenfu.Decision{}
	for _, r := range recs {
		byID[r.ID] = r.Decision
	}
	if byID["o5#night_large"] != fenfu.Refuse || byID["o6#night_large"] != fenfu.Allow || byID["o7#daily_limit"] != fenfu.Refuse || byID["o2#daily_limit"] != fenfu.Allow {
		t.Fatalf("records %v", byID)
	}
	// a failed payment's place is given back
	o6 := fenfuOrder("o6", g.Limits.NightLargeFen-1)
	o6.CreatedAt = time.Date(2026, 12, 6, 23, 0, 0, 0, calendar.Shanghai)
	before, _ := g.Store.Spent(ctx, "oPayer", calendar.BusinessDay(o6.CreatedAt))
	if err := g.Release(ctx, o6); err != nil {
		t.Fatal(err)
	}
	if after, _ := g.Store.Spent(ctx, "oPayer", calendar.BusinessDay(o6.CreatedAt)); before-after != o6.AmountFen {
		t.Fatalf("release: %d -> %d", before, after)
	}
}

// The third 分付 payment in a row warns and is held 48 h out of settlement,
// then released into the statement of the day the hold ends.
func TestFenfuThreeInARowHeldAndReleased(t *testing.T) {
	g, hist, clock := fenfuGate(t)
	ctx := context.Background()
	paidAt := clock.t
	paid := func(id string, method string, at time.Time) order.Order {
		o := fenfuOrder(id, 2000)
		o.Method, o.Status, o.PaidAt, o.BusinessDay, o.ProviderTxnID = method, order.Paid, at, calendar.BusinessDay(at), "tx"+id
		hist.orders = append([]order.Order{o}, hist.orders...)
		return o
	}
	for i, m := range []string{fenfu.Method, "", fenfu.Method, fenfu.Method} {
		o := paid("p"+string(rune('1'+i)), m, paidAt.Add(time.Duration(i)*time.Minute))
		if m == fenfu.Method {
			if err := g.Paid(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	third := paid("p5", fenfu.Method, paidAt.Add(5*time.Minute))
	for i := 0; i < 2; i++ { // reported twice: decided once
		if err := g.Paid(ctx, third); err != nil {
			t.Fatal(err)
		}
	}
	warns, _, err := g.Store.Records(ctx, "co", true, "", 50)
	if err != nil || len(warns) != 2 || warns[0].OrderID != "p5" || warns[1].OrderID != "p5" {
		t.Fatalf("warnings %+v %v", warns, err)
	}
	h, err := g.Settlements.Hold(ctx, domain.WeChat, "1900000001", "p5")
	if err != nil || !h.Held() || h.By != "risk:suspicious" || h.PaidDay != calendar.BusinessDay(paidAt) {
		t.Fatalf("hold %+v %v", h, err)
	}
	if _, err := g.Settlements.Hold(ctx, domain.WeChat, "1900000001", "p4"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the second in a row is not held: %v", err)
	}
	clock.t = paidAt.Add(5*time.Minute + 48*time.Hour - time.Second)
	if n, err := g.ReleaseDue(ctx, domain.WeChat, "1900000001"); err != nil || n != 0 {
		t.Fatalf("before 48 h: %d %v", n, err)
	}
	clock.t = paidAt.Add(5*time.Minute + 48*time.Hour)
	if n, err := g.ReleaseDue(ctx, domain.WeChat, "1900000001"); err != nil || n != 1 {
		t.Fatalf("at 48 h: %d %v", n, err)
	}
	h, _ = g.Settlements.Hold(ctx, domain.WeChat, "1900000001", "p5")
	if h.ReleasedDay != calendar.BusinessDay(paidAt).Next().Next() || !h.Held() || !h.ReleasedOn(h.ReleasedDay) {
		t.Fatalf("released %+v", h)
	}
}

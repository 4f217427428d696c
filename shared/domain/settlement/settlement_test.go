package settlement

import (
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
)

func TestFeeGolden(t *testing.T) {
	s := DefaultSchedule()
	flat, err := s.PlanFor("m1", domain.WeChat, "")
	if err != nil {
		t.Fatal(err)
	}
	fenfu, err := s.PlanFor("m1", domain.WeChat, MethodFenfu)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		plan        Plan
		mtd, amount int64
		want        int64
	}{
		{"100 yuan at 0.60%", flat, 0, 10000, 60},
		{"1 fen rounds to 0", flat, 0, 1, 0},
		{"83 fen: 0.498 fen rounds down", flat, 0, 83, 0},
		{"84 fen: 0.504 fen rounds up", flat, 0, 84, 1},
		{"250 fen: 1.5 fen rounds half up", flat, 0, 250, 2},
		{"分付 tier 1: 0.70%", fenfu, 0, 10000, 70},
		{"分付 last fen of tier 1", fenfu, 49_999_999, 1, 0},
		{"分付 exactly at 500k: tier 2 0.63%", fenfu, 50_000_000, 10000, 63},
		{"分付 crossing 500k inside a payment: 100 yuan at 0.70% + 100 yuan at 0.63%", fenfu, 49_990_000, 20000, 133},
		{"分付 crossing both boundaries in one payment", fenfu, 49_990_000, 150_020_000, 70 + 945000 + 55},
		{"分付 above 2M: 0.55%", fenfu, 300_000_000, 10000, 55},
		{"zero amount", fenfu, 0, 0, 0},
	}
	for _, c := range cases {
		if got := c.plan.Fee(c.mtd, c.amount); got != c.want {
			t.Errorf("%s: fee %d, want %d", c.name, got, c.want)
		}
	}
}

func TestDiscountStopsAtFloorAndMerchantPlansWin(t *testing.T) {
	s, err := ParseSchedule([]byte(`{"plans":{"wechat/fenfu":{"tiers":[{"from_fen":0,"base_bp":60,"tech_bp":10,"floor_bp":50}],"discount_bp":40}},
 "merchants":{"m2":{"wechat/":{"tiers":[{"from_fen":0,"base_bp":38,"tech_bp":0,"floor_bp":0}]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.PlanFor("m1", domain.WeChat, MethodFenfu)
	if got := p.Fee(0, 10000); got != 50 { // 70 − 40 = 30 bp, floor 50 bp
		t.Fatalf("discounted fee %d, want the floor's 50", got)
	}
	p, _ = s.PlanFor("m2", domain.WeChat, "")
	if got := p.Fee(0, 10000); got != 38 {
		t.Fatalf("merchant plan fee %d, want 38", got)
	}
	if _, err := s.PlanFor("m1", domain.Alipay, ""); !errors.Is(err, ErrNoPlan) {
		t.Fatalf("no plan: %v", err)
	}
	for _, bad := range []string{`{"plans":{"x/":{"tiers":[]}}}`, `{"plans":{"x/":{"tiers":[{"from_fen":5}]}}}`,
		`{"plans":{"x/":{"tiers":[{"from_fen":0},{"from_fen":0}]}}}`, `{"plans":{"x/":{"tiers":[{"from_fen":0,"base_bp":20000}]}}}`} {
		if _, err := ParseSchedule([]byte(bad)); err == nil {
			t.Errorf("schedule %s accepted", bad)
		}
	}
}

// Payments added in time order cross a tier inside the day exactly: the
// statement's fees equal the per-payment fees with the month-to-date volume
// counted through the day.
func TestStatementCrossesTierInsideDay(t *testing.T) {
	p, _ := DefaultSchedule().PlanFor("m1", domain.WeChat, MethodFenfu)
	st := Statement{MonthToDateFen: 49_995_000}
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	amounts := []int64{3000, 4000, 5000} // the boundary falls inside the second payment
	for _, a := range amounts {
		st.Add(order.Order{AmountFen: a, Status: order.Paid, PaidAt: paid}, p, false)
	}
	// 3000×70 = 210000 → 21; 2000×70 + 2000×63 = 266000 → 27 (26.6); 5000×63 = 315000 → 32 (31.5)
	if st.FeeFen != 21+27+32 || st.GrossFen != 12000 || st.Count != 3 || st.NetFen != 12000-80 {
		t.Fatalf("statement %+v", st)
	}
	// A held payment is held whole, whatever was refunded of it since (its
	// refunds are on the statements of the days they succeeded).
	st.Add(order.Order{AmountFen: 1000, RefundedFen: 400, Status: order.Paid, PaidAt: paid}, p, true)
	if st.RefundCount != 0 || st.RefundFen != 0 || st.HeldCount != 1 || st.HeldFen != 1000 || st.NetFen != 13000-(80+6)-1000 {
		t.Fatalf("statement after a held payment %+v", st)
	}
	st.AddRefund(400)
	st.AddRefund(250)
	if st.RefundCount != 2 || st.RefundFen != 650 || st.Count != 4 || st.NetFen != 13000-650-(80+6)-1000 {
		t.Fatalf("statement after two refunds %+v", st)
	}
}

func TestNewHold(t *testing.T) {
	at := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	o := order.Order{ID: "o1", CompanyID: "c1", Channel: domain.WeChat, Method: MethodFenfu, MerchantID: "m1", AmountFen: 5000,
		Status: order.Paid, PaidAt: at, BusinessDay: "2026-03-02"}
	h, err := NewHold(o, "  同一张卡连续支付 3 次 ", "staff:s1", at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := Hold{OrderID: "o1", CompanyID: "c1", Merchant: "m1", Channel: domain.WeChat, Method: MethodFenfu, AmountFen: 5000, PaidDay: "2026-03-02",
		Reason: "同一张卡连续支付 3 次", By: "staff:s1", HeldAt: at.Add(time.Hour)}
	if h != want || !h.Held() || h.ReleasedOn("2026-03-02") {
		t.Fatalf("hold %+v", h)
	}
	unpaid := o
	unpaid.Status, unpaid.PaidAt = order.Pending, time.Time{}
	for _, c := range []struct {
		o          order.Order
		reason, by string
	}{{unpaid, "x", "staff:s1"}, {o, " ", "staff:s1"}, {o, string(make([]rune, 201)), "staff:s1"}, {o, "x", ""}} {
		if _, err := NewHold(c.o, c.reason, c.by, at); !errors.Is(err, ErrHoldInvalid) {
			t.Errorf("hold %q by %q of %s: %v", c.reason, c.by, c.o.Status, err)
		}
	}
	// Released the next day: held on its payment day, released on that day;
	// released on its own day: never held.
	next := h
	if err := next.Release("2026-03-03", "staff:s2"); err != nil || !next.Held() || !next.ReleasedOn("2026-03-03") || next.ReleasedOn("2026-03-02") {
		t.Fatalf("released next day %+v %v", next, err)
	}
	same := h
	if err := same.Release("2026-03-01", "staff:s2"); err != nil || same.ReleasedDay != "2026-03-02" || same.Held() || same.ReleasedOn("2026-03-02") {
		t.Fatalf("released on its payment day %+v %v", same, err)
	}
}

func TestSettlable(t *testing.T) {
	at := time.Now()
	for _, c := range []struct {
		o    order.Order
		want bool
	}{
		{order.Order{Status: order.Paid, PaidAt: at}, true},
		{order.Order{Status: order.Refunded, PaidAt: at}, true},
		{order.Order{Status: order.Refunded}, false},
		{order.Order{Status: order.Pending}, false},
	} {
		if Settlable(c.o) != c.want {
			t.Errorf("%+v settlable = %v", c.o, !c.want)
		}
	}
}

func TestExceptionResolve(t *testing.T) {
	at := time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)
	e := NewException(Exception{Merchant: "m1", Channel: domain.WeChat, Day: "2026-03-02", Kind: AmountDiffers, OrderID: "o1", OurFen: 100, TheirFen: 90}, at)
	if e.ID != "wechat#m1#2026-03-02#amount#o1" || e.Status != Open {
		t.Fatalf("new exception %+v", e)
	}
	if err := e.Resolve("  ", "staff:1", at); !errors.Is(err, ErrNoNote) {
		t.Fatalf("empty note: %v", err)
	}
	if err := e.Resolve("已核对", "", at); !errors.Is(err, ErrNoResolver) {
		t.Fatalf("no resolver: %v", err)
	}
	if err := e.Resolve(string(make([]rune, 501)), "staff:1", at); !errors.Is(err, ErrNoteTooLong) {
		t.Fatalf("long note: %v", err)
	}
	if err := e.Resolve(" 渠道确认已到账 ", "staff:1", at); err != nil || e.Status != Resolved || e.Note != "渠道确认已到账" || e.ResolvedBy != "staff:1" {
		t.Fatalf("resolve: %v %+v", err, e)
	}
	if err := e.Resolve("again", "staff:2", at); !errors.Is(err, ErrAlreadyResolved) {
		t.Fatalf("resolve twice: %v", err)
	}
	if from := ExceptionFrom(Resolved); len(from) != 1 || from[0] != Open {
		t.Fatalf("from %v", from)
	}
	for _, k := range []Kind{MissingLocal, MissingProvider, AmountDiffers, StatusDiffers, FeeDiffers} {
		if k.Advice() == "请人工核对。" {
			t.Errorf("kind %s has no advice", k)
		}
	}
}

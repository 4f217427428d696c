package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	appsettle "github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// holdNow is the console's clock in these tests: 2026-11-28 10:00 in Shanghai.
var holdNow = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

const holdToday = calendar.Day("2026-11-28")

func at(day string, h int) time.Time {
	d := calendar.Day(day).Start()
	return d.Add(time.Duration(h) * time.Hour)
}

type holdFixture struct {
	*fixture
	repo    *store.Settlements
	settler *appsettle.Settler
}

func newHoldFixture(t *testing.T) holdFixture {
	f := newFixture(t)
	repo := &store.Settlements{DB: f.st.DB, Table: "StatsTable"}
	f.h.Settlements = repo
	f.h.SettlementClock = func() time.Time { return holdNow }
	return holdFixture{fixture: f, repo: repo,
		settler: &appsettle.Settler{Orders: f.st.OrderRepo(), Repo: repo, Schedule: dsettle.DefaultSchedule(), Holds: repo.Holds}}
}

// wxPayment stores a paid WeChat payment of company A (interface if-wx-a,
// merchant 190a) or B, of fen, paid at paidAt (zero: unpaid).
func (f holdFixture) wxPayment(t *testing.T, company, id string, fen int64, paidAt time.Time) order.Order {
	t.Helper()
	s := company[len(company)-1:]
	created := paidAt.Add(-time.Minute)
	if paidAt.IsZero() {
		created = holdNow
	}
	return stacktest.SeedOrder(t, f.st, order.Order{ID: id, CommunityID: "cm-" + s, CompanyID: company, CodeToken: "tok-" + strings.Repeat(s, 25),
		Channel: domain.WeChat, IfaceID: "if-wx-" + s, MerchantID: "190" + s, AppID: "wx" + s, AmountFen: fen}, created, paidAt)
}

func (f holdFixture) settle(t *testing.T, day calendar.Day) dsettle.Statement {
	t.Helper()
	sts, err := f.settler.Settle(context.Background(), appsettle.Request{CompanyID: coA, Merchant: "190a", Channel: domain.WeChat, Day: day})
	if err != nil || len(sts) != 1 {
		t.Fatalf("settle %s: %+v %v", day, sts, err)
	}
	return sts[0]
}

type holdAnswer struct {
	Hold  HoldJSON `json:"hold"`
	Error struct{ Code, Message string }
}

func (f holdFixture) holdCall(s session, path, body string) (int, holdAnswer) {
	f.t.Helper()
	r := f.as(s, rq{method: http.MethodPost, path: path, json: body})
	var out holdAnswer
	_ = json.Unmarshal([]byte(r.Body), &out)
	return r.StatusCode, out
}

func (f holdFixture) month(s session, month string) (sts map[string]appsettle.StatementView, holds map[string]HoldJSON) {
	f.t.Helper()
	r := f.as(s, get("/admin/api/settlement?month="+month))
	var out struct {
		Statements []appsettle.StatementView `json:"statements"`
		Holds      []HoldJSON                `json:"holds"`
	}
	if r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &out) != nil {
		f.t.Fatalf("month %s: %d %s", month, r.StatusCode, r.Body)
	}
	sts, holds = map[string]appsettle.StatementView{}, map[string]HoldJSON{}
	for _, st := range out.Statements {
		sts[st.Day] = st
	}
	for _, h := range out.Holds {
		holds[h.OrderID] = h
	}
	return sts, holds
}

// An admin holds payments out of settlement and releases them through the
// API: the statement of the payment day shows the held amount, the release
// joins the statement of the release day, and each step is audited once.
func TestSettlementHoldAndReleaseAPI(t *testing.T) {
	f := newHoldFixture(t)
	admin := f.login("admin-a")
	yesterday := f.wxPayment(t, coA, "EPHOLDYESTERDAYQQQQQQQQQQQ1", 20000, at("2026-11-27", 15))
	today := f.wxPayment(t, coA, "EPHOLDTODAYQQQQQQQQQQQQQQQ1", 10000, at("2026-11-28", 9))
	settled := f.wxPayment(t, coA, "EPHOLDSETTLEDQQQQQQQQQQQQQ1", 30000, at("2026-11-26", 12))
	unpaid := f.wxPayment(t, coA, "EPHOLDUNPAIDQQQQQQQQQQQQQQ1", 500, time.Time{})
	other := f.wxPayment(t, coB, "EPHOLDOTHERCOQQQQQQQQQQQQQ1", 700, at("2026-11-27", 9))
	f.settle(t, "2026-11-26")
	f.settle(t, holdToday) // today's statement so far

	audits := f.acc.recordCount()
	st, got := f.holdCall(admin, "/admin/api/settlement/holds", `{"order_id":"`+yesterday.ID+`","reason":"同一张卡连续支付 3 次"}`)
	h := got.Hold
	if st != 201 || h.OrderID != yesterday.ID || h.Status != "HELD" || h.AmountFen != 20000 || h.PaidDay != "2026-11-27" || h.Merchant != "190a" ||
		h.Channel != "wechat" || h.Reason != "同一张卡连续支付 3 次" || h.By != "staff:admin-a" || h.HeldAt != "2026-11-28T10:00:00+08:00" {
		t.Fatalf("hold: %d %+v", st, got)
	}
	if n := f.acc.recordCount(); n != audits+1 {
		t.Fatalf("audit entries: %d new, want 1", n-audits)
	}
	rec := f.acc.records[len(f.acc.records)-1]
	if rec.action != "settlement.hold" || rec.kind != "order" || rec.id != yesterday.ID || rec.by.StaffID != "admin-a" || !strings.Contains(rec.after, `"status":"HELD"`) {
		t.Fatalf("audit entry %+v", rec)
	}
	// Today's payment may be held though today's statement so far exists:
	// today is settled again after it ends.
	if st, got := f.holdCall(admin, "/admin/api/settlement/holds", `{"order_id":"`+today.ID+`","reason":"大额可疑"}`); st != 201 || got.Hold.PaidDay != string(holdToday) {
		t.Fatalf("holding today's payment: %d %+v", st, got)
	}

	audits = f.acc.recordCount()
	for _, c := range []struct {
		body        string
		status      int
		code, inMsg string
	}{
		{`{"order_id":"` + yesterday.ID + `","reason":"再次"}`, 409, "already_held", "不能重复暂缓"},
		{`{"order_id":"` + settled.ID + `","reason":"太晚"}`, 409, "day_settled", "2026-11-26 已结算"},
		{`{"order_id":"` + unpaid.ID + `","reason":"未付"}`, 400, "invalid", "尚未支付成功"},
		{`{"order_id":"` + yesterday.ID + `x","reason":"无此单"}`, 404, "not_found", "没有这笔付款"},
		{`{"order_id":"` + other.ID + `","reason":"别家的"}`, 404, "not_found", "没有这笔付款"},
		{`{"order_id":"RFAAAAAAAAAAAAAAAAAAAAAAAAAA","reason":"退款号"}`, 404, "not_found", "没有这笔付款"},
		{`{"order_id":"` + settled.ID + `","reason":"  "}`, 400, "invalid", "请填写暂缓原因"},
		{`order_id=1`, 400, "invalid", "JSON"},
	} {
		if st, got := f.holdCall(admin, "/admin/api/settlement/holds", c.body); st != c.status || got.Error.Code != c.code || !strings.Contains(got.Error.Message, c.inMsg) {
			t.Errorf("%s: %d %+v", c.body, st, got.Error)
		}
	}
	if n := f.acc.recordCount(); n != audits {
		t.Fatalf("refused holds were audited: %d", n-audits)
	}
	if _, err := f.repo.Hold(context.Background(), domain.WeChat, "190b", other.ID); err == nil {
		t.Fatal("another company's payment was held")
	}

	// The payment day's statement shows the held amount.
	f.settle(t, "2026-11-27")
	sts, holds := f.month(admin, "2026-11")
	if s := sts["2026-11-27"]; s.Count != 1 || s.HeldCount != 1 || s.HeldFen != 20000 || s.FeeFen != 120 || s.NetFen != 20000-120-20000 {
		t.Fatalf("the held day %+v", s)
	}
	if len(holds) != 2 || holds[yesterday.ID].Status != "HELD" || holds[today.ID].Status != "HELD" {
		t.Fatalf("holds %+v", holds)
	}

	// Released today: on today's statement, with today's own held payment.
	audits = f.acc.recordCount()
	st, got = f.holdCall(admin, "/admin/api/settlement/holds/release", `{"order_id":"`+yesterday.ID+`"}`)
	if st != 200 || got.Hold.Status != "RELEASED" || got.Hold.ReleasedDay != string(holdToday) || got.Hold.ReleasedBy != "staff:admin-a" {
		t.Fatalf("release: %d %+v", st, got)
	}
	rec = f.acc.records[len(f.acc.records)-1]
	if f.acc.recordCount() != audits+1 || rec.action != "settlement.release" || rec.id != yesterday.ID || !strings.Contains(rec.before, `"status":"HELD"`) ||
		!strings.Contains(rec.after, `"released_day":"2026-11-28"`) {
		t.Fatalf("release audit %+v", rec)
	}
	for _, c := range []struct {
		id     string
		status int
		code   string
	}{{yesterday.ID, 409, "already_released"}, {settled.ID, 409, "not_held"}, {other.ID, 404, "not_found"}} {
		if st, got := f.holdCall(admin, "/admin/api/settlement/holds/release", `{"order_id":"`+c.id+`"}`); st != c.status || got.Error.Code != c.code {
			t.Errorf("release %s: %d %+v", c.id, st, got.Error)
		}
	}
	if s := f.settle(t, holdToday); s.Count != 1 || s.HeldFen != 10000 || s.ReleasedCount != 1 || s.ReleasedFen != 20000 || s.NetFen != 10000-60-10000+20000 {
		t.Fatalf("today's statement %+v", s)
	}
	// The payment day settles again to the same figures: still held there.
	if s := f.settle(t, "2026-11-27"); s.HeldFen != 20000 || s.NetFen != -120 {
		t.Fatalf("the held day settled again %+v", s)
	}
	sts, holds = f.month(admin, "2026-11")
	if s := sts["2026-11-28"]; s.ReleasedFen != 20000 || s.ReleasedCount != 1 || s.HeldFen != 10000 {
		t.Fatalf("today in the console %+v", s)
	}
	if holds[yesterday.ID].Status != "RELEASED" || holds[yesterday.ID].ReleasedDay != "2026-11-28" {
		t.Fatalf("released hold in the console %+v", holds[yesterday.ID])
	}
}

// Admins and risk officers hold and release on the 结算对账 page (the staff
// permission table); cashiers and managers may not; only admins resolve
// exceptions; what people typed is escaped.
func TestSettlementHoldsOnThePage(t *testing.T) {
	f := newHoldFixture(t)
	p := f.wxPayment(t, coA, "EPHOLDPAGEQQQQQQQQQQQQQQQQ1", 8800, at("2026-11-28", 8))
	e := dsettle.NewException(dsettle.Exception{CompanyID: coA, Merchant: "190a", Channel: domain.WeChat, Day: "2026-11-27",
		Kind: dsettle.MissingProvider, OrderID: "EPSOMETHINGELSE", OurFen: 100}, holdNow)
	if _, err := f.repo.AddException(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	risk := f.login("risk-a")
	page := f.as(risk, get("/admin/settlement?month=2026-11"))
	if page.StatusCode != 200 || !strings.Contains(page.Body, `id="hold-form"`) || !strings.Contains(page.Body, "EPSOMETHINGELSE") ||
		strings.Contains(page.Body, "标记已处理") || !strings.Contains(page.Body, `href="/admin/settlement"`) {
		t.Fatalf("risk officer's page: %d (hold form %v, resolve form %v)", page.StatusCode, strings.Contains(page.Body, `id="hold-form"`),
			strings.Contains(page.Body, "标记已处理"))
	}
	if r := f.as(risk, post("/admin/settlement/exceptions", "day", "2026-11-27", "id", e.ID, "note", "x")); r.StatusCode != 403 {
		t.Fatalf("risk officer resolves: %d", r.StatusCode)
	}
	r := f.as(risk, post("/admin/settlement/holds", "order_id", p.ID, "reason", "<script>alert(1)</script>", "month", "2026-11"))
	if r.StatusCode != 302 || r.Headers["Location"] != "/admin/settlement?done=held&month=2026-11" {
		t.Fatalf("hold through the page: %d %v", r.StatusCode, r.Headers)
	}
	if rec := f.acc.records[len(f.acc.records)-1]; rec.action != "settlement.hold" || rec.by.StaffID != "risk-a" {
		t.Fatalf("audit %+v", rec)
	}
	admin := f.login("admin-a")
	page = f.as(admin, get("/admin/settlement?month=2026-11&done=held"))
	if !strings.Contains(page.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(page.Body, "<script>alert(1)") ||
		!strings.Contains(page.Body, "暂缓中") || !strings.Contains(page.Body, "已暂缓结算") || !strings.Contains(page.Body, "标记已处理") {
		t.Fatalf("admin's page after the hold: %s", page.Body)
	}
	// Held again through the page: the page says why.
	if r := f.as(admin, post("/admin/settlement/holds", "order_id", p.ID, "reason", "再次")); r.StatusCode != 409 || !strings.Contains(r.Body, "不能重复暂缓") {
		t.Fatalf("holding twice through the page: %d", r.StatusCode)
	}
	r = f.as(risk, post("/admin/settlement/holds/release", "order_id", p.ID, "month", "2026-11"))
	if r.StatusCode != 302 || r.Headers["Location"] != "/admin/settlement?done=released&month=2026-11" {
		t.Fatalf("release through the page: %d %v", r.StatusCode, r.Headers)
	}
	if page = f.as(admin, get("/admin/settlement?month=2026-11")); !strings.Contains(page.Body, "已放行，计入 2026-11-28 结算单") {
		t.Fatalf("released hold on the page: %s", page.Body)
	}
	// Cashiers and managers: neither the page nor the actions.
	for _, id := range []string{"cashier-a", "manager-a"} {
		s := f.login(id)
		for _, r := range []rq{get("/admin/settlement"), post("/admin/settlement/holds", "order_id", p.ID, "reason", "x"),
			post("/admin/settlement/holds/release", "order_id", p.ID), {method: http.MethodPost, path: "/admin/api/settlement/holds", json: `{"order_id":"` + p.ID + `","reason":"x"}`}} {
			if resp := f.as(s, r); resp.StatusCode != 403 {
				t.Errorf("%s %s %s: %d", id, r.method, r.path, resp.StatusCode)
			}
		}
	}
	if h, err := f.repo.Hold(context.Background(), domain.WeChat, "190a", p.ID); err != nil || h.ReleasedBy != "staff:risk-a" || h.Version != 2 {
		t.Fatalf("hold after the refused requests %+v %v", h, err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	dbill "github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// exceptionsByOrder is the day's exceptions of the demo company, by order.
func exceptionsByOrder(t *testing.T, s *stack.Stack, day calendar.Day) map[string]dsettle.Exception {
	t.Helper()
	repo := &store.Settlements{DB: s.Store().DB, Table: s.Tables["StatsTable"]}
	ex, err := repo.Exceptions(context.Background(), stack.DemoCompanyID, day, day)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dsettle.Exception{}
	for _, e := range ex {
		if _, dup := out[e.OrderID]; dup {
			t.Fatalf("two exceptions about %s: %+v", e.OrderID, ex)
		}
		out[e.OrderID] = e
	}
	return out
}

// The Alipay sandbox told, through its control endpoint, to leave a
// payment out of its bill, to bill another at a different amount and to
// bill a trade nobody made: settling the day finds exactly these three.
func TestSettleFindsEachInjectedAlipayDifference(t *testing.T) {
	s := stacktest.Start(t)
	tok := stacktest.CommunityToken(t, s, "demo-both")
	var ids []string
	for _, fen := range []int64{2500, 3000, 3500} {
		o := stacktest.CreateOrder(t, s, tok, "alipay", fen, "")
		stacktest.HTTPClient.Get(o.Pay.RedirectURL) //nolint:errcheck // the cashier opens: the trade exists
		if err := s.Alipay().Pay(o.OrderID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.OrderID)
	}
	for _, id := range ids {
		stacktest.WaitFor(t, id+" paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, id).Status == "PAID" })
	}
	missing, changed, faithful := ids[0], ids[1], ids[2]
	const extra = "EPEXTRAALIPAYTRADE0000000000"
	day := calendar.BusinessDay(time.Now())
	inject := func(d map[string]any) {
		t.Helper()
		b, _ := json.Marshal(d)
		resp, err := stacktest.HTTPClient.Post(s.URLs.AlipaySandbox+"/sandbox/bill/differences", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("inject %v: %d", d, resp.StatusCode)
		}
	}
	inject(map[string]any{"kind": "missing_row", "out_trade_no": missing})
	inject(map[string]any{"kind": "changed_amount", "out_trade_no": changed, "amount_fen": 2900})
	inject(map[string]any{"kind": "extra_trade", "out_trade_no": extra, "amount_fen": 777, "seller_id": stack.DemoAlipaySellerID, "at": time.Now()})
	t.Cleanup(func() { inject(map[string]any{"kind": "clear"}) })

	rep := fire(t, s, map[string]string{"day": string(day), "company": stack.DemoCompanyID, "interface": "demo-alipay"})
	if len(rep.Lines) != 1 || rep.Lines[0].Error != "" || rep.Lines[0].Exceptions != 3 || rep.Lines[0].New != 3 || rep.Lines[0].Matched != 1 {
		t.Fatalf("report %+v", rep)
	}
	ex := exceptionsByOrder(t, s, day)
	if len(ex) != 3 {
		t.Fatalf("exceptions %+v", ex)
	}
	if e := ex[missing]; e.Kind != dsettle.MissingProvider || e.OurFen != 2500 || e.Channel != "alipay" || e.Status != dsettle.Open {
		t.Fatalf("missing row: %+v", e)
	}
	if e := ex[changed]; e.Kind != dsettle.AmountDiffers || e.OurFen != 3000 || e.TheirFen != 2900 {
		t.Fatalf("changed amount: %+v", e)
	}
	if e := ex[extra]; e.Kind != dsettle.MissingLocal || e.TheirFen != 777 || e.Repaired {
		t.Fatalf("extra trade: %+v", e)
	}
	if _, ok := ex[faithful]; ok {
		t.Fatal("the faithful payment is an exception")
	}
	// Settling again finds the same three, none new.
	if rep := fire(t, s, map[string]string{"day": string(day), "company": stack.DemoCompanyID, "interface": "demo-alipay"}); rep.Lines[0].Exceptions != 3 || rep.Lines[0].New != 0 {
		t.Fatalf("again %+v", rep)
	}
}

// Notice payments whose callback never came are repaired by the day's
// reconciliation through the callbacks' confirmation: the order and its
// bills paid in one transaction; or, when the desk took the bills
// meanwhile, the order paid, its bills left to the desk, and the money
// refunded automatically at WeChat.
func TestSettleRepairsLostNoticePayments(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	pay := func(room string) (string, []string) {
		t.Helper()
		h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "R", "1", room, "", 1000, 250)
		n := stacktest.SeedNotice(t, s, h)
		status, o, raw := stacktest.PayNotice(t, s, n.ID, "wechat", 1250, "oRepairNoticePayer")
		if status != http.StatusCreated {
			t.Fatalf("pay notice: %d %s", status, raw)
		}
		if err := s.WeChat().PayWithoutCallback(o.OrderID); err != nil {
			t.Fatal(err)
		}
		return o.OrderID, stacktest.StoredOrder(t, s, o.OrderID).BillIDs
	}
	kept, keptBills := pay("101")
	taken, takenBills := pay("102")
	// taken's reservation lapsed and the desk collected the bills in cash.
	if _, err := s.Store().LedgerRepo().ReleaseAll(ctx, taken, takenBills, time.Now()); err != nil {
		t.Fatal(err)
	}
	b0, err := s.Store().BillRepo().Get(ctx, takenBills[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store().CashierRepo().Record(ctx, cashier.Entry{ID: "CE-SETTLE-REPAIR", CompanyID: stack.DemoCompanyID, CommunityID: "demo-both",
		HouseID: b0.HouseID, Method: cashier.Cash, By: "staff:demo-cashier"}, takenBills, time.Now()); err != nil {
		t.Fatal(err)
	}

	day := calendar.BusinessDay(time.Now())
	rep := fire(t, s, map[string]string{"day": string(day), "company": stack.DemoCompanyID, "interface": "demo-wechat"})
	if len(rep.Lines) != 1 || rep.Lines[0].Error != "" || rep.Lines[0].Exceptions != 2 {
		t.Fatalf("report %+v", rep)
	}
	ex := exceptionsByOrder(t, s, day)
	for _, id := range []string{kept, taken} {
		if e := ex[id]; e.Kind != dsettle.MissingLocal || !e.Repaired || e.TheirFen != 1250 || e.OurFen != 1250 {
			t.Fatalf("exception of %s: %+v", id, e)
		}
	}

	if o := stacktest.StoredOrder(t, s, kept); o.Status != "PAID" || o.BillsRefused || o.RefundFen != 0 {
		t.Fatalf("repaired order %+v", o)
	}
	for _, id := range keptBills {
		if b, err := s.Store().BillRepo().Get(ctx, id); err != nil || b.Status != dbill.Paid || b.PaidBy.OrderID != kept {
			t.Fatalf("bill %s of the repaired order: %+v %v", id, b, err)
		}
	}

	o := stacktest.StoredOrder(t, s, taken)
	if !o.BillsRefused || o.RefundFen != 1250 || len(o.RefundIDs) != 1 {
		t.Fatalf("order whose bills the desk took: %+v", o)
	}
	for _, id := range takenBills {
		if b, err := s.Store().BillRepo().Get(ctx, id); err != nil || b.Status != dbill.Paid || b.PaidBy.EntryID != "CE-SETTLE-REPAIR" {
			t.Fatalf("bill %s the desk took: %+v %v", id, b, err)
		}
	}
	// The automatic refund reached WeChat: its result comes back and the order ends REFUNDED.
	stacktest.WaitFor(t, "the automatic refund to complete", 20*time.Second, func() bool { return stacktest.StoredOrder(t, s, taken).Status == "REFUNDED" })
}

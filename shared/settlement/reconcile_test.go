package settlement_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/settlement"
)

func TestReconcileFindsEachDifference(t *testing.T) {
	f := newFixture(t)
	day := calendar.Day("2026-03-02")
	at := shanghai("2026-03-02", 10, 0, 0, 0)
	ok := f.pay(t, domain.WeChat, "", 10000, at)
	changed := f.pay(t, domain.WeChat, "", 20000, at.Add(time.Minute))
	unbilled := f.pay(t, domain.WeChat, "", 30000, at.Add(2*time.Minute))
	feeOff := f.pay(t, domain.WeChat, "", 10000, at.Add(3*time.Minute))
	// A payment whose callback never came: PENDING here, paid in the bill.
	pending := order.Order{ID: "o-pending", CompanyID: "c1", CommunityID: "m1", Channel: domain.WeChat, MerchantID: merchant, AppID: "app",
		AmountFen: 15000, Status: order.Pending, Version: 1, CreatedAt: at, ExpireAt: at.Add(time.Hour)}
	if _, err := f.orders.Create(context.Background(), pending); err != nil {
		t.Fatal(err)
	}
	rOK := f.refund(t, ok, 5000, at.Add(time.Hour))
	rAmount := f.refund(t, changed, 2000, at.Add(time.Hour))
	rUnbilled := f.refund(t, unbilled, 3000, at.Add(2*time.Hour))
	rEarlier := f.refund(t, feeOff, 400, shanghai("2026-03-01", 23, 59, 59, 999)) // ours the day before
	stuck := refund.Refund{ID: "r-stuck", OrderID: ok.ID, CompanyID: "c1", Channel: domain.WeChat, MerchantID: merchant, AmountFen: 1000,
		Status: refund.Processing, Version: 2, CreatedAt: at}
	f.putRefund(t, stuck)

	lines := []settlement.BillLine{
		{OrderID: ok.ID, ProviderTxnID: "t1", AmountFen: 10000, FeeFen: 60, At: at},
		{OrderID: changed.ID, ProviderTxnID: "t2", AmountFen: 20500, FeeFen: 123, At: at},       // changed amount
		{OrderID: feeOff.ID, ProviderTxnID: "t4", AmountFen: 10000, FeeFen: 99, At: at},         // fee differs
		{OrderID: "o-pending", ProviderTxnID: "t5", AmountFen: 15000, FeeFen: 90, At: at},       // missing locally: repaired
		{OrderID: "o-extra", ProviderTxnID: "t6", AmountFen: 999, FeeFen: 6, At: at},            // an extra trade
		{Refund: true, RefundID: rOK.ID, OrderID: ok.ID, AmountFen: 5000, FeeFen: -30},          // matches
		{Refund: true, RefundID: rAmount.ID, OrderID: changed.ID, AmountFen: 2100, FeeFen: -13}, // refund amount differs
		{Refund: true, RefundID: rEarlier.ID, OrderID: feeOff.ID, AmountFen: 400, FeeFen: -2},   // ours succeeded the day before
		{Refund: true, RefundID: "r-stuck", OrderID: ok.ID, AmountFen: 1000, FeeFen: -6},        // status differs
		{Refund: true, RefundID: "r-unknown", OrderID: ok.ID, AmountFen: 700, FeeFen: -4},       // refund missing locally
	}
	repaired := 0
	r := &settlement.Reconciler{Orders: f.orders, Exceptions: f.repo, Schedule: dsettle.DefaultSchedule(), PageSize: 2,
		Clock: func() time.Time { return at.Add(24 * time.Hour) },
		Repair: func(ctx context.Context, o order.Order) (order.Order, error) {
			repaired++
			return f.orders.Update(ctx, o.ID, func(o *order.Order) error {
				return o.Pay(order.Payment{ProviderTxnID: "t5", AmountFen: 15000, PaidAt: at, MerchantID: merchant, AppID: "app"})
			})
		}}
	req := settlement.Request{CompanyID: "c1", Merchant: merchant, Channel: domain.WeChat, Day: day}
	rep, err := r.Reconcile(context.Background(), req, lines)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]dsettle.Exception{}
	for _, e := range rep.Exceptions {
		got[string(e.Kind)+" "+e.OrderID] = e
	}
	want := []string{"amount " + changed.ID, "fee " + feeOff.ID, "missing_local o-pending", "missing_local o-extra",
		"missing_provider " + unbilled.ID, "status r-stuck", "missing_local r-unknown",
		"amount " + rAmount.ID, "missing_provider " + rUnbilled.ID, "status " + rEarlier.ID}
	if len(got) != len(want) || rep.Matched != 2 {
		t.Fatalf("matched %d, exceptions %v", rep.Matched, keys(got))
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Fatalf("exception %q not found in %v", k, keys(got))
		}
	}
	if e := got["missing_local o-pending"]; !e.Repaired || repaired != 1 {
		t.Fatalf("pending order not repaired: %+v", e)
	}
	if e := got["missing_local o-extra"]; e.Repaired {
		t.Fatalf("an unknown trade was repaired: %+v", e)
	}
	if e := got["amount "+changed.ID]; e.OurFen != 20000 || e.TheirFen != 20500 {
		t.Fatalf("amount exception %+v", e)
	}
	if e := got["fee "+feeOff.ID]; e.OurFen != 60 || e.TheirFen != 99 {
		t.Fatalf("fee exception %+v", e)
	}
	if e := got["amount "+rAmount.ID]; e.OurFen != 2000 || e.TheirFen != 2100 || !strings.Contains(e.Detail, "退款金额") {
		t.Fatalf("refund amount exception %+v", e)
	}
	if e := got["missing_provider "+rUnbilled.ID]; e.OurFen != 3000 || !strings.Contains(e.Detail, "2026-03-02 12:00:00") {
		t.Fatalf("unbilled refund %+v", e)
	}
	if e := got["status "+rEarlier.ID]; !strings.Contains(e.Detail, "营业日 2026-03-01") {
		t.Fatalf("refund of another day %+v", e)
	}
	if o, _ := f.orders.Get(context.Background(), "o-pending"); o.Status != order.Paid || o.BusinessDay != day {
		t.Fatalf("repaired order %+v", o)
	}
	stored, err := f.repo.Exceptions(context.Background(), "c1", day, day)
	if err != nil || len(stored) != len(want) {
		t.Fatalf("stored %d %v", len(stored), err)
	}
	// Reconciling again finds the repaired order matched and stores nothing twice.
	rep2, err := r.Reconcile(context.Background(), req, lines)
	if rep.New != len(want) {
		t.Fatalf("first pass: %d new exceptions, want %d", rep.New, len(want))
	}
	if err != nil || rep2.Matched != 3 || len(rep2.Exceptions) != len(want)-1 || rep2.New != 0 {
		t.Fatalf("second pass: matched %d, %d exceptions, %v", rep2.Matched, len(rep2.Exceptions), err)
	}
	stored, _ = f.repo.Exceptions(context.Background(), "c1", day, day)
	if len(stored) != len(want) {
		t.Fatalf("stored twice: %d", len(stored))
	}
	// Resolving needs a note, is audited by who, and happens once.
	e := stored[0]
	if err := e.Resolve("已与渠道核对", "staff:s1", at.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.SaveException(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.SaveException(context.Background(), e); err == nil {
		t.Fatal("a stale resolve was saved")
	}
	back, err := f.repo.Exception(context.Background(), "c1", day, e.ID)
	if err != nil || back.Status != dsettle.Resolved || back.Note != "已与渠道核对" || back.ResolvedBy != "staff:s1" || back.Version != 1 {
		t.Fatalf("resolved %+v %v", back, err)
	}
}

func keys(m map[string]dsettle.Exception) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// 分付 fees are checked as the settler charges them (F2): the month-to-date
// volume from the month's earlier statements, the day's payments merged
// from the shards into payment-time order, the tier boundary crossed inside
// a payment, rounded once per payment half up. Golden: before the day the
// month holds 499 950.00 yuan of 分付; 30.00 yuan pays 0.70 % (0.21); 40.00
// yuan crosses 500 000 yuan after 20.00 (20.00 × 0.70 % + 20.00 × 0.63 % =
// 0.266 → 0.27); 50.00 yuan pays 0.63 % (0.315 → 0.32); an ordinary 100.00
// yuan 0.60 % (0.60).
func TestReconcileTieredFeesAsTheSettlerCharges(t *testing.T) {
	f := newFixture(t)
	f.pay(t, domain.WeChat, dsettle.MethodFenfu, 49_995_000, shanghai("2026-03-01", 10, 0, 0, 0))
	settle(t, f.s, domain.WeChat, "2026-03-01")
	day := calendar.Day("2026-03-02")
	// Paid in this order; stored in another, spread over the shards.
	c := f.pay(t, domain.WeChat, dsettle.MethodFenfu, 5000, shanghai("2026-03-02", 11, 0, 0, 0))
	a := f.pay(t, domain.WeChat, dsettle.MethodFenfu, 3000, shanghai("2026-03-02", 9, 0, 0, 0))
	o := f.pay(t, domain.WeChat, "", 10000, shanghai("2026-03-02", 10, 30, 0, 0))
	b := f.pay(t, domain.WeChat, dsettle.MethodFenfu, 4000, shanghai("2026-03-02", 10, 0, 0, 0))
	golden := map[string]int64{a.ID: 21, b.ID: 27, c.ID: 32, o.ID: 60}
	bill := func(off map[string]int64) []settlement.BillLine {
		var ls []settlement.BillLine
		for _, x := range []order.Order{a, b, c, o} {
			ls = append(ls, settlement.BillLine{OrderID: x.ID, ProviderTxnID: "T" + x.ID, AmountFen: x.AmountFen, FeeFen: golden[x.ID] + off[x.ID], At: x.PaidAt})
		}
		return ls
	}
	r := &settlement.Reconciler{Orders: f.orders, Exceptions: f.repo, Schedule: dsettle.DefaultSchedule(), PageSize: 1,
		Clock: func() time.Time { return shanghai("2026-03-03", 10, 30, 0, 0) }}
	req := settlement.Request{CompanyID: "c1", Merchant: merchant, Channel: domain.WeChat, Day: day}
	rep, err := r.Reconcile(context.Background(), req, bill(nil))
	if err != nil || rep.Matched != 4 || len(rep.Exceptions) != 0 {
		t.Fatalf("the provider's tiered fees: matched %d, %+v %v", rep.Matched, rep.Exceptions, err)
	}
	// A provider charging a flat 0.70 % on the crossing payment (0.28), and
	// every fee a fen off: each is found, with our fee the settler's.
	rep, err = r.Reconcile(context.Background(), req, bill(map[string]int64{a.ID: 1, b.ID: 1, c.ID: -1, o.ID: 1}))
	if err != nil || rep.Matched != 0 || len(rep.Exceptions) != 4 {
		t.Fatalf("fees off by a fen: matched %d, %+v %v", rep.Matched, rep.Exceptions, err)
	}
	var ours int64
	for _, e := range rep.Exceptions {
		if e.Kind != dsettle.FeeDiffers || e.OurFen != golden[e.OrderID] {
			t.Errorf("exception %+v, want our fee %d", e, golden[e.OrderID])
		}
		if e.OrderID == b.ID && !strings.Contains(e.Detail, "499980.00") {
			t.Errorf("the crossing payment's tier is not told: %s", e.Detail)
		}
		if e.OrderID != o.ID {
			ours += e.OurFen
		}
	}
	sts := settle(t, f.s, domain.WeChat, day)
	if len(sts) != 2 || sts[1].Method != dsettle.MethodFenfu || sts[1].FeeFen != ours || ours != 21+27+32 || sts[0].FeeFen != 60 {
		t.Fatalf("the settler charges %+v, the reconciler expected %d", sts, ours)
	}
}

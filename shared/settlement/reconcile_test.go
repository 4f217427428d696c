package settlement_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

func (f fixture) putRefund(t *testing.T, id, orderID string, amount int64, st refund.Status) {
	t.Helper()
	item, err := store.EncodeRefund(refund.Refund{ID: id, OrderID: orderID, CompanyID: "c1", Channel: domain.WeChat, AmountFen: amount, Status: st,
		Version: 1, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.orders.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(f.orders.Table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func TestReconcileFindsEachDifference(t *testing.T) {
	f := newFixture(t)
	day := calendar.Day("2026-03-02")
	at := shanghai("2026-03-02", 10, 0, 0, 0)
	ok := f.pay(t, domain.WeChat, "", 10000, at, 0)
	changed := f.pay(t, domain.WeChat, "", 20000, at.Add(time.Minute), 0)
	unbilled := f.pay(t, domain.WeChat, "", 30000, at.Add(2*time.Minute), 0)
	feeOff := f.pay(t, domain.WeChat, "", 10000, at.Add(3*time.Minute), 0)
	// A payment whose callback never came: PENDING here, paid in the bill.
	pending := order.Order{ID: "o-pending", CompanyID: "c1", CommunityID: "m1", Channel: domain.WeChat, MerchantID: merchant, AppID: "app",
		AmountFen: 15000, Status: order.Pending, Version: 1, CreatedAt: at, ExpireAt: at.Add(time.Hour)}
	if _, err := f.orders.Create(context.Background(), pending); err != nil {
		t.Fatal(err)
	}
	f.putRefund(t, "r-ok", ok.ID, 5000, refund.Succeeded)
	f.putRefund(t, "r-stuck", ok.ID, 1000, refund.Processing)

	lines := []settlement.BillLine{
		{OrderID: ok.ID, ProviderTxnID: "t1", AmountFen: 10000, FeeFen: 60, At: at},
		{OrderID: changed.ID, ProviderTxnID: "t2", AmountFen: 20500, FeeFen: 123, At: at}, // changed amount
		{OrderID: feeOff.ID, ProviderTxnID: "t4", AmountFen: 10000, FeeFen: 99, At: at},   // fee differs
		{OrderID: "o-pending", ProviderTxnID: "t5", AmountFen: 15000, FeeFen: 90, At: at}, // missing locally: repaired
		{OrderID: "o-extra", ProviderTxnID: "t6", AmountFen: 999, FeeFen: 6, At: at},      // an extra trade
		{Refund: true, RefundID: "r-ok", OrderID: ok.ID, AmountFen: 5000, FeeFen: -30},    // matches
		{Refund: true, RefundID: "r-stuck", OrderID: ok.ID, AmountFen: 1000, FeeFen: -6},  // status differs
		{Refund: true, RefundID: "r-unknown", OrderID: ok.ID, AmountFen: 700, FeeFen: -4}, // refund missing locally
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
		"missing_provider " + unbilled.ID, "status r-stuck", "missing_local r-unknown"}
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

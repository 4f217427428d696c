package settlement_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

const merchant = "1900000001"

type fixture struct {
	st     *store.Store
	orders *store.Orders
	repo   *store.Settlements
	s      *settlement.Settler
}

func newFixture(t *testing.T) fixture {
	st := stacktest.NewStore(t)
	f := fixture{st: st, orders: st.OrderRepo(), repo: &store.Settlements{DB: st.DB, Table: "StatsTable"}}
	f.s = &settlement.Settler{Orders: f.orders, Repo: f.repo, Schedule: dsettle.DefaultSchedule(), PageSize: 3}
	return f
}

var seq int

// pay stores a paid order of the merchant at `at`.
func (f fixture) pay(t *testing.T, ch domain.Channel, method string, amount int64, at time.Time) order.Order {
	t.Helper()
	seq++
	o := order.Order{ID: fmt.Sprintf("o%05d", seq), CompanyID: "c1", CommunityID: "m1", Channel: ch, Method: method, MerchantID: merchant,
		AppID: "app", AmountFen: amount, Status: order.Paid, Version: 2, CreatedAt: at.Add(-time.Minute), ExpireAt: at.Add(time.Hour),
		PaidAt: at, BusinessDay: calendar.BusinessDay(at)}
	if _, err := f.orders.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// refund stores a refund of amount from o that succeeded at `at` (as the
// refund's SUCCEEDED transition writes it: the settle index keys derived
// from it by store.EncodeRefund).
func (f fixture) refund(t *testing.T, o order.Order, amount int64, at time.Time) refund.Refund {
	t.Helper()
	seq++
	rf := refund.Refund{ID: refund.ID(o.ID, fmt.Sprint(seq)), OrderID: o.ID, CompanyID: o.CompanyID, CommunityID: o.CommunityID, Channel: o.Channel,
		MerchantID: o.MerchantID, Method: o.Method, AmountFen: amount, OrderFen: o.AmountFen, PaidDay: o.BusinessDay, Reason: "退款", By: "staff:s1",
		Status: refund.Succeeded, Version: 3, CreatedAt: at.Add(-time.Minute), SucceededAt: at}
	f.putRefund(t, rf)
	return rf
}

func (f fixture) putRefund(t *testing.T, rf refund.Refund) {
	t.Helper()
	item, err := store.EncodeRefund(rf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.orders.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(f.orders.Table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func shanghai(day string, h, m, s, ms int) time.Time {
	d := calendar.Day(day).Start()
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, s, ms*int(time.Millisecond), calendar.Shanghai)
}

func settle(t *testing.T, s *settlement.Settler, ch domain.Channel, day calendar.Day) []dsettle.Statement {
	t.Helper()
	sts, err := s.Settle(context.Background(), settlement.Request{CompanyID: "c1", Merchant: merchant, Channel: ch, Day: day})
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

// The day is the Asia/Shanghai day: 23:59:59.999 belongs to it, 00:00:00 of
// the next to the next — for payments (paid at) and for refunds (succeeded
// at) alike; a refund is on the statement of the day it succeeded, whatever
// the day of its payment.
func TestSettleShanghaiDayBoundariesAndRefunds(t *testing.T) {
	f := newFixture(t)
	before := f.pay(t, domain.WeChat, "", 10000, shanghai("2026-03-01", 23, 59, 59, 999)) // previous day
	f.pay(t, domain.WeChat, "", 20000, shanghai("2026-03-02", 0, 0, 0, 0))
	noon := f.pay(t, domain.WeChat, "", 30000, shanghai("2026-03-02", 12, 0, 0, 0))
	late := f.pay(t, domain.WeChat, "", 40000, shanghai("2026-03-02", 23, 59, 59, 999))
	f.pay(t, domain.WeChat, "", 50000, shanghai("2026-03-03", 0, 0, 0, 0))        // next day
	ali := f.pay(t, domain.Alipay, "", 70000, shanghai("2026-03-02", 9, 0, 0, 0)) // other channel
	f.refund(t, before, 1000, shanghai("2026-03-01", 23, 59, 59, 999))            // the previous day's
	f.refund(t, before, 3000, shanghai("2026-03-02", 0, 0, 0, 0))                 // an earlier payment's, refunded on the day
	f.refund(t, noon, 5000, shanghai("2026-03-02", 23, 59, 59, 999))
	f.refund(t, late, 40000, shanghai("2026-03-03", 0, 0, 0, 0)) // the day's payment, refunded the next day
	f.refund(t, ali, 700, shanghai("2026-03-02", 10, 0, 0, 0))   // other channel
	sts := settle(t, f.s, domain.WeChat, "2026-03-02")
	want := dsettle.Statement{Key: dsettle.Key{Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"}, CompanyID: "c1",
		Count: 3, GrossFen: 90000, RefundCount: 2, RefundFen: 8000, FeeFen: 120 + 180 + 240, NetFen: 90000 - 8000 - 540}
	if len(sts) != 1 || sts[0] != want {
		t.Fatalf("statements %+v\nwant %+v", sts, want)
	}
	month, err := f.repo.Statements(context.Background(), merchant, "2026-03")
	if err != nil || len(month) != 1 || month[0] != want {
		t.Fatalf("stored %+v %v", month, err)
	}
	for _, c := range []struct {
		day                            calendar.Day
		count, gross, refunds, fee     int64
		refundCount, monthToDate, want int64
	}{
		{"2026-03-01", 1, 10000, 1000, 60, 1, 0, 10000 - 1000 - 60},
		{"2026-03-03", 1, 50000, 40000, 300, 1, 100000, 50000 - 40000 - 300},
	} {
		st := settle(t, f.s, domain.WeChat, c.day)
		if len(st) != 1 || st[0].Count != c.count || st[0].GrossFen != c.gross || st[0].RefundFen != c.refunds || st[0].RefundCount != c.refundCount ||
			st[0].FeeFen != c.fee || st[0].NetFen != c.want || st[0].MonthToDateFen != c.monthToDate {
			t.Errorf("%s: %+v", c.day, st)
		}
	}
	if st := settle(t, f.s, domain.Alipay, "2026-03-02"); len(st) != 1 || st[0].RefundFen != 700 || st[0].GrossFen != 70000 {
		t.Errorf("alipay %+v", st)
	}
	// A day without payments settles to a zero statement.
	empty := settle(t, f.s, domain.WeChat, "2026-03-05")
	if len(empty) != 1 || empty[0].Count != 0 || empty[0].Day != "2026-03-05" {
		t.Fatalf("empty day %+v", empty)
	}
	// A day of refunds only: the refunds, no payments, a negative net.
	f.refund(t, noon, 2500, shanghai("2026-03-06", 8, 0, 0, 0))
	if st := settle(t, f.s, domain.WeChat, "2026-03-06"); len(st) != 1 || st[0].Count != 0 || st[0].RefundCount != 1 || st[0].NetFen != -2500 {
		t.Fatalf("refunds only %+v", st)
	}
}

// A refund of a 分付 payment is on the 分付 statement of its day (F3).
func TestSettleFenfuRefundOnItsOwnStatement(t *testing.T) {
	f := newFixture(t)
	o := f.pay(t, domain.WeChat, dsettle.MethodFenfu, 10000, shanghai("2026-03-02", 9, 0, 0, 0))
	f.refund(t, o, 4000, shanghai("2026-03-03", 9, 0, 0, 0))
	sts := settle(t, f.s, domain.WeChat, "2026-03-03")
	if len(sts) != 2 || sts[0].Method != "" || sts[0].RefundFen != 0 || sts[1].Method != dsettle.MethodFenfu || sts[1].RefundFen != 4000 ||
		sts[1].NetFen != -4000 {
		t.Fatalf("statements %+v", sts)
	}
}

// manyPayments pays n payments on 2026-03-02 and refunds part of every
// third, on the same day (the refunds' own partitions span several pages).
func manyPayments(t *testing.T, f fixture, n int) {
	for i := range n {
		o := f.pay(t, domain.WeChat, "", int64(100+i*37), shanghai("2026-03-02", 8, i/60, i%60, i%7))
		if i%3 == 0 {
			f.refund(t, o, int64(1+i), shanghai("2026-03-02", 20, i/60, i%60, 0))
		}
	}
}

func TestSettleRerunIsIdentical(t *testing.T) {
	f := newFixture(t)
	manyPayments(t, f, 40)
	first := settle(t, f.s, domain.WeChat, "2026-03-02")
	run1, _ := f.repo.Run(context.Background(), dsettle.Key{Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"})
	second := settle(t, f.s, domain.WeChat, "2026-03-02")
	run2, _ := f.repo.Run(context.Background(), dsettle.Key{Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"})
	if !reflect.DeepEqual(first, second) || first[0].Count != 40 || first[0].RefundCount != 14 {
		t.Fatalf("re-run differs:\n%+v\n%+v", first, second)
	}
	if run2.Generation != run1.Generation+1 || !run2.Done {
		t.Fatalf("re-run did not run again: %+v then %+v", run1, run2)
	}
}

// cutReader ends the context after `left` reads: a run cut off by the
// Lambda limit.
type cutReader struct {
	settlement.OrderReader
	left   int
	cancel context.CancelFunc
}

func (c *cutReader) SettledAfter(ctx context.Context, p, after string, limit int32) ([]order.Order, bool, error) {
	if c.left == 0 {
		c.cancel()
		return nil, false, ctx.Err()
	}
	c.left--
	return c.OrderReader.SettledAfter(ctx, p, after, limit)
}

func TestSettleResumesAfterInterruption(t *testing.T) {
	f := newFixture(t)
	seq = 0
	manyPayments(t, f, 40)
	full := &countReader{OrderReader: f.orders}
	f.s.Orders, f.s.Refunds = full, f.orders
	want := settle(t, f.s, domain.WeChat, "2026-03-02")
	// Start over on a fresh store with the same payments, cut off midway.
	g := newFixture(t)
	seq = 0
	manyPayments(t, g, 40)
	ctx, cancel := context.WithCancel(context.Background())
	cut := *g.s
	cut.Orders = &cutReader{OrderReader: g.orders, left: 8, cancel: cancel} // one step
	cut.Refunds = g.orders
	if _, err := cut.Settle(ctx, settlement.Request{CompanyID: "c1", Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cut-off run: %v", err)
	}
	run, err := g.repo.Run(context.Background(), dsettle.Key{Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"})
	if err != nil || run.Done || run.After == "" || run.Statements[""].Count == 0 || run.Statements[""].Count >= 40 {
		t.Fatalf("checkpoint after the cut: %+v %v", run, err)
	}
	reads := &countReader{OrderReader: g.orders}
	resumed := *g.s
	resumed.Orders, resumed.Refunds = reads, g.orders
	got, err := resumed.Settle(context.Background(), settlement.Request{CompanyID: "c1", Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed %+v %v\nwant %+v", got, err, want)
	}
	after, _ := g.repo.Run(context.Background(), dsettle.Key{Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"})
	if after.Generation != run.Generation {
		t.Fatal("the resumed run started over instead of continuing")
	}
	if reads.orders >= full.orders {
		t.Fatalf("the resumed run read %d orders, a whole run %d: it did not start from its checkpoint", reads.orders, full.orders)
	}
}

// cutBoth is cutReader for the refunds as well: it ends the context after
// `left` reads of either kind.
type cutBoth struct {
	*store.Orders
	left   int
	cancel context.CancelFunc
	reads  int // refunds read
}

func (c *cutBoth) take(ctx context.Context) error {
	if c.left == 0 {
		c.cancel()
		return ctx.Err()
	}
	c.left--
	return nil
}

func (c *cutBoth) SettledAfter(ctx context.Context, p, after string, limit int32) ([]order.Order, bool, error) {
	if err := c.take(ctx); err != nil {
		return nil, false, err
	}
	return c.Orders.SettledAfter(ctx, p, after, limit)
}

func (c *cutBoth) RefundsSettledAfter(ctx context.Context, p, after string, limit int32) ([]refund.Refund, bool, error) {
	if err := c.take(ctx); err != nil {
		return nil, false, err
	}
	rfs, more, err := c.Orders.RefundsSettledAfter(ctx, p, after, limit)
	c.reads += len(rfs)
	return rfs, more, err
}

// A run cut off among the day's refunds resumes from its refund checkpoint.
func TestSettleResumesAmongRefunds(t *testing.T) {
	// 40 payments, each partly refunded the same day: some shard has more
	// than a page (3) of refunds.
	refundAll := func(f fixture) {
		seq = 0
		for i := range 40 {
			o := f.pay(t, domain.WeChat, "", int64(1000+i), shanghai("2026-03-02", 8, 0, i, 0))
			f.refund(t, o, int64(1+i), shanghai("2026-03-02", 21, 0, i, 0))
		}
	}
	f := newFixture(t)
	refundAll(f)
	full := &cutBoth{Orders: f.orders, left: -1, cancel: func() {}}
	f.s.Orders, f.s.Refunds = full, full
	want := settle(t, f.s, domain.WeChat, "2026-03-02")
	if want[0].RefundCount != 40 || want[0].RefundFen != 40*41/2 {
		t.Fatalf("statement %+v", want[0])
	}
	g := newFixture(t)
	refundAll(g)
	req := settlement.Request{CompanyID: "c1", Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"}
	key := dsettle.Key{Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"}
	// Pages of 3 over 8 shards: the payments take a few steps, the refunds
	// more than one; cut once the refunds have started.
	for left := 8; ; left += 8 {
		ctx, cancel := context.WithCancel(context.Background())
		cut := *g.s
		reader := &cutBoth{Orders: g.orders, left: left, cancel: cancel}
		cut.Orders, cut.Refunds = reader, reader
		_, err := cut.Settle(ctx, req)
		cancel()
		if err == nil {
			t.Fatal("the run finished before it was cut among the refunds")
		}
		run, rerr := g.repo.Run(context.Background(), key)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if run.PaymentsDone && run.RefundsAfter != "" && !run.Done {
			if run.Statements[""].Count != 40 || run.Statements[""].RefundCount == 0 || run.Statements[""].RefundCount >= 40 {
				t.Fatalf("checkpoint among the refunds %+v", run.Statements[""])
			}
			break
		}
	}
	resumed := *g.s
	reader := &cutBoth{Orders: g.orders, left: -1, cancel: func() {}}
	resumed.Orders, resumed.Refunds = reader, reader
	got, err := resumed.Settle(context.Background(), req)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed %+v %v\nwant %+v", got, err, want)
	}
	if reader.reads >= full.reads {
		t.Fatalf("the resumed run read %d refunds, a whole run %d: it did not start from its checkpoint", reader.reads, full.reads)
	}
}

type countReader struct {
	settlement.OrderReader
	mu     sync.Mutex
	orders int
}

func (c *countReader) SettledAfter(ctx context.Context, p, after string, limit int32) ([]order.Order, bool, error) {
	os, more, err := c.OrderReader.SettledAfter(ctx, p, after, limit)
	c.mu.Lock()
	c.orders += len(os)
	c.mu.Unlock()
	return os, more, err
}

func TestSettleConcurrentRunsAgree(t *testing.T) {
	f := newFixture(t)
	manyPayments(t, f, 40)
	var wg sync.WaitGroup
	results := make([][]dsettle.Statement, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.s.Settle(context.Background(), settlement.Request{CompanyID: "c1", Merchant: merchant, Channel: domain.WeChat, Day: "2026-03-02"})
		}()
	}
	wg.Wait()
	var gross int64
	for i := range 40 {
		gross += int64(100 + i*37)
	}
	for i := range results {
		if errs[i] != nil || len(results[i]) != 1 || results[i][0].Count != 40 || results[i][0].GrossFen != gross {
			t.Fatalf("run %d: %+v %v", i, results[i], errs[i])
		}
		if !reflect.DeepEqual(results[i], results[0]) {
			t.Fatalf("runs disagree: %+v vs %+v", results[i], results[0])
		}
	}
	month, _ := f.repo.Statements(context.Background(), merchant, "2026-03")
	if len(month) != 1 || month[0] != results[0][0] {
		t.Fatalf("stored %+v", month)
	}
}

// 分付 settles on its own statement, its tiers counted from the month's
// earlier statements, the boundary crossed inside a payment of the day.
func TestSettleFenfuTiersAcrossDays(t *testing.T) {
	f := newFixture(t)
	f.pay(t, domain.WeChat, dsettle.MethodFenfu, 49_995_000, shanghai("2026-03-01", 10, 0, 0, 0))
	f.pay(t, domain.WeChat, dsettle.MethodFenfu, 3000, shanghai("2026-03-02", 9, 0, 0, 0))
	f.pay(t, domain.WeChat, dsettle.MethodFenfu, 4000, shanghai("2026-03-02", 10, 0, 0, 0))
	f.pay(t, domain.WeChat, dsettle.MethodFenfu, 5000, shanghai("2026-03-02", 11, 0, 0, 0))
	f.pay(t, domain.WeChat, "", 10000, shanghai("2026-03-02", 11, 0, 0, 0))
	settle(t, f.s, domain.WeChat, "2026-03-01")
	sts := settle(t, f.s, domain.WeChat, "2026-03-02")
	if len(sts) != 2 || sts[0].Method != "" || sts[1].Method != dsettle.MethodFenfu {
		t.Fatalf("statements %+v", sts)
	}
	if sts[0].Count != 1 || sts[0].FeeFen != 60 {
		t.Fatalf("ordinary %+v", sts[0])
	}
	fen := sts[1]
	if fen.MonthToDateFen != 49_995_000 || fen.Count != 3 || fen.FeeFen != 21+27+32 || fen.NetFen != 12000-80 {
		t.Fatalf("分付 %+v", fen)
	}
}

// A held payment is out of its day's net and joins the statement of the
// day it is released; its own day settles again to the same figures.
func TestSettleHoldsAndReleases(t *testing.T) {
	f := newFixture(t)
	f.s.Holds = f.repo.Holds
	ctx := context.Background()
	f.pay(t, domain.WeChat, "", 10000, shanghai("2026-03-02", 9, 0, 0, 0))
	held := f.pay(t, domain.WeChat, "", 20000, shanghai("2026-03-02", 10, 0, 0, 0))
	h := dsettle.Hold{OrderID: held.ID, CompanyID: "c1", Merchant: merchant, Channel: domain.WeChat, AmountFen: 20000, PaidDay: "2026-03-02",
		Reason: "同一张卡连续支付 3 次", By: "risk:F4", HeldAt: shanghai("2026-03-02", 10, 0, 1, 0)}
	if err := f.repo.PutHold(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.PutHold(ctx, h); !errors.Is(err, store.ErrSettleConflict) {
		t.Fatalf("holding twice: %v", err)
	}
	day2 := settle(t, f.s, domain.WeChat, "2026-03-02")
	if st := day2[0]; st.HeldCount != 1 || st.HeldFen != 20000 || st.FeeFen != 180 || st.NetFen != 30000-180-20000 {
		t.Fatalf("held day %+v", st)
	}
	hs, err := f.repo.Holds(ctx, domain.WeChat, merchant)
	if err != nil || len(hs) != 1 {
		t.Fatalf("holds %+v %v", hs, err)
	}
	r := hs[0]
	if err := r.Release("2026-03-04", "staff:s1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Release("2026-03-05", "staff:s1"); !errors.Is(err, dsettle.ErrNotHeld) {
		t.Fatalf("releasing twice: %v", err)
	}
	if err := f.repo.PutHold(ctx, r); err != nil {
		t.Fatal(err)
	}
	// Part of the held payment is refunded the next day: the refund is on
	// that day; the payment stays held whole and is released whole.
	f.refund(t, held, 5000, shanghai("2026-03-03", 9, 0, 0, 0))
	if st := settle(t, f.s, domain.WeChat, "2026-03-03")[0]; st.ReleasedFen != 0 || st.RefundFen != 5000 || st.NetFen != -5000 {
		t.Fatalf("a day before the release %+v", st)
	}
	if st := settle(t, f.s, domain.WeChat, "2026-03-04")[0]; st.ReleasedCount != 1 || st.ReleasedFen != 20000 || st.Count != 0 || st.NetFen != 20000 {
		t.Fatalf("the release day %+v", st)
	}
	if again := settle(t, f.s, domain.WeChat, "2026-03-02"); !reflect.DeepEqual(again, day2) {
		t.Fatalf("the held day settled again differs:\n%+v\n%+v", again, day2)
	}
}

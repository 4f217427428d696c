package payments_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

// noticeEnv is a payments service on the embedded DynamoDB (orders, bills,
// refunds: the transactions are the point) with fake providers, and one
// house of 阳光花园 with three bills on one notice.
type noticeEnv struct {
	*env
	ledger *store.Ledger
	notice notice.Notice
	bills  []bill.Bill
}

var noticeT0 = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

func newNoticeEnv(t *testing.T) *noticeEnv {
	t.Helper()
	st := newStore(t)
	seed(t, st)
	e := &env{st: st, prov: &fakeProviders{}, now: noticeT0}
	ne := &noticeEnv{env: e, ledger: st.LedgerRepo()}
	e.svc = &payments.Service{
		Orders: st.OrderRepo(), Directory: st, Providers: e.prov, Billing: ne.ledger,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock,
		PublicBaseURL: "https://pay.example.test", MaxAmountFen: 5_000_000,
	}
	ctx := context.Background()
	h, err := house.New(house.House{CompanyID: "co-1", CommunityID: "com-both", Building: "3", Unit: "2", Room: "1101", OwnerName: "张三"}, noticeT0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HouseRepo().PutHouse(ctx, h); err != nil {
		t.Fatal(err)
	}
	for i, b := range []struct {
		fee string
		fen int64
	}{{"物业费", 12000}, {"水费", 3000}, {"停车费", 20000}} {
		nb, err := bill.New(bill.Bill{ID: fmt.Sprintf("bill-%d", i), CompanyID: "co-1", CommunityID: "com-both", HouseID: h.ID,
			FeeItem: b.fee, Period: "2026-11", AmountFen: b.fen, DueDate: "2026-12-15"}, "test", noticeT0)
		if err != nil {
			t.Fatal(err)
		}
		ne.bills = append(ne.bills, nb)
	}
	if err := st.BillRepo().Create(ctx, ne.bills...); err != nil {
		t.Fatal(err)
	}
	n, err := notice.New(notice.NewID(), h, ne.bills, "test", noticeT0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HouseRepo().CreateNotice(ctx, n); err != nil {
		t.Fatal(err)
	}
	ne.notice = n
	return ne
}

func (ne *noticeEnv) pay(t *testing.T, key string, expect int64) (payments.Created, error) {
	t.Helper()
	return ne.svc.CreateNoticeOrder(context.Background(), payments.NoticeOrderRequest{NoticeID: ne.notice.ID, Channel: domain.Alipay,
		ExpectFen: expect, IdempotencyKey: key})
}

// confirm is the provider's verified report that order id was paid at now.
func (ne *noticeEnv) confirm(t *testing.T, id string) (order.Order, error) {
	t.Helper()
	o, err := ne.st.OrderRepo().Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	iface, err := ne.st.GetInterface(context.Background(), o.IfaceID)
	if err != nil {
		t.Fatal(err)
	}
	return ne.svc.ApplyTrade(context.Background(), iface, pay.Trade{OrderID: id, State: pay.TradePaid, ProviderTxnID: "TXN" + id,
		AmountFen: o.AmountFen, PaidAt: ne.clock(), MerchantID: o.MerchantID, AppID: o.AppID})
}

func (ne *noticeEnv) bill(t *testing.T, i int) bill.Bill {
	t.Helper()
	b, err := ne.st.BillRepo().Get(context.Background(), ne.bills[i].ID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (ne *noticeEnv) refundsSucceed() {
	ne.prov.mu.Lock()
	defer ne.prov.mu.Unlock()
	ne.prov.refund = func(r pay.RefundRequest) (pay.RefundResult, error) {
		return pay.RefundResult{ProviderRefundID: "P" + r.RefundID, State: pay.RefundSuccess, AmountFen: r.AmountFen}, nil
	}
}

func TestNoticePayment(t *testing.T) {
	ctx := context.Background()

	t.Run("pays exactly what is left, order and bills paid in one transaction", func(t *testing.T) {
		ne := newNoticeEnv(t)
		view, err := ne.svc.Notice(ctx, ne.notice.ID)
		if err != nil || view.Summary.OpenFen != 35000 || view.Collection.Community.ID != "com-both" {
			t.Fatalf("view %+v %v", view.Summary, err)
		}
		c, err := ne.pay(t, "key-aaaaaaaaaaaaaaaa", 35000)
		if err != nil || !c.New || c.Order.AmountFen != 35000 || len(c.Order.BillIDs) != 3 || c.Order.NoticeID != ne.notice.ID {
			t.Fatalf("created %+v %v", c.Order, err)
		}
		if calls := ne.prov.calls(); len(calls) != 1 || calls[0].AmountFen != 35000 || calls[0].ReturnURL != "https://pay.example.test/n/"+ne.notice.ID+"/orders/"+c.Order.ID {
			t.Fatalf("prepay %+v", calls)
		}
		for i := range ne.bills {
			if b := ne.bill(t, i); b.Status != bill.Reserved || b.ReservedBy != c.Order.ID || !b.ReservedUntil.After(c.Order.ExpireAt) {
				t.Fatalf("bill %d not reserved by the order: %+v", i, b)
			}
		}
		// The same request again answers the same order, no second trade.
		again, err := ne.pay(t, "key-aaaaaaaaaaaaaaaa", 35000)
		if err != nil || again.New || again.Order.ID != c.Order.ID || len(ne.prov.calls()) != 1 {
			t.Fatalf("retry: %+v %v", again, err)
		}
		ne.advance(time.Minute)
		o, err := ne.confirm(t, c.Order.ID)
		if err != nil || o.Status != order.Paid || o.BillsRefused {
			t.Fatalf("confirmed %+v %v", o, err)
		}
		for i := range ne.bills {
			if b := ne.bill(t, i); b.Status != bill.Paid || b.PaidBy.OrderID != c.Order.ID {
				t.Fatalf("bill %d: %+v", i, b)
			}
		}
		// A duplicate confirmation changes nothing.
		if o2, err := ne.confirm(t, c.Order.ID); err != nil || o2.Version != o.Version {
			t.Fatalf("duplicate: %+v %v", o2, err)
		}
		view, _ = ne.svc.Notice(ctx, ne.notice.ID)
		if !view.Summary.Settled || view.Summary.OpenFen != 0 {
			t.Fatalf("after paying: %+v", view.Summary)
		}
		if _, err := ne.pay(t, "key-bbbbbbbbbbbbbbbb", 35000); !errors.Is(err, payments.ErrNoticeSettled) {
			t.Fatalf("paying a settled notice: %v", err)
		}
	})

	t.Run("two payers at the same moment: one is charged, the other told", func(t *testing.T) {
		ne := newNoticeEnv(t)
		const n = 12
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = ne.pay(t, fmt.Sprintf("key-concurrent-%04d", i), 35000)
			}()
		}
		wg.Wait()
		won, told := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, payments.ErrNoticePaying), errors.Is(err, payments.ErrNoticeChanged):
				told++
			default:
				t.Fatalf("unexpected: %v", err)
			}
		}
		if won != 1 || told != n-1 || len(ne.prov.calls()) != 1 {
			t.Fatalf("%d created, %d told, %d trades opened; want 1, %d, 1", won, told, len(ne.prov.calls()), n-1)
		}
	})

	t.Run("partly paid: asks only what remains; a stale amount is refused", func(t *testing.T) {
		ne := newNoticeEnv(t)
		b := ne.bill(t, 0)
		after := b
		if err := after.Pay(bill.Payer{EntryID: "E1"}, noticeT0); err != nil {
			t.Fatal(err)
		}
		if err := ne.ledger.Commit(ctx, store.Unit{Bills: bill.Plan{Read: []bill.Bill{b}, Changed: []bill.Bill{after}}}); err != nil {
			t.Fatal(err)
		}
		view, _ := ne.svc.Notice(ctx, ne.notice.ID)
		if view.Summary.OpenFen != 23000 || view.Summary.PaidFen != 12000 {
			t.Fatalf("partly paid: %+v", view.Summary)
		}
		if _, err := ne.pay(t, "key-cccccccccccccccc", 35000); !errors.Is(err, payments.ErrNoticeChanged) {
			t.Fatalf("stale amount: %v", err)
		}
		c, err := ne.pay(t, "key-dddddddddddddddd", 23000)
		if err != nil || c.Order.AmountFen != 23000 || len(c.Order.BillIDs) != 2 {
			t.Fatalf("remaining: %+v %v", c.Order, err)
		}
	})

	t.Run("prepay refused: the bills are given back", func(t *testing.T) {
		ne := newNoticeEnv(t)
		ne.prov.prepayErr = fmt.Errorf("%w: SYSTEMERROR", pay.ErrProvider)
		if _, err := ne.pay(t, "key-eeeeeeeeeeeeeeee", 35000); !errors.Is(err, pay.ErrProvider) {
			t.Fatalf("prepay failure: %v", err)
		}
		for i := range ne.bills {
			if b := ne.bill(t, i); b.Status != bill.Unpaid {
				t.Fatalf("bill %d kept: %+v", i, b)
			}
		}
	})

	t.Run("reservation expired, another payment took the bills, late confirmation refunded automatically", func(t *testing.T) {
		ne := newNoticeEnv(t)
		ne.refundsSucceed()
		first, err := ne.pay(t, "key-first-aaaaaaaaaa", 35000)
		if err != nil {
			t.Fatal(err)
		}
		ne.advance(20 * time.Minute) // first's reservation lapsed; someone else pays
		second, err := ne.pay(t, "key-second-aaaaaaaaa", 35000)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ne.confirm(t, second.Order.ID); err != nil {
			t.Fatal(err)
		}
		ne.advance(time.Minute)
		late, err := ne.confirm(t, first.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !late.BillsRefused || late.RefundFen != 35000 || len(late.RefundIDs) != 1 {
			t.Fatalf("late confirmation: %+v", late)
		}
		for i := range ne.bills {
			if b := ne.bill(t, i); b.Status != bill.Paid || b.PaidBy.OrderID != second.Order.ID {
				t.Fatalf("bill %d paid twice or by the wrong order: %+v", i, b)
			}
		}
		ne.prov.mu.Lock()
		asked := append([]pay.RefundRequest(nil), ne.prov.refunds...)
		ne.prov.mu.Unlock()
		if len(asked) != 1 || asked[0].AmountFen != 35000 || asked[0].OrderID != first.Order.ID || asked[0].RefundID != late.RefundIDs[0] {
			t.Fatalf("refunds asked: %+v", asked)
		}
		rf, err := ne.ledger.GetRefund(ctx, late.RefundIDs[0])
		if err != nil || rf.Status != refund.Succeeded || rf.By != "auto" || rf.Reason != refund.AutoReason {
			t.Fatalf("refund %+v %v", rf, err)
		}
		o, _ := ne.st.OrderRepo().Get(ctx, first.Order.ID)
		if o.Status != order.Refunded || o.RefundedFen != 35000 {
			t.Fatalf("order after its refund: %+v", o)
		}
		// The provider reports the payment again: nothing changes, no second refund.
		if _, err := ne.confirm(t, first.Order.ID); err != nil {
			t.Fatal(err)
		}
		if len(ne.prov.refunds) != 1 {
			t.Fatalf("refunded again: %d", len(ne.prov.refunds))
		}
	})
}

// seedCodePayment stores a paid code payment of 阳光花园 for fen.
func seedCodePayment(t *testing.T, ne *noticeEnv, fen int64) order.Order {
	t.Helper()
	o, err := order.New(order.Order{ID: "EPCODE" + fmt.Sprint(fen), CommunityID: "com-both", CompanyID: "co-1", CodeToken: tokBoth,
		Channel: domain.Alipay, IfaceID: "ali-1", MerchantID: aliSeller, AppID: aliApp, AmountFen: fen, RequestHash: "h"}, ne.clock(), 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ne.st.OrderRepo().Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o, err = ne.st.OrderRepo().Update(context.Background(), o.ID, func(x *order.Order) error {
		return x.Pay(order.Payment{ProviderTxnID: "TXN" + o.ID, AmountFen: fen, PaidAt: ne.clock(), MerchantID: aliSeller, AppID: aliApp})
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// submit is the sweeper's next run for refund id.
func (ne *noticeEnv) submit(t *testing.T, id string) refund.Refund {
	t.Helper()
	rf, err := ne.svc.CheckRefund(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rf
}

func TestRefunds(t *testing.T) {
	ctx := context.Background()
	paidNotice := func(t *testing.T) (*noticeEnv, order.Order) {
		ne := newNoticeEnv(t)
		c, err := ne.pay(t, "key-refund-aaaaaaaaa", 35000)
		if err != nil {
			t.Fatal(err)
		}
		o, err := ne.confirm(t, c.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ne, o
	}
	req := func(o order.Order, fen int64, key string) payments.RefundRequest {
		return payments.RefundRequest{CompanyID: "co-1", OrderID: o.ID, AmountFen: fen, Reason: "多收了", By: "staff:admin", Key: key}
	}

	t.Run("partial refunds never sum past the payment", func(t *testing.T) {
		ne, o := paidNotice(t)
		ne.refundsSucceed()
		r1, err := ne.svc.RequestRefund(ctx, req(o, 20000, "rk-1-aaaaaaaaaaaaaa"))
		if err != nil || r1.Status != refund.Requested || len(ne.prov.refunds) != 0 {
			t.Fatalf("first: %+v %v (the console never calls the provider)", r1, err)
		}
		if r1 = ne.submit(t, r1.ID); r1.Status != refund.Succeeded {
			t.Fatalf("submitted: %+v", r1)
		}
		if _, err := ne.svc.RequestRefund(ctx, req(o, 15001, "rk-2-aaaaaaaaaaaaaa")); !errors.Is(err, payments.ErrRefundExceeds) {
			t.Fatalf("past the payment: %v", err)
		}
		// The same key again is the same refund, not a second one.
		again, err := ne.svc.RequestRefund(ctx, req(o, 20000, "rk-1-aaaaaaaaaaaaaa"))
		if err != nil || again.ID != r1.ID {
			t.Fatalf("same key: %+v %v", again, err)
		}
		if _, err := ne.svc.RequestRefund(ctx, req(o, 100, "rk-1-aaaaaaaaaaaaaa")); !errors.Is(err, payments.ErrRefundConflict) {
			t.Fatalf("same key, other amount: %v", err)
		}
		if _, err := ne.svc.RequestRefund(ctx, payments.RefundRequest{CompanyID: "co-2", OrderID: o.ID, AmountFen: 1, Reason: "x", By: "staff:x", Key: "rk-3-aaaaaaaaaaaaaa"}); !errors.Is(err, payments.ErrUnknownOrder) {
			t.Fatalf("another company: %v", err)
		}
		got, _ := ne.st.OrderRepo().Get(ctx, o.ID)
		if got.RefundFen != 20000 || got.RefundedFen != 20000 || got.Status != order.Paid || got.Refundable() != 15000 {
			t.Fatalf("order: %+v", got)
		}
	})

	t.Run("concurrent refunds: together never more than was paid", func(t *testing.T) {
		ne, o := paidNotice(t)
		ne.refundsSucceed()
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = ne.svc.RequestRefund(ctx, req(o, 10000, fmt.Sprintf("rk-concurrent-%05d", i)))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, payments.ErrRefundExceeds), errors.Is(err, store.ErrUnitConflict):
			default:
				t.Fatalf("unexpected: %v", err)
			}
		}
		got, _ := ne.st.OrderRepo().Get(ctx, o.ID)
		if ok > 3 || got.RefundFen != int64(ok)*10000 || got.RefundFen > got.AmountFen {
			t.Fatalf("%d refunds of 10000 from a 35000 payment; order refund_fen %d", ok, got.RefundFen)
		}
	})

	t.Run("processing, then the sweeper confirms; a refund that reopens bills", func(t *testing.T) {
		ne, o := paidNotice(t)
		ne.prov.refund = func(r pay.RefundRequest) (pay.RefundResult, error) {
			return pay.RefundResult{ProviderRefundID: "P1", State: pay.RefundProcessing}, nil
		}
		r := req(o, 3000, "rk-reopen-aaaaaaaaa")
		r.ReopenBills = []string{ne.bills[1].ID}
		rf, err := ne.svc.RequestRefund(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if rf = ne.submit(t, rf.ID); rf.Status != refund.Processing {
			t.Fatalf("submitted: %+v", rf)
		}
		if b := ne.bill(t, 1); b.Status != bill.Paid {
			t.Fatalf("bill reopened before the money went back: %+v", b)
		}
		ne.prov.queryRefund = func(orderID, refundID string) (pay.RefundResult, error) {
			return pay.RefundResult{ProviderRefundID: "P1", State: pay.RefundSuccess, SucceededAt: ne.clock()}, nil
		}
		ne.advance(3 * time.Minute)
		rep, err := ne.svc.Sweep(ctx, payments.SweepOptions{})
		if err != nil || rep.RefundsChecked != 1 {
			t.Fatalf("sweep %+v %v", rep, err)
		}
		got, _ := ne.ledger.GetRefund(ctx, rf.ID)
		if got.Status != refund.Succeeded {
			t.Fatalf("after the sweep: %+v", got)
		}
		if b := ne.bill(t, 1); b.Status != bill.Unpaid || b.Audit[len(b.Audit)-1].By != "refund:"+rf.ID {
			t.Fatalf("bill not reopened: %+v", b)
		}
		if b := ne.bill(t, 0); b.Status != bill.Paid {
			t.Fatalf("another bill reopened: %+v", b)
		}
	})

	t.Run("a code payment the desk linked is not refunded until the entry is reversed", func(t *testing.T) {
		ne := newNoticeEnv(t)
		ne.refundsSucceed()
		// A resident paid 350.00 through the code; the cashier used it for the house's three bills.
		code := seedCodePayment(t, ne, 35000)
		desk := ne.st.CashierRepo()
		e, err := desk.Record(ctx, cashier.Entry{ID: "CE1", CompanyID: "co-1", CommunityID: "com-both", HouseID: ne.bills[0].HouseID,
			Method: cashier.Code, OrderID: code.ID, By: "staff:cashier"}, []string{ne.bills[0].ID, ne.bills[1].ID, ne.bills[2].ID}, ne.clock())
		if err != nil {
			t.Fatal(err)
		}
		_, err = ne.svc.RequestRefund(ctx, req(code, 1000, "rk-linked-aaaaaaaaa"))
		if !errors.Is(err, payments.ErrRefundLinked) || !strings.Contains(err.Error(), "CE1") {
			t.Fatalf("refund of a linked payment: %v", err)
		}
		if o, _ := ne.st.OrderRepo().Get(ctx, code.ID); o.RefundFen != 0 {
			t.Fatalf("the refused refund took money from the payment: %+v", o)
		}
		if _, err := desk.Reverse(ctx, "co-1", e.ID, "staff:admin", "收错了", ne.clock()); err != nil {
			t.Fatal(err)
		}
		if _, err := ne.svc.RequestRefund(ctx, req(code, 1000, "rk-linked-bbbbbbbbb")); err != nil {
			t.Fatalf("refund after the reversal: %v", err)
		}
	})

	t.Run("a refund the provider closes gives its amount back", func(t *testing.T) {
		ne, o := paidNotice(t)
		ne.prov.refund = func(r pay.RefundRequest) (pay.RefundResult, error) {
			return pay.RefundResult{State: pay.RefundProcessing}, nil
		}
		rf, err := ne.svc.RequestRefund(ctx, req(o, 35000, "rk-closed-aaaaaaaaa"))
		if err != nil {
			t.Fatal(err)
		}
		ne.submit(t, rf.ID)
		iface, _ := ne.st.GetInterface(ctx, o.IfaceID)
		got, err := ne.svc.ApplyRefundNotification(ctx, iface, pay.RefundNotification{OrderID: o.ID, RefundID: rf.ID, State: pay.RefundClosed, AmountFen: 35000})
		if err != nil || got.Status != refund.Failed {
			t.Fatalf("closed: %+v %v", got, err)
		}
		ord, _ := ne.st.OrderRepo().Get(ctx, o.ID)
		if ord.RefundFen != 0 || ord.Refundable() != 35000 {
			t.Fatalf("order after a failed refund: %+v", ord)
		}
		// A notification naming another order is refused and changes nothing.
		if _, err := ne.svc.ApplyRefundNotification(ctx, iface, pay.RefundNotification{OrderID: "EPOTHER", RefundID: rf.ID, State: pay.RefundSuccess}); !errors.Is(err, payments.ErrMismatch) {
			t.Fatalf("mismatch: %v", err)
		}
	})

	t.Run("an unreachable provider leaves the refund for the sweeper, never lost", func(t *testing.T) {
		ne, o := paidNotice(t)
		ne.prov.refund = func(r pay.RefundRequest) (pay.RefundResult, error) { return pay.RefundResult{}, errors.New("timeout") }
		rf, err := ne.svc.RequestRefund(ctx, req(o, 500, "rk-retry-aaaaaaaaaa"))
		if err != nil {
			t.Fatal(err)
		}
		if rf = ne.submit(t, rf.ID); rf.Status != refund.Requested || rf.Attempts != 1 {
			t.Fatalf("after an unreachable provider: %+v", rf)
		}
		ne.refundsSucceed()
		ne.advance(10 * time.Minute)
		if _, err := ne.svc.Sweep(ctx, payments.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		got, _ := ne.ledger.GetRefund(ctx, rf.ID)
		if got.Status != refund.Succeeded || len(ne.prov.refunds) != 2 || ne.prov.refunds[1].RefundID != rf.ID {
			t.Fatalf("after the sweep: %+v, asked %d times", got, len(ne.prov.refunds))
		}
	})
}

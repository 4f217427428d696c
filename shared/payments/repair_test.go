package payments_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
)

// repairTrade is the provider's verified answer, a day later, about a notice
// payment made at paidAt whose callback never came: what settlement's
// reconciliation applies (payments.Service.ApplyTrade) when the day's bill
// shows the payment and our order does not.
func (ne *noticeEnv) repairTrade(t *testing.T, o order.Order, paidAt time.Time) pay.Trade {
	t.Helper()
	return pay.Trade{OrderID: o.ID, State: pay.TradePaid, ProviderTxnID: "TXN" + o.ID, AmountFen: o.AmountFen, PaidAt: paidAt,
		MerchantID: o.MerchantID, AppID: o.AppID, PayerID: "2088repairedpayer"}
}

func (ne *noticeEnv) repair(t *testing.T, svc *payments.Service, o order.Order, paidAt time.Time) (order.Order, error) {
	t.Helper()
	iface, err := ne.st.GetInterface(context.Background(), o.IfaceID)
	if err != nil {
		t.Fatal(err)
	}
	return svc.ApplyTrade(context.Background(), iface, ne.repairTrade(t, o, paidAt))
}

// sweptClosed lets the order's time run out with the provider not knowing
// the trade (the payer had not opened the cashier yet): the sweeper closes
// it here and gives its bills back.
func (ne *noticeEnv) sweptClosed(t *testing.T, o order.Order) {
	t.Helper()
	ne.prov.mu.Lock()
	ne.prov.query = func(id string) (pay.Trade, error) { return pay.Trade{OrderID: id, State: pay.TradeNotFound}, nil }
	ne.prov.mu.Unlock()
	ne.advance(o.ExpireAt.Sub(ne.clock()) + time.Minute)
	// One worker: no connection to the embedded DynamoDB is dialled and left unused (its close would wait for it).
	if _, err := ne.svc.Sweep(context.Background(), payments.SweepOptions{Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ne.st.OrderRepo().Get(context.Background(), o.ID); got.Status != order.Closed {
		t.Fatalf("the sweeper did not close the order: %s", got.Status)
	}
	for i := range ne.bills {
		if b := ne.bill(t, i); b.Status != bill.Unpaid {
			t.Fatalf("bill %d not given back: %+v", i, b)
		}
	}
}

// Reconciliation's repair of a notice payment whose callback never came
// goes through the callbacks' confirmation: the order PAID and every bill
// it reserved PAID in one transaction (store.Ledger), or, when the bills
// were paid by someone else meanwhile, the order PAID, marked BillsRefused
// and refunded in full automatically. Against the embedded DynamoDB.
func TestRepairOfNoticePayments(t *testing.T) {
	ctx := context.Background()

	t.Run("neither callback nor sweeper saw it: the next day's repair pays the order and its bills", func(t *testing.T) {
		ne := newNoticeEnv(t)
		c, err := ne.pay(t, "key-repair-pending-a", 35000)
		if err != nil {
			t.Fatal(err)
		}
		paidAt := ne.clock().Add(2 * time.Minute)
		ne.advance(24 * time.Hour) // the reservation lapsed long ago; nobody else paid
		o, err := ne.repair(t, ne.svc, c.Order, paidAt)
		if err != nil || o.Status != order.Paid || o.BillsRefused || o.ProviderTxnID != "TXN"+c.Order.ID || o.BusinessDay != calendar.BusinessDay(paidAt) {
			t.Fatalf("repaired %+v %v", o, err)
		}
		stored, _ := ne.st.OrderRepo().Get(ctx, c.Order.ID)
		if stored.Status != order.Paid || stored.Version != o.Version {
			t.Fatalf("stored order %+v", stored)
		}
		for i := range ne.bills {
			if b := ne.bill(t, i); b.Status != bill.Paid || b.PaidBy.OrderID != c.Order.ID || !b.PaidAt.Equal(paidAt) {
				t.Fatalf("bill %d: %+v", i, b)
			}
		}
		if len(ne.prov.refunds) != 0 {
			t.Fatalf("refunded: %+v", ne.prov.refunds)
		}
		// Reconciling the day again (or the late callback) changes nothing.
		if again, err := ne.repair(t, ne.svc, c.Order, paidAt); err != nil || again.Version != o.Version {
			t.Fatalf("again: %+v %v", again, err)
		}
	})

	t.Run("closed here, paid there: the repair pays the bills the sweeper gave back", func(t *testing.T) {
		ne := newNoticeEnv(t)
		c, err := ne.pay(t, "key-repair-closed-aa", 35000)
		if err != nil {
			t.Fatal(err)
		}
		ne.sweptClosed(t, c.Order)
		paidAt := ne.clock()
		ne.advance(24 * time.Hour)
		o, err := ne.repair(t, ne.svc, c.Order, paidAt)
		if err != nil || o.Status != order.Paid || o.BillsRefused {
			t.Fatalf("repaired %+v %v", o, err)
		}
		for i := range ne.bills {
			if b := ne.bill(t, i); b.Status != bill.Paid || b.PaidBy.OrderID != c.Order.ID {
				t.Fatalf("bill %d: %+v", i, b)
			}
		}
		view, _ := ne.svc.Notice(ctx, ne.notice.ID)
		if !view.Summary.Settled {
			t.Fatalf("notice after the repair: %+v", view.Summary)
		}
	})

	t.Run("the desk took the bills meanwhile: the repair keeps the money apart and refunds it", func(t *testing.T) {
		ne := newNoticeEnv(t)
		ne.refundsSucceed()
		c, err := ne.pay(t, "key-repair-desk-aaaa", 35000)
		if err != nil {
			t.Fatal(err)
		}
		ne.sweptClosed(t, c.Order)
		paidAt := ne.clock()
		ne.advance(time.Hour)
		if _, err := ne.st.CashierRepo().Record(ctx, cashier.Entry{ID: "CE-REPAIR", CompanyID: "co-1", CommunityID: "com-both", HouseID: ne.bills[0].HouseID,
			Method: cashier.Cash, By: "staff:cashier"}, []string{ne.bills[0].ID, ne.bills[1].ID, ne.bills[2].ID}, ne.clock()); err != nil {
			t.Fatal(err)
		}
		ne.advance(24 * time.Hour)
		o, err := ne.repair(t, ne.svc, c.Order, paidAt)
		if err != nil || o.Status != order.Paid || !o.BillsRefused || o.RefundFen != 35000 || len(o.RefundIDs) != 1 {
			t.Fatalf("repaired %+v %v", o, err)
		}
		for i := range ne.bills {
			if b := ne.bill(t, i); b.Status != bill.Paid || b.PaidBy.EntryID != "CE-REPAIR" || b.PaidBy.OrderID != "" {
				t.Fatalf("bill %d paid twice or by the wrong payer: %+v", i, b)
			}
		}
		ne.prov.mu.Lock()
		asked := append([]pay.RefundRequest(nil), ne.prov.refunds...)
		ne.prov.mu.Unlock()
		if len(asked) != 1 || asked[0].AmountFen != 35000 || asked[0].OrderID != c.Order.ID {
			t.Fatalf("refunds asked: %+v", asked)
		}
		rf, err := ne.ledger.GetRefund(ctx, o.RefundIDs[0])
		if err != nil || rf.Status != refund.Succeeded || rf.By != "auto" {
			t.Fatalf("refund %+v %v", rf, err)
		}
		if stored, _ := ne.st.OrderRepo().Get(ctx, c.Order.ID); stored.Status != order.Refunded || stored.RefundedFen != 35000 {
			t.Fatalf("order after its refund: %+v", stored)
		}
	})

	t.Run("a service without the ledger refuses rather than pay the order without its bills", func(t *testing.T) {
		ne := newNoticeEnv(t)
		c, err := ne.pay(t, "key-repair-noledger-", 35000)
		if err != nil {
			t.Fatal(err)
		}
		bare := &payments.Service{Orders: ne.st.OrderRepo(), Directory: ne.st, Providers: ne.prov,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: ne.clock}
		_, err = ne.repair(t, bare, c.Order, ne.clock())
		if err == nil || errors.Is(err, payments.ErrMismatch) || !strings.Contains(err.Error(), "bills") {
			t.Fatalf("without the ledger: %v", err)
		}
		if got, _ := ne.st.OrderRepo().Get(ctx, c.Order.ID); got.Status != order.Pending || got.Version != c.Order.Version {
			t.Fatalf("the order changed: %+v", got)
		}
		for i := range ne.bills {
			if b := ne.bill(t, i); b.Status != bill.Reserved {
				t.Fatalf("bill %d changed: %+v", i, b)
			}
		}
	})
}

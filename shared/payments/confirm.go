package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// payment is the order's view of a verified trade reported for iface. The
// payer it names is under the app our OAuth step uses for iface
// (OAuthAppID: WeChat's openid app; Alipay's own app id), so its history key
// matches the one a payer identified at 我的缴费记录 gets.
func payment(iface store.Interface, t pay.Trade) order.Payment {
	return order.Payment{ProviderTxnID: t.ProviderTxnID, AmountFen: t.AmountFen, PaidAt: t.PaidAt,
		MerchantID: t.MerchantID, AppID: t.AppID, PayerID: t.PayerID,
		PayerKey: order.PayerKeyOf(iface.Channel, iface.OAuthAppID(), t.PayerID)}
}

// ApplyTrade applies a provider's verified view of one of our trades, received
// for interface iface (a callback or a query): PAID moves the order to PAID,
// REFUNDED to REFUNDED (never a success), CLOSED closes an unpaid order. The
// aggregate decides; the write is conditional on the version it read, so
// duplicates and concurrent deliveries change the order once. Errors:
//   - ErrUnknownOrder, ErrMismatch: the report does not belong to our order (security event);
//   - anything else: a downstream failure; the provider should retry.
func (s *Service) ApplyTrade(ctx context.Context, iface store.Interface, t pay.Trade) (order.Order, error) {
	now := s.now()
	o, err := s.Orders.Update(ctx, t.OrderID, func(o *order.Order) error {
		if o.IfaceID != iface.ID {
			return fmt.Errorf("%w: order belongs to interface %s, report came for %s", order.ErrMismatch, o.IfaceID, iface.ID)
		}
		switch t.State {
		case pay.TradePaid:
			if len(o.BillIDs) > 0 && o.Status != order.Paid && o.Status != order.Refunded {
				return errPaysBills // one transaction with its bills: confirmBills
			}
			return o.Pay(payment(iface, t))
		case pay.TradeRefunded:
			return o.Refund(payment(iface, t), now)
		case pay.TradeClosed:
			return o.Close(now)
		}
		return order.ErrNoChange
	})
	if errors.Is(err, errPaysBills) {
		if s.Billing == nil {
			// A function wired without the ledger must not mark the order
			// paid apart from its bills: fail, the provider (or the next
			// reconciliation) comes back.
			return o, fmt.Errorf("payments: order %s pays bills: no ledger (Billing) to confirm it with its bills", t.OrderID)
		}
		o, err = s.confirmBills(ctx, iface, t)
	}
	if (err == nil || errors.Is(err, order.ErrNoChange)) && o.Method == fenfu.Method && s.Fenfu != nil {
		if ferr := s.fenfuAfter(ctx, o); ferr != nil {
			return o, ferr // the provider reports again; the rules are idempotent
		}
	}
	switch {
	case err == nil:
		s.Log.InfoContext(ctx, "order "+string(o.Status), "order_id", o.ID, "channel", o.Channel, "amount_fen", o.AmountFen, "provider_txn_id", o.ProviderTxnID, "version", o.Version)
		return o, nil
	case errors.Is(err, order.ErrNoChange):
		return o, nil // a duplicate: already applied
	case errors.Is(err, order.ErrNotFound):
		return o, ErrUnknownOrder
	case errors.Is(err, order.ErrMismatch):
		return o, fmt.Errorf("%w: %v", ErrMismatch, err)
	case errors.Is(err, order.ErrNotAllowed):
		// e.g. money reported for a refunded order under another transaction.
		return o, fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	return o, err
}

var errPaysBills = errors.New("the order pays bills")

// confirmBills applies a payment of a notice order (C6): the order and
// every bill it reserved become paid in ONE transaction. When some bill was
// paid by someone else meanwhile (its reservation expired and another
// payment or the cashier took it), the money still arrived: the order is
// PAID, marked BillsRefused, and a refund of all of it is created in the
// same transaction (automatic, recorded, visible), then submitted to the
// provider; the bills it still holds are released. Losing a race re-reads
// and decides again.
func (s *Service) confirmBills(ctx context.Context, iface store.Interface, t pay.Trade) (order.Order, error) {
	now := s.now()
	for attempt := 0; ; attempt++ {
		before, err := s.Orders.Get(ctx, t.OrderID)
		if err != nil {
			return before, err
		}
		after := before
		if err := after.Pay(payment(iface, t)); err != nil {
			return before, err
		}
		bills, err := s.Billing.ReadBills(ctx, after.BillIDs)
		if err != nil {
			return before, fmt.Errorf("bills of order %s: %w", after.ID, err)
		}
		u := store.Unit{}
		var auto *refund.Refund
		plan, perr := bill.PlanPay(bills, after.ID, after.PaidAt)
		var refused *bill.RefusedError
		switch {
		case perr == nil:
			u.Bills = plan
		case errors.As(perr, &refused) || errors.Is(perr, bill.ErrNotFound):
			rid := refund.ID(after.ID, "auto")
			after.BillsRefused = true
			if err := after.StartRefund(rid, after.AmountFen); err != nil {
				return before, err
			}
			rf, err := refund.New(rid, after, after.AmountFen, refund.AutoReason, "auto", nil, now, now.Add(s.sweepAfter()))
			if err != nil {
				return before, err
			}
			auto = &rf
			u.Refunds = []store.RefundChange{{After: rf}}
			u.Bills = bill.PlanRelease(bills, after.ID, now)
		default:
			return before, perr
		}
		u.Orders = []store.OrderChange{{Before: &before, After: after}}
		err = s.Billing.Commit(ctx, u)
		if errors.Is(err, store.ErrUnitConflict) && attempt+1 < maxUnitAttempts {
			continue
		}
		if err != nil {
			return before, err
		}
		if auto != nil {
			var ids []string
			if refused != nil {
				ids = refused.IDs(nil)
			}
			s.Log.WarnContext(ctx, "notice paid twice: refunding automatically", "order_id", after.ID, "refund_id", auto.ID,
				"amount_fen", auto.AmountFen, "refused_bills", fmt.Sprint(ids))
			s.submitRefund(ctx, *auto)
		}
		return after, nil
	}
}

// maxUnitAttempts bounds how often a unit of work re-reads after losing a race.
const maxUnitAttempts = 5

// fenfuAfter applies the 分付 rules to a 分付 order the provider reported
// on: a paid one is checked (three in a row, the hold), a closed one gives
// its place in the payer's daily total back.
func (s *Service) fenfuAfter(ctx context.Context, o order.Order) error {
	switch o.Status {
	case order.Paid:
		return s.Fenfu.Paid(ctx, o)
	case order.Closed:
		return s.Fenfu.Release(ctx, o)
	}
	return nil
}

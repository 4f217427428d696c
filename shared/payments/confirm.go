package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// Confirm applies a verified provider report that trade t is paid, received for
// interface iface. The order moves to PAID exactly once (conditional write) and
// its payment event is sent exactly once per successful send; duplicates and
// concurrent deliveries change nothing. Errors:
//   - ErrUnknownOrder, ErrMismatch: the report does not belong to our order (security event);
//   - ErrInProgress: another delivery is sending the event; the provider should retry;
//   - anything else: a downstream failure; the provider should retry.
func (s *Service) Confirm(ctx context.Context, iface store.Interface, t pay.Trade) (store.Order, error) {
	o, err := s.Store.GetOrder(ctx, t.OrderID)
	if errors.Is(err, store.ErrNotFound) {
		return o, ErrUnknownOrder
	}
	if err != nil {
		return o, err
	}
	if o.IfaceID != iface.ID {
		return o, fmt.Errorf("%w: order belongs to interface %s, report came for %s", ErrMismatch, o.IfaceID, iface.ID)
	}
	check := domain.PaymentCheck{
		OrderAmount: o.AmountFen, PaidAmount: t.AmountFen,
		OrderMerchant: o.MerchantID, PaidMerchant: t.MerchantID,
		OrderApp: o.AppID, PaidApp: t.AppID,
	}
	if err := check.Verify(); err != nil {
		return o, fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	if o.Status == domain.OrderPaid {
		return s.duplicate(ctx, o, t)
	}
	paidAt := t.PaidAt
	if paidAt.IsZero() {
		paidAt = s.now()
	}
	paid, err := s.Store.MarkPaid(ctx, o, store.Payment{ProviderTxnID: t.ProviderTxnID, AmountFen: t.AmountFen, PaidAt: paidAt, PayerID: t.PayerID}, s.now().Add(s.eventLease()))
	if errors.Is(err, store.ErrNotPayable) {
		// Lost a race with a concurrent delivery (or the order changed): look again.
		o, err = s.Store.GetOrder(ctx, t.OrderID)
		if err != nil {
			return o, err
		}
		if o.Status == domain.OrderPaid {
			return s.duplicate(ctx, o, t)
		}
		return o, fmt.Errorf("%w: order %s is %s", ErrMismatch, o.ID, o.Status)
	}
	if err != nil {
		return o, err
	}
	s.Log.InfoContext(ctx, "order paid", "order_id", paid.ID, "channel", paid.Channel, "amount_fen", paid.AmountFen, "provider_txn_id", paid.ProviderTxnID)
	return paid, s.emit(ctx, paid)
}

func (s *Service) duplicate(ctx context.Context, o store.Order, t pay.Trade) (store.Order, error) {
	if o.ProviderTxnID != t.ProviderTxnID {
		return o, fmt.Errorf("%w: order %s already paid by %s, report names %s", ErrMismatch, o.ID, o.ProviderTxnID, t.ProviderTxnID)
	}
	if o.EventSent {
		return o, nil
	}
	if err := s.Store.ClaimEvent(ctx, o.ID, s.now(), s.now().Add(s.eventLease())); err != nil {
		if errors.Is(err, store.ErrLeaseHeld) {
			// Sent meanwhile, or another delivery is sending it right now.
			if again, gerr := s.Store.GetOrder(ctx, o.ID); gerr == nil && again.EventSent {
				return again, nil
			}
			return o, ErrInProgress
		}
		return o, err
	}
	return o, s.emit(ctx, o)
}

// emit sends the payment event for a PAID order whose lease we hold.
func (s *Service) emit(ctx context.Context, o store.Order) error {
	paidAt := time.Time{}
	if o.PaidAt != nil {
		paidAt = *o.PaidAt
	}
	err := s.Events.PublishPayment(ctx, events.PaymentSucceeded{
		OrderID: o.ID, CommunityID: o.CommunityID, CompanyID: o.CompanyID, Channel: string(o.Channel),
		IfaceID: o.IfaceID, MerchantID: o.MerchantID, AmountFen: o.AmountFen, PaidAt: paidAt, ProviderTxnID: o.ProviderTxnID,
	})
	if err != nil {
		if rerr := s.Store.ReleaseEvent(ctx, o.ID); rerr != nil {
			s.Log.ErrorContext(ctx, "release event lease", "order_id", o.ID, "err", rerr)
		}
		return err
	}
	if err := s.Store.EventSent(ctx, o.ID); err != nil {
		// The event went out; the sweeper would send it again, and consumers dedupe by order.
		s.Log.ErrorContext(ctx, "record event sent", "order_id", o.ID, "err", err)
	}
	return nil
}

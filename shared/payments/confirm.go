package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

func payment(t pay.Trade) order.Payment {
	return order.Payment{ProviderTxnID: t.ProviderTxnID, AmountFen: t.AmountFen, PaidAt: t.PaidAt,
		MerchantID: t.MerchantID, AppID: t.AppID, PayerID: t.PayerID}
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
			return o.Pay(payment(t))
		case pay.TradeRefunded:
			return o.Refund(payment(t), now)
		case pay.TradeClosed:
			return o.Close(now)
		}
		return order.ErrNoChange
	})
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

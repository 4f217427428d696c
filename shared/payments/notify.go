package payments

import (
	"context"
	"errors"
	"net/http"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// Outcome is how a provider callback ended, for the function to answer in the
// provider's own format.
type Outcome int

const (
	// Accepted: processed (or a harmless duplicate); answer success.
	Accepted Outcome = iota
	// Rejected: not a genuine callback for one of our orders (bad signature, stale
	// timestamp, wrong merchant/app/amount, unknown order or interface). Nothing
	// changed; logged as a security event.
	Rejected
	// Retry: a downstream failure; answer failure so the provider delivers again.
	Retry
)

// HandleNotification verifies a provider callback for interface ifaceID and
// applies it. It never changes anything unless the callback is verified and
// matches the order.
func (s *Service) HandleNotification(ctx context.Context, ifaceID string, ch domain.Channel, r *http.Request) Outcome {
	return s.handle(ctx, ifaceID, ch, false, r)
}

// HandleRefundNotification verifies a provider's refund result callback
// (WeChat's REFUND.SUCCESS / ABNORMAL / CLOSED at the refund's notify_url)
// for interface ifaceID and applies it to our refund, the same way.
func (s *Service) HandleRefundNotification(ctx context.Context, ifaceID string, ch domain.Channel, r *http.Request) Outcome {
	return s.handle(ctx, ifaceID, ch, true, r)
}

func (s *Service) handle(ctx context.Context, ifaceID string, ch domain.Channel, refundResult bool, r *http.Request) Outcome {
	security := func(reason string, err error, attrs ...any) Outcome {
		args := append([]any{"security_event", true, "reason", reason, "iface_id", ifaceID, "channel", ch, "err", errString(err)}, attrs...)
		s.Log.WarnContext(ctx, "notification rejected", args...)
		return Rejected
	}
	iface, err := s.Directory.GetInterface(ctx, ifaceID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && iface.Channel != ch) {
		return security("unknown_interface", err)
	}
	if err != nil {
		s.Log.ErrorContext(ctx, "load interface", "iface_id", ifaceID, "err", err)
		return Retry
	}
	p, err := s.Providers.Provider(ctx, iface)
	if err != nil {
		s.Log.ErrorContext(ctx, "build provider", "iface_id", ifaceID, "err", err)
		return Retry
	}
	if refundResult {
		return s.refundNotification(ctx, iface, p, r, security)
	}
	n, err := p.ParseNotification(ctx, r)
	if err != nil {
		return security(parseFailure(err), err)
	}
	if n.State != pay.TradePaid && n.State != pay.TradeRefunded {
		s.Log.InfoContext(ctx, "notification ignored", "order_id", n.OrderID, "state", n.State, "event_id", n.EventID)
		return Accepted
	}
	_, err = s.ApplyTrade(ctx, iface, n.Trade)
	switch {
	case err == nil:
		return Accepted
	case errors.Is(err, ErrUnknownOrder):
		return security("unknown_order", err, "order_id", n.OrderID)
	case errors.Is(err, ErrMismatch):
		return security("mismatch", err, "order_id", n.OrderID)
	}
	s.Log.ErrorContext(ctx, "confirm payment", "order_id", n.OrderID, "err", err)
	return Retry
}

func (s *Service) refundNotification(ctx context.Context, iface store.Interface, p pay.Provider, r *http.Request, security func(string, error, ...any) Outcome) Outcome {
	n, err := p.ParseRefundNotification(ctx, r)
	if err != nil {
		return security(parseFailure(err), err)
	}
	_, err = s.ApplyRefundNotification(ctx, iface, n)
	switch {
	case err == nil:
		return Accepted
	case errors.Is(err, ErrUnknownOrder):
		return security("unknown_refund", err, "refund_id", n.RefundID)
	case errors.Is(err, ErrMismatch):
		return security("mismatch", err, "refund_id", n.RefundID)
	}
	s.Log.ErrorContext(ctx, "apply refund result", "refund_id", n.RefundID, "err", err)
	return Retry
}

// parseFailure names why a callback failed verification (the security
// event's reason).
func parseFailure(err error) string {
	switch {
	case errors.Is(err, pay.ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, pay.ErrStaleTimestamp):
		return "stale_timestamp"
	}
	return "malformed"
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// SweepReport counts what one sweep did.
type SweepReport struct {
	Examined, Paid, Closed, EventsSent, Failed int
}

// Sweep handles late or missing callbacks: for orders untouched for SweepAfter it
// asks the provider; paid trades are confirmed, expired unpaid ones closed at the
// provider and here, and paid orders whose event never went out get it sent.
func (s *Service) Sweep(ctx context.Context, limit int32) (SweepReport, error) {
	var rep SweepReport
	after := s.SweepAfter
	if after == 0 {
		after = 2 * time.Minute
	}
	ids, err := s.Store.DueWork(ctx, s.now().Add(-after), limit)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, id := range ids {
		rep.Examined++
		if err := s.sweepOne(ctx, id, &rep); err != nil {
			rep.Failed++
			errs = append(errs, fmt.Errorf("order %s: %w", id, err))
			s.Log.ErrorContext(ctx, "sweep order", "order_id", id, "err", err)
			// Retry it after the others: a persistently failing order at the head
			// of the index must not starve the rest (DueWork reads oldest first).
			if perr := s.Store.PostponeWork(ctx, id, s.now()); perr != nil {
				s.Log.ErrorContext(ctx, "postpone sweep", "order_id", id, "err", perr)
			}
		}
	}
	return rep, errors.Join(errs...)
}

func (s *Service) sweepOne(ctx context.Context, id string, rep *SweepReport) error {
	o, err := s.Store.GetOrder(ctx, id)
	if err != nil {
		return err
	}
	switch o.Status {
	case domain.OrderPaid:
		if o.EventSent {
			return nil
		}
		if err := s.Store.ClaimEvent(ctx, o.ID, s.now(), s.now().Add(s.eventLease())); err != nil {
			if errors.Is(err, store.ErrLeaseHeld) {
				return nil
			}
			return err
		}
		if err := s.emit(ctx, o); err != nil {
			return err
		}
		rep.EventsSent++
		return nil
	case domain.OrderClosed:
		return nil
	}
	iface, err := s.Store.GetInterface(ctx, o.IfaceID)
	if err != nil {
		return err
	}
	p, err := s.Providers.Provider(ctx, iface)
	if err != nil {
		return err
	}
	t, err := p.Query(ctx, o.ID)
	if err != nil {
		return err
	}
	switch t.State {
	case pay.TradePaid, pay.TradeRefunded:
		if _, err := s.Confirm(ctx, iface, t); err != nil && !errors.Is(err, ErrInProgress) {
			return err
		}
		rep.Paid++
		return nil
	case pay.TradePending, pay.TradeNotFound:
		if s.now().Before(o.ExpireAt) {
			return nil
		}
		if t.State == pay.TradePending {
			if err := p.Close(ctx, o.ID); err != nil {
				return err
			}
		}
	}
	// Closed at the provider, or expired and closed there just now.
	if err := s.Store.MarkClosed(ctx, o.ID, s.now()); err != nil && !errors.Is(err, store.ErrNotPayable) {
		return err
	}
	rep.Closed++
	return nil
}

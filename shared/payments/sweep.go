package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/pay"
)

// SweepOptions bound one sweep.
type SweepOptions struct {
	// PerShard is how many due orders to read from each work shard (default 50).
	PerShard int32
	// Workers is how many orders are examined at once (default 8).
	Workers int
	// Until is when the sweep must stop starting work (zero: no limit). The
	// function sets it a few seconds before the Lambda deadline.
	Until time.Time
}

// SweepReport counts what one sweep did.
type SweepReport struct {
	Examined, Paid, Refunded, Closed, Postponed, Failed int
	// RefundsChecked counts unfinished refunds submitted again or asked about.
	RefundsChecked int
	// Stopped is set when the sweep stopped at Until with work left.
	Stopped bool
}

// Sweep handles late or missing callbacks. It reads the unpaid orders whose
// next check is due from every work shard, soonest first, and asks the
// provider about each with bounded concurrency: paid and refunded trades are
// applied, expired unpaid ones closed at the provider and here, and the rest
// get their next check pushed back (to the expiry at the latest), so a busy
// or failing order never blocks the ones behind it.
func (s *Service) Sweep(ctx context.Context, opt SweepOptions) (SweepReport, error) {
	if opt.PerShard <= 0 {
		opt.PerShard = 50
	}
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	var rep SweepReport
	ids, err := s.dueWork(ctx, s.now(), opt)
	if err != nil {
		return rep, err
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan string)
	for range opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if !opt.Until.IsZero() && !s.now().Before(opt.Until) {
					mu.Lock()
					rep.Stopped = true
					mu.Unlock()
					continue
				}
				if refund.IsID(id) { // an unfinished refund shares the work index
					_, err := s.CheckRefund(ctx, id)
					mu.Lock()
					rep.RefundsChecked++
					if err != nil {
						rep.Failed++
						errs = append(errs, fmt.Errorf("refund %s: %w", id, err))
					}
					mu.Unlock()
					continue
				}
				outcome, err := s.sweepOne(ctx, id)
				mu.Lock()
				rep.Examined++
				switch {
				case err != nil:
					rep.Failed++
					errs = append(errs, fmt.Errorf("order %s: %w", id, err))
				case outcome == order.Paid:
					rep.Paid++
				case outcome == order.Refunded:
					rep.Refunded++
				case outcome == order.Closed:
					rep.Closed++
				default:
					rep.Postponed++
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil && rep.Examined < len(ids) {
		rep.Stopped = true
	}
	return rep, errors.Join(errs...)
}

// dueWork reads every work shard's due orders, opt.Workers shards at a time
// (one round trip per shard, in parallel rather than one after another), and
// returns them shard by shard, each soonest first.
func (s *Service) dueWork(ctx context.Context, now time.Time, opt SweepOptions) ([]string, error) {
	n := s.Orders.WorkShards()
	due := make([][]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, opt.Workers)
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			due[i], errs[i] = s.Orders.Due(ctx, i, now, opt.PerShard)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var ids []string
	for _, d := range due {
		ids = append(ids, d...)
	}
	return ids, nil
}

// sweepOne asks the provider about one order and returns the status it left
// the order in (Pending/Created when only its next check moved).
func (s *Service) sweepOne(ctx context.Context, id string) (order.Status, error) {
	o, err := s.Orders.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if o.Status.Final() {
		return o.Status, nil
	}
	outcome, err := s.check(ctx, o)
	if err != nil {
		s.Log.ErrorContext(ctx, "sweep order", "order_id", id, "err", err)
		if _, perr := s.postpone(ctx, id); perr != nil {
			s.Log.ErrorContext(ctx, "postpone sweep", "order_id", id, "err", perr)
		}
		return "", err
	}
	return outcome, nil
}

func (s *Service) check(ctx context.Context, o order.Order) (order.Status, error) {
	iface, err := s.Directory.GetInterface(ctx, o.IfaceID)
	if err != nil {
		return "", err
	}
	p, err := s.Providers.Provider(ctx, iface)
	if err != nil {
		return "", err
	}
	t, err := p.Query(ctx, o.ID)
	if err != nil {
		return "", err
	}
	switch t.State {
	case pay.TradePaid, pay.TradeRefunded, pay.TradeClosed:
		if t.OrderID == "" {
			t.OrderID = o.ID
		}
		after, err := s.ApplyTrade(ctx, iface, t)
		return after.Status, err
	}
	// Pending or unknown at the provider.
	if !o.Expired(s.now()) {
		return s.postpone(ctx, o.ID)
	}
	if t.State == pay.TradePending {
		if err := p.Close(ctx, o.ID); err != nil {
			return "", err
		}
	}
	now := s.now()
	after, err := s.Orders.Update(ctx, o.ID, func(o *order.Order) error { return o.Close(now) })
	if errors.Is(err, order.ErrNoChange) || errors.Is(err, order.ErrNotAllowed) {
		return after.Status, nil // paid or closed meanwhile
	}
	if err == nil && len(after.BillIDs) > 0 && s.Billing != nil {
		// A closed notice payment gives its bills back now rather than when
		// the reservation lapses.
		if _, rerr := s.Billing.ReleaseAll(ctx, after.ID, after.BillIDs, now); rerr != nil {
			s.Log.WarnContext(ctx, "release bills of a closed order", "order_id", after.ID, "err", rerr)
		}
	}
	return after.Status, err
}

// postpone moves an unpaid order's next check back by SweepAfter.
func (s *Service) postpone(ctx context.Context, id string) (order.Status, error) {
	next := s.now().Add(s.sweepAfter())
	o, err := s.Orders.Update(ctx, id, func(o *order.Order) error {
		if o.Status.Final() {
			return order.ErrNoChange
		}
		o.Postpone(next)
		return nil
	})
	if errors.Is(err, order.ErrNoChange) {
		return o.Status, nil
	}
	return o.Status, err
}

package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// Errors of refunds (X3).
var (
	// ErrRefundExceeds: the refunds would together exceed what was paid.
	ErrRefundExceeds = errors.New("refund exceeds what is left of the payment")
	// ErrNotRefundable: the order is not paid (or already fully refunded).
	ErrNotRefundable = errors.New("order cannot be refunded")
	// ErrRefundConflict: the idempotency key was used for another refund.
	ErrRefundConflict = errors.New("refund key reused with a different request")
	// ErrRefundLinked: a cashier entry paid bills with this payment; the
	// entry is reversed first (its bills reopen), then the money goes back.
	ErrRefundLinked = errors.New("payment linked by a cashier entry")
)

// RefundRequest is an admin's refund of (part of) a payment.
type RefundRequest struct {
	CompanyID   string // the caller's company: another company's order is ErrUnknownOrder
	OrderID     string
	AmountFen   int64
	Reason      string
	By          string   // staff:<id>
	Key         string   // idempotency key: the same key names the same refund
	ReopenBills []string // bills of the order to open again once the money is back
}

// RequestRefund takes the amount from what the payment can still give back
// and stores the refund, REQUESTED and due at once, in ONE transaction (so
// refunds never together exceed the payment, whoever asks at the same
// moment). It does not call the provider: the console holds no merchant
// keys (least privilege), so the sweeper submits it on its next run
// (CheckRefund, within a minute) under the refund's id, and the provider's
// answer arrives as a notification or on a later check.
func (s *Service) RequestRefund(ctx context.Context, r RefundRequest) (refund.Refund, error) {
	if !domain.IsURLSafe(r.Key, 16, 64) {
		return refund.Refund{}, invalid("请求标识应为 16-64 位字母、数字、_ 或 -")
	}
	id := refund.ID(r.OrderID, r.Key)
	if existing, err := s.Billing.GetRefund(ctx, id); err == nil {
		if existing.CompanyID != r.CompanyID {
			return refund.Refund{}, ErrUnknownOrder
		}
		if existing.AmountFen != r.AmountFen || existing.OrderID != r.OrderID {
			return refund.Refund{}, ErrRefundConflict
		}
		return existing, nil
	}
	now := s.now()
	for attempt := 0; ; attempt++ {
		before, err := s.Orders.Get(ctx, r.OrderID)
		if errors.Is(err, order.ErrNotFound) || (err == nil && before.CompanyID != r.CompanyID) {
			return refund.Refund{}, ErrUnknownOrder
		}
		if err != nil {
			return refund.Refund{}, err
		}
		after := before
		if err := after.StartRefund(id, r.AmountFen); err != nil {
			if errors.Is(err, order.ErrRefundExceeds) {
				return refund.Refund{}, fmt.Errorf("%w: 退款金额 %s 元超过可退金额 %s 元", ErrRefundExceeds, domain.FormatYuan(r.AmountFen), domain.FormatYuan(before.Refundable()))
			}
			return refund.Refund{}, fmt.Errorf("%w: %v", ErrNotRefundable, err)
		}
		rf, err := refund.New(id, after, r.AmountFen, r.Reason, r.By, r.ReopenBills, now, now)
		if err != nil {
			return refund.Refund{}, invalid(strings.TrimPrefix(err.Error(), refund.ErrInvalid.Error()+": "))
		}
		// A code payment a cashier entry links must not lose its money while
		// the bills stay paid: checked in the same transaction (the desk's
		// link checks that nothing was refunded: one of the two wins).
		err = s.Billing.Commit(ctx, store.Unit{Orders: []store.OrderChange{{Before: &before, After: after}}, Refunds: []store.RefundChange{{After: rf}},
			Unlinked: []string{before.ID}})
		if errors.Is(err, store.ErrUnitConflict) && attempt+1 < maxUnitAttempts {
			if existing, gerr := s.Billing.GetRefund(ctx, id); gerr == nil { // a concurrent request with the same key won
				return existing, nil
			}
			if entry, lerr := s.Billing.LinkedEntry(ctx, before.ID); lerr == nil && entry != "" {
				return refund.Refund{}, fmt.Errorf("%w: 该收款已在收银台关联收款单 %s，请先冲正该收款单（其账单会重新变为未缴），再退款", ErrRefundLinked, entry)
			}
			continue
		}
		if err != nil {
			return refund.Refund{}, err
		}
		s.Log.InfoContext(ctx, "refund requested", "refund_id", rf.ID, "order_id", rf.OrderID, "amount_fen", rf.AmountFen, "by", rf.By)
		return rf, nil
	}
}

// refundNotifyURL is where WeChat sends a refund's outcome.
func (s *Service) refundNotifyURL(rf refund.Refund) string {
	return s.PublicBaseURL + "/notify/" + string(rf.Channel) + "/" + rf.IfaceID + "/refund"
}

// submitRefund asks the provider to refund (again: the refund id makes it
// idempotent there) and records its answer. A failure to reach the provider
// is not the refund failing: the refund stays as it is, and the sweeper
// tries again at its next check. Returns the refund as it is now.
func (s *Service) submitRefund(ctx context.Context, rf refund.Refund) refund.Refund {
	res, err := s.askProvider(ctx, rf, func(p pay.Provider) (pay.RefundResult, error) {
		return p.Refund(ctx, pay.RefundRequest{OrderID: rf.OrderID, RefundID: rf.ID, AmountFen: rf.AmountFen, TotalFen: rf.OrderFen,
			Reason: rf.Reason, NotifyURL: s.refundNotifyURL(rf)})
	})
	if err != nil {
		s.Log.WarnContext(ctx, "refund not submitted; the sweeper retries", "refund_id", rf.ID, "error", errString(err))
		out, _ := s.applyRefund(ctx, rf.ID, refundRetry, pay.RefundResult{})
		return out
	}
	out, err := s.applyRefund(ctx, rf.ID, "", res)
	if err != nil {
		s.Log.WarnContext(ctx, "refund answer not recorded; the sweeper asks again", "refund_id", rf.ID, "error", errString(err))
		return rf
	}
	return out
}

func (s *Service) askProvider(ctx context.Context, rf refund.Refund, ask func(pay.Provider) (pay.RefundResult, error)) (pay.RefundResult, error) {
	iface, err := s.Directory.GetInterface(ctx, rf.IfaceID)
	if err != nil {
		return pay.RefundResult{}, err
	}
	p, err := s.Providers.Provider(ctx, iface)
	if err != nil {
		return pay.RefundResult{}, err
	}
	return ask(p)
}

// refundRetry is applyRefund's outcome for "the provider could not be reached".
const refundRetry pay.RefundState = "RETRY"

// applyRefund records a provider's answer about a refund (its reply, a
// notification, a query): SUCCESS → SUCCEEDED with the order's refunded
// amount counted and the bills it reopens opened again; CLOSED or ABNORMAL →
// FAILED with the amount given back to the order; PROCESSING → PROCESSING,
// asked again later. Every outcome is one transaction over the refund, the
// order (and the bills), conditional on what was read.
func (s *Service) applyRefund(ctx context.Context, id string, state pay.RefundState, res pay.RefundResult) (refund.Refund, error) {
	if state == "" {
		state = res.State
	}
	now := s.now()
	for attempt := 0; ; attempt++ {
		before, err := s.Billing.GetRefund(ctx, id)
		if err != nil {
			return before, err
		}
		after := before
		u := store.Unit{}
		switch state {
		case refundRetry:
			after.Retry(now.Add(s.retryAfter(before.Attempts)))
		case pay.RefundProcessing:
			err = after.Accept(res.ProviderRefundID, now.Add(s.sweepAfter()))
		case pay.RefundSuccess:
			at := res.SucceededAt
			if at.IsZero() {
				at = now
			}
			if err = after.Succeed(res.ProviderRefundID, at); err == nil {
				err = s.refundSucceeded(ctx, &u, after, at)
			}
		case pay.RefundClosed, pay.RefundAbnormal:
			if err = after.Fail("provider: "+string(state), now); err == nil {
				err = s.refundOrder(ctx, &u, after, func(o *order.Order) error { return o.RefundFailed(after.AmountFen) })
			}
		default:
			return before, fmt.Errorf("refund %s: unknown provider state %q", id, state)
		}
		if errors.Is(err, refund.ErrNoChange) {
			return before, nil
		}
		if err != nil {
			return before, err
		}
		u.Refunds = []store.RefundChange{{Before: &before, After: after}}
		err = s.Billing.Commit(ctx, u)
		if errors.Is(err, store.ErrUnitConflict) && attempt+1 < maxUnitAttempts {
			continue
		}
		if err != nil {
			return before, err
		}
		if after.Status != before.Status {
			s.Log.InfoContext(ctx, "refund "+string(after.Status), "refund_id", id, "order_id", after.OrderID, "amount_fen", after.AmountFen)
		}
		return after, nil
	}
}

// refundOrder adds the refund's order, changed by change, to the unit.
func (s *Service) refundOrder(ctx context.Context, u *store.Unit, rf refund.Refund, change func(*order.Order) error) error {
	before, err := s.Orders.Get(ctx, rf.OrderID)
	if err != nil {
		return err
	}
	after := before
	if err := change(&after); err != nil {
		return err
	}
	u.Orders = append(u.Orders, store.OrderChange{Before: &before, After: after})
	return nil
}

// refundSucceeded counts the refund on its order and reopens the bills the
// admin asked to reopen (paid by this order: PAID → UNPAID, audited).
func (s *Service) refundSucceeded(ctx context.Context, u *store.Unit, rf refund.Refund, at time.Time) error {
	if err := s.refundOrder(ctx, u, rf, func(o *order.Order) error { return o.RefundSucceeded(rf.AmountFen, at) }); err != nil {
		return err
	}
	if len(rf.ReopenBills) == 0 {
		return nil
	}
	bills, err := s.Billing.ReadBills(ctx, rf.ReopenBills)
	if err != nil {
		return err
	}
	plan, err := bill.PlanReopen(bills, bill.Payer{OrderID: rf.OrderID}, "refund:"+rf.ID, "退款 "+domain.FormatYuan(rf.AmountFen)+" 元："+rf.Reason, at)
	if err != nil {
		// A bill someone reopened or changed otherwise stays as it is; the
		// money is back either way.
		s.Log.WarnContext(ctx, "refund succeeded; bills not reopened", "refund_id", rf.ID, "error", err.Error())
		return nil
	}
	u.Bills = plan
	return nil
}

// retryAfter backs off submissions that could not reach the provider.
func (s *Service) retryAfter(attempts int) time.Duration {
	d := s.sweepAfter()
	for i := 0; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// ApplyRefundNotification records a verified refund notification (WeChat's
// REFUND.SUCCESS / ABNORMAL / CLOSED), received for interface iface.
func (s *Service) ApplyRefundNotification(ctx context.Context, iface store.Interface, n pay.RefundNotification) (refund.Refund, error) {
	rf, err := s.Billing.GetRefund(ctx, n.RefundID)
	if errors.Is(err, refund.ErrNotFound) {
		return rf, ErrUnknownOrder
	}
	if err != nil {
		return rf, err
	}
	if rf.IfaceID != iface.ID || rf.OrderID != n.OrderID || (n.AmountFen != 0 && n.AmountFen != rf.AmountFen) {
		return rf, fmt.Errorf("%w: refund %s belongs to %s/%s for %d fen, notification names %s/%s for %d fen",
			ErrMismatch, rf.ID, rf.IfaceID, rf.OrderID, rf.AmountFen, iface.ID, n.OrderID, n.AmountFen)
	}
	return s.applyRefund(ctx, rf.ID, n.State, pay.RefundResult{ProviderRefundID: n.ProviderRefundID, State: n.State, SucceededAt: n.SucceededAt})
}

// CheckRefund is the sweeper's look at an unfinished refund: a REQUESTED one
// is submitted again (same id: never refunded twice), a PROCESSING one is
// asked about.
func (s *Service) CheckRefund(ctx context.Context, id string) (refund.Refund, error) {
	rf, err := s.Billing.GetRefund(ctx, id)
	if err != nil || rf.Status.Final() {
		return rf, err
	}
	if rf.Status == refund.Requested {
		return s.submitRefund(ctx, rf), nil
	}
	res, err := s.askProvider(ctx, rf, func(p pay.Provider) (pay.RefundResult, error) { return p.QueryRefund(ctx, rf.OrderID, rf.ID) })
	if err != nil {
		return s.applyRefund(ctx, rf.ID, refundRetry, pay.RefundResult{})
	}
	return s.applyRefund(ctx, rf.ID, "", res)
}

// OrderRefunds lists an order's refunds, oldest first.
func (s *Service) OrderRefunds(ctx context.Context, o order.Order) ([]refund.Refund, error) {
	if len(o.RefundIDs) == 0 {
		return nil, nil
	}
	return s.Billing.Refunds(ctx, o.RefundIDs)
}

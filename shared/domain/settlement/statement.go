// Package settlement is T+1 settlement and reconciliation (S1–S3, F2, F3):
// the Statement of one merchant × channel × payment method × business day,
// the fee schedule it charges (data, not code), and the Exception a
// reconciliation against the provider's bill finds, with its state machine.
// The domain has no clock: callers pass the time.
package settlement

import (
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// Key names one statement.
type Key struct {
	Merchant string
	Channel  domain.Channel
	Method   string // "" ordinary; MethodFenfu
	Day      calendar.Day
}

// Statement is what one merchant collected through one channel × method on
// one business day (Asia/Shanghai):
//
//   - Count, GrossFen: the payments made that day (paid at within the day);
//   - RefundCount, RefundFen: what was refunded of those payments since
//     (netted on the payment's day, as the dashboard does);
//   - FeeFen: the fees of those payments (Plan.Fee, per payment);
//   - HeldFen: payments held by risk (S3), not paid out with this statement;
//   - ReleasedFen: held payments of earlier days released this day (Hold);
//   - NetFen = GrossFen − RefundFen − FeeFen − HeldFen + ReleasedFen.
//
// Fees are charged on the gross payment and not given back on a refund.
type Statement struct {
	Key
	CompanyID   string
	Count       int64
	GrossFen    int64
	RefundCount int64
	RefundFen   int64
	FeeFen      int64
	HeldCount   int64
	HeldFen     int64
	// ReleasedCount, ReleasedFen: held payments of earlier days released
	// on this day, paid out with this statement.
	ReleasedCount int64
	ReleasedFen   int64
	NetFen        int64
	// MonthToDateFen is the month's volume of this channel × method before
	// the day (what the tiers were counted from).
	MonthToDateFen int64
}

// Settlable reports whether an order belongs on a statement: money arrived
// (paid, or paid and refunded since).
func Settlable(o order.Order) bool {
	return !o.PaidAt.IsZero() && (o.Status == order.Paid || o.Status == order.Refunded)
}

// Add counts one payment, made when the month-to-date volume was at
// s.MonthToDateFen+s.GrossFen, and returns its fee. Payments must be added
// in payment-time order for the tiers to be counted right.
func (s *Statement) Add(o order.Order, p Plan, held bool) int64 {
	fee := p.Fee(s.MonthToDateFen+s.GrossFen, o.AmountFen)
	s.Count++
	s.GrossFen += o.AmountFen
	s.FeeFen += fee
	if o.RefundedFen > 0 {
		s.RefundCount++
		s.RefundFen += o.RefundedFen
	}
	if held {
		s.HeldCount++
		s.HeldFen += o.AmountFen - o.RefundedFen
	}
	s.net()
	return fee
}

// AddReleased counts a held payment of an earlier day released on s's day.
func (s *Statement) AddReleased(h Hold) {
	s.ReleasedCount++
	s.ReleasedFen += h.AmountFen
	s.net()
}

func (s *Statement) net() { s.NetFen = s.GrossFen - s.RefundFen - s.FeeFen - s.HeldFen + s.ReleasedFen }

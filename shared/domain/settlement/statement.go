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
//   - RefundCount, RefundFen: the refunds that succeeded that day, of
//     payments of any day (the day the providers' bills list them on);
//   - FeeFen: the fees of the day's payments (Plan.Fee, per payment);
//   - HeldFen: the day's payments held by risk (S3), not paid out with this
//     statement;
//   - ReleasedFen: held payments of earlier days released this day (Hold);
//   - NetFen = GrossFen − RefundFen − FeeFen − HeldFen + ReleasedFen.
//
// Fees are charged on the gross payment and not given back on a refund. A
// statement depends only on what happened on its day, so a past day settled
// again gives the identical statement.
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
// in payment-time order for the tiers to be counted right. A held payment is
// held whole (AmountFen): its refunds, on their own days, are netted there.
func (s *Statement) Add(o order.Order, p Plan, held bool) int64 {
	fee := p.Fee(s.MonthToDateFen+s.GrossFen, o.AmountFen)
	s.Count++
	s.GrossFen += o.AmountFen
	s.FeeFen += fee
	if held {
		s.HeldCount++
		s.HeldFen += o.AmountFen
	}
	s.net()
	return fee
}

// AddRefund counts a refund of amountFen that succeeded on s's day.
func (s *Statement) AddRefund(amountFen int64) {
	s.RefundCount++
	s.RefundFen += amountFen
	s.net()
}

// AddReleased counts a held payment of an earlier day released on s's day.
func (s *Statement) AddReleased(h Hold) {
	s.ReleasedCount++
	s.ReleasedFen += h.AmountFen
	s.net()
}

func (s *Statement) net() { s.NetFen = s.GrossFen - s.RefundFen - s.FeeFen - s.HeldFen + s.ReleasedFen }

package refund

import (
	"strconv"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// Event types of refunds (README, "Events").
const (
	EventSucceeded = "refund.succeeded" // → SUCCEEDED: the money is back with the payer
	EventFailed    = "refund.failed"    // → FAILED: it will not go back this way; people must act
)

// Change derives the event of one stored change of a refund (nil before: a
// new refund, which is no event). The id is the refund id and the version.
// AmountFen is the refund's; BusinessDay the payment's (the dashboard nets
// a refund on the day of the payment it returns).
func Change(before *Refund, after Refund) (order.Event, bool) {
	if before == nil || before.Status == after.Status || before.Version >= after.Version {
		return order.Event{}, false
	}
	e := order.Event{
		ID: after.ID + ":" + strconv.FormatInt(after.Version, 10), Aggregate: "refund",
		OrderID: after.OrderID, Version: after.Version, From: order.Status(before.Status), Status: order.Status(after.Status),
		CommunityID: after.CommunityID, CompanyID: after.CompanyID, Channel: string(after.Channel), IfaceID: after.IfaceID,
		AmountFen: after.AmountFen, RefundID: after.ID,
	}
	switch after.Status {
	case Succeeded:
		e.Type, e.At = EventSucceeded, after.SucceededAt
	case Failed:
		e.Type, e.At = EventFailed, after.FailedAt
	default:
		return order.Event{}, false
	}
	e.BusinessDay = after.PaidDay
	if e.BusinessDay == "" {
		e.BusinessDay = calendar.BusinessDay(e.At)
	}
	return e, true
}

package order

import (
	"strconv"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// Event types: one per state change that others act on. The names are a
// contract with the queues' consumers (README, "Events").
const (
	EventPaid     = "payment.succeeded" // → PAID
	EventClosed   = "order.closed"      // → CLOSED
	EventRefunded = "order.refunded"    // → REFUNDED
)

// Event is what a state change tells the rest of the system. Its ID is the
// order id and the version the change produced: the same change always gives
// the same id, whoever derives it and however often.
type Event struct {
	ID            string            `json:"event_id"`
	Type          string            `json:"type"`
	Aggregate     string            `json:"aggregate"`
	OrderID       string            `json:"order_id"`
	Version       int64             `json:"version"`
	From          Status            `json:"from"`
	Status        Status            `json:"status"`
	CommunityID   string            `json:"community_id"`
	CompanyID     string            `json:"company_id"`
	CodeToken     string            `json:"-"`
	Channel       string            `json:"channel"`
	Method        string            `json:"method,omitempty"`
	IfaceID       string            `json:"iface_id"`
	MerchantID    string            `json:"merchant_id"`
	AmountFen     int64             `json:"amount_fen"`
	At            time.Time         `json:"occurred_at"`
	PaidAt        *time.Time        `json:"paid_at,omitempty"`
	BusinessDay   calendar.Day      `json:"business_day,omitempty"`
	ProviderTxnID string            `json:"provider_txn_id,omitempty"`
	Fields        map[string]string `json:"fields,omitempty"`
	RefundID      string            `json:"refund_id,omitempty"`    // refund events (Aggregate "refund")
	CollectorID   string            `json:"collector_id,omitempty"` // the staff member whose code took the payment (a manager's code)
}

// Change derives the event of one stored change from the order before and
// after it (before is nil for a new order). Changes that are not state
// transitions others act on (creation, prepay, a postponed check) give none.
func Change(before *Order, after Order) (Event, bool) {
	from := Status("")
	if before != nil {
		if before.Status == after.Status || before.Version >= after.Version {
			return Event{}, false
		}
		from = before.Status
	}
	e := Event{
		ID: after.ID + ":" + strconv.FormatInt(after.Version, 10), Aggregate: "order",
		OrderID: after.ID, Version: after.Version, From: from, Status: after.Status,
		CommunityID: after.CommunityID, CompanyID: after.CompanyID, CodeToken: after.CodeToken,
		Channel: string(after.Channel), Method: after.Method, IfaceID: after.IfaceID, MerchantID: after.MerchantID,
		AmountFen: after.AmountFen, BusinessDay: after.BusinessDay, ProviderTxnID: after.ProviderTxnID, Fields: after.Fields,
		CollectorID: after.CollectorID,
	}
	if !after.PaidAt.IsZero() {
		t := after.PaidAt
		e.PaidAt = &t
	}
	switch after.Status {
	case Paid:
		e.Type, e.At = EventPaid, after.PaidAt
	case Closed:
		e.Type, e.At = EventClosed, after.ClosedAt
	case Refunded:
		e.Type, e.At = EventRefunded, after.RefundedAt
	default:
		return Event{}, false
	}
	return e, true
}

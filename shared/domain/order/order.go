// Package order is the Order aggregate: one payment attempt through a
// collection code, and the one state machine every layer follows. The store
// derives its write conditions from it (the version an update read, the
// states a transition may start from) and the event relay derives the events
// from it (Change), so there is no second copy of the rules anywhere.
//
//	CREATED ─prepay─► PENDING ─pay─► PAID ─refund─► REFUNDED
//	   │                 │  ▲          ▲
//	   └──────close──────┴──┼─► CLOSED ─┘ (money arrived after we gave up)
//	                        └── prepay again (a retried request)
//
// A trade the provider reports as refunded before we ever saw it paid goes
// straight to REFUNDED: refunded is its own outcome, never a success.
//
// The domain has no clock: callers pass the time.
package order

import (
	"errors"
	"fmt"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/transition"
)

// Status is an order's state.
type Status string

const (
	Created  Status = "CREATED"
	Pending  Status = "PENDING"
	Paid     Status = "PAID"
	Closed   Status = "CLOSED"
	Refunded Status = "REFUNDED"
)

// transitions lists, for each target state, the states it may be reached from.
var transitions = transition.Table[Status]{
	Pending:  {Created, Pending},
	Paid:     {Created, Pending, Closed},
	Closed:   {Created, Pending},
	Refunded: {Created, Pending, Closed, Paid},
}

// From returns the states from which `to` may be reached (nil: none).
func From(to Status) []Status { return transitions.From(to) }

// CanTransition reports whether from → to is allowed.
func CanTransition(from, to Status) bool { return transitions.Allows(from, to) }

// Final reports whether the order takes no more payment attempts.
func (s Status) Final() bool { return s == Paid || s == Closed || s == Refunded }

// Unpaid reports whether the provider may still report money for it.
func (s Status) Unpaid() bool { return s == Created || s == Pending || s == Closed }

// Order is the aggregate. Fields are exported for the repositories; change
// them only through the methods below.
type Order struct {
	ID          string
	CommunityID string
	CompanyID   string
	CodeToken   string
	Channel     domain.Channel
	IfaceID     string
	MerchantID  string // who must receive the money (C1)
	AppID       string
	AmountFen   int64
	Description string
	RequestHash string // idempotency: hash of the creating request
	PayerID     string
	// PayerKey is whom the payer's own history (X4) lists the order under
	// (PayerKeyOf): the identity the server issued when the order was made,
	// else — Alipay, paid without one — the buyer the verified report names.
	// Unlike PayerID it never changes once set.
	PayerKey   string
	HouseLabel string            // a notice payment's house as the notice named it (receipts, history)
	Fields     map[string]string // payer fields (M5)
	Method     string            // payment method within the channel ("" = ordinary; later: 分付)
	// CollectorID is the staff member whose code took the payment (a
	// business manager's code, M3; their 应收款), "" for community codes:
	// their 收款记录 (M6) and notifications (M7) follow it.
	CollectorID string
	// A notice payment (C6) pays exactly these bills of one house; a code
	// payment has none.
	NoticeID string
	HouseID  string
	BillIDs  []string

	Status    Status
	Version   int64  // bumped by every change; the store's optimistic lock
	Prepay    string // the provider's prepay answer (JSON of pay.PrepayResult)
	CreatedAt time.Time
	ExpireAt  time.Time
	// NextCheckAt is when the sweeper should next ask the provider about an
	// unpaid order (zero once the order is final).
	NextCheckAt   time.Time
	PaidAt        time.Time
	ClosedAt      time.Time
	RefundedAt    time.Time
	ProviderTxnID string
	BusinessDay   calendar.Day // Asia/Shanghai day of PaidAt (settlement)

	// Refunds (X3): RefundFen is what refunds not failed take from the
	// payment (requested + succeeded: never above AmountFen), RefundedFen
	// what the provider confirmed. BillsRefused: the confirmation came for
	// bills someone else had paid, so the whole payment goes back.
	RefundFen    int64
	RefundedFen  int64
	BillsRefused bool
	RefundIDs    []string // every refund asked of it, oldest first (at most MaxRefunds)
}

// MaxRefunds bounds the refunds of one order (the item stays small).
const MaxRefunds = 20

// Errors of the transitions.
var (
	// ErrMismatch: the report does not belong to this order (C1: other
	// merchant, app or amount; another transaction).
	ErrMismatch = errors.New("order: payment does not match the order")
	// ErrNotAllowed: the order's state does not allow the transition.
	ErrNotAllowed = errors.New("order: transition not allowed")
	// ErrExpired: the order can no longer be paid through its prepay.
	ErrExpired = errors.New("order: expired")
	// ErrNoChange: the change is already applied (a duplicate report); the
	// caller succeeds without writing.
	ErrNoChange = errors.New("order: already in that state")
)

// New is a new order, CREATED, checked for the invariants every order keeps.
func New(o Order, now time.Time, ttl, firstCheck time.Duration) (Order, error) {
	switch {
	case o.ID == "" || o.CommunityID == "" || o.CompanyID == "" || o.IfaceID == "":
		return Order{}, fmt.Errorf("order: id, community, company and interface are required")
	case o.MerchantID == "" || o.AppID == "":
		// C1 fails closed: an order always names who must receive the money.
		return Order{}, fmt.Errorf("order: merchant and app are required")
	case o.AmountFen <= 0:
		return Order{}, fmt.Errorf("order: amount must be positive")
	}
	o.Status, o.Version = Created, 1
	o.CreatedAt, o.ExpireAt = now, now.Add(ttl)
	o.NextCheckAt = now.Add(firstCheck)
	return o, nil
}

// SetPrepay records the provider's prepay answer: CREATED|PENDING → PENDING.
func (o *Order) SetPrepay(prepay string, now time.Time) error {
	if !CanTransition(o.Status, Pending) {
		return fmt.Errorf("%w: %s → %s", ErrNotAllowed, o.Status, Pending)
	}
	if o.Expired(now) {
		return ErrExpired
	}
	o.Prepay, o.Status = prepay, Pending
	o.Version++
	return nil
}

// Expired reports whether the order's payment window is over.
func (o Order) Expired(now time.Time) bool { return !now.Before(o.ExpireAt) }

// Payment is a provider's verified report that the money arrived.
type Payment struct {
	ProviderTxnID string
	AmountFen     int64
	PaidAt        time.Time
	MerchantID    string // as the provider reported it
	AppID         string // as the provider reported it
	PayerID       string
	// PayerKey is the payer's history key derived from the report
	// (PayerKeyOf); it is kept only when the order has none yet.
	PayerKey string
}

// PayerKeyOf is the history key (X4) of payer id under app of a channel: the
// same person, identified by the same app, gets the same key whether the
// identity came from our OAuth step or from a verified payment report.
func PayerKeyOf(ch domain.Channel, app, id string) string {
	if app == "" || id == "" {
		return ""
	}
	return string(ch) + ":" + app + ":" + id
}

func (o Order) check(p Payment) error {
	c := domain.PaymentCheck{
		OrderAmount: domain.Fen(o.AmountFen), PaidAmount: domain.Fen(p.AmountFen),
		OrderMerchant: o.MerchantID, PaidMerchant: p.MerchantID,
		OrderApp: o.AppID, PaidApp: p.AppID,
	}
	if err := c.Verify(); err != nil {
		return fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	if p.ProviderTxnID == "" {
		return fmt.Errorf("%w: no provider transaction id", ErrMismatch)
	}
	return nil
}

// Pay applies a verified payment: CREATED|PENDING|CLOSED → PAID. A report of
// the transaction the order is already paid by is ErrNoChange; any other
// report for a paid order is ErrMismatch.
func (o *Order) Pay(p Payment) error {
	if err := o.check(p); err != nil {
		return err
	}
	switch {
	case (o.Status == Paid || o.Status == Refunded) && p.ProviderTxnID == o.ProviderTxnID:
		return ErrNoChange // a late duplicate of the report that paid it
	case o.Status == Paid:
		return fmt.Errorf("%w: order %s already paid by %s, report names %s", ErrMismatch, o.ID, o.ProviderTxnID, p.ProviderTxnID)
	case !CanTransition(o.Status, Paid):
		return fmt.Errorf("%w: %s → %s", ErrNotAllowed, o.Status, Paid)
	}
	if p.PaidAt.IsZero() {
		return fmt.Errorf("%w: no payment time", ErrMismatch)
	}
	o.Status, o.PaidAt, o.ProviderTxnID = Paid, p.PaidAt, p.ProviderTxnID
	o.BusinessDay = calendar.BusinessDay(p.PaidAt)
	if p.PayerID != "" { // keep the payer we knew when the report names none
		o.PayerID = p.PayerID
	}
	if o.PayerKey == "" { // the identity we issued stands; else the report's
		o.PayerKey = p.PayerKey
	}
	o.NextCheckAt = time.Time{}
	o.Version++
	return nil
}

// Close gives up on an unpaid order (expired, or closed at the provider):
// CREATED|PENDING → CLOSED. Closing a closed order is ErrNoChange.
func (o *Order) Close(at time.Time) error {
	if o.Status == Closed {
		return ErrNoChange
	}
	if !CanTransition(o.Status, Closed) {
		return fmt.Errorf("%w: %s → %s", ErrNotAllowed, o.Status, Closed)
	}
	o.Status, o.ClosedAt, o.NextCheckAt = Closed, at, time.Time{}
	o.Version++
	return nil
}

// Refund records that the provider reports the whole trade refunded. The
// trade must be the order's own (C1 checks as for Pay); an order we never saw
// paid goes straight to REFUNDED and is never reported as a success.
func (o *Order) Refund(p Payment, at time.Time) error {
	if err := o.check(p); err != nil {
		return err
	}
	switch {
	case o.Status == Refunded:
		return ErrNoChange
	case o.Status == Paid && p.ProviderTxnID != o.ProviderTxnID:
		return fmt.Errorf("%w: order %s paid by %s, refund names %s", ErrMismatch, o.ID, o.ProviderTxnID, p.ProviderTxnID)
	case !CanTransition(o.Status, Refunded):
		return fmt.Errorf("%w: %s → %s", ErrNotAllowed, o.Status, Refunded)
	}
	if o.PaidAt.IsZero() && !p.PaidAt.IsZero() {
		o.PaidAt = p.PaidAt
		o.BusinessDay = calendar.BusinessDay(p.PaidAt)
	}
	o.Status, o.RefundedAt, o.ProviderTxnID, o.NextCheckAt = Refunded, at, p.ProviderTxnID, time.Time{}
	o.Version++
	return nil
}

// Postpone moves the next provider check of an unpaid order to at (never
// past its expiry, when the sweeper must close it). It is not a state change:
// the version still moves, so a concurrent change wins and this one retries.
func (o *Order) Postpone(at time.Time) {
	if o.Status.Final() {
		return
	}
	if at.After(o.ExpireAt) && o.NextCheckAt.Before(o.ExpireAt) {
		at = o.ExpireAt
	}
	o.NextCheckAt = at
	o.Version++
}

// Repository errors (every adapter returns these).
var (
	// ErrNotFound: no order with that id.
	ErrNotFound = errors.New("order: not found")
	// ErrExists: an order with that id exists already.
	ErrExists = errors.New("order: exists")
)

// ErrRefundExceeds: a refund would take back more than the payment left.
var ErrRefundExceeds = errors.New("order: refund exceeds what is left of the payment")

// Refundable is what refunds can still take from the order.
func (o Order) Refundable() int64 {
	if o.Status != Paid {
		return 0
	}
	return o.AmountFen - o.RefundFen
}

// StartRefund takes amount from what the payment can still give back (X3:
// refunds together never exceed what was paid). Only a PAID order refunds.
func (o *Order) StartRefund(refundID string, amount int64) error {
	switch {
	case refundID == "":
		return fmt.Errorf("%w: a refund needs its id", ErrNotAllowed)
	case len(o.RefundIDs) >= MaxRefunds:
		return fmt.Errorf("%w: at most %d refunds per payment", ErrNotAllowed, MaxRefunds)
	case o.Status != Paid:
		return fmt.Errorf("%w: only a paid order refunds (%s)", ErrNotAllowed, o.Status)
	case amount <= 0 || amount > o.Refundable():
		return fmt.Errorf("%w: %d fen asked, %d left", ErrRefundExceeds, amount, o.Refundable())
	}
	o.RefundFen += amount
	o.RefundIDs = append(append([]string(nil), o.RefundIDs...), refundID)
	o.Version++
	return nil
}

// RefundFailed gives a failed refund's amount back to what can be refunded.
func (o *Order) RefundFailed(amount int64) error {
	if amount <= 0 || amount > o.RefundFen-o.RefundedFen {
		return fmt.Errorf("%w: %d fen failed, %d pending", ErrNotAllowed, amount, o.RefundFen-o.RefundedFen)
	}
	o.RefundFen -= amount
	o.Version++
	return nil
}

// RefundSucceeded counts a confirmed refund; when the whole payment went
// back the order is REFUNDED.
func (o *Order) RefundSucceeded(amount int64, at time.Time) error {
	if amount <= 0 || o.RefundedFen+amount > o.RefundFen {
		return fmt.Errorf("%w: %d fen confirmed, %d pending", ErrNotAllowed, amount, o.RefundFen-o.RefundedFen)
	}
	o.RefundedFen += amount
	if o.RefundedFen == o.AmountFen && CanTransition(o.Status, Refunded) {
		o.Status, o.RefundedAt = Refunded, at
	}
	o.Version++
	return nil
}

// Page is one page of a listing of orders (a community's records, newest
// first) and the opaque cursor of the next ("" at the end).
type Page struct {
	Orders []Order
	Next   string
}

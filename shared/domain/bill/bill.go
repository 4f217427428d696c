// Package bill is the Bill aggregate: one fee item of one house for one
// period (management fee 2026-11 of 3-2-1101), and its state machine. The
// store derives its write conditions from it (the version a write read, the
// states a transition may start from: From), as for orders.
//
//	UNPAID ─reserve─► RESERVED ─pay─► PAID
//	  ▲  │               │  ▲ │
//	  │  │               │  └─┘ reserve again (the same order, or another
//	  │  │               │      once the reservation expired)
//	  │  └──────pay──────┼────► PAID   (cashier entry, or money that arrived
//	  │                  │             after the reservation was released)
//	  ├─────release──────┘
//	  └─────reopen─────────────── PAID (by exactly the payer that paid it:
//	                                    a reversed cashier entry, a refund)
//	UNPAID | RESERVED (expired) ─waive─► WAIVED
//
// A reservation past its expiry counts as unpaid: another order may reserve
// the bill, a cashier may mark it paid, an admin may waive it. WAIVED is
// final; PAID is settled, and only its own payer takes it back (Reopen: the
// cashier entry that paid it is reversed, the order that paid it refunded),
// with who and why. Every change bumps the version and appends an audit
// entry (who or what, when, why) kept on the bill, the last MaxAudit of
// them. The domain has no clock: callers pass the time.
package bill

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/transition"
)

// Status is a bill's state.
type Status string

const (
	Unpaid   Status = "UNPAID"
	Reserved Status = "RESERVED"
	Paid     Status = "PAID"
	Waived   Status = "WAIVED"
)

// transitions lists, for each target state, the states it may be reached from.
var transitions = transition.Table[Status]{
	Unpaid:   {Reserved, Paid},
	Reserved: {Unpaid, Reserved},
	Paid:     {Unpaid, Reserved},
	Waived:   {Unpaid, Reserved},
}

// From returns the states from which `to` may be reached (nil: none).
func From(to Status) []Status { return transitions.From(to) }

// CanTransition reports whether from → to is allowed.
func CanTransition(from, to Status) bool { return transitions.Allows(from, to) }

// Final reports whether the bill is settled (paid or waived): nobody may
// pay, reserve or waive it. A paid bill is reopened only by its own payer
// (Reopen).
func (s Status) Final() bool { return s == Paid || s == Waived }

// MaxAudit is how many audit entries a bill keeps (the newest).
const MaxAudit = 50

// Entry is one audit entry: who or what changed the bill, when and why.
type Entry struct {
	At     time.Time
	By     string // "order:<id>", "cashier:<entry id>", "staff:<id>", "import:<job>"…
	Action string // created, reserved, released, paid, reopened, waived
	From   Status // "" for created
	To     Status
	Why    string
}

// Payer is what paid a bill: an order (a code or notice payment) or a
// cashier entry (cash, POS card, bank transfer, linked code payment).
// Exactly one is set.
type Payer struct {
	OrderID string
	EntryID string
}

func (p Payer) String() string {
	if p.OrderID != "" {
		return "order:" + p.OrderID
	}
	return "cashier:" + p.EntryID
}

// Bill is the aggregate. Fields are exported for the repositories; change
// them only through the methods below.
type Bill struct {
	ID          string
	CompanyID   string
	CommunityID string
	HouseID     string
	// Where the house is, copied from it when the bill is made: the
	// community listing's order and its building and unit filters.
	Building, Unit, Room string
	FeeItem              string // the fee item's name (物业费, 水费…)
	Period               string // YYYY-MM
	AmountFen            int64
	DueDate              calendar.Day

	Status        Status
	Version       int64 // bumped by every change; the store's optimistic lock
	ReservedBy    string
	ReservedUntil time.Time
	PaidBy        Payer
	PaidAt        time.Time
	WaivedAt      time.Time
	CreatedAt     time.Time
	Audit         []Entry // oldest first, at most MaxAudit
}

// Errors of the transitions.
var (
	// ErrReserved: another order holds the bill and its reservation has not
	// expired (正在支付).
	ErrReserved = errors.New("bill: reserved by another payment")
	// ErrPaid: the bill is paid (by someone else, for Pay) (已缴清).
	ErrPaid = errors.New("bill: already paid")
	// ErrNotAllowed: the bill's state does not allow the change (a waived
	// bill, a malformed request).
	ErrNotAllowed = errors.New("bill: change not allowed")
	// ErrNoChange: the change is already applied; nothing to write.
	ErrNoChange = errors.New("bill: already in that state")
	// ErrInvalid: a new bill breaks an invariant.
	ErrInvalid = errors.New("bill: invalid")
)

var periodRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// New is a new UNPAID bill at version 1, checked, its creation audited.
func New(b Bill, by string, at time.Time) (Bill, error) {
	switch {
	case b.ID == "" || b.CompanyID == "" || b.CommunityID == "" || b.HouseID == "" || b.FeeItem == "":
		return Bill{}, fmt.Errorf("%w: id, company, community, house and fee item are required", ErrInvalid)
	case !periodRE.MatchString(b.Period):
		return Bill{}, fmt.Errorf("%w: period %q is not YYYY-MM", ErrInvalid, b.Period)
	case b.AmountFen <= 0:
		return Bill{}, fmt.Errorf("%w: amount must be positive", ErrInvalid)
	case by == "" || at.IsZero():
		return Bill{}, fmt.Errorf("%w: who and when are required", ErrInvalid)
	}
	if _, err := calendar.ParseDay(string(b.DueDate)); err != nil {
		return Bill{}, fmt.Errorf("%w: due date %q", ErrInvalid, b.DueDate)
	}
	b.Status, b.Version, b.CreatedAt = Unpaid, 0, at
	b.ReservedBy, b.ReservedUntil, b.PaidBy, b.PaidAt, b.WaivedAt, b.Audit = "", time.Time{}, Payer{}, time.Time{}, time.Time{}, nil
	b.record(Entry{At: at, By: by, Action: "created", To: Unpaid})
	return b, nil
}

// Held reports whether an unexpired reservation holds the bill at now.
func (b Bill) Held(now time.Time) bool { return b.Status == Reserved && now.Before(b.ReservedUntil) }

// Open reports whether the bill can be paid or reserved by anyone at now:
// unpaid, or reserved with the reservation expired.
func (b Bill) Open(now time.Time) bool {
	return b.Status == Unpaid || (b.Status == Reserved && !b.Held(now))
}

// record moves the version and appends e, keeping the newest MaxAudit.
func (b *Bill) record(e Entry) {
	b.Version++
	b.Audit = append(append([]Entry(nil), b.Audit...), e)
	if n := len(b.Audit); n > MaxAudit {
		b.Audit = b.Audit[n-MaxAudit:]
	}
}

func (b Bill) refuse(to Status) error {
	switch b.Status {
	case Paid:
		return fmt.Errorf("%w: bill %s paid by %s", ErrPaid, b.ID, b.PaidBy)
	case Waived:
		return fmt.Errorf("%w: bill %s is waived", ErrNotAllowed, b.ID)
	}
	return fmt.Errorf("%w: bill %s %s → %s", ErrNotAllowed, b.ID, b.Status, to)
}

// Reserve holds the bill for orderID until `until`: UNPAID, or RESERVED with
// the reservation expired or held by the same order → RESERVED. The same
// order reserving again with the same expiry is ErrNoChange; with another
// expiry it moves the expiry.
func (b *Bill) Reserve(orderID string, until, now time.Time) error {
	if orderID == "" || !until.After(now) {
		return fmt.Errorf("%w: a reservation needs an order and an expiry after now", ErrNotAllowed)
	}
	switch {
	case b.Status == Reserved && b.ReservedBy == orderID && b.ReservedUntil.Equal(until):
		return ErrNoChange
	case b.Status == Reserved && b.ReservedBy != orderID && b.Held(now):
		return fmt.Errorf("%w: bill %s is held by order %s until %s", ErrReserved, b.ID, b.ReservedBy, b.ReservedUntil.UTC().Format(time.RFC3339))
	case !CanTransition(b.Status, Reserved):
		return b.refuse(Reserved)
	}
	why := "reserved until " + until.UTC().Format(time.RFC3339)
	if b.Status == Reserved && b.ReservedBy != orderID {
		why += "; took over the expired reservation of order " + b.ReservedBy
	}
	from := b.Status
	b.Status, b.ReservedBy, b.ReservedUntil = Reserved, orderID, until
	b.record(Entry{At: now, By: "order:" + orderID, Action: "reserved", From: from, To: Reserved, Why: why})
	return nil
}

// Release gives the bill back when orderID no longer pays it (closed,
// failed): RESERVED by orderID → UNPAID. A bill orderID does not hold (never
// did, someone took it over, it is paid) is ErrNoChange: nothing to release.
func (b *Bill) Release(orderID string, at time.Time) error {
	if b.Status != Reserved || b.ReservedBy != orderID || orderID == "" {
		return ErrNoChange
	}
	b.Status, b.ReservedBy, b.ReservedUntil = Unpaid, "", time.Time{}
	b.record(Entry{At: at, By: "order:" + orderID, Action: "released", From: Reserved, To: Unpaid, Why: "payment did not complete"})
	return nil
}

// Pay marks the bill paid by p at `at`. An order pays a bill it reserved
// (expired or not) and any bill that is open at `at`; a cashier entry pays an
// open bill only (an unexpired reservation means someone is paying right
// now: ErrReserved). Paid by the same payer is ErrNoChange; by another,
// ErrPaid; waived, ErrNotAllowed.
func (b *Bill) Pay(p Payer, at time.Time) error {
	if (p.OrderID == "") == (p.EntryID == "") || at.IsZero() {
		return fmt.Errorf("%w: a payment names one order or one cashier entry, and a time", ErrNotAllowed)
	}
	switch {
	case b.Status == Paid && b.PaidBy == p:
		return ErrNoChange
	case b.Status == Reserved && b.Held(at) && (p.OrderID == "" || b.ReservedBy != p.OrderID):
		return fmt.Errorf("%w: bill %s is held by order %s", ErrReserved, b.ID, b.ReservedBy)
	case !CanTransition(b.Status, Paid):
		return b.refuse(Paid)
	}
	from := b.Status
	b.Status, b.PaidBy, b.PaidAt, b.ReservedBy, b.ReservedUntil = Paid, p, at, "", time.Time{}
	b.record(Entry{At: at, By: p.String(), Action: "paid", From: from, To: Paid})
	return nil
}

// Reopen takes a payment back from the bill (a cashier entry reversed, an
// order refunded): PAID by exactly paidBy → UNPAID, audited with who and
// why. A bill paidBy does not hold as paid (unpaid, reserved, waived: never
// paid by it, or reopened already) is ErrNoChange: nothing to take back. A
// bill paid by someone else, or a request without a payer, who or why, is
// ErrNotAllowed.
func (b *Bill) Reopen(paidBy Payer, by, why string, at time.Time) error {
	if (paidBy.OrderID == "") == (paidBy.EntryID == "") || by == "" || why == "" || at.IsZero() {
		return fmt.Errorf("%w: reopening names one payer, who, why and when", ErrNotAllowed)
	}
	switch {
	case b.Status != Paid:
		return ErrNoChange
	case b.PaidBy != paidBy:
		return fmt.Errorf("%w: bill %s is paid by %s, not %s", ErrNotAllowed, b.ID, b.PaidBy, paidBy)
	case !CanTransition(b.Status, Unpaid):
		return b.refuse(Unpaid)
	}
	b.Status, b.PaidBy, b.PaidAt = Unpaid, Payer{}, time.Time{}
	b.record(Entry{At: at, By: by, Action: "reopened", From: Paid, To: Unpaid, Why: "payment " + paidBy.String() + " taken back: " + why})
	return nil
}

// Waive cancels the bill (an admin's decision, with a reason): UNPAID or an
// expired reservation → WAIVED.
func (b *Bill) Waive(by, why string, at time.Time) error {
	if by == "" || why == "" {
		return fmt.Errorf("%w: waiving needs who and why", ErrNotAllowed)
	}
	switch {
	case b.Status == Waived:
		return ErrNoChange
	case b.Held(at):
		return fmt.Errorf("%w: bill %s is held by order %s", ErrReserved, b.ID, b.ReservedBy)
	case !CanTransition(b.Status, Waived):
		return b.refuse(Waived)
	}
	from := b.Status
	b.Status, b.WaivedAt, b.ReservedBy, b.ReservedUntil = Waived, at, "", time.Time{}
	b.record(Entry{At: at, By: by, Action: "waived", From: from, To: Waived, Why: why})
	return nil
}

// Repository errors (every adapter returns these).
var (
	// ErrNotFound: no bill with that id.
	ErrNotFound = errors.New("bill: not found")
	// ErrBusy: a write kept losing races to other writers of its bills;
	// nothing changed, try again.
	ErrBusy = errors.New("bill: bills changed concurrently, try again")
)

package bill

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxBatch is the most bills one all-or-nothing operation takes (DynamoDB's
// TransactWriteItems limit).
const MaxBatch = 100

// Refusal is why one bill refused a batch.
type Refusal struct {
	BillID string
	Err    error // ErrReserved, ErrPaid, ErrNotAllowed, ErrNotFound (wrapped)
}

// RefusedError is a batch that changed nothing because some bills refused.
// errors.Is(err, ErrPaid) holds when any bill refused as paid (likewise
// ErrReserved, ErrNotAllowed, ErrNotFound); Refusals names each.
type RefusedError struct {
	Op       string // reserve | pay | reopen
	Refusals []Refusal
}

func (e *RefusedError) Error() string {
	parts := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		parts[i] = r.BillID + ": " + r.Err.Error()
	}
	return fmt.Sprintf("bill: %s refused, nothing changed: %s", e.Op, strings.Join(parts, "; "))
}

// Unwrap lets errors.Is see every refusal's error.
func (e *RefusedError) Unwrap() []error {
	errs := make([]error, len(e.Refusals))
	for i, r := range e.Refusals {
		errs[i] = r.Err
	}
	return errs
}

// IDs lists the bills that refused with target (all of them when target is nil).
func (e *RefusedError) IDs(target error) []string {
	var ids []string
	for _, r := range e.Refusals {
		if target == nil || errors.Is(r.Err, target) {
			ids = append(ids, r.BillID)
		}
	}
	return ids
}

// Plan is what a batch writes: Changed bills (their new state, each written
// over Read[i] under Read's version and From(new status)) and Unchanged
// bills (already as the batch wants them; the write checks their version so
// the whole set is consistent).
type Plan struct {
	Read      []Bill // as read, one per Changed
	Changed   []Bill
	Unchanged []Bill
}

// CheckIDs dedupes ids (order kept) and checks the batch size.
func CheckIDs(ids []string) ([]string, error) {
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("%w: empty bill id", ErrNotAllowed)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) == 0 || len(out) > MaxBatch {
		return nil, fmt.Errorf("%w: a batch takes 1 to %d bills, not %d", ErrNotAllowed, MaxBatch, len(out))
	}
	return out, nil
}

// plan applies change to each bill; any refusal refuses the whole batch.
func plan(op string, bills []Bill, change func(*Bill) error) (Plan, error) {
	var p Plan
	var refused []Refusal
	for _, b := range bills {
		after := b
		switch err := change(&after); {
		case errors.Is(err, ErrNoChange):
			p.Unchanged = append(p.Unchanged, b)
		case err != nil:
			refused = append(refused, Refusal{BillID: b.ID, Err: err})
		default:
			p.Read, p.Changed = append(p.Read, b), append(p.Changed, after)
		}
	}
	if len(refused) > 0 {
		return Plan{}, &RefusedError{Op: op, Refusals: refused}
	}
	return p, nil
}

// PlanReserve reserves every bill for orderID, or refuses naming each bill
// that is held by another order, paid or waived.
func PlanReserve(bills []Bill, orderID string, until, now time.Time) (Plan, error) {
	return plan("reserve", bills, func(b *Bill) error { return b.Reserve(orderID, until, now) })
}

// PlanPay pays every bill by orderID, or refuses naming each bill someone
// else paid (or holds, or waived). Bills orderID already paid are Unchanged:
// a second confirmation of the same payment is a no-op.
func PlanPay(bills []Bill, orderID string, at time.Time) (Plan, error) {
	return PlanPayBy(bills, Payer{OrderID: orderID}, at)
}

// PlanPayBy pays every bill by p (an order or a cashier entry), or refuses
// naming each bill someone else paid, holds (for a cashier entry: any live
// reservation) or waived. Bills p already paid are Unchanged.
func PlanPayBy(bills []Bill, p Payer, at time.Time) (Plan, error) {
	return plan("pay", bills, func(b *Bill) error { return b.Pay(p, at) })
}

// PlanReopen takes paidBy's payment back from every bill (PAID by paidBy →
// UNPAID), or refuses naming each bill someone else paid. Bills paidBy does
// not hold as paid are Unchanged.
func PlanReopen(bills []Bill, paidBy Payer, by, why string, at time.Time) (Plan, error) {
	return plan("reopen", bills, func(b *Bill) error { return b.Reopen(paidBy, by, why, at) })
}

// NotFound is the refusal of a batch naming bills that do not exist.
func NotFound(op string, ids []string) error {
	e := &RefusedError{Op: op}
	for _, id := range ids {
		e.Refusals = append(e.Refusals, Refusal{BillID: id, Err: fmt.Errorf("%w: %s", ErrNotFound, id)})
	}
	return e
}

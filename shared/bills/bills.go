// Package bills is the application layer of billing (issue 8): houses' bills,
// payment notices, the cashier desk. For now it declares the repository port
// only; the commands come with the notices and the cashier.
//
// The port's two batch operations are each ONE conditional transaction
// (DynamoDB TransactWriteItems) whose conditions come from the domain
// (shared/domain/bill): each bill is written only at the version it was read
// and only from a status bill.From allows, so concurrent payers of the same
// bills cannot both succeed.
package bills

import (
	"context"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
)

// Repository stores bills. Adapters: shared/store.Bills (DynamoDB) and
// shared/store/memory.Bills, both proven by shared/store/billtest.
type Repository interface {
	// Create stores new bills, each once: an id that exists is left as
	// stored (idempotent per id, e.g. a re-run import). Bills are written
	// one by one, not as one transaction.
	Create(ctx context.Context, bills ...bill.Bill) error
	// Get returns a bill or bill.ErrNotFound.
	Get(ctx context.Context, id string) (bill.Bill, error)
	// ListByHouse lists a house's bills by period, fee item and id. It reads
	// an index: a change may show a moment late.
	ListByHouse(ctx context.Context, companyID, houseID string) ([]bill.Bill, error)
	// ReserveAll reserves every bill for orderID until `until`, all or
	// nothing: each must be unpaid, reserved with its reservation expired at
	// now, or already reserved by orderID. Otherwise nothing changes and the
	// error is a *bill.RefusedError naming each bill held by another order
	// (bill.ErrReserved), paid (bill.ErrPaid), waived (bill.ErrNotAllowed) or
	// missing (bill.ErrNotFound). Returns the bills as stored after.
	ReserveAll(ctx context.Context, orderID string, billIDs []string, until, now time.Time) ([]bill.Bill, error)
	// PayAll marks every bill paid by orderID at `at`, all or nothing: each
	// must be reserved by orderID (expired or not), or open (unpaid, or an
	// expired reservation of another order). Bills orderID already paid are
	// left as they are: a second PayAll of the same order is a no-op that
	// succeeds (a duplicate confirmation must not cause a refund). Otherwise
	// nothing changes and the error is a *bill.RefusedError naming the bills
	// someone else paid (bill.ErrPaid), holds (bill.ErrReserved) or waived —
	// the caller refunds the payment. Returns the bills as stored after.
	PayAll(ctx context.Context, orderID string, billIDs []string, at time.Time) ([]bill.Bill, error)
	// ReleaseAll gives back, all at once, every one of the bills orderID
	// still holds (its payment did not start); others are left as they are.
	ReleaseAll(ctx context.Context, orderID string, billIDs []string, at time.Time) ([]bill.Bill, error)
}

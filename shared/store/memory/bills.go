package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
)

// Bills is the in-memory bill repository (bills.Repository): the same
// contract as shared/store.Bills, proven by shared/store/billtest. Batches
// are planned by the domain and applied under one lock: all or nothing.
type Bills struct {
	mu    sync.Mutex
	bills map[string]bill.Bill
}

// NewBills is an empty repository.
func NewBills() *Bills { return &Bills{bills: map[string]bill.Bill{}} }

func cloneBill(b bill.Bill) bill.Bill {
	b.Audit = append([]bill.Entry(nil), b.Audit...)
	return b
}

// Create stores each new bill once; an existing id is left as stored.
func (r *Bills) Create(ctx context.Context, bills ...bill.Bill) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range bills {
		if _, ok := r.bills[b.ID]; !ok {
			r.bills[b.ID] = cloneBill(b)
		}
	}
	return nil
}

// Get returns the bill or bill.ErrNotFound.
func (r *Bills) Get(ctx context.Context, id string) (bill.Bill, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.bills[id]
	if !ok {
		return bill.Bill{}, bill.ErrNotFound
	}
	return cloneBill(b), nil
}

// ListByHouse lists a house's bills by period, fee item and id.
func (r *Bills) ListByHouse(ctx context.Context, companyID, houseID string) ([]bill.Bill, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []bill.Bill
	for _, b := range r.bills {
		if b.CompanyID == companyID && b.HouseID == houseID {
			out = append(out, cloneBill(b))
		}
	}
	key := func(b bill.Bill) string { return b.Period + "#" + b.FeeItem + "#" + b.ID }
	sort.Slice(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out, nil
}

// ReserveAll: see bills.Repository.
func (r *Bills) ReserveAll(ctx context.Context, orderID string, billIDs []string, until, now time.Time) ([]bill.Bill, error) {
	return r.batch("reserve", billIDs, func(bs []bill.Bill) (bill.Plan, error) { return bill.PlanReserve(bs, orderID, until, now) })
}

// ReleaseAll: see bills.Repository.
func (r *Bills) ReleaseAll(ctx context.Context, orderID string, billIDs []string, at time.Time) ([]bill.Bill, error) {
	return r.batch("release", billIDs, func(bs []bill.Bill) (bill.Plan, error) { return bill.PlanRelease(bs, orderID, at), nil })
}

// PayAll: see bills.Repository.
func (r *Bills) PayAll(ctx context.Context, orderID string, billIDs []string, at time.Time) ([]bill.Bill, error) {
	return r.batch("pay", billIDs, func(bs []bill.Bill) (bill.Plan, error) { return bill.PlanPay(bs, orderID, at) })
}

func (r *Bills) batch(op string, ids []string, planFn func([]bill.Bill) (bill.Plan, error)) ([]bill.Bill, error) {
	ids, err := bill.CheckIDs(ids)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	read := make([]bill.Bill, 0, len(ids))
	var missing []string
	for _, id := range ids {
		b, ok := r.bills[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		read = append(read, cloneBill(b))
	}
	if len(missing) > 0 {
		return nil, bill.NotFound(op, missing)
	}
	p, err := planFn(read)
	if err != nil {
		return nil, err
	}
	for _, b := range p.Changed {
		r.bills[b.ID] = cloneBill(b)
	}
	out := make([]bill.Bill, len(ids))
	for i, id := range ids {
		out[i] = cloneBill(r.bills[id])
	}
	return out, nil
}

// Package billtest is the contract suite of the bill repository
// (bills.Repository): the DynamoDB adapter (shared/store.Bills, on the
// embedded DynamoDB with the template's BillsTable) and the in-memory fake
// (shared/store/memory.Bills) both run it.
package billtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain/bill"
)

// T0 is the suite's clock.
var T0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

// NewBills makes n UNPAID bills of one fresh house (unique ids).
func NewBills(t testing.TB, n int) []bill.Bill {
	t.Helper()
	house := fmt.Sprintf("h%d", time.Now().UnixNano())
	fees := []string{"物业费", "水费", "停车费", "电梯费"}
	out := make([]bill.Bill, n)
	for i := range n {
		b, err := bill.New(bill.Bill{ID: fmt.Sprintf("%s-%d", house, i), CompanyID: "co-1", CommunityID: "com-1", HouseID: house, Building: "3", Unit: "2", Room: "1101",
			FeeItem: fees[i%len(fees)], Period: fmt.Sprintf("2026-%02d", 12-i/len(fees)), AmountFen: int64(1000 * (i + 1)), DueDate: "2026-12-31"},
			"import:test", T0)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func ids(bs []bill.Bill) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	return out
}

// Run runs the contract against repositories made by newRepo.
func Run(t *testing.T, newRepo func(t *testing.T) bills.Repository) {
	ctx := context.Background()
	until := T0.Add(15 * time.Minute)

	setup := func(t *testing.T, n int) (bills.Repository, []bill.Bill) {
		t.Helper()
		r := newRepo(t)
		bs := NewBills(t, n)
		if err := r.Create(ctx, bs...); err != nil {
			t.Fatal(err)
		}
		return r, bs
	}
	status := func(t *testing.T, r bills.Repository, bs []bill.Bill) []bill.Bill {
		t.Helper()
		out := make([]bill.Bill, len(bs))
		for i, b := range bs {
			got, err := r.Get(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = got
		}
		return out
	}

	t.Run("create is idempotent per id; get and list by house", func(t *testing.T) {
		r, bs := setup(t, 5)
		again := bs[0]
		again.AmountFen = 1
		if err := r.Create(ctx, again); err != nil {
			t.Fatal(err)
		}
		got, err := r.Get(ctx, bs[0].ID)
		if err != nil || got.AmountFen != bs[0].AmountFen || got.Version != 1 || got.Status != bill.Unpaid || got.DueDate != "2026-12-31" ||
			len(got.Audit) != 1 || got.Audit[0].By != "import:test" || !got.CreatedAt.Equal(T0) {
			t.Fatalf("get = %+v %v", got, err)
		}
		if _, err := r.Get(ctx, "no-such-bill"); !errors.Is(err, bill.ErrNotFound) {
			t.Fatalf("unknown bill: %v", err)
		}
		list, err := r.ListByHouse(ctx, "co-1", bs[0].HouseID)
		if err != nil || len(list) != 5 {
			t.Fatalf("list = %d %v", len(list), err)
		}
		for i := 1; i < len(list); i++ {
			a, b := list[i-1], list[i]
			if a.Period+"#"+a.FeeItem+"#"+a.ID >= b.Period+"#"+b.FeeItem+"#"+b.ID {
				t.Fatalf("list not ordered by period, fee, id: %s then %s", a.ID, b.ID)
			}
		}
		if other, _ := r.ListByHouse(ctx, "co-2", bs[0].HouseID); len(other) != 0 {
			t.Fatalf("another company's house shows %d bills", len(other))
		}
	})

	t.Run("reserve all: one bill paid, none reserved", func(t *testing.T) {
		r, bs := setup(t, 3)
		if _, err := r.ReserveAll(ctx, "A", ids(bs[1:2]), until, T0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.PayAll(ctx, "A", ids(bs[1:2]), T0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		_, err := r.ReserveAll(ctx, "B", ids(bs), T0.Add(time.Hour), T0.Add(2*time.Minute))
		var re *bill.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, bill.ErrPaid) || fmt.Sprint(re.IDs(nil)) != fmt.Sprint([]string{bs[1].ID}) {
			t.Fatalf("reserve with a paid bill: %v", err)
		}
		got := status(t, r, bs)
		if got[0].Status != bill.Unpaid || got[2].Status != bill.Unpaid || got[0].Version != 1 || got[2].Version != 1 {
			t.Fatalf("a refused reserve changed bills: %+v", got)
		}
		if _, err := r.ReserveAll(ctx, "B", []string{bs[0].ID, "no-such-bill"}, until, T0); !errors.Is(err, bill.ErrNotFound) {
			t.Fatalf("reserve with an unknown bill: %v", err)
		}
		if got, _ := r.Get(ctx, bs[0].ID); got.Status != bill.Unpaid {
			t.Fatalf("reserve with an unknown bill reserved %s", got.ID)
		}
	})

	t.Run("concurrent reserves of the same bills: exactly one order wins", func(t *testing.T) {
		r, bs := setup(t, 3)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		refused := 0
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				order := fmt.Sprintf("O%d", i)
				_, err := r.ReserveAll(ctx, order, ids(bs), until, T0)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, order)
				case errors.Is(err, bill.ErrReserved):
					refused++
				default:
					t.Errorf("concurrent reserve: %v", err)
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 || refused != n-1 {
			t.Fatalf("winners %v, refused %d", winners, refused)
		}
		for _, b := range status(t, r, bs) {
			if b.Status != bill.Reserved || b.ReservedBy != winners[0] || b.Version != 2 {
				t.Fatalf("bill after the race: %+v", b)
			}
		}
	})

	t.Run("an expired reservation can be taken by another order", func(t *testing.T) {
		r, bs := setup(t, 2)
		if _, err := r.ReserveAll(ctx, "A", ids(bs), until, T0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReserveAll(ctx, "B", ids(bs), until.Add(time.Hour), until.Add(-time.Second)); !errors.Is(err, bill.ErrReserved) {
			t.Fatalf("reserve before expiry: %v", err)
		}
		got, err := r.ReserveAll(ctx, "B", ids(bs), until.Add(time.Hour), until)
		if err != nil || got[0].ReservedBy != "B" || got[1].ReservedBy != "B" {
			t.Fatalf("take over at expiry: %+v %v", got, err)
		}
		stored := status(t, r, bs)
		if stored[0].ReservedBy != "B" || !stored[0].ReservedUntil.Equal(until.Add(time.Hour)) || stored[0].Version != 3 || len(stored[0].Audit) != 3 {
			t.Fatalf("stored %+v", stored[0])
		}
	})

	t.Run("pay all by the reserving order pays once; again is a no-op", func(t *testing.T) {
		r, bs := setup(t, 3)
		if _, err := r.ReserveAll(ctx, "A", ids(bs), until, T0); err != nil {
			t.Fatal(err)
		}
		paidAt := T0.Add(20 * time.Minute) // after the reservation expired, nobody took it
		got, err := r.PayAll(ctx, "A", ids(bs), paidAt)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range append(got, status(t, r, bs)...) {
			if b.Status != bill.Paid || b.PaidBy.OrderID != "A" || !b.PaidAt.Equal(paidAt) || b.Version != 3 || b.ReservedBy != "" {
				t.Fatalf("paid bill %+v", b)
			}
		}
		again, err := r.PayAll(ctx, "A", ids(bs), paidAt.Add(time.Minute))
		if err != nil || len(again) != 3 {
			t.Fatalf("second pay: %v", err)
		}
		for _, b := range status(t, r, bs) {
			if b.Version != 3 || !b.PaidAt.Equal(paidAt) {
				t.Fatalf("second pay wrote: %+v", b)
			}
		}
	})

	t.Run("pay all after another order paid one bill: nothing changes, the error names it", func(t *testing.T) {
		r, bs := setup(t, 3)
		if _, err := r.ReserveAll(ctx, "A", ids(bs), until, T0); err != nil {
			t.Fatal(err)
		}
		// A's reservation expires; B reserves and pays the middle bill.
		if _, err := r.ReserveAll(ctx, "B", ids(bs[1:2]), until.Add(time.Hour), until.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.PayAll(ctx, "B", ids(bs[1:2]), until.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		// A's late confirmation.
		_, err := r.PayAll(ctx, "A", ids(bs), until.Add(3*time.Minute))
		var re *bill.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, bill.ErrPaid) || fmt.Sprint(re.IDs(bill.ErrPaid)) != fmt.Sprint([]string{bs[1].ID}) {
			t.Fatalf("late pay: %v", err)
		}
		got := status(t, r, bs)
		for _, i := range []int{0, 2} {
			if got[i].Status != bill.Reserved || got[i].ReservedBy != "A" || got[i].Version != 2 {
				t.Fatalf("a refused pay changed %+v", got[i])
			}
		}
		if got[1].PaidBy.OrderID != "B" || got[1].Version != 4 {
			t.Fatalf("B's bill %+v", got[1])
		}
	})

	t.Run("release all gives back only what the order holds", func(t *testing.T) {
		r, bs := setup(t, 3)
		if _, err := r.ReserveAll(ctx, "A", ids(bs[:2]), until, T0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReserveAll(ctx, "B", ids(bs[2:]), until, T0); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReleaseAll(ctx, "A", ids(bs), T0.Add(time.Minute))
		if err != nil || len(got) != 3 {
			t.Fatalf("release: %v", err)
		}
		after := status(t, r, bs)
		for i := 0; i < 2; i++ {
			if after[i].Status != bill.Unpaid || after[i].ReservedBy != "" || after[i].Version != 3 {
				t.Fatalf("released bill %+v", after[i])
			}
		}
		if after[2].Status != bill.Reserved || after[2].ReservedBy != "B" || after[2].Version != 2 {
			t.Fatalf("B's bill was touched: %+v", after[2])
		}
		// Releasing again is a no-op.
		if _, err := r.ReleaseAll(ctx, "A", ids(bs), T0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if again := status(t, r, bs); again[0].Version != 3 {
			t.Fatalf("second release wrote: %+v", again[0])
		}
	})
}

package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/store"
)

// A listing whose last page is exactly full says there is no next page (a
// 下一页 that leads nowhere is what people would see otherwise).
func TestCommunityBillsLastFullPageHasNoNext(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	for i := range 4 {
		b, err := bill.New(bill.Bill{ID: fmt.Sprintf("pb%d", i), CompanyID: "co", CommunityID: "cm", HouseID: fmt.Sprintf("h%d", i),
			Building: "1", Room: fmt.Sprint(101 + i), FeeItem: "物业费", Period: "2026-11", AmountFen: 100, DueDate: "2026-12-10"}, "test", at)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.BillRepo().Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	p1, err := st.BillRepo().CommunityBills(ctx, "co", "cm", store.BillFilter{}, "", 2)
	if err != nil || len(p1.Items) != 2 || p1.Next == "" {
		t.Fatalf("page 1: %d items, next %q, %v", len(p1.Items), p1.Next, err)
	}
	p2, err := st.BillRepo().CommunityBills(ctx, "co", "cm", store.BillFilter{}, p1.Next, 2)
	if err != nil || len(p2.Items) != 2 || p2.Next != "" {
		t.Fatalf("page 2 (the last, full): %d items, next %q, %v", len(p2.Items), p2.Next, err)
	}
	all, err := st.BillRepo().CommunityBills(ctx, "co", "cm", store.BillFilter{}, "", 4)
	if err != nil || len(all.Items) != 4 || all.Next != "" {
		t.Fatalf("one full page of all: %d items, next %q, %v", len(all.Items), all.Next, err)
	}
}

package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
)

func TestHousesAndNotices(t *testing.T) {
	ctx := context.Background()
	r := newStore(t).HouseRepo()
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	var ids []string
	for _, place := range [][3]string{{"10", "1", "101"}, {"2", "1", "1101"}, {"2", "1", "201"}, {"2", "2", "101"}} {
		h, err := house.New(house.House{CompanyID: "co", CommunityID: "cm", Building: place[0], Unit: place[1], Room: place[2]}, at)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.PutHouse(ctx, h); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, h.ID)
	}
	// Another company's house of the same place does not show, and cannot be read.
	other, _ := house.New(house.House{CompanyID: "co2", CommunityID: "cm", Building: "2", Unit: "1", Room: "201"}, at)
	if err := r.PutHouse(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetHouse(ctx, "co", other.ID); !errors.Is(err, house.ErrNotFound) {
		t.Fatalf("cross-company read: %v", err)
	}

	// Replacing keeps created_at and updates the owner.
	h, _ := house.New(house.House{CompanyID: "co", CommunityID: "cm", Building: "2", Unit: "1", Room: "201", OwnerName: "李四", OwnerPhone: "13800000009"}, at.Add(time.Hour))
	if err := r.PutHouse(ctx, h); err != nil {
		t.Fatal(err)
	}
	got, err := r.GetHouse(ctx, "co", h.ID)
	if err != nil || got.OwnerName != "李四" || !got.CreatedAt.Equal(at) || !got.UpdatedAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("replaced: %+v %v", got, err)
	}

	// Listing: building order with numbers as numbers, pages, building and unit filters.
	p1, err := r.ListHouses(ctx, "co", "cm", "", "", "", 2)
	if err != nil || len(p1.Items) != 2 || p1.Next == "" {
		t.Fatalf("page 1: %+v %v", p1, err)
	}
	p2, err := r.ListHouses(ctx, "co", "cm", "", "", p1.Next, 10)
	if err != nil || len(p2.Items) != 2 || p2.Next != "" {
		t.Fatalf("page 2: %+v %v", p2, err)
	}
	// The last page exactly full: no next page either.
	if full, err := r.ListHouses(ctx, "co", "cm", "", "", p1.Next, 2); err != nil || len(full.Items) != 2 || full.Next != "" {
		t.Fatalf("last full page: %+v %v", full, err)
	}
	all := append(p1.Items, p2.Items...)
	if all[0].Label() != "2栋1单元201" || all[1].Label() != "2栋1单元1101" || all[3].Label() != "10栋1单元101" {
		t.Fatalf("order: %v %v %v %v", all[0].Label(), all[1].Label(), all[2].Label(), all[3].Label())
	}
	b2, _ := r.ListHouses(ctx, "co", "cm", "2", "", "", 10)
	u2, _ := r.ListHouses(ctx, "co", "cm", "2", "2", "", 10)
	if len(b2.Items) != 3 || len(u2.Items) != 1 {
		t.Fatalf("filters: building 2 → %d, unit 2-2 → %d", len(b2.Items), len(u2.Items))
	}
	if _, err := r.ListHouses(ctx, "co2", "cm", "", "", p1.Next, 10); err == nil {
		t.Fatal("a cursor of another listing was accepted")
	}

	// Notices.
	b, _ := bill.New(bill.Bill{ID: "nb1", CompanyID: "co", CommunityID: "cm", HouseID: h.ID, FeeItem: "物业费", Period: "2026-11", AmountFen: 100, DueDate: "2026-12-10"}, "test", at)
	n, err := notice.New(notice.NewID(), h, []bill.Bill{b}, "staff:s", at)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CreateNotice(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateNotice(ctx, n); err == nil {
		t.Fatal("a notice id was stored twice")
	}
	gn, err := r.GetNotice(ctx, n.ID)
	if err != nil || gn.HouseID != h.ID || len(gn.BillIDs) != 1 || gn.DueDate != "2026-12-10" || gn.Label() != "2栋1单元201" {
		t.Fatalf("notice: %+v %v", gn, err)
	}
	if _, err := r.GetNotice(ctx, "nope"); !errors.Is(err, notice.ErrNotFound) {
		t.Fatal(err)
	}
	ln, err := r.ListNotices(ctx, "co", "cm", "2", "1", "", 10)
	if err != nil || len(ln.Items) != 1 || ln.Items[0].ID != n.ID {
		t.Fatalf("list notices: %+v %v", ln, err)
	}
	_ = ids
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
)

// HouseNotices lists exactly one house's notices: not those of the room
// whose number starts with the same digits, nor another company's.
func TestHouseNotices(t *testing.T) {
	ctx := context.Background()
	r := newStore(t).HouseRepo()
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	mk := func(company, room string) house.House {
		h, err := house.New(house.House{CompanyID: company, CommunityID: "cm", Building: "2", Unit: "1", Room: room}, at)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h, longer, other := mk("co", "1"), mk("co", "11"), mk("co2", "1")
	for i, x := range []house.House{h, longer, other, h} {
		n := notice.Notice{ID: notice.NewID(), CompanyID: x.CompanyID, CommunityID: x.CommunityID, HouseID: x.ID, Building: x.Building, Unit: x.Unit, Room: x.Room,
			BillIDs: []string{"b"}, DueDate: calendar.Day("2026-12-31"), CreatedAt: at.Add(time.Duration(i) * time.Minute), CreatedBy: "test"}
		if err := r.CreateNotice(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.HouseNotices(ctx, h, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].HouseID != h.ID || got[1].HouseID != h.ID || !got[0].CreatedAt.Before(got[1].CreatedAt) {
		t.Fatalf("house notices: %+v", got)
	}
}

package stacktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
)

// SeedHouse stores a house of the community with one unpaid bill per
// amount (fen; fee items 物业费, 水费, 停车费 in turn, periods from 2026-10,
// due 2026-12-31) straight through the store, as an import would.
func SeedHouse(t testing.TB, s *stack.Stack, companyID, communityID, building, unit, room, owner string, fen ...int64) house.House {
	t.Helper()
	h, _ := seedHouse(t, s.Store(), house.House{CompanyID: companyID, CommunityID: communityID, Building: building, Unit: unit, Room: room, OwnerName: owner},
		func(h house.House, i int) bill.Bill {
			return bill.Bill{ID: fmt.Sprintf("B%s%02d", h.ID, i), FeeItem: []string{"物业费", "水费", "停车费"}[i%3],
				Period: fmt.Sprintf("2026-%02d", 10+i%3), DueDate: calendar.Day("2026-12-31")}
		}, fen...)
	return h
}

// SeedNotice stores a notice of h's unpaid bills and returns it.
func SeedNotice(t testing.TB, s *stack.Stack, h house.House) notice.Notice {
	t.Helper()
	ctx := context.Background()
	bills, err := s.Store().BillRepo().ListByHouse(ctx, h.CompanyID, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	n, err := notice.New(notice.NewID(), h, bills, "seed", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store().HouseRepo().CreateNotice(ctx, n); err != nil {
		t.Fatal(err)
	}
	return n
}

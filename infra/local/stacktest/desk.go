package stacktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/store"
)

// SeedHouseBills stores a house of company/community at building, unit,
// room and one UNPAID bill per amount (fee items 费用1, 费用2, … of period
// 2026-11, bill ids <house id>-<n>), and returns the house and the bill ids.
func SeedHouseBills(t testing.TB, st *store.Store, companyID, communityID, building, unit, room string, amountsFen ...int64) (house.House, []string) {
	t.Helper()
	return seedHouse(t, st, house.House{CompanyID: companyID, CommunityID: communityID, Building: building, Unit: unit, Room: room, OwnerName: "业主" + room},
		func(h house.House, i int) bill.Bill {
			return bill.Bill{ID: fmt.Sprintf("%s-%d", h.ID, i+1), FeeItem: fmt.Sprintf("费用%d", i+1), Period: "2026-11", DueDate: "2026-11-30"}
		}, amountsFen...)
}

// seedHouse stores house h and one UNPAID bill per amount, shaped by bill
// (its id, fee item, period, due date), as an import would.
func seedHouse(t testing.TB, st *store.Store, h house.House, shape func(h house.House, i int) bill.Bill, amountsFen ...int64) (house.House, []string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	h, err := house.New(h, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HouseRepo().PutHouse(ctx, h); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, fen := range amountsFen {
		b := shape(h, i)
		b.CompanyID, b.CommunityID, b.HouseID, b.AmountFen = h.CompanyID, h.CommunityID, h.ID, fen
		b, err := bill.New(b, "import:stacktest", now)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.BillRepo().Create(ctx, b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	return h, ids
}

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
	ctx := context.Background()
	now := time.Now()
	h, err := house.New(house.House{CompanyID: companyID, CommunityID: communityID, Building: building, Unit: unit, Room: room, OwnerName: "业主" + room}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HouseRepo().PutHouse(ctx, h); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, fen := range amountsFen {
		b, err := bill.New(bill.Bill{ID: fmt.Sprintf("%s-%d", h.ID, i+1), CompanyID: companyID, CommunityID: communityID, HouseID: h.ID,
			FeeItem: fmt.Sprintf("费用%d", i+1), Period: "2026-11", AmountFen: fen, DueDate: "2026-11-30"}, "import:stacktest", now)
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

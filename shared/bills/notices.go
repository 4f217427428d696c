package bills

import (
	"context"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
)

// NoticeStore keeps payment notices (shared/store.Houses).
type NoticeStore interface {
	// HouseNotices lists up to limit of h's notices, oldest first.
	HouseNotices(ctx context.Context, h house.House, limit int32) ([]notice.Notice, error)
	CreateNotice(ctx context.Context, n notice.Notice) error
}

// HouseBills lists a house's bills (shared/store.Bills).
type HouseBills interface {
	ListByHouse(ctx context.Context, companyID, houseID string) ([]bill.Bill, error)
}

// HouseNoticesRead is how many of a house's notices IssueNotice compares.
const HouseNoticesRead = 100

// IssueNotice makes h's payment notice from its unpaid bills, unless one of
// its notices already covers exactly those bills: then that one is
// answered (created false), so making notices again — a second press, a
// re-posted form, the demo seeded on every start — makes nothing twice.
// A house with nothing unpaid is notice.ErrNothingToBill.
func IssueNotice(ctx context.Context, notices NoticeStore, bills HouseBills, h house.House, by string, now time.Time) (id string, created bool, err error) {
	bs, err := bills.ListByHouse(ctx, h.CompanyID, h.ID)
	if err != nil {
		return "", false, err
	}
	draft, err := notice.New(notice.NewID(), h, bs, by, now)
	if err != nil {
		return "", false, err
	}
	have, err := notices.HouseNotices(ctx, h, HouseNoticesRead)
	if err != nil {
		return "", false, err
	}
	for i := len(have) - 1; i >= 0; i-- {
		if have[i].SameBills(draft.BillIDs) {
			return have[i].ID, false, nil
		}
	}
	if err := notices.CreateNotice(ctx, draft); err != nil {
		return "", false, err
	}
	return draft.ID, true, nil
}

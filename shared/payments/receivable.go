package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
)

// 应收款 (issue 11, item 8): a business manager picks some of a house's
// unpaid bills and shows a one-time code for exactly them. The code is a
// payment notice of those bills only, made by and collected for the
// manager (notice.CollectorID): paying it is CreateNoticeOrder and
// ApplyTrade as for any notice — the bills reserved in one transaction,
// then the order PAID and every bill PAID by it in ONE TransactWriteItems
// (store.Ledger), the money refunded automatically if someone else paid a
// bill meanwhile — and, once they are paid, its page asks nothing (C6).
// The order carries the manager as its collector: it is in their 收款记录.

// ReceivableNotices keeps the notices (shared/store.Houses).
type ReceivableNotices interface {
	CreateNotice(ctx context.Context, n notice.Notice) error
}

// ReceivableBills lists a house's bills (shared/store.Bills).
type ReceivableBills interface {
	ListByHouse(ctx context.Context, companyID, houseID string) ([]bill.Bill, error)
}

// ReceivableRequest is a manager's 应收款: bills of house H.
type ReceivableRequest struct {
	House       house.House
	BillIDs     []string // at least one, at most bill.MaxBatch, each an unpaid bill of the house
	CollectorID string   // the manager (staff id)
}

// IssueReceivable makes the one-time code (a notice) for exactly the bills
// asked. A bill that is not the house's, or not open (paid, waived), is an
// *InvalidError naming it; nothing is made.
func IssueReceivable(ctx context.Context, notices ReceivableNotices, bills ReceivableBills, r ReceivableRequest, now time.Time) (notice.Notice, error) {
	switch {
	case r.CollectorID == "":
		return notice.Notice{}, errors.New("payments: a receivable needs its collector")
	case len(r.BillIDs) == 0:
		return notice.Notice{}, invalid("请选择要收款的账单")
	case len(r.BillIDs) > bill.MaxBatch:
		return notice.Notice{}, invalid(fmt.Sprintf("一次最多选择 %d 笔账单", bill.MaxBatch))
	}
	all, err := bills.ListByHouse(ctx, r.House.CompanyID, r.House.ID)
	if err != nil {
		return notice.Notice{}, err
	}
	byID := make(map[string]bill.Bill, len(all))
	for _, b := range all {
		byID[b.ID] = b
	}
	var chosen []bill.Bill
	for _, id := range r.BillIDs {
		b, ok := byID[id]
		switch {
		case !ok:
			return notice.Notice{}, invalid("账单不属于该房屋：" + truncateID(id))
		case b.Status.Final():
			return notice.Notice{}, invalid("账单已缴清或已减免：" + b.FeeItem + " " + b.Period)
		case slices.ContainsFunc(chosen, func(x bill.Bill) bool { return x.ID == id }):
			continue
		}
		chosen = append(chosen, b)
	}
	n, err := notice.New(notice.NewID(), r.House, chosen, "staff:"+r.CollectorID, now)
	if errors.Is(err, notice.ErrNothingToBill) {
		return notice.Notice{}, invalid("所选账单都已缴清")
	}
	if err != nil {
		return notice.Notice{}, err
	}
	n.CollectorID = r.CollectorID
	if err := notices.CreateNotice(ctx, n); err != nil {
		return notice.Notice{}, err
	}
	return n, nil
}

func truncateID(id string) string {
	if len(id) > 40 {
		return id[:40] + "…"
	}
	return id
}

package bills

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/cashier"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/paging"
)

// Entries stores the cashier desk's entries (shared/store.Cashier): Record
// and Reverse are each one transaction with the bills they change and, for a
// code payment, its link (never two active entries for one payment).
type Entries interface {
	Record(ctx context.Context, draft cashier.Entry, billIDs []string, at time.Time) (cashier.Entry, error)
	Reverse(ctx context.Context, companyID, id, by, why string, at time.Time) (cashier.Entry, error)
	Get(ctx context.Context, companyID, id string) (cashier.Entry, error)
	Bills(ctx context.Context, ids []string) ([]bill.Bill, error)
	ListByHouse(ctx context.Context, companyID, houseID, cursor string, limit int32) (paging.Page[cashier.Entry], error)
	ListByCommunity(ctx context.Context, companyID, communityID, cursor string, limit int32) (paging.Page[cashier.Entry], error)
	Linked(ctx context.Context, orderIDs []string) (map[string]string, error)
}

// Houses finds houses (shared/store.Houses).
type Houses interface {
	GetHouse(ctx context.Context, companyID, id string) (house.House, error)
}

// Payments reads a community's payments, newest first (the records index,
// shared/store.Orders).
type Payments interface {
	Records(ctx context.Context, communityID, after string, limit int32) (order.Page, error)
}

// Desk is the cashier desk (C8): mark a house's chosen bills paid with a
// method, reverse an entry with a reason, and what the counter reads. Every
// query is scoped to the caller's company.
type Desk struct {
	Entries  Entries
	Houses   Houses
	Bills    Repository
	Payments Payments
	NewID    func() string
	Now      func() time.Time
}

// MarkPaid is the command of one entry at the counter.
type MarkPaid struct {
	CompanyID string
	HouseID   string
	BillIDs   []string
	Method    cashier.Method
	OrderID   string // the code payment to link (Method cashier.Code)
	Note      string
	StaffID   string
	StaffName string
}

// MarkPaid records the entry: the house must be the company's; the bills the
// house's and open; a code payment paid, of the community, of exactly their
// total and never linked before. See Describe for the refusals.
func (d *Desk) MarkPaid(ctx context.Context, in MarkPaid) (cashier.Entry, error) {
	h, err := d.Houses.GetHouse(ctx, in.CompanyID, in.HouseID)
	if err != nil {
		return cashier.Entry{}, err
	}
	draft := cashier.Entry{ID: d.NewID(), CompanyID: in.CompanyID, CommunityID: h.CommunityID, HouseID: h.ID, Method: in.Method,
		OrderID: in.OrderID, Note: in.Note, By: in.StaffID, ByName: in.StaffName}
	return d.Entries.Record(ctx, draft, in.BillIDs, d.Now())
}

// Reverse is the command reversing an entry.
type Reverse struct {
	CompanyID string
	EntryID   string
	StaffID   string
	Reason    string
	// OwnOnly: the caller may reverse only entries they recorded (a
	// cashier; an admin reverses any of the company's).
	OwnOnly bool
}

// ErrNotOwn: a cashier reversing another cashier's entry.
var ErrNotOwn = errors.New("bills: not the caller's entry")

// Reverse reverses the entry: its bills reopen, its link is freed.
func (d *Desk) Reverse(ctx context.Context, in Reverse) (cashier.Entry, error) {
	if in.OwnOnly {
		e, err := d.Entries.Get(ctx, in.CompanyID, in.EntryID)
		if err != nil {
			return cashier.Entry{}, err
		}
		if e.By != in.StaffID {
			return cashier.Entry{}, ErrNotOwn
		}
	}
	return d.Entries.Reverse(ctx, in.CompanyID, in.EntryID, in.StaffID, in.Reason, d.Now())
}

// HouseDesk is what the counter shows of a house: its bills and its entries
// (newest first).
type HouseDesk struct {
	House   house.House
	Bills   []bill.Bill
	Entries []cashier.Entry
}

// House reads a house of the company with its bills and latest entries.
func (d *Desk) House(ctx context.Context, companyID, houseID string) (HouseDesk, error) {
	h, err := d.Houses.GetHouse(ctx, companyID, houseID)
	if err != nil {
		return HouseDesk{}, err
	}
	bs, err := d.Bills.ListByHouse(ctx, companyID, h.ID)
	if err != nil {
		return HouseDesk{}, err
	}
	es, err := d.Entries.ListByHouse(ctx, companyID, h.ID, "", 50)
	if err != nil {
		return HouseDesk{}, err
	}
	return HouseDesk{House: h, Bills: bs, Entries: es.Items}, nil
}

// Receipt is an entry with its house and bills (the printed 收据).
type Receipt struct {
	Entry cashier.Entry
	House house.House
	Bills []bill.Bill
}

// Receipt reads an entry of the company for its receipt.
func (d *Desk) Receipt(ctx context.Context, companyID, entryID string) (Receipt, error) {
	e, err := d.Entries.Get(ctx, companyID, entryID)
	if err != nil {
		return Receipt{}, err
	}
	h, err := d.Houses.GetHouse(ctx, companyID, e.HouseID)
	if err != nil {
		return Receipt{}, err
	}
	bs, err := d.Entries.Bills(ctx, e.BillIDs)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Entry: e, House: h, Bills: bs}, nil
}

// UnlinkedPayments lists the community's latest code payments a cashier may
// link (newest first, at most limit, from the latest 100): paid, not a notice
// payment, nothing refunded, not linked by an active entry. communityID must
// be the caller's (the records index is per community).
func (d *Desk) UnlinkedPayments(ctx context.Context, communityID string, limit int) ([]order.Order, error) {
	page, err := d.Payments.Records(ctx, communityID, "", 100)
	if err != nil {
		return nil, err
	}
	var cands []order.Order
	var ids []string
	for _, o := range page.Orders {
		if o.Status == order.Paid && len(o.BillIDs) == 0 && o.NoticeID == "" && o.RefundFen == 0 {
			cands = append(cands, o)
			ids = append(ids, o.ID)
		}
	}
	linked, err := d.Entries.Linked(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]order.Order, 0, limit)
	for _, o := range cands {
		if linked[o.ID] == "" && len(out) < limit {
			out = append(out, o)
		}
	}
	return out, nil
}

// Describe is how a refusal of the desk reads: HTTP status, API error code
// and the Chinese message people see (500 internal for anything else).
func Describe(err error) (status int, code, msg string) {
	var re *bill.RefusedError
	switch {
	case errors.Is(err, house.ErrNotFound), errors.Is(err, cashier.ErrNotFound):
		return http.StatusNotFound, "not_found", "您要找的内容不存在"
	case errors.Is(err, ErrNotOwn):
		return http.StatusForbidden, "not_own_entry", "收银员只能冲正自己收的款，其他收款单请联系管理员冲正"
	case errors.Is(err, cashier.ErrInvalid):
		return http.StatusBadRequest, "invalid", cashier.Message(err)
	case errors.Is(err, cashier.ErrLinked):
		return http.StatusConflict, "already_linked", cashier.Message(err)
	case errors.Is(err, cashier.ErrLink):
		return http.StatusConflict, "not_linkable", cashier.Message(err)
	case errors.Is(err, cashier.ErrReversed):
		return http.StatusConflict, "already_reversed", "该收款单已冲正，不能重复冲正"
	case errors.As(err, &re):
		switch {
		case errors.Is(err, bill.ErrNotFound):
			return http.StatusBadRequest, "bill_not_found", fmt.Sprintf("有 %d 笔所选账单不存在，请刷新后重新选择", len(re.IDs(bill.ErrNotFound)))
		case errors.Is(err, bill.ErrReserved):
			return http.StatusConflict, "bill_reserved", fmt.Sprintf("有 %d 笔所选账单正在支付（住户正在扫码付款），请稍后刷新再试", len(re.IDs(bill.ErrReserved)))
		case errors.Is(err, bill.ErrPaid):
			return http.StatusConflict, "bill_paid", fmt.Sprintf("有 %d 笔所选账单已缴清，请刷新后重新选择", len(re.IDs(bill.ErrPaid)))
		case re.Op == "reopen":
			return http.StatusConflict, "bill_changed", "收款单的账单已被其他付款缴清，不能冲正"
		}
		return http.StatusConflict, "bill_not_payable", fmt.Sprintf("有 %d 笔所选账单已减免或不能收款，请刷新后重新选择", len(re.Refusals))
	case errors.Is(err, bill.ErrBusy):
		return http.StatusServiceUnavailable, "busy", "账单正在被修改，请稍后再试"
	}
	return http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
}

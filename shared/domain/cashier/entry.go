// Package cashier is the cashier desk's Entry aggregate (C8): a cashier at
// the management office marks chosen bills of one house paid, with a method
// (cash, POS card, bank transfer, or a code payment that is linked by its
// order id), and may reverse the entry with a reason.
//
//	ACTIVE ─reverse─► REVERSED
//
// An entry pays its bills as bill.Payer{EntryID: id}; reversing it reopens
// exactly the bills it paid (bill.Reopen). A code payment is linked to at
// most one active entry at a time (the store keeps one link item per order;
// reversing frees it). Pure: no I/O, no clock (callers pass the time).
package cashier

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/transition"
)

// Method is how the money reached the office.
type Method string

const (
	Cash     Method = "cash"     // 现金
	POS      Method = "pos"      // POS刷卡
	Transfer Method = "transfer" // 银行转账
	Code     Method = "code"     // 扫码付款: a payment through the community's code, linked by its order id
)

// Methods lists the methods in the order people see them.
func Methods() []Method { return []Method{Cash, POS, Transfer, Code} }

// Valid reports whether m is a known method.
func (m Method) Valid() bool {
	switch m {
	case Cash, POS, Transfer, Code:
		return true
	}
	return false
}

// Label is the method's Chinese name.
func (m Method) Label() string {
	switch m {
	case Cash:
		return "现金"
	case POS:
		return "POS刷卡"
	case Transfer:
		return "银行转账"
	case Code:
		return "扫码付款"
	}
	return string(m)
}

// Status is an entry's state.
type Status string

const (
	Active   Status = "ACTIVE"
	Reversed Status = "REVERSED"
)

// transitions lists, for each target state, the states it may be reached from.
var transitions = transition.Table[Status]{
	Reversed: {Active},
}

// From returns the states from which `to` may be reached (nil: none).
func From(to Status) []Status { return transitions.From(to) }

// CanTransition reports whether from → to is allowed.
func CanTransition(from, to Status) bool { return transitions.Allows(from, to) }

// Limits of an entry.
const (
	MaxNoteRunes   = 200
	MaxReasonRunes = 200
)

// Entry is the aggregate. Fields are exported for the repositories; change
// them only through New and Reverse.
type Entry struct {
	ID          string
	CompanyID   string
	CommunityID string
	HouseID     string
	BillIDs     []string // at most bill.MaxBatch, each once
	TotalFen    int64    // the sum of the bills' amounts
	Method      Method
	OrderID     string // the linked code payment (Method Code only)
	Note        string
	By          string // staff id of the cashier
	ByName      string // the cashier's name as the receipt prints it
	At          time.Time

	Status      Status
	Version     int64
	ReversedBy  string // staff id
	ReversedWhy string
	ReversedAt  time.Time
}

// Errors of the aggregate. ErrInvalid and ErrLink wrap a Chinese message
// (Message returns it).
var (
	// ErrInvalid: the entry breaks an invariant (no bills, another house's
	// bill, an unknown method, a code payment without its order…).
	ErrInvalid = errors.New("cashier: invalid")
	// ErrLink: the code payment cannot be linked (not paid, another
	// company or community, a notice payment, refunded, another amount).
	ErrLink = errors.New("cashier: payment cannot be linked")
	// ErrLinked: the code payment is linked to another active entry
	// already (a payment is never linked twice).
	ErrLinked = errors.New("cashier: payment already linked")
	// ErrReversed: the entry is reversed already (a second reversal).
	ErrReversed = errors.New("cashier: entry already reversed")
	// ErrNotFound: no such entry (in the caller's company).
	ErrNotFound = errors.New("cashier: entry not found")
)

// Message is the Chinese message of an ErrInvalid, ErrLink or ErrLinked error.
func Message(err error) string {
	s := err.Error()
	for _, sentinel := range []error{ErrInvalid, ErrLink, ErrLinked} {
		if rest, ok := strings.CutPrefix(s, sentinel.Error()+": "); ok {
			return rest
		}
	}
	return s
}

func invalid(msg string) error { return fmt.Errorf("%w: %s", ErrInvalid, msg) }

// New is a new ACTIVE entry at version 1 over bills (as read: the house's
// bills the cashier chose, in that order), its total their sum. It does not
// decide whether the bills may be paid: bill.PlanPayBy does, in the same
// write.
func New(e Entry, bills []bill.Bill, at time.Time) (Entry, error) {
	e.Note = strings.TrimSpace(e.Note)
	switch {
	case e.ID == "" || e.CompanyID == "" || e.CommunityID == "" || e.HouseID == "":
		return Entry{}, invalid("缺少收款单号、公司、小区或房屋")
	case e.By == "" || at.IsZero():
		return Entry{}, invalid("缺少收银员或时间")
	case !e.Method.Valid():
		return Entry{}, invalid("请选择收款方式（现金、POS刷卡、银行转账或扫码付款）")
	case e.Method == Code && strings.TrimSpace(e.OrderID) == "":
		return Entry{}, invalid("扫码付款须填写收款记录的订单号")
	case e.Method != Code && e.OrderID != "":
		return Entry{}, invalid("只有扫码付款可以关联收款记录")
	case utf8.RuneCountInString(e.Note) > MaxNoteRunes || (e.Note != "" && !domain.IsPrintable(e.Note)):
		return Entry{}, invalid(fmt.Sprintf("备注最多 %d 个字，且不能包含换行等控制字符", MaxNoteRunes))
	case len(bills) == 0:
		return Entry{}, invalid("请选择要收款的账单")
	case len(bills) > bill.MaxBatch:
		return Entry{}, invalid(fmt.Sprintf("一次最多收 %d 笔账单", bill.MaxBatch))
	}
	e.OrderID = strings.TrimSpace(e.OrderID)
	seen := map[string]bool{}
	e.BillIDs, e.TotalFen = make([]string, 0, len(bills)), 0
	for _, b := range bills {
		switch {
		case seen[b.ID]:
			return Entry{}, invalid("同一笔账单选了两次")
		case b.CompanyID != e.CompanyID || b.CommunityID != e.CommunityID || b.HouseID != e.HouseID:
			return Entry{}, invalid("所选账单不属于这户房屋")
		case b.AmountFen <= 0:
			return Entry{}, invalid("账单金额不正确")
		}
		seen[b.ID] = true
		e.BillIDs = append(e.BillIDs, b.ID)
		e.TotalFen += b.AmountFen
	}
	e.Status, e.Version, e.At = Active, 1, at
	e.ReversedBy, e.ReversedWhy, e.ReversedAt = "", "", time.Time{}
	return e, nil
}

// Payer is what the entry's bills are paid by.
func (e Entry) Payer() bill.Payer { return bill.Payer{EntryID: e.ID} }

// CheckLink decides whether the code payment o may be linked to the entry:
// it must be paid (not refunded, nothing taken back), of the entry's company
// and community, not a notice payment (that pays its own bills), and of
// exactly the entry's total. The store checks the same in the write
// (status, company, no bills) and that no other entry links it.
func (e Entry) CheckLink(o order.Order) error {
	link := func(msg string) error { return fmt.Errorf("%w: %s", ErrLink, msg) }
	switch {
	case e.Method != Code:
		return link("只有扫码付款可以关联收款记录")
	case o.ID != e.OrderID || o.CompanyID != e.CompanyID:
		return link("找不到该收款记录，请核对订单号")
	case o.CommunityID != e.CommunityID:
		return link("该收款记录不是本小区的收款码收到的")
	case o.Status == order.Refunded || o.RefundFen > 0:
		return link("该收款记录已退款，不能关联")
	case o.Status != order.Paid:
		return link("该收款记录尚未支付成功，不能关联")
	case len(o.BillIDs) > 0 || o.NoticeID != "":
		return link("该收款记录是缴费通知单的付款，已自动缴清其账单，不能再关联")
	case o.AmountFen != e.TotalFen:
		return link(fmt.Sprintf("金额不一致：该收款记录为 %s 元，所选账单合计 %s 元", domain.FormatYuan(o.AmountFen), domain.FormatYuan(e.TotalFen)))
	}
	return nil
}

// Reverse reverses the entry (a mistake at the counter: wrong house, wrong
// method, money returned): ACTIVE → REVERSED with who and why. The store
// reopens the bills the entry paid and frees its link in the same write.
func (e *Entry) Reverse(by, why string, at time.Time) error {
	why = strings.TrimSpace(why)
	switch {
	case by == "" || at.IsZero():
		return invalid("缺少操作人或时间")
	case why == "":
		return invalid("请填写冲正原因")
	case utf8.RuneCountInString(why) > MaxReasonRunes || !domain.IsPrintable(why):
		return invalid(fmt.Sprintf("冲正原因最多 %d 个字，且不能包含换行等控制字符", MaxReasonRunes))
	case e.Status == Reversed:
		return fmt.Errorf("%w: entry %s reversed at %s by %s", ErrReversed, e.ID, e.ReversedAt.UTC().Format(time.RFC3339), e.ReversedBy)
	case !CanTransition(e.Status, Reversed):
		return invalid("收款单状态不允许冲正")
	}
	e.Status, e.ReversedBy, e.ReversedWhy, e.ReversedAt = Reversed, by, why, at
	e.Version++
	return nil
}

package settlement

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/transition"
)

// Kind is what a reconciliation found.
type Kind string

const (
	// MissingLocal: the provider's bill has a payment we never saw paid (a
	// callback that never came). The order is repaired through the normal
	// paid transition and the exception records it.
	MissingLocal Kind = "missing_local"
	// MissingProvider: we hold a payment the provider's bill does not list.
	MissingProvider Kind = "missing_provider"
	// AmountDiffers: both list it, with different amounts.
	AmountDiffers Kind = "amount"
	// StatusDiffers: both list it, one as refunded and the other not.
	StatusDiffers Kind = "status"
	// FeeDiffers: the provider charged another fee than our schedule.
	FeeDiffers Kind = "fee"
)

// Advice is what to do about an exception, for the console.
func (k Kind) Advice() string {
	switch k {
	case MissingLocal:
		return "微信/支付宝账单有此笔收款而本系统未收到通知：系统已按账单补记为已支付，请核对住户缴费记录。"
	case MissingProvider:
		return "本系统记为已支付而渠道账单无此笔：请向渠道查询该笔交易，确认资金是否到账。"
	case AmountDiffers:
		return "双方金额不一致：请以渠道账单为准核对订单金额，必要时联系渠道。"
	case StatusDiffers:
		return "双方状态不一致（如一方已退款）：请在渠道商户平台核对该笔交易的退款状态。"
	case FeeDiffers:
		return "手续费与费率表不一致：请核对商户签约费率，更新费率表或联系渠道。"
	}
	return "请人工核对。"
}

// RefundAdvice is what to do about an exception about a refund.
func (k Kind) RefundAdvice() string {
	switch k {
	case MissingLocal:
		return "渠道账单有此笔退款而本系统无记录（如在渠道商户平台直接发起的退款）：请核对退款来源，并与住户、账单核对。"
	case MissingProvider:
		return "本系统记录该退款当日成功而渠道账单当日无此笔：请向渠道查询该退款的状态与成功时间。"
	case AmountDiffers:
		return "双方退款金额不一致：请以渠道账单为准核对退款金额，必要时联系渠道。"
	case StatusDiffers:
		return "双方退款状态或日期不一致：请在渠道商户平台核对该退款的状态与成功时间。"
	}
	return k.Advice()
}

// ExceptionStatus is an exception's state: OPEN ─resolve─► RESOLVED.
type ExceptionStatus string

const (
	Open     ExceptionStatus = "OPEN"
	Resolved ExceptionStatus = "RESOLVED"
)

var exceptionTransitions = transition.Table[ExceptionStatus]{Resolved: {Open}}

// ExceptionFrom returns the states from which `to` may be reached.
func ExceptionFrom(to ExceptionStatus) []ExceptionStatus { return exceptionTransitions.From(to) }

// Exception is one difference between our records and the provider's bill
// for one merchant × channel × day. Its ID is derived from what it is about
// (ExceptionID), so a reconciliation run twice finds the same exception
// once. Fields are exported for the repositories; change them through the
// methods.
type Exception struct {
	ID            string
	CompanyID     string
	Merchant      string
	Channel       domain.Channel
	Day           calendar.Day
	Kind          Kind
	OrderID       string // our out_trade_no (or the refund's id)
	ProviderTxnID string
	OurFen        int64 // our amount (or fee)
	TheirFen      int64 // the bill's amount (or fee)
	Detail        string
	Repaired      bool // MissingLocal: the order was repaired from the bill

	Status     ExceptionStatus
	Version    int64
	FoundAt    time.Time
	Note       string
	ResolvedBy string
	ResolvedAt time.Time
}

// ExceptionID is the stable id of the exception of kind k about ref on a day.
func ExceptionID(ch domain.Channel, merchant string, day calendar.Day, k Kind, ref string) string {
	return string(ch) + "#" + merchant + "#" + string(day) + "#" + string(k) + "#" + ref
}

// NewException is an open exception found at `at`.
func NewException(e Exception, at time.Time) Exception {
	e.ID = ExceptionID(e.Channel, e.Merchant, e.Day, e.Kind, e.OrderID+e.ProviderTxnID)
	e.Status, e.Version, e.FoundAt = Open, 0, at
	return e
}

// Errors of Resolve.
var (
	ErrNoNote          = errors.New("settlement: a resolution needs a note")
	ErrAlreadyResolved = errors.New("settlement: exception already resolved")
	ErrNoResolver      = errors.New("settlement: a resolution needs who made it")
	maxNoteRunes       = 500
	ErrNoteTooLong     = fmt.Errorf("settlement: a note has at most %d characters", maxNoteRunes)
)

// Resolve closes the exception with a note by `by` (staff:<id>).
func (e *Exception) Resolve(note, by string, at time.Time) error {
	note = strings.TrimSpace(note)
	switch {
	case !exceptionTransitions.Allows(e.Status, Resolved):
		return ErrAlreadyResolved
	case note == "":
		return ErrNoNote
	case utf8.RuneCountInString(note) > maxNoteRunes:
		return ErrNoteTooLong
	case by == "":
		return ErrNoResolver
	}
	e.Status, e.Note, e.ResolvedBy, e.ResolvedAt = Resolved, note, by, at
	return nil
}

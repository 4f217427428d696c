package settlement

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// Hold keeps one payment out of settlement (S3: risk, F4's 48-hour rule
// when 分付 arrives): the statement of its payment day counts it as held
// (not paid out), and the statement of the day it is released counts it as
// released (paid out then). A hold is decided before its payment day is
// settled (store.Settlements.PlaceHold refuses a payment of a past day
// already settled, in the same transaction); settling a day again gives the
// same figures because a hold released later is still held on its payment
// day. A hold is released on the day it is released (never before its
// payment day), and paid out with that day's statement.
//
//	HELD ─release─► RELEASED
type Hold struct {
	OrderID     string
	CompanyID   string
	Merchant    string
	Channel     domain.Channel
	Method      string
	AmountFen   int64
	PaidDay     calendar.Day
	Reason      string
	By          string // who held it: risk:<rule>, staff:<id>
	HeldAt      time.Time
	ReleasedDay calendar.Day // "" while held
	ReleasedBy  string
	Version     int64
}

// Held reports whether the hold keeps its payment out of the statement of
// its payment day (a hold released on that same day does not).
func (h Hold) Held() bool { return h.ReleasedDay == "" || h.ReleasedDay > h.PaidDay }

// ReleasedOn reports whether the hold joins day d's statement as released.
func (h Hold) ReleasedOn(d calendar.Day) bool { return h.ReleasedDay == d && h.Held() }

// Errors of holds.
var (
	// ErrNotHeld: the hold was released already.
	ErrNotHeld = errors.New("settlement: hold already released")
	// ErrHoldInvalid: a hold without a reason or who, or of a payment that
	// is not on any statement (not paid).
	ErrHoldInvalid     = errors.New("settlement: invalid hold")
	maxHoldReasonRunes = 200
)

// NewHold holds payment o (HELD) for reason, by who (risk:<rule>,
// staff:<id>), at `at`: the whole payment, on the statement of its payment
// day.
func NewHold(o order.Order, reason, by string, at time.Time) (Hold, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case !Settlable(o) || o.MerchantID == "" || o.BusinessDay == "":
		return Hold{}, fmt.Errorf("%w: 该笔付款尚未支付成功，无需暂缓结算", ErrHoldInvalid)
	case reason == "" || utf8.RuneCountInString(reason) > maxHoldReasonRunes:
		return Hold{}, fmt.Errorf("%w: 请填写暂缓原因（最多 %d 个字）", ErrHoldInvalid, maxHoldReasonRunes)
	case by == "":
		return Hold{}, fmt.Errorf("%w: who holds is required", ErrHoldInvalid)
	}
	return Hold{OrderID: o.ID, CompanyID: o.CompanyID, Merchant: o.MerchantID, Channel: o.Channel, Method: o.Method, AmountFen: o.AmountFen,
		PaidDay: o.BusinessDay, Reason: reason, By: by, HeldAt: at}, nil
}

// Release lets the payment be paid out with day's statement.
func (h *Hold) Release(day calendar.Day, by string) error {
	if h.ReleasedDay != "" {
		return ErrNotHeld
	}
	if day < h.PaidDay {
		day = h.PaidDay
	}
	h.ReleasedDay, h.ReleasedBy = day, by
	return nil
}

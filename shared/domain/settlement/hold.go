package settlement

import (
	"errors"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// Hold keeps one payment out of settlement (S3: risk, F4's 48-hour rule
// when 分付 arrives): the statement of its payment day counts it as held
// (not paid out), and the statement of the day it is released counts it as
// released (paid out then). A hold is decided before its payment day is
// settled; settling a day again gives the same figures because a hold
// released later is still held on its payment day.
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

// ErrNotHeld: the hold was released already.
var ErrNotHeld = errors.New("settlement: hold already released")

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

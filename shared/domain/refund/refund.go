// Package refund is the Refund aggregate (X3): money going back to the payer
// of one order through the provider that took it, in full or in part, and its
// state machine.
//
//	REQUESTED ─accept─► PROCESSING ─succeed─► SUCCEEDED
//	    │  └──────────succeed──────────────────┘
//	    └──fail──► FAILED ◄──fail── PROCESSING
//
// A refund is stored (REQUESTED) in the same transaction that takes its
// amount from the order (order.StartRefund), before the provider is asked:
// two refunds can never together exceed what was paid, and a crash between
// our write and the provider's answer leaves a REQUESTED refund that the
// sweeper submits again under the same id (the provider's out_refund_no /
// out_request_no), so it is never refunded twice. The domain has no clock.
package refund

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/transition"
)

// Status is a refund's state.
type Status string

const (
	Requested  Status = "REQUESTED"
	Processing Status = "PROCESSING"
	Succeeded  Status = "SUCCEEDED"
	Failed     Status = "FAILED"
)

var transitions = transition.Table[Status]{
	Processing: {Requested},
	Succeeded:  {Requested, Processing},
	Failed:     {Requested, Processing},
}

// From returns the states from which `to` may be reached.
func From(to Status) []Status { return transitions.From(to) }

// Final reports whether the refund takes no more changes.
func (s Status) Final() bool { return s == Succeeded || s == Failed }

// Refund is the aggregate. Fields are exported for the repositories; change
// them only through the methods below.
type Refund struct {
	ID          string // our out_refund_no / out_request_no
	OrderID     string
	CompanyID   string
	CommunityID string
	Channel     domain.Channel
	IfaceID     string
	// MerchantID and Method are the payment's: a succeeded refund is on the
	// statement of its merchant × channel × method of the business day it
	// succeeded (SettleDay), as the providers' bills list it.
	MerchantID  string
	Method      string
	AmountFen   int64
	OrderFen    int64        // the payment's amount (WeChat needs it)
	PaidDay     calendar.Day // the payment's business day (the dashboard nets the refund there)
	Reason      string
	By          string   // staff:<id>, or "auto" (a notice paid twice)
	ReopenBills []string // bills of the order to open again when it succeeds

	Status           Status
	Version          int64
	ProviderRefundID string
	CreatedAt        time.Time
	SucceededAt      time.Time
	FailedAt         time.Time
	FailReason       string
	NextCheckAt      time.Time // when the sweeper submits or asks again (zero once final)
	Attempts         int
}

// Errors.
var (
	ErrInvalid    = errors.New("refund: invalid")
	ErrNotAllowed = errors.New("refund: transition not allowed")
	ErrNoChange   = errors.New("refund: already in that state")
	ErrNotFound   = errors.New("refund: not found")
	ErrExists     = errors.New("refund: exists")
)

// ID derives a refund id (≤ 64 characters, the providers' limit) from the
// order and the requester's idempotency key: a retried request names the
// same refund.
func ID(orderID, key string) string {
	sum := sha256.Sum256([]byte(orderID + "\x00" + key))
	return "RF" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:26]
}

// IsID reports whether id has the shape ID produces.
func IsID(id string) bool {
	if len(id) != 28 || !strings.HasPrefix(id, "RF") {
		return false
	}
	for _, c := range id[2:] {
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// AutoReason is the reason of an automatic refund of a notice paid twice.
const AutoReason = "账单已由他人缴清，款项原路退回"

// New is a refund of amount from o, REQUESTED, checked. Whether o can give
// that much back is the order's rule (order.StartRefund), applied in the
// same transaction.
func New(id string, o order.Order, amount int64, reason, by string, reopen []string, now, firstCheck time.Time) (Refund, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case !IsID(id):
		return Refund{}, fmt.Errorf("%w: malformed id", ErrInvalid)
	case amount <= 0:
		return Refund{}, fmt.Errorf("%w: 退款金额必须大于 0", ErrInvalid)
	case amount > o.AmountFen:
		return Refund{}, fmt.Errorf("%w: 退款金额不能超过付款金额 %s 元", ErrInvalid, domain.FormatYuan(o.AmountFen))
	case reason == "" || utf8.RuneCountInString(reason) > 80:
		return Refund{}, fmt.Errorf("%w: 请填写退款原因（最多 80 个字）", ErrInvalid)
	case by == "":
		return Refund{}, fmt.Errorf("%w: who asks is required", ErrInvalid)
	}
	for _, b := range reopen {
		if !contains(o.BillIDs, b) {
			return Refund{}, fmt.Errorf("%w: 账单 %s 不是这笔付款缴的", ErrInvalid, b)
		}
	}
	return Refund{ID: id, OrderID: o.ID, CompanyID: o.CompanyID, CommunityID: o.CommunityID, Channel: o.Channel, IfaceID: o.IfaceID,
		MerchantID: o.MerchantID, Method: o.Method, AmountFen: amount, OrderFen: o.AmountFen, PaidDay: o.BusinessDay, Reason: reason, By: by, ReopenBills: reopen,
		Status: Requested, Version: 1, CreatedAt: now, NextCheckAt: firstCheck}, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// SettleDay is the Asia/Shanghai business day a succeeded refund is settled
// on: the day it succeeded (ok false while it has not).
func (r Refund) SettleDay() (calendar.Day, bool) {
	if r.Status != Succeeded || r.SucceededAt.IsZero() {
		return "", false
	}
	return calendar.BusinessDay(r.SucceededAt), true
}

// Accept records that the provider took the request: REQUESTED → PROCESSING.
func (r *Refund) Accept(providerRefundID string, nextCheck time.Time) error {
	if r.Status == Processing {
		return ErrNoChange
	}
	if !transitions.Allows(r.Status, Processing) {
		return fmt.Errorf("%w: %s → %s", ErrNotAllowed, r.Status, Processing)
	}
	r.Status, r.ProviderRefundID, r.NextCheckAt = Processing, providerRefundID, nextCheck
	r.Version++
	return nil
}

// Succeed records the provider's confirmation: REQUESTED|PROCESSING → SUCCEEDED.
func (r *Refund) Succeed(providerRefundID string, at time.Time) error {
	if r.Status == Succeeded {
		return ErrNoChange
	}
	if !transitions.Allows(r.Status, Succeeded) {
		return fmt.Errorf("%w: %s → %s", ErrNotAllowed, r.Status, Succeeded)
	}
	if providerRefundID != "" {
		r.ProviderRefundID = providerRefundID
	}
	r.Status, r.SucceededAt, r.NextCheckAt = Succeeded, at, time.Time{}
	r.Version++
	return nil
}

// Fail records that the refund will not happen (the provider refused or
// closed it): REQUESTED|PROCESSING → FAILED. Its amount goes back to what the
// order can refund (order.RefundFailed, same transaction).
func (r *Refund) Fail(why string, at time.Time) error {
	if r.Status == Failed {
		return ErrNoChange
	}
	if !transitions.Allows(r.Status, Failed) {
		return fmt.Errorf("%w: %s → %s", ErrNotAllowed, r.Status, Failed)
	}
	r.Status, r.FailedAt, r.FailReason, r.NextCheckAt = Failed, at, why, time.Time{}
	r.Version++
	return nil
}

// Retry counts a failed attempt to reach the provider and moves the next one
// to at. Not a state change; the version moves so a concurrent change wins.
func (r *Refund) Retry(at time.Time) {
	if r.Status.Final() {
		return
	}
	r.Attempts++
	r.NextCheckAt = at
	r.Version++
}

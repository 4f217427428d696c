package fenfu

import (
	"errors"
	"fmt"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// RecordKind is a kind of 分付 record, as far as keeping it is concerned (F6).
type RecordKind string

const (
	// TransactionRecord is a 分付 payment's details (交易明细): kept 5 years from
	// the payment; a dispute keeps it while open and 2 years after it closes.
	TransactionRecord RecordKind = "transaction"
	// AuthorisationRecord is a payer's authorisation (用户授权书): kept while the
	// contract is in force and 5 years after it ends.
	AuthorisationRecord RecordKind = "authorisation"
	// RiskRecordKind is a risk record (风控记录, RiskRecord): kept 3 years.
	RiskRecordKind RecordKind = "risk"
)

// Retention periods, in years (F6, seed 002 五、数据管理规范).
const (
	TransactionYears   = 5
	DisputeAfterYears  = 2 // a disputed transaction, after the dispute closes
	AuthorisationYears = 5 // after the contract ends
	RiskYears          = 3
)

// RetentionDates are what a record's retention is computed from.
type RetentionDates struct {
	// At is when the record was made: the payment of a transaction, the
	// decision of a risk record, the signing of an authorisation.
	At time.Time
	// ContractEnd is when an authorisation's contract ended; zero while it
	// is in force (kept, no expiry).
	ContractEnd time.Time
	// OpenDisputes counts the disputes open on the record: while any is, a
	// legal hold suspends its deletion, whatever its kind.
	OpenDisputes int
	// LastDisputeClosed is when its last dispute closed (zero: none closed).
	LastDisputeClosed time.Time
}

// ErrNoOpenDispute is closing a dispute on a record that has none open.
var ErrNoOpenDispute = errors.New("fenfu: no open dispute to close")

// DisputeOpened is d with one more open dispute: a legal hold from now on
// (ExpiresAt gives no expiry; the store removes the TTL attribute).
func (d RetentionDates) DisputeOpened() RetentionDates {
	d.OpenDisputes++
	return d
}

// DisputeClosed is d with one dispute closed at 'at'. When it was the last
// open one, the hold ends and the record's expiry is computed again: for a
// transaction no earlier than 2 years after at.
func (d RetentionDates) DisputeClosed(at time.Time) (RetentionDates, error) {
	if d.OpenDisputes <= 0 {
		return d, ErrNoOpenDispute
	}
	d.OpenDisputes--
	if at.After(d.LastDisputeClosed) {
		d.LastDisputeClosed = at
	}
	return d, nil
}

// Held reports whether a legal hold (an open dispute) suspends deletion.
func (d RetentionDates) Held() bool { return d.OpenDisputes > 0 }

// ExpiresAt is when a record of kind k with dates d may be deleted, in epoch
// seconds: the value of its DynamoDB TTL attribute (expires_at). ok is false
// when it has no expiry for now — held by an open dispute, or an
// authorisation whose contract is in force — and the attribute must be
// absent (DynamoDB's TTL never deletes an item without it). Years are
// calendar years in Asia/Shanghai (29 February plus a year is 1 March).
func ExpiresAt(k RecordKind, d RetentionDates) (expiresAt int64, ok bool, err error) {
	if d.Held() {
		return 0, false, nil
	}
	var until time.Time
	switch k {
	case TransactionRecord:
		if d.At.IsZero() {
			return 0, false, errors.New("fenfu: a transaction's retention needs its payment time")
		}
		until = addYears(d.At, TransactionYears)
		if !d.LastDisputeClosed.IsZero() {
			until = later(until, addYears(d.LastDisputeClosed, DisputeAfterYears))
		}
	case AuthorisationRecord:
		if d.ContractEnd.IsZero() {
			return 0, false, nil
		}
		until = addYears(d.ContractEnd, AuthorisationYears)
	case RiskRecordKind:
		if d.At.IsZero() {
			return 0, false, errors.New("fenfu: a risk record's retention needs its decision time")
		}
		until = addYears(d.At, RiskYears)
	default:
		return 0, false, fmt.Errorf("fenfu: unknown record kind %q", k)
	}
	// A hold that ended after the record's own term: it goes no earlier than
	// the hold's end (then at once, as the term is over).
	until = later(until, d.LastDisputeClosed)
	return until.Unix(), true, nil
}

// Expired reports whether a record whose TTL attribute is expiresAt (ok
// false: none) is past its retention at now. DynamoDB's TTL deletes such
// items within days, not at once, and the local stack has no TTL: readers
// treat an expired item as gone.
func Expired(expiresAt int64, ok bool, now time.Time) bool {
	return ok && now.Unix() > expiresAt
}

func addYears(t time.Time, n int) time.Time { return calendar.Local(t).AddDate(n, 0, 0) }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

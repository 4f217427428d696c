package notification

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// Kinds of the messages to a company's admins about exceptions: each event
// goes to every admin once, at once (no throttle, no digest).
const (
	RefundFailed Kind = "refund_failed"     // a refund the provider closed or found abnormal
	Exceptions   Kind = "settle_exceptions" // reconciliation found new differences
)

// EventExceptionsFound is the type of SettleFunction's event: a
// reconciliation of one interface and day found differences for the first time.
const EventExceptionsFound = "settlement.exceptions"

// ExceptionsFound is the event SettleFunction publishes to the notification
// queue (JSON, the same envelope fields as the order events: event_id, type,
// company_id, occurred_at). One run of one interface and day publishes at
// most one, and only when it found new exceptions: a rerun that finds
// nothing new publishes nothing, and one that finds more publishes its own.
type ExceptionsFound struct {
	ID        string       `json:"event_id"` // settle:<interface>:<day>:<run>
	Type      string       `json:"type"`
	CompanyID string       `json:"company_id"`
	IfaceID   string       `json:"iface_id"`
	Merchant  string       `json:"merchant_id"`
	Channel   string       `json:"channel"`
	Day       calendar.Day `json:"business_day"`
	New       int          `json:"new_exceptions"`
	At        time.Time    `json:"occurred_at"`
}

// NewExceptionsFound is the event of run (an id of the settlement run, e.g.
// the invocation's request id) finding n new exceptions.
func NewExceptionsFound(companyID, ifaceID, merchant, channel string, day calendar.Day, n int, run string, at time.Time) ExceptionsFound {
	return ExceptionsFound{ID: "settle:" + ifaceID + ":" + string(day) + ":" + run, Type: EventExceptionsFound, CompanyID: companyID,
		IfaceID: ifaceID, Merchant: merchant, Channel: channel, Day: day, New: n, At: at}
}

// Group is the FIFO message group of the event: one interface and day (its
// runs' events in order).
func (e ExceptionsFound) Group() string { return fifoID("settle:" + e.IfaceID + ":" + string(e.Day)) }

// DedupID is the FIFO deduplication id: the event id (a resent event of the
// same run is dropped; another run's is not).
func (e ExceptionsFound) DedupID() string { return fifoID(e.ID) }

// fifoID keeps an id within SQS's 128 characters (a longer one is hashed).
func fifoID(s string) string {
	if len(s) <= 128 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Retry delays of a message whose handling failed for a reason that may
// pass (a provider timeout, a throttled table): exponential in the number of
// times the message was received, from RetryBase (QuotaRetryBase when a
// sending quota is used up, e.g. the official account's 45009) up to the cap.
const (
	RetryBase      = 30 * time.Second
	RetryCap       = 15 * time.Minute
	QuotaRetryBase = 5 * time.Minute
	QuotaRetryCap  = 2 * time.Hour
)

// RetryDelay is how long a message received `receives` times (1 the first
// time) waits before it is handled again.
func RetryDelay(receives int, quota bool) time.Duration {
	base, ceiling := RetryBase, RetryCap
	if quota {
		base, ceiling = QuotaRetryBase, QuotaRetryCap
	}
	d := base
	for i := 1; i < receives && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

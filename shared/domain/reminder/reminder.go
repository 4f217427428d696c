// Package reminder is the arrears reminder (催缴): which houses of a
// community are due a reminder of their overdue bills, and when nothing may
// be sent at all. It is pure: callers pass the time.
//
// A house is due a reminder when it has an overdue bill (due before today,
// neither paid nor waived), has not opted out (不接收催缴, every channel),
// has a contact (the owner's phone, or a WeChat a resident bound to the
// house for official-account messages), and was not reminded within its company's period
// (default 7 days: reminded at T, due again from T + period). Nothing is sent
// in the quiet hours, 21:00 to 08:00 Asia/Shanghai: a run inside them sends
// nothing and says so — the houses stay due and the next run outside them
// reminds them (deferred, not dropped).
//
// The throttle holds the last reminder that counts: a sent one, or one being
// sent (claimed). A send that failed gives its claim back (LastAt returns to
// the reminder before it), so the next run tries again and the house still
// gets at most one delivered reminder per period.
package reminder

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
)

// DefaultPeriod is the least time between two reminders of a house.
const DefaultPeriod = 7 * 24 * time.Hour

// Quiet hours, Asia/Shanghai: from QuietFrom:00 to QuietUntil:00.
const (
	QuietFrom  = 21
	QuietUntil = 8
)

// Quiet reports whether t is in the quiet hours (21:00:00 ≤ local < 08:00:00).
func Quiet(t time.Time) bool {
	h := calendar.Local(t).Hour()
	return h >= QuietFrom || h < QuietUntil
}

// QuietMessage is what a run in the quiet hours says.
const QuietMessage = "免打扰时段（21:00–08:00），本次不发送催缴，下次运行时补发"

// Settings are a company's reminder settings for one community (data, not code).
type Settings struct {
	CompanyID   string
	CommunityID string
	Enabled     bool
	PeriodDays  int // 0: DefaultPeriod
}

// Period is the settings' least time between two reminders of a house.
func (s Settings) Period() time.Duration {
	if s.PeriodDays <= 0 {
		return DefaultPeriod
	}
	return time.Duration(s.PeriodDays) * 24 * time.Hour
}

// MaxPeriodDays bounds the configurable period.
const MaxPeriodDays = 90

// ErrInvalid: settings or a record break an invariant.
var ErrInvalid = errors.New("reminder: invalid")

// Check validates settings.
func (s Settings) Check() error {
	if s.CompanyID == "" || s.CommunityID == "" {
		return fmt.Errorf("%w: 缺少公司或小区", ErrInvalid)
	}
	if s.PeriodDays < 0 || s.PeriodDays > MaxPeriodDays {
		return fmt.Errorf("%w: 催缴间隔应为 1 到 %d 天", ErrInvalid, MaxPeriodDays)
	}
	return nil
}

// Throttle is a house's reminder state: the last reminder that counts and
// the opt-out. Version is the store's optimistic lock (0: never written).
type Throttle struct {
	CompanyID  string
	HouseID    string
	Version    int64
	LastAt     time.Time // the last sent (or being sent) reminder; zero: none
	LastID     string
	OptedOut   bool
	OptedBy    string // staff:<id> or resident (the 退订 link)
	OptedAt    time.Time
	PrevLastAt time.Time // LastAt before the claim of LastID (given back when its send fails)
	PrevLastID string
	// OpenID is the official-account openid a resident bound to the house
	// (微信接收缴费提醒, snsapi_base of the platform's official account); ""
	// none. A house with one gets a template message instead of the SMS.
	OpenID  string
	BoundAt time.Time
}

// HasContact reports whether the house can be reached at all: the owner's
// phone (SMS) or a bound official-account openid.
func HasContact(h house.House, t Throttle) bool { return Contact(h) != "" || t.OpenID != "" }

// Overdue picks the bills overdue on today: due before it and neither paid
// nor waived (a reserved bill is still owed), oldest period first.
func Overdue(bills []bill.Bill, today calendar.Day) []bill.Bill {
	var out []bill.Bill
	for _, b := range bills {
		if !b.Status.Final() && b.DueDate != "" && b.DueDate < today {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b bill.Bill) int {
		switch {
		case a.Period != b.Period:
			return cmp(a.Period, b.Period)
		case a.FeeItem != b.FeeItem:
			return cmp(a.FeeItem, b.FeeItem)
		}
		return cmp(a.ID, b.ID)
	})
	if len(out) > bill.MaxBatch {
		out = out[:bill.MaxBatch]
	}
	return out
}

func cmp(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Outcome is what a run decides for one house.
type Outcome string

const (
	Due          Outcome = "due"         // remind it now
	NothingDue   Outcome = "nothing_due" // no overdue bill
	OptedOut     Outcome = "opted_out"   // 不接收催缴
	NoContact    Outcome = "no_contact"  // no phone: the printed 催缴单
	RecentlySent Outcome = "recent"      // reminded within the period
)

// Decide is the rule for one house at now. overdue are its overdue bills
// (Overdue); t its throttle (zero: never reminded, not opted out).
func Decide(h house.House, overdue []bill.Bill, t Throttle, period time.Duration, now time.Time) Outcome {
	switch {
	case len(overdue) == 0:
		return NothingDue
	case t.OptedOut:
		return OptedOut
	case !HasContact(h, t):
		return NoContact
	case !t.LastAt.IsZero() && now.Sub(t.LastAt) < period:
		return RecentlySent
	}
	return Due
}

// Contact is the house's SMS address: the owner's phone.
func Contact(h house.House) string { return h.OwnerPhone }

// Channel is how a reminder went out.
type Channel string

const (
	SMS Channel = "sms"
	// WechatOA is the platform official account's template message
	// (公众号模板消息) to the openid a resident bound to the house.
	WechatOA Channel = "wechat_oa"
)

// Status of a reminder record.
type Status string

const (
	Sending Status = "sending" // claimed, being sent (a crash here holds the period: at most once)
	Sent    Status = "sent"
	Failed  Status = "failed" // the claim is given back; the next run retries
)

// Record is one reminder of one house.
type Record struct {
	ID          string
	CompanyID   string
	CommunityID string
	HouseID     string
	At          time.Time
	Channel     Channel
	To          string // the masked phone (138****0001)
	BillIDs     []string
	AmountFen   int64
	NoticeID    string
	Status      Status
	Error       string
	DoneAt      time.Time
	// Attempts are the sends tried, in order: an official-account message
	// the resident cannot receive (43004 not following, 40003 openid) is
	// followed by the SMS when the house has a phone. Channel and To are
	// the last one's.
	Attempts []Attempt
}

// Attempt is one send of a reminder.
type Attempt struct {
	Channel Channel
	To      string // masked
	OK      bool
	Error   string // what went wrong, for people (e.g. 未关注公众号)
}

// Claim is the throttle after claiming the period for record r at now: the
// store writes it under t's version and the condition that no reminder was
// made since now − period.
func Claim(t Throttle, r Record) Throttle {
	t.PrevLastAt, t.PrevLastID = t.LastAt, t.LastID
	t.LastAt, t.LastID = r.At, r.ID
	return t
}

// GiveBack is the throttle after r's send failed: the claim is returned
// (only if r still holds it).
func GiveBack(t Throttle, r Record) (Throttle, bool) {
	if t.LastID != r.ID {
		return t, false
	}
	t.LastAt, t.LastID = t.PrevLastAt, t.PrevLastID
	t.PrevLastAt, t.PrevLastID = time.Time{}, ""
	return t, true
}

// MaskOpenID writes a bound openid as pages and records show it: its last
// four characters (微信 …a1b2).
func MaskOpenID(id string) string {
	if id == "" {
		return ""
	}
	if len(id) > 4 {
		id = id[len(id)-4:]
	}
	return "微信 …" + id
}

// MaskPhone writes a phone as people may see it on a page: 138****0001.
func MaskPhone(p string) string {
	if len(p) != 11 {
		return p
	}
	return p[:3] + "****" + p[7:]
}

// Summary is one community's run.
type Summary struct {
	CompanyID   string    `json:"company"`
	CommunityID string    `json:"community"`
	At          time.Time `json:"at"`
	Deferred    bool      `json:"deferred,omitempty"` // quiet hours: nothing sent
	Message     string    `json:"message,omitempty"`
	Houses      int       `json:"houses"` // with overdue bills
	Sent        int       `json:"sent"`
	SentWechat  int       `json:"sent_wechat"` // of Sent, by official-account message
	Failed      int       `json:"failed"`
	Recent      int       `json:"recent"`
	OptedOut    int       `json:"opted_out"`
	NoContact   int       `json:"no_contact"`
	Stopped     bool      `json:"stopped,omitempty"` // the deadline came first; the rest next run
	Errors      int       `json:"errors"`            // houses skipped by a store error (retried next run)
}

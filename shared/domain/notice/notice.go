// Package notice is the payment notice (缴费通知单, C6): a house's unpaid
// bills, grouped under one unguessable id whose URL (/n/{id}) is the notice's
// QR code. The notice never stores an amount: what it asks is computed from
// its bills as they are now (Summarize), so a partly paid notice asks only
// what remains and a settled one asks nothing.
package notice

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
)

// Notice is the record. Building/Unit/Room and OwnerName are copied from the
// house when the notice is made (the printout shows them).
type Notice struct {
	ID          string
	CompanyID   string
	CommunityID string
	HouseID     string
	Building    string
	Unit        string
	Room        string
	OwnerName   string
	BillIDs     []string     // at most bill.MaxBatch, ordered by period then fee item
	DueDate     calendar.Day // the latest due date of its bills
	CreatedAt   time.Time
	CreatedBy   string // staff:<id>, seed, …
	// CollectorID is the business manager whose 应收款 this is (a one-time
	// code for chosen bills, issue 11): payments of it are in their 收款记录.
	CollectorID string
}

// Errors.
var (
	ErrNotFound = errors.New("notice: not found")
	// ErrNothingToBill: the house has no unpaid bills.
	ErrNothingToBill = errors.New("notice: the house has no unpaid bills")
)

// NewID is a notice id: 128 random bits, base64url (22 characters), the
// shape of a code token (domain.IsCodeToken).
func NewID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("notice: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// New makes a notice for h from its bills: every bill that is not paid or
// waived at now (unpaid, or reserved — a reservation may yet be released),
// up to bill.MaxBatch of them, oldest period first.
func New(id string, h house.House, bills []bill.Bill, by string, now time.Time) (Notice, error) {
	n := Notice{ID: id, CompanyID: h.CompanyID, CommunityID: h.CommunityID, HouseID: h.ID,
		Building: h.Building, Unit: h.Unit, Room: h.Room, OwnerName: h.OwnerName, CreatedAt: now, CreatedBy: by}
	open := make([]bill.Bill, 0, len(bills))
	for _, b := range bills {
		if b.HouseID == h.ID && b.CompanyID == h.CompanyID && !b.Status.Final() {
			open = append(open, b)
		}
	}
	if len(open) == 0 {
		return Notice{}, ErrNothingToBill
	}
	slices.SortFunc(open, func(a, b bill.Bill) int {
		if a.Period != b.Period {
			return cmpString(a.Period, b.Period)
		}
		if a.FeeItem != b.FeeItem {
			return cmpString(a.FeeItem, b.FeeItem)
		}
		return cmpString(a.ID, b.ID)
	})
	if len(open) > bill.MaxBatch {
		open = open[:bill.MaxBatch]
	}
	for _, b := range open {
		n.BillIDs = append(n.BillIDs, b.ID)
		if b.DueDate > n.DueDate {
			n.DueDate = b.DueDate
		}
	}
	if id == "" || by == "" {
		return Notice{}, fmt.Errorf("notice: id and author are required")
	}
	return n, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Label is the house as people write it.
func (n Notice) Label() string { return house.Label(n.Building, n.Unit, n.Room) }

// ItemState is what one line of a notice shows.
type ItemState string

const (
	ItemOpen   ItemState = "open"   // to pay now
	ItemPaying ItemState = "paying" // someone's payment holds it (正在支付)
	ItemPaid   ItemState = "paid"   // 已缴
	ItemWaived ItemState = "waived" // 已减免
)

// Item is one line of a notice.
type Item struct {
	Bill  bill.Bill
	State ItemState
}

// Summary is a notice as it stands at one moment.
type Summary struct {
	Items    []Item
	OpenIDs  []string // the bills a payment now pays
	OpenFen  int64    // what a payment now asks (C6: only what remains)
	PaidFen  int64
	TotalFen int64 // every line, paid or not (the printed total)
	Paying   bool  // some line is held by a payment in progress
	Settled  bool  // nothing is left to pay or in payment (C6: no amount to pay)
}

// Summarize computes what the notice asks at now from its bills (in the
// notice's order; bills missing from `bills` are skipped).
func Summarize(n Notice, bills []bill.Bill, now time.Time) Summary {
	byID := make(map[string]bill.Bill, len(bills))
	for _, b := range bills {
		byID[b.ID] = b
	}
	var s Summary
	for _, id := range n.BillIDs {
		b, ok := byID[id]
		if !ok {
			continue
		}
		it := Item{Bill: b}
		switch {
		case b.Status == bill.Paid:
			it.State, s.PaidFen = ItemPaid, s.PaidFen+b.AmountFen
		case b.Status == bill.Waived:
			it.State = ItemWaived
		case b.Held(now):
			it.State, s.Paying = ItemPaying, true
		default:
			it.State = ItemOpen
			s.OpenIDs, s.OpenFen = append(s.OpenIDs, b.ID), s.OpenFen+b.AmountFen
		}
		if b.Status != bill.Waived {
			s.TotalFen += b.AmountFen
		}
		s.Items = append(s.Items, it)
	}
	s.Settled = len(s.OpenIDs) == 0 && !s.Paying
	return s
}

// NoticeURL is the notice's pay URL, what its QR code encodes: the public
// base URL (the deployment's PUBLIC_BASE_URL) and /n/<id>. The console
// prints it and the landing function serves it.
func NoticeURL(base, id string) string {
	return strings.TrimRight(base, "/") + "/n/" + url.PathEscape(id)
}

// SameBills reports whether the notice covers exactly the bills ids (in any
// order): a batch that would make such a notice again makes none.
func (n Notice) SameBills(ids []string) bool {
	if len(ids) != len(n.BillIDs) {
		return false
	}
	a, b := slices.Clone(n.BillIDs), slices.Clone(ids)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

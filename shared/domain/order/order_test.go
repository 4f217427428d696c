package order

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai

func newOrder(t *testing.T) Order {
	t.Helper()
	o, err := New(Order{ID: "EPX", CommunityID: "com", CompanyID: "co", IfaceID: "ali-1", MerchantID: "2088", AppID: "2021", AmountFen: 1234}, t0, 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func pay(txn string) Payment {
	return Payment{ProviderTxnID: txn, AmountFen: 1234, PaidAt: t0.Add(time.Minute), MerchantID: "2088", AppID: "2021", PayerID: "buyer"}
}

func TestTransitionTable(t *testing.T) {
	all := []Status{Created, Pending, Paid, Closed, Refunded, ""}
	allowed := map[[2]Status]bool{
		{Created, Pending}: true, {Pending, Pending}: true,
		{Created, Paid}: true, {Pending, Paid}: true, {Closed, Paid}: true,
		{Created, Closed}: true, {Pending, Closed}: true,
		{Created, Refunded}: true, {Pending, Refunded}: true, {Closed, Refunded}: true, {Paid, Refunded}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got, want := CanTransition(from, to), allowed[[2]Status{from, to}]; got != want {
				t.Errorf("CanTransition(%q, %q) = %v, want %v", from, to, got, want)
			}
		}
	}
	for s, want := range map[Status]bool{Created: false, Pending: false, Paid: true, Closed: true, Refunded: true} {
		if s.Final() != want {
			t.Errorf("%s.Final() = %v", s, !want)
		}
	}
}

func TestNewRequiresMerchantAndApp(t *testing.T) {
	base := Order{ID: "EPX", CommunityID: "com", CompanyID: "co", IfaceID: "i", MerchantID: "m", AppID: "a", AmountFen: 1}
	for name, mut := range map[string]func(*Order){
		"no merchant": func(o *Order) { o.MerchantID = "" },
		"no app":      func(o *Order) { o.AppID = "" },
		"zero amount": func(o *Order) { o.AmountFen = 0 },
		"no id":       func(o *Order) { o.ID = "" },
	} {
		o := base
		mut(&o)
		if _, err := New(o, t0, time.Minute, time.Minute); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	o, err := New(base, t0, 10*time.Minute, 2*time.Minute)
	if err != nil || o.Status != Created || o.Version != 1 || !o.ExpireAt.Equal(t0.Add(10*time.Minute)) || !o.NextCheckAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("New = %+v %v", o, err)
	}
}

func TestPayOnceAndChecks(t *testing.T) {
	o := newOrder(t)
	for name, mut := range map[string]func(*Payment){
		"amount short":   func(p *Payment) { p.AmountFen-- },
		"other merchant": func(p *Payment) { p.MerchantID = "2099" },
		"no merchant":    func(p *Payment) { p.MerchantID = "" },
		"other app":      func(p *Payment) { p.AppID = "2022" },
		"no txn":         func(p *Payment) { p.ProviderTxnID = "" },
	} {
		p := pay("T1")
		mut(&p)
		c := o
		if err := c.Pay(p); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: err = %v, want ErrMismatch", name, err)
		}
		if c.Status != Created || c.Version != 1 {
			t.Errorf("%s: changed the order: %+v", name, c)
		}
	}
	if err := o.Pay(pay("T1")); err != nil {
		t.Fatal(err)
	}
	if o.Status != Paid || o.Version != 2 || o.ProviderTxnID != "T1" || o.BusinessDay != "2026-11-29" || !o.NextCheckAt.IsZero() {
		t.Fatalf("paid = %+v", o)
	}
	if err := o.Pay(pay("T1")); !errors.Is(err, ErrNoChange) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := o.Pay(pay("T2")); !errors.Is(err, ErrMismatch) {
		t.Fatalf("second transaction: %v", err)
	}
	if o.Version != 2 {
		t.Fatalf("duplicates bumped the version: %d", o.Version)
	}
}

func TestCloseThenLatePayment(t *testing.T) {
	o := newOrder(t)
	if err := o.Close(t0.Add(11 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(t0.Add(12 * time.Minute)); !errors.Is(err, ErrNoChange) {
		t.Fatalf("close twice: %v", err)
	}
	if err := o.SetPrepay("{}", t0); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("prepay on closed: %v", err)
	}
	if err := o.Pay(pay("T1")); err != nil || o.Status != Paid {
		t.Fatalf("late payment: %v %+v", err, o)
	}
	if err := o.Close(t0); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("close paid: %v", err)
	}
}

// Bug 1: a trade refunded before we saw it paid is REFUNDED, never PAID.
func TestRefundIsItsOwnOutcome(t *testing.T) {
	o := newOrder(t)
	if err := o.Refund(pay("T1"), t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if o.Status != Refunded || o.PaidAt.IsZero() || o.BusinessDay == "" {
		t.Fatalf("refunded = %+v", o)
	}
	if err := o.Pay(pay("T1")); !errors.Is(err, ErrNoChange) || o.Status != Refunded {
		t.Fatalf("late paid report of the refunded trade: %v, %s", err, o.Status)
	}
	if err := o.Pay(pay("T9")); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("another payment after refund: %v", err)
	}
	p := newOrder(t)
	_ = p.Pay(pay("T1"))
	if err := p.Refund(pay("T2"), t0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("refund of another trade: %v", err)
	}
	if err := p.Refund(pay("T1"), t0.Add(time.Hour)); err != nil || p.Status != Refunded {
		t.Fatalf("refund of the paid trade: %v %+v", err, p)
	}
}

func TestSetPrepayExpired(t *testing.T) {
	o := newOrder(t)
	if err := o.SetPrepay(`{"a":1}`, t0.Add(10*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("prepay at expiry: %v", err)
	}
	if err := o.SetPrepay(`{"a":1}`, t0); err != nil || o.Status != Pending || o.Version != 2 {
		t.Fatalf("prepay: %v %+v", err, o)
	}
}

func TestPostponeStopsAtExpiry(t *testing.T) {
	o := newOrder(t)
	o.Postpone(t0.Add(time.Hour))
	if !o.NextCheckAt.Equal(o.ExpireAt) {
		t.Fatalf("next check %v, want the expiry %v", o.NextCheckAt, o.ExpireAt)
	}
	o.Postpone(t0.Add(2 * time.Hour)) // already at expiry: later checks back off
	if !o.NextCheckAt.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("next check after expiry = %v", o.NextCheckAt)
	}
}

func TestChangeGivesOneEventPerTransition(t *testing.T) {
	o := newOrder(t)
	if _, ok := Change(nil, o); ok {
		t.Fatal("creation gave an event")
	}
	before := o
	_ = o.SetPrepay("{}", t0)
	if _, ok := Change(&before, o); ok {
		t.Fatal("prepay gave an event")
	}
	before = o
	o.Postpone(t0.Add(5 * time.Minute))
	if _, ok := Change(&before, o); ok {
		t.Fatal("postpone gave an event")
	}
	before = o
	_ = o.Pay(pay("T1"))
	e, ok := Change(&before, o)
	if !ok || e.Type != EventPaid || e.ID != "EPX:4" || e.From != Pending || e.AmountFen != 1234 || e.PaidAt == nil || e.BusinessDay != "2026-11-29" {
		t.Fatalf("paid event = %+v %v", e, ok)
	}
	again, _ := Change(&before, o)
	if again.ID != e.ID {
		t.Fatal("the same change gave another event id")
	}
	before = o
	_ = o.Refund(pay("T1"), t0.Add(time.Hour))
	if e, ok := Change(&before, o); !ok || e.Type != EventRefunded || e.ID != "EPX:5" {
		t.Fatalf("refund event = %+v", e)
	}
	c := newOrder(t)
	cb := c
	_ = c.Close(t0)
	if e, ok := Change(&cb, c); !ok || e.Type != EventClosed {
		t.Fatalf("close event = %+v", e)
	}
}

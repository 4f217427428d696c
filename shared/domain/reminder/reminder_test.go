package reminder

import (
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, calendar.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func TestQuietBoundaries(t *testing.T) {
	for _, c := range []struct {
		at    string
		quiet bool
	}{
		{"2026-12-07 20:59:59", false},
		{"2026-12-07 21:00:00", true},
		{"2026-12-07 23:59:59", true},
		{"2026-12-08 00:00:00", true},
		{"2026-12-08 07:59:59", true},
		{"2026-12-08 08:00:00", false},
		{"2026-12-08 10:00:00", false},
	} {
		if got := Quiet(at(c.at)); got != c.quiet {
			t.Errorf("Quiet(%s) = %v, want %v", c.at, got, c.quiet)
		}
		// The same instant in UTC decides the same (the rule is Asia/Shanghai's clock).
		if got := Quiet(at(c.at).UTC()); got != c.quiet {
			t.Errorf("Quiet(%s UTC) = %v, want %v", c.at, got, c.quiet)
		}
	}
}

func TestDecide(t *testing.T) {
	now := at("2026-12-07 10:00:00")
	withPhone := house.House{ID: "H1", CompanyID: "c", OwnerPhone: "13800000001"}
	noPhone := house.House{ID: "H1", CompanyID: "c"}
	owed := []bill.Bill{{ID: "b1", Status: bill.Unpaid, DueDate: "2026-11-30"}}
	week := DefaultPeriod
	for _, c := range []struct {
		name    string
		h       house.House
		overdue []bill.Bill
		t       Throttle
		period  time.Duration
		want    Outcome
	}{
		{"never reminded", withPhone, owed, Throttle{}, week, Due},
		{"nothing overdue", withPhone, nil, Throttle{}, week, NothingDue},
		{"opted out", withPhone, owed, Throttle{OptedOut: true}, week, OptedOut},
		{"opted out without contact", noPhone, owed, Throttle{OptedOut: true}, week, OptedOut},
		{"no contact", noPhone, owed, Throttle{}, week, NoContact},
		{"bound openid only", noPhone, owed, Throttle{OpenID: "oAbc123"}, week, Due},
		{"bound openid, opted out", noPhone, owed, Throttle{OpenID: "oAbc123", OptedOut: true}, week, OptedOut},
		{"period − 1 s", withPhone, owed, Throttle{LastAt: now.Add(-week + time.Second)}, week, RecentlySent},
		{"exactly the period", withPhone, owed, Throttle{LastAt: now.Add(-week)}, week, Due},
		{"same day", withPhone, owed, Throttle{LastAt: now.Add(-time.Minute)}, week, RecentlySent},
		{"company period 3 days − 1 s", withPhone, owed, Throttle{LastAt: now.Add(-72*time.Hour + time.Second)}, 72 * time.Hour, RecentlySent},
		{"company period 3 days", withPhone, owed, Throttle{LastAt: now.Add(-72 * time.Hour)}, 72 * time.Hour, Due},
	} {
		if got := Decide(c.h, c.overdue, c.t, c.period, now); got != c.want {
			t.Errorf("%s: Decide = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestOverdue(t *testing.T) {
	today := calendar.Day("2026-12-07")
	bills := []bill.Bill{
		{ID: "due-today", Status: bill.Unpaid, DueDate: "2026-12-07", Period: "2026-12"},
		{ID: "yesterday", Status: bill.Unpaid, DueDate: "2026-12-06", Period: "2026-11"},
		{ID: "reserved", Status: bill.Reserved, DueDate: "2026-10-31", Period: "2026-10"},
		{ID: "paid", Status: bill.Paid, DueDate: "2026-10-31", Period: "2026-10"},
		{ID: "waived", Status: bill.Waived, DueDate: "2026-09-30", Period: "2026-09"},
	}
	got := Overdue(bills, today)
	if len(got) != 2 || got[0].ID != "reserved" || got[1].ID != "yesterday" {
		t.Fatalf("Overdue = %+v, want reserved then yesterday", got)
	}
}

func TestClaimAndGiveBack(t *testing.T) {
	first := at("2026-11-30 10:00:00")
	t0 := Throttle{LastAt: first, LastID: "r0"}
	r := Record{ID: "r1", At: at("2026-12-07 10:00:00")}
	claimed := Claim(t0, r)
	if claimed.LastID != "r1" || !claimed.LastAt.Equal(r.At) {
		t.Fatalf("claim = %+v", claimed)
	}
	back, ok := GiveBack(claimed, r)
	if !ok || back.LastID != "r0" || !back.LastAt.Equal(first) {
		t.Fatalf("give back = %+v %v, want r0 at %v", back, ok, first)
	}
	// A later claim is not given back by an older record's failure.
	newer := Claim(claimed, Record{ID: "r2", At: r.At.Add(DefaultPeriod)})
	if _, ok := GiveBack(newer, r); ok {
		t.Fatal("an older record gave back a newer claim")
	}
	// After a failed send the house is due again at once.
	h := house.House{OwnerPhone: "13800000001"}
	owed := []bill.Bill{{ID: "b", DueDate: "2026-11-30"}}
	if got := Decide(h, owed, back, DefaultPeriod, r.At.Add(time.Minute)); got != Due {
		t.Fatalf("after a failed send: %s, want due", got)
	}
	if got := Decide(h, owed, claimed, DefaultPeriod, r.At.Add(time.Minute)); got != RecentlySent {
		t.Fatalf("after a claim: %s, want recent", got)
	}
}

func TestSettings(t *testing.T) {
	if p := (Settings{}).Period(); p != DefaultPeriod {
		t.Fatalf("default period %v", p)
	}
	if p := (Settings{PeriodDays: 3}).Period(); p != 72*time.Hour {
		t.Fatalf("3 days = %v", p)
	}
	if err := (Settings{CompanyID: "c", CommunityID: "m", PeriodDays: 91}).Check(); err == nil {
		t.Fatal("91 days accepted")
	}
	if err := (Settings{CompanyID: "c", CommunityID: "m", PeriodDays: 14}).Check(); err != nil {
		t.Fatal(err)
	}
	if MaskPhone("13800000001") != "138****0001" {
		t.Fatal(MaskPhone("13800000001"))
	}
}

func TestUnsubToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := UnsubToken(key, "co", "Habc")
	h, sig, ok := ParseUnsub(tok)
	if !ok || h != "Habc" || !VerifyUnsub(key, "co", h, sig) {
		t.Fatalf("token %q: %q %q %v", tok, h, sig, ok)
	}
	if VerifyUnsub(key, "other-co", h, sig) {
		t.Fatal("verified for another company")
	}
	if _, sig2, _ := ParseUnsub(UnsubToken(key, "co", "Hxyz")); VerifyUnsub(key, "co", "Habc", sig2) {
		t.Fatal("another house's signature verified")
	}
	if VerifyUnsub([]byte("0123456789abcdef0123456789abcdeX"), "co", h, sig) {
		t.Fatal("verified with another key")
	}
	if VerifyUnsub(key[:16], "co", h, unsubSig(key[:16], "co", h)) {
		t.Fatal("a short key accepted")
	}
	for _, bad := range []string{"", "Habc", "Habc.", ".sig", "Habc.tooshort"} {
		if _, _, ok := ParseUnsub(bad); ok {
			t.Fatalf("parsed %q", bad)
		}
	}
	if u := UnsubURL("https://pay.example.com/", key, "co", "Habc"); u != "https://pay.example.com/u/"+tok {
		t.Fatal(u)
	}
}

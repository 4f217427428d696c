package fenfu

import (
	"strings"
	"testing"
	"time"
)

var cst = time.FixedZone("+08", 8*3600)

func TestNightWindowEdges(t *testing.T) {
	l := DefaultLimits()
	p := Payment{OrderID: "o1", PayerOpenID: "op", AmountFen: l.NightLargeFen}
	cases := []struct {
		at   time.Time
		want Decision
	}{
		{time.Date(2026, 12, 6, 22, 59, 59, 0, cst), Allow},
		{time.Date(2026, 12, 6, 23, 0, 0, 0, cst), Refuse},
		{time.Date(2026, 12, 7, 0, 30, 0, 0, cst), Refuse},
		{time.Date(2026, 12, 7, 1, 59, 59, 0, cst), Refuse},
		{time.Date(2026, 12, 7, 2, 0, 0, 0, cst), Allow},
		// the same instants in UTC: the window is Shanghai's
		{time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC), Refuse},
		{time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC), Allow},
	}
	for _, c := range cases {
		r := CheckNight(p, c.at, l)
		if r.Decision != c.want {
			t.Errorf("%s: %s, want %s", c.at, r.Decision, c.want)
		}
		if r.Rule != RuleNightLarge || r.ID != "o1#night_large" || !r.At.Equal(c.at) {
			t.Errorf("record %+v", r)
		}
		if c.want == Refuse && !strings.Contains(r.Detail, "普通微信支付") {
			t.Errorf("refusal must offer ordinary payment: %q", r.Detail)
		}
	}
	// below the threshold the night does not matter
	small := p
	small.AmountFen = l.NightLargeFen - 1
	if r := CheckNight(small, time.Date(2026, 12, 6, 23, 30, 0, 0, cst), l); r.Decision != Allow {
		t.Errorf("small at night: %s", r.Decision)
	}
}

func TestDailyLimit(t *testing.T) {
	l := DefaultLimits()
	p := Payment{OrderID: "o", AmountFen: 100000}
	if r := CheckDaily(p, l.DailyFen-100000, time.Now(), l); r.Decision != Allow {
		t.Errorf("exactly to the limit: %s", r.Decision)
	}
	r := CheckDaily(p, l.DailyFen-99999, time.Now(), l)
	if r.Decision != Refuse || !strings.Contains(r.Detail, "999.99") {
		t.Errorf("one fen over: %+v", r)
	}
}

func TestThreeInARow(t *testing.T) {
	l := DefaultLimits()
	p := Payment{OrderID: "o3", PayerOpenID: "op"}
	at := time.Now()
	if r := CheckInARow(p, []string{Method}, at, l); r.Decision != Allow {
		t.Errorf("second in a row: %s", r.Decision)
	}
	if r := CheckInARow(p, []string{Method, "", Method}, at, l); r.Decision != Allow {
		t.Errorf("broken by an ordinary payment: %s", r.Decision)
	}
	if r := CheckInARow(p, []string{Method, Method}, at, l); r.Decision != Warn || r.Rule != RuleInARow {
		t.Errorf("third in a row: %+v", r)
	}
	if r := CheckInARow(p, []string{Method, Method, Method}, at, l); r.Decision != Warn {
		t.Errorf("fourth in a row: %s", r.Decision)
	}
}

func TestSuspiciousHolds48h(t *testing.T) {
	l := DefaultLimits()
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, cst)
	p := Payment{OrderID: "o", AmountFen: 1000}
	if r := CheckSuspicious(p, true, at, l); r.Decision != Hold {
		t.Errorf("warned: %s", r.Decision)
	}
	if r := CheckSuspicious(p, false, at, l); r.Decision != Allow {
		t.Errorf("ordinary: %s", r.Decision)
	}
	p.AmountFen = l.HoldAboveFen
	if r := CheckSuspicious(p, false, at, l); r.Decision != Hold {
		t.Errorf("large: %s", r.Decision)
	}
	if got := l.ReleaseAt(at); !got.Equal(time.Date(2026, 12, 8, 10, 0, 0, 0, cst)) {
		t.Errorf("release at %s", got)
	}
}

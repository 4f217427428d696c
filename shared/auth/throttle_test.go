package auth

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

func TestAccountLockDoubles(t *testing.T) {
	p := AccountPolicy
	var c Counter
	now := t0
	for round, want := range []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour} {
		for i := 1; i <= 5; i++ {
			if w := p.Wait(c, now); w != 0 {
				t.Fatalf("round %d failure %d blocked for %v", round, i, w)
			}
			d := p.Record(&c, now)
			if (i == 5) != (d != 0) || (i == 5 && d != want) {
				t.Fatalf("round %d failure %d locked %v, want %v at the 5th", round, i, d, want)
			}
			now = now.Add(time.Second)
		}
		if w := p.Wait(c, now); w <= want-10*time.Second || w > want {
			t.Fatalf("round %d wait %v", round, w)
		}
		now = c.LockedUntil
		if p.Wait(c, now) != 0 {
			t.Fatal("still locked when the lock ends")
		}
	}
	c.Locks = 20
	if d := p.Record(&Counter{Locks: 20, Count: 4, WindowStart: now}, now); d != 24*time.Hour {
		t.Fatalf("cap: %v", d)
	}
	if !p.Expiry(c).After(c.LockedUntil) {
		t.Fatal("the counter expires before its lock ends")
	}
}

func TestFailuresOutsideTheWindowStartOver(t *testing.T) {
	p := IPPolicy
	var c Counter
	for i := 0; i < 19; i++ {
		p.Record(&c, t0.Add(time.Duration(i)*time.Second))
	}
	if p.Record(&c, t0.Add(11*time.Minute)) != 0 || c.Count != 1 {
		t.Fatalf("a failure after the window locked: %+v", c)
	}
	for i := 0; i < 18; i++ {
		p.Record(&c, t0.Add(11*time.Minute))
	}
	if d := p.Record(&c, t0.Add(12*time.Minute)); d != 10*time.Minute || p.Wait(c, t0.Add(21*time.Minute)) != time.Minute {
		t.Fatalf("20th failure in the window: lock %v, %+v", d, c)
	}
}

func TestSMSSendLimits(t *testing.T) {
	p := SMSPolicy
	var c Counter
	now := t0
	for i := 0; i < 5; i++ {
		if w := p.Wait(c, now); w != 0 {
			t.Fatalf("send %d waits %v", i, w)
		}
		p.Record(&c, now)
		if w := p.Wait(c, now.Add(30*time.Second)); w != 30*time.Second {
			t.Fatalf("resend after 30 s waits %v", w)
		}
		now = now.Add(time.Minute)
	}
	if w := p.Wait(c, now); w != 55*time.Minute {
		t.Fatalf("6th send in the hour waits %v", w)
	}
	if p.Wait(c, t0.Add(time.Hour)) != 0 {
		t.Fatal("blocked after the hour")
	}
	if Minutes(14*time.Minute+time.Second) != "15" || Minutes(time.Second) != "1" {
		t.Fatal("Minutes")
	}
}

func TestSMSCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		c := NewSMSCode()
		if len(c) != 6 || c[0] < '0' || c[0] > '9' {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
	}
	if len(seen) < 45 {
		t.Fatalf("only %d distinct codes of 50", len(seen))
	}
	h := HashSMSCode("ch1", "123456")
	if !CheckSMSCode(h, "ch1", "123456") || CheckSMSCode(h, "ch2", "123456") || CheckSMSCode(h, "ch1", "123457") || CheckSMSCode(h, "ch1", "") {
		t.Fatal("CheckSMSCode")
	}
}

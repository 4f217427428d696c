package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"
)

// Counter is the state of one throttle (stored as a THROTTLE# item): events
// (failed logins, SMS sends) counted in a window, and a lock.
type Counter struct {
	Count       int       // events in the current window
	WindowStart time.Time // start of the current window
	Locks       int       // locks so far (the account lock doubles with each)
	LockedUntil time.Time
	LastAt      time.Time // the last event
	Version     int64     // optimistic lock of the stored item (0: not stored)
	ExpiresAt   time.Time // when the stored item may be forgotten (TTL; zero: not stored)
}

// Live is c as it counts at now: a counter past its expiry counts nothing
// (DynamoDB deletes expired items only eventually).
func (c Counter) Live(now time.Time) Counter {
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		return Counter{Version: c.Version, ExpiresAt: c.ExpiresAt}
	}
	return c
}

// Policy is a throttle's rule.
type Policy struct {
	Max      int           // events allowed in Window; the Max-th locks (Lock > 0) or blocks until the window ends
	Window   time.Duration // counting window, starting at its first event
	Lock     time.Duration // lock after Max events (0: block until the window ends instead)
	Doubling bool          // each further lock lasts twice the previous one
	MaxLock  time.Duration // cap of a doubled lock
	MinGap   time.Duration // least time between two events (SMS resend)
	Keep     time.Duration // how long the item outlives its last event or lock (TTL)
}

var (
	// AccountPolicy: 5 failed logins for one phone number lock it for 15
	// minutes, each further lock twice as long (30, 60 … at most 24 h); the
	// count restarts after a successful login or a day without failures.
	// Keyed by the phone typed, known or not, so that an unknown number
	// locks exactly as a known one does.
	AccountPolicy = Policy{Max: 5, Window: 24 * time.Hour, Lock: 15 * time.Minute, Doubling: true, MaxLock: 24 * time.Hour, Keep: 24 * time.Hour}
	// IPPolicy: 20 failures (passwords, SMS codes) from one source IP within
	// 10 minutes block it for 10 minutes.
	IPPolicy = Policy{Max: 20, Window: 10 * time.Minute, Lock: 10 * time.Minute, Keep: 10 * time.Minute}
	// SMSPolicy: an SMS code to one phone at most every 60 s and 5 an hour.
	SMSPolicy = Policy{Max: 5, Window: time.Hour, MinGap: time.Minute, Keep: time.Hour}
)

// Wait is how long c blocks a new attempt at now (0: it does not).
func (p Policy) Wait(c Counter, now time.Time) time.Duration {
	if now.Before(c.LockedUntil) {
		return c.LockedUntil.Sub(now)
	}
	if p.MinGap > 0 && !c.LastAt.IsZero() && now.Before(c.LastAt.Add(p.MinGap)) {
		return c.LastAt.Add(p.MinGap).Sub(now)
	}
	if p.Lock == 0 && p.Max > 0 && c.Count >= p.Max && now.Before(c.WindowStart.Add(p.Window)) {
		return c.WindowStart.Add(p.Window).Sub(now)
	}
	return 0
}

// Record counts one event at now; it returns the lock it started (0: none).
func (p Policy) Record(c *Counter, now time.Time) time.Duration {
	if c.WindowStart.IsZero() || !now.Before(c.WindowStart.Add(p.Window)) {
		c.WindowStart, c.Count = now, 0
	}
	c.Count++
	c.LastAt = now
	if p.Lock == 0 || c.Count < p.Max {
		return 0
	}
	c.Locks++
	d := p.Lock
	if p.Doubling {
		for i := 1; i < c.Locks && (p.MaxLock == 0 || d < p.MaxLock); i++ {
			d *= 2
		}
		if p.MaxLock > 0 && d > p.MaxLock {
			d = p.MaxLock
		}
	}
	c.LockedUntil = now.Add(d)
	c.Count, c.WindowStart = 0, time.Time{}
	return d
}

// Expiry is when the stored counter may be forgotten (its TTL).
func (p Policy) Expiry(c Counter) time.Time {
	end := c.LastAt
	if c.LockedUntil.After(end) {
		end = c.LockedUntil
	}
	if w := c.WindowStart.Add(p.Window); p.Lock == 0 && w.After(end) {
		end = w
	}
	return end.Add(p.Keep)
}

// Minutes renders a wait for people, rounded up ("15").
func Minutes(d time.Duration) string {
	m := (d + time.Minute - 1) / time.Minute
	if m < 1 {
		m = 1
	}
	return fmt.Sprint(int64(m))
}

// SMS codes: 6 digits, valid 5 minutes, 5 tries.
const (
	SMSCodeTTL  = 5 * time.Minute
	SMSMaxTries = 5
)

// NewSMSCode is a uniformly random 6-digit code.
func NewSMSCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// HashSMSCode is what is stored of a code: SHA-256 of the challenge id and
// the code (hex), so the table never holds a usable code.
func HashSMSCode(challenge, code string) string {
	sum := sha256.Sum256([]byte(challenge + ":" + code))
	return hex.EncodeToString(sum[:])
}

// CheckSMSCode reports whether code is the challenge's (constant time).
func CheckSMSCode(hash, challenge, code string) bool {
	if len(code) != 6 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hash), []byte(HashSMSCode(challenge, code))) == 1
}

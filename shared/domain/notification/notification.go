// Package notification holds the rules of the staff notifications (M7):
// who asked for them (Preference: 接收收款成功通知 per community, off unless
// opted in, on one channel) and how often they may come (Throttle: at most
// one message per recipient per Window; payments inside a window are not
// lost but add up to a digest that the next message carries, or that is sent
// on its own when the window ends).
package notification

import (
	"errors"
	"time"
)

// Window is the least time between two messages to one recipient.
const Window = 10 * time.Minute

// Channel is how a recipient wants to be told.
type Channel string

const (
	WeChatOA Channel = "wechat_oa" // template message through the official account
	SMS      Channel = "sms"
	Email    Channel = "email"
)

// ParseChannel checks a channel chosen in the console.
func ParseChannel(s string) (Channel, error) {
	switch c := Channel(s); c {
	case WeChatOA, SMS, Email:
		return c, nil
	}
	return "", errors.New("notification: unknown channel " + s)
}

// Label is the channel's name for people.
func (c Channel) Label() string {
	switch c {
	case WeChatOA:
		return "微信公众号"
	case SMS:
		return "短信"
	case Email:
		return "电子邮件"
	}
	return string(c)
}

// Preference is one staff member's choice for one community. Without one
// (or with Payments false) the staff member gets no payment messages.
type Preference struct {
	CompanyID   string
	CommunityID string
	StaffID     string
	Payments    bool // 接收收款成功通知
	Channel     Channel
	// OpenID is the official-account openid messages go to, when bound for
	// notifications ("" the staff member's login-bound openid).
	OpenID string
	// Problem is why the last message could not be delivered and what the
	// staff member must do ("" none), e.g. follow the official account.
	Problem   string
	UpdatedAt time.Time
}

// Payment is one payment a recipient is told about.
type Payment struct {
	EventID     string
	CommunityID string
	AmountFen   int64
	At          time.Time
}

// Kind of an outgoing message.
type Kind string

const (
	Instant Kind = "payment" // sent as the payment arrives (opens a window)
	Digest  Kind = "digest"  // sent when a window with pending payments ends
)

// Message is what one recipient is sent: the payment that triggered it (an
// Instant message) and, in Count and SumFen, every payment since the last
// message including that one.
type Message struct {
	Kind   Kind
	Last   Payment // the latest payment (Instant), zero for a digest
	Count  int64
	SumFen int64
	Since  time.Time // start of the period the message covers (the previous window's end, or the payment)
}

// Throttle is one recipient's state: the end of the current window and the
// payments held back in it. Version orders the stored changes (the store
// writes a change only over the version it read).
type Throttle struct {
	Until        time.Time // the current window ends (zero: no window yet)
	PendingCount int64
	PendingFen   int64
	PendingSince time.Time // the first held-back payment
	Version      int64
}

// Open reports whether a message at now would break the throttle.
func (t Throttle) Open(now time.Time) bool { return now.Before(t.Until) }

// Admit takes one payment at now. Inside an open window it is held back
// (nil message); otherwise a message goes out at once, carrying the payments
// held back since the last message, and opens a new window.
func (t Throttle) Admit(p Payment, now time.Time) (Throttle, *Message) {
	if t.Open(now) {
		if t.PendingCount == 0 {
			t.PendingSince = p.At
		}
		t.PendingCount++
		t.PendingFen += p.AmountFen
		return t, nil
	}
	m := &Message{Kind: Instant, Last: p, Count: t.PendingCount + 1, SumFen: t.PendingFen + p.AmountFen, Since: p.At}
	if t.PendingCount > 0 {
		m.Since = t.PendingSince
	}
	t.Until, t.PendingCount, t.PendingFen, t.PendingSince = now.Add(Window), 0, 0, time.Time{}
	return t, m
}

// Due reports whether the window has ended with payments held back.
func (t Throttle) Due(now time.Time) bool { return t.PendingCount > 0 && !t.Open(now) }

// Flush sends the digest of a window that ended with payments held back
// (nil when there is none, or the window is still open). A digest is a
// message like any other: it opens a new window.
func (t Throttle) Flush(now time.Time) (Throttle, *Message) {
	if !t.Due(now) {
		return t, nil
	}
	m := &Message{Kind: Digest, Count: t.PendingCount, SumFen: t.PendingFen, Since: t.PendingSince}
	t.Until, t.PendingCount, t.PendingFen, t.PendingSince = now.Add(Window), 0, 0, time.Time{}
	return t, m
}

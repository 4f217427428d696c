package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/store"
)

// Store is what the fan-out keeps in DynamoDB (store.Notifications).
type Store interface {
	Subscribers(ctx context.Context, companyID, communityID string) ([]notification.Preference, error)
	Preference(ctx context.Context, companyID, communityID, staffID string) (notification.Preference, bool, error)
	Admit(ctx context.Context, staffID, companyID string, p notification.Payment, now time.Time) (store.Outgoing, bool, error)
	Flush(ctx context.Context, now time.Time, limit int32) ([]store.Outgoing, error)
	Delivered(ctx context.Context, key, status, reason string) error
	SetProblem(ctx context.Context, companyID, communityID, staffID, problem string) error
	// Preferences are a staff member's choices (the channel an admin is alerted on).
	Preferences(ctx context.Context, companyID, staffID string) ([]notification.Preference, error)
	// Alert claims an unthrottled message of one event to one recipient (once).
	Alert(ctx context.Context, eventID, staffID, companyID, communityID string, m notification.Message, now time.Time) (store.Outgoing, bool, error)
}

// StaffReader reads the recipients' accounts (openid, phone, e-mail) and a
// company's staff (its admins are told of exceptions).
type StaffReader interface {
	GetStaff(ctx context.Context, id string) (staff.Staff, error)
	ListStaff(ctx context.Context, companyID string) ([]staff.Staff, error)
}

// Names gives a community's name for the message ("" unknown: the id is shown).
type Names interface {
	CommunityName(ctx context.Context, id string) string
}

// Sender delivers a note on a channel; a *PermanentError means sending it
// again cannot succeed until the recipient acts (Problem says what to do).
type Sender interface {
	Send(ctx context.Context, to staff.Staff, ch notification.Channel, n Note) error
}

// PermanentError is a delivery that will not succeed by retrying.
type PermanentError struct{ Problem string }

func (e *PermanentError) Error() string { return "fanout: " + e.Problem }

// Handler is FanoutFunction: SQS batches from NotifyEventsQueue, and the
// scheduled flush ({"job":"flush"}) of the digests of ended windows.
type Handler struct {
	Store  Store
	Staff  StaffReader
	Names  Names
	Sender Sender
	// Queue postpones a failed message (backoff) and puts dead ones into
	// NotifyEventsDLQ with the reason (nil: failures are only reported, and
	// the queue's redrive policy moves them without a reason).
	Queue Queue
	// MaxReceives is the queue's maxReceiveCount: a message failing on its
	// last allowed receive goes to the DLQ with the error (0: not known).
	MaxReceives int
	Clock       func() time.Time
	Log         *slog.Logger
}

// Handle dispatches one invocation: an SQS batch or the flush.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Job     string            `json:"job"`
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	if probe.Job == "flush" {
		return h.Flush(ctx)
	}
	var in lambdaevents.SQSEvent
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	return h.HandleSQS(ctx, in)
}

// HandleSQS fans each event out and reports the messages to deliver again
// (ReportBatchItemFailures). Recipients already served for an event are not
// served again on redelivery (the (event, recipient) marker), so one failing
// recipient costs the others nothing. What becomes of a failure is decided
// per message (receive, reliability.go): retried with backoff, or put into
// the DLQ with its reason and acknowledged. Within a message group (one
// order) a failure fails the group's later messages too, so they are not
// handled out of order.
func (h *Handler) HandleSQS(ctx context.Context, in lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
	return events.EachInOrder(ctx, in, h.receive), nil
}

// event handles one message: the payments to the staff who opted in, failed
// refunds and new reconciliation exceptions to the company's admins; other
// events need no message.
func (h *Handler) event(ctx context.Context, m lambdaevents.SQSMessage) error {
	var env struct {
		ID        string `json:"event_id"`
		Type      string `json:"type"`
		CompanyID string `json:"company_id"`
	}
	if err := json.Unmarshal([]byte(m.Body), &env); err != nil {
		return &PoisonError{"body is not JSON: " + err.Error()}
	}
	if env.ID == "" || env.Type == "" || env.CompanyID == "" {
		return &PoisonError{"event without event_id, type or company_id"}
	}
	switch env.Type {
	case order.EventPaid, refund.EventFailed:
		var ev order.Event
		if err := json.Unmarshal([]byte(m.Body), &ev); err != nil {
			return &PoisonError{env.Type + ": " + err.Error()}
		}
		if env.Type == refund.EventFailed {
			return h.refundFailed(ctx, ev)
		}
		return h.payment(ctx, ev)
	case notification.EventExceptionsFound:
		var ev notification.ExceptionsFound
		if err := json.Unmarshal([]byte(m.Body), &ev); err != nil {
			return &PoisonError{env.Type + ": " + err.Error()}
		}
		return h.exceptionsFound(ctx, ev)
	}
	return nil // closings, refunds that succeeded: no message
}

// payment tells the community's subscribers of a payment, and the manager
// whose code (or code plate, 码牌) took it if they asked for their own
// codes' payments (notification.OwnCodes, set in the managers' app), each
// through their throttle — once, whichever way they are a recipient.
func (h *Handler) payment(ctx context.Context, ev order.Event) error {
	subs, err := h.Store.Subscribers(ctx, ev.CompanyID, ev.CommunityID)
	if err != nil {
		h.Log.WarnContext(ctx, "fanout: recipients", "event_id", ev.ID, "err", err)
		return err
	}
	if ev.CollectorID != "" && !slices.ContainsFunc(subs, func(p notification.Preference) bool { return p.StaffID == ev.CollectorID }) {
		own, ok, err := h.Store.Preference(ctx, ev.CompanyID, notification.OwnCodes, ev.CollectorID)
		if err != nil {
			h.Log.WarnContext(ctx, "fanout: the code owner's preference", "event_id", ev.ID, "err", err)
			return err
		}
		if ok && own.Payments {
			subs = append(subs, own)
		}
	}
	at := ev.At
	if ev.PaidAt != nil {
		at = *ev.PaidAt
	}
	p := notification.Payment{EventID: ev.ID, CommunityID: ev.CommunityID, AmountFen: ev.AmountFen, At: at}
	var failed []error
	for _, sub := range subs {
		o, send, err := h.Store.Admit(ctx, sub.StaffID, ev.CompanyID, p, h.Clock())
		if err == nil && send {
			err = h.deliver(ctx, o, sub)
		}
		if err != nil {
			h.Log.WarnContext(ctx, "fanout: recipient not served", "event_id", ev.ID, "staff_id", sub.StaffID, "err", err)
			failed = append(failed, err)
		}
		if accountWide(err) {
			break // every other recipient would be refused alike (their turn on the retry)
		}
	}
	return errors.Join(failed...)
}

// FlushReport is what one flush did.
type FlushReport struct {
	Digests int `json:"digests"`
	Sent    int `json:"sent"`
	Failed  int `json:"failed"`  // retried by a later flush
	GaveUp  int `json:"gave_up"` // failing for longer than DigestGiveUp: recorded failed
}

// DigestGiveUp is how long after its first held-back payment a digest that
// cannot be sent is still tried; then it is recorded failed with the reason
// (the payments themselves are in the records).
const DigestGiveUp = 24 * time.Hour

// Flush sends the digests of the windows that have ended with payments held
// back, and retries the digests whose send failed before (each a minute
// after its last try). It runs every minute. When the provider refuses for
// the whole account (a used-up quota, a setup an operator must fix) the run
// stops at once: the rest are tried next minute, one call a minute rather
// than one per digest.
func (h *Handler) Flush(ctx context.Context) (FlushReport, error) {
	var rep FlushReport
	for range 20 { // up to 2000 digests a run; the rest next minute
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 3*time.Second {
			break // the rest next minute
		}
		outs, err := h.Store.Flush(ctx, h.Clock(), 100)
		if err != nil {
			return rep, err
		}
		stop := false
		for _, o := range outs {
			rep.Digests++
			pref, ok, err := h.Store.Preference(ctx, o.CompanyID, o.CommunityID, o.StaffID)
			if err == nil && !ok {
				// A manager told of their own codes' payments chose the channel there.
				pref, ok, err = h.Store.Preference(ctx, o.CompanyID, notification.OwnCodes, o.StaffID)
			}
			if err == nil && !ok {
				pref = notification.Preference{Channel: notification.WeChatOA} // the preference was removed since
			}
			if err == nil {
				err = h.deliver(ctx, o, pref)
			}
			if err == nil {
				rep.Sent++
				continue
			}
			if h.Clock().Sub(o.Message.Since) > DigestGiveUp {
				if derr := h.Store.Delivered(ctx, o.Key, store.MsgFailed, reasonOf(err)); derr == nil {
					rep.GaveUp++
					h.Log.ErrorContext(ctx, "fanout: digest given up", "staff_id", o.StaffID, "since", o.Message.Since, "err", err)
					continue
				}
			}
			rep.Failed++
			h.Log.WarnContext(ctx, "fanout: digest not sent (retried next minute)", "staff_id", o.StaffID, "err", err)
			if accountWide(err) {
				stop = true
				break
			}
		}
		if stop || len(outs) < 100 {
			break
		}
	}
	h.Log.InfoContext(ctx, "fanout: flush", "digests", rep.Digests, "sent", rep.Sent, "failed", rep.Failed, "gave_up", rep.GaveUp)
	return rep, nil
}

// deliver sends one outgoing message and records the outcome. A transient
// failure is returned (the message stays queued); a permanent one is
// recorded as the message's reason and the recipient's problem, not returned.
func (h *Handler) deliver(ctx context.Context, o store.Outgoing, pref notification.Preference) error {
	ch := pref.Channel
	st, err := h.Staff.GetStaff(ctx, o.StaffID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, accounts.ErrNotFound) || (err == nil && (st.Status == staff.Disabled || st.CompanyID != o.CompanyID)) {
		return h.Store.Delivered(ctx, o.Key, store.MsgFailed, "账号不存在或已停用")
	}
	if err != nil {
		return err
	}
	if pref.OpenID != "" {
		st.OpenID = pref.OpenID // bound for notifications (the demo's seeded one)
	}
	n := Render(o, h.Names.CommunityName(ctx, o.CommunityID))
	err = h.Sender.Send(ctx, st, ch, n)
	var perm *PermanentError
	if errors.As(err, &perm) {
		h.Log.WarnContext(ctx, "fanout: recipient cannot be reached", "staff_id", o.StaffID, "channel", string(ch), "problem", perm.Problem)
		if err := h.Store.SetProblem(ctx, o.CompanyID, o.CommunityID, o.StaffID, perm.Problem); err != nil {
			return err
		}
		return h.Store.Delivered(ctx, o.Key, store.MsgFailed, perm.Problem)
	}
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "fanout: sent", "staff_id", o.StaffID, "channel", string(ch), "kind", string(o.Message.Kind), "count", o.Message.Count)
	return h.Store.Delivered(ctx, o.Key, store.MsgSent, "")
}

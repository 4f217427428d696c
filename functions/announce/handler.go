package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain/announce"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/store"
)

// Store writes an announcement once per event and audience (store.Announcements).
type Store interface {
	PutAnnouncement(ctx context.Context, a store.Announcement, now time.Time) (bool, error)
}

// Names gives a community's name ("" unknown: the list shows none).
type Names interface {
	CommunityName(ctx context.Context, id string) string
}

// DeadLetters takes a message no retry can help, with the reason
// (AnnounceEventsDLQ).
type DeadLetters interface {
	DeadLetter(ctx context.Context, m lambdaevents.SQSMessage, reason string) error
}

// Handler is AnnounceFunction: SQS batches from AnnounceEventsQueue.
type Handler struct {
	Store Store
	Names Names
	// Dead takes poison messages at once (nil: they are reported failed and
	// the queue's redrive policy moves them after maxReceiveCount).
	Dead  DeadLetters
	Clock func() time.Time
	Log   *slog.Logger
}

// PoisonError is a message that is not an event this function can read.
type PoisonError struct{ Why string }

func (e *PoisonError) Error() string { return "announce: poison message: " + e.Why }

// Handle writes the batch's announcements and reports the messages to
// deliver again (ReportBatchItemFailures): a failed write (a throttled
// table) is retried by SQS, and the announcements already written for the
// event are not written again (the conditional put). A poison message goes
// to the DLQ with its reason and is acknowledged. A group's later messages
// wait for a failed one (events.EachInOrder).
func (h *Handler) Handle(ctx context.Context, in lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
	return events.EachInOrder(ctx, in, h.receive), nil
}

func (h *Handler) receive(ctx context.Context, m lambdaevents.SQSMessage) error {
	err := h.event(ctx, m)
	var poison *PoisonError
	if err == nil || !errors.As(err, &poison) || h.Dead == nil {
		if err != nil {
			h.Log.WarnContext(ctx, "announce: message retried later", "message_id", m.MessageId, "err", err)
		}
		return err
	}
	if derr := h.Dead.DeadLetter(ctx, m, "poison: "+poison.Why); derr != nil {
		h.Log.ErrorContext(ctx, "announce: the DLQ refused a dead message (reported failed instead)", "message_id", m.MessageId, "err", derr)
		return err
	}
	h.Log.ErrorContext(ctx, "announce: message to the DLQ", "message_id", m.MessageId, "reason", poison.Why)
	return nil
}

// event announces a payment.succeeded to the company's console and, when a
// manager's code took it, to that manager; other events say nothing.
func (h *Handler) event(ctx context.Context, m lambdaevents.SQSMessage) error {
	var ev order.Event
	if err := json.Unmarshal([]byte(m.Body), &ev); err != nil {
		return &PoisonError{"body is not an event: " + err.Error()}
	}
	if ev.ID == "" || ev.Type == "" || ev.CompanyID == "" {
		return &PoisonError{"event without event_id, type or company_id"}
	}
	if ev.Type != order.EventPaid {
		return nil
	}
	at := ev.At
	if ev.PaidAt != nil {
		at = *ev.PaidAt
	}
	if at.IsZero() || ev.AmountFen <= 0 {
		return &PoisonError{"payment.succeeded without a time or a positive amount"}
	}
	var keys []string
	for _, tok := range append([]string{announce.Opening(ev.Channel, ev.Method)}, announce.Tokens(ev.AmountFen)...) {
		keys = append(keys, announce.KeyOf(tok))
	}
	a := store.Announcement{EventID: ev.ID, CompanyID: ev.CompanyID, CommunityID: ev.CommunityID,
		Channel: announce.ChannelName(ev.Channel, ev.Method), AmountFen: ev.AmountFen,
		Text: announce.Display(ev.Channel, ev.Method, ev.AmountFen), Spoken: announce.Spoken(ev.Channel, ev.Method, ev.AmountFen),
		Tokens: keys, OccurredAt: at}
	if ev.CommunityID != "" && h.Names != nil {
		a.CommunityName = h.Names.CommunityName(ctx, ev.CommunityID)
	}
	audiences := []string{store.CompanyAudience(ev.CompanyID)}
	if ev.CollectorID != "" {
		audiences = append(audiences, store.ManagerAudience(ev.CompanyID, ev.CollectorID))
	}
	now := h.Clock()
	for _, aud := range audiences {
		a.Audience = aud
		wrote, err := h.Store.PutAnnouncement(ctx, a, now)
		if err != nil {
			return err
		}
		h.Log.InfoContext(ctx, "announce: payment", "event_id", ev.ID, "audience", aud, "written", wrote, "lag_ms", now.Sub(at).Milliseconds())
	}
	return nil
}

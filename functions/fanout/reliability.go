package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain/notification"
)

// PoisonError is a message that is not an event the fan-out can read: no
// retry can help, it goes to the DLQ at once.
type PoisonError struct{ Why string }

func (e *PoisonError) Error() string { return "fanout: poison message: " + e.Why }

// MisconfiguredError is a provider refusing every message of the account
// until an operator fixes its setup (official account: app id or secret, IP
// whitelist, template): the event goes to the DLQ with the reason at once,
// to be redriven once fixed (the recipients already served are skipped).
type MisconfiguredError struct{ Err error }

func (e *MisconfiguredError) Error() string { return "fanout: provider setup: " + e.Err.Error() }
func (e *MisconfiguredError) Unwrap() error { return e.Err }

// QuotaError is a provider refusing because a sending quota is used up (the
// official account's 45009, an SMS limit): retried with the longer backoff.
type QuotaError struct{ Err error }

func (e *QuotaError) Error() string { return "fanout: quota: " + e.Err.Error() }
func (e *QuotaError) Unwrap() error { return e.Err }

// accountWide reports whether err refuses every recipient alike (no point
// trying the next one now).
func accountWide(err error) bool {
	var mis *MisconfiguredError
	var quota *QuotaError
	return errors.As(err, &mis) || errors.As(err, &quota)
}

// Queue is what the fan-out does with its own messages besides
// acknowledging them (SQSQueue).
type Queue interface {
	// Postpone makes an in-flight message visible again only after d
	// (ChangeMessageVisibility): the backoff before its next receive.
	Postpone(ctx context.Context, receiptHandle string, d time.Duration) error
	// DeadLetter puts a copy of the message into the DLQ with the reason.
	DeadLetter(ctx context.Context, m lambdaevents.SQSMessage, reason string) error
}

// receiveCount is how many times SQS has handed out the message (1 the first time).
func receiveCount(m lambdaevents.SQSMessage) int {
	n, err := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// reasonOf is the reason recorded with a dead message: a code, then the error.
func reasonOf(err error) string {
	var poison *PoisonError
	var mis *MisconfiguredError
	switch {
	case errors.As(err, &poison):
		return "poison: " + poison.Why
	case errors.As(err, &mis):
		return "misconfigured: " + mis.Err.Error()
	}
	return "failed: " + err.Error()
}

// receive handles one message and decides what becomes of a failure, never
// looping and never sleeping:
//   - a poison message or a refusal an operator must fix goes to the DLQ at
//     once, with the reason, and is acknowledged;
//   - so does a message failing on its last allowed receive (MaxReceives),
//     with the last error;
//   - any other failure (a provider timeout or error, 45009, a throttled
//     table) is retried: the message is made invisible for a backoff that
//     doubles with every receive (notification.RetryDelay; longer for a used-up
//     quota) and reported failed.
//
// If the DLQ cannot be written the message is reported failed instead: it
// comes back, and the queue's own redrive policy still moves it in the end.
func (h *Handler) receive(ctx context.Context, m lambdaevents.SQSMessage) error {
	err := h.event(ctx, m)
	if err == nil {
		return nil
	}
	n := receiveCount(m)
	var poison *PoisonError
	var mis *MisconfiguredError
	reason := ""
	switch {
	case errors.As(err, &poison), errors.As(err, &mis):
		reason = reasonOf(err)
	case h.MaxReceives > 0 && n >= h.MaxReceives:
		reason = fmt.Sprintf("retries exhausted (receive %d of %d): %s", n, h.MaxReceives, reasonOf(err))
	}
	if reason != "" && h.Queue != nil {
		if derr := h.Queue.DeadLetter(ctx, m, reason); derr != nil {
			h.Log.ErrorContext(ctx, "fanout: the DLQ refused a dead message (reported failed instead)", "message_id", m.MessageId, "err", derr)
			return err
		}
		h.Log.ErrorContext(ctx, "fanout: message to the DLQ", "message_id", m.MessageId, "receives", n, "reason", reason)
		return nil
	}
	var quota *QuotaError
	delay := notification.RetryDelay(n, errors.As(err, &quota))
	if h.Queue != nil {
		if perr := h.Queue.Postpone(ctx, m.ReceiptHandle, delay); perr != nil {
			h.Log.WarnContext(ctx, "fanout: backoff not set (the queue's visibility timeout applies)", "message_id", m.MessageId, "err", perr)
		}
	}
	h.Log.WarnContext(ctx, "fanout: message retried later", "message_id", m.MessageId, "receives", n, "retry_in", delay.String(), "err", err)
	return err
}

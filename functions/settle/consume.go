package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/store"
)

const (
	// DefaultStopBefore leaves time, after the settler stops at its
	// checkpoint, to hand the message back and answer (a bill being parsed
	// when the time comes is parsed to the end first).
	DefaultStopBefore = time.Minute
	// DefaultRetryAfter is when a failed settlement is tried again (the
	// provider's bill not there yet, the provider or DynamoDB down).
	DefaultRetryAfter = 15 * time.Minute
)

// errNearDeadline ends a queued settlement's context StopBefore the Lambda
// deadline.
var errNearDeadline = errors.New("settle: the Lambda deadline is near")

// outcome is what became of one message.
type outcome int

const (
	done     outcome = iota // settled (or nothing to settle): deleted
	stopped                 // stopped at a checkpoint before the deadline: again at once, resumes
	failed                  // failed: again after RetryAfter, to the DLQ after maxReceiveCount
	poisoned                // not a task: again at once, so it reaches the DLQ soon
)

// HandleSQS settles and reconciles one interface × day per message of
// SettleQueue and reports the messages to deliver again
// (ReportBatchItemFailures): one that failed (after RetryAfter), and one
// stopped at its checkpoint because the Lambda deadline is near (at once:
// the next delivery resumes from the checkpoint, the settler being
// resumable and idempotent). Messages not started because the deadline is
// near are handed back at once too, and, the queue being FIFO, so are the
// later messages of a failed message's group. A failure is never the
// invocation's: the errors alarm is for the plan and on-demand runs, the
// DLQ alarm for messages that keep failing.
func (h *Handler) HandleSQS(ctx context.Context, ev lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
	var resp lambdaevents.SQSEventResponse
	stopAt, hasDeadline := h.stopAt(ctx)
	groupFailed := map[string]outcome{}
	fresh := 0
	for _, m := range ev.Records {
		group := m.Attributes["MessageGroupId"]
		var res outcome
		switch prev, blocked := groupFailed[group]; {
		case blocked && group != "":
			res = prev
		case hasDeadline && !h.Clock().Before(stopAt):
			res = stopped
		default:
			var n int
			res, n = h.consume(ctx, m, stopAt, hasDeadline)
			fresh += n
		}
		if res == done {
			continue
		}
		groupFailed[group] = res
		resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		h.handBack(ctx, m, res)
	}
	if fresh > 0 {
		h.Log.WarnContext(ctx, "settlement exceptions found", "new_exceptions", fresh)
	}
	writeExceptionMetric(h.Metrics, fresh, time.Now())
	return resp, nil
}

// consume settles one message's task; n is the exceptions found for the
// first time.
func (h *Handler) consume(ctx context.Context, m lambdaevents.SQSMessage, stopAt time.Time, hasDeadline bool) (res outcome, n int) {
	var t Task
	err := json.Unmarshal([]byte(m.Body), &t)
	if err == nil && (t.Company == "" || t.Interface == "") {
		err = errors.New("company and interface are required")
	}
	if err == nil {
		_, err = calendar.ParseDay(string(t.Day))
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "settle: poison message (to the DLQ)", "message_id", m.MessageId, "error", err)
		return poisoned, 0
	}
	log := h.Log.With("company", t.Company, "iface", t.Interface, "day", t.Day, "message_id", m.MessageId,
		"receive_count", m.Attributes["ApproximateReceiveCount"])
	ifaces, err := h.Directory.ListInterfaces(ctx, t.Company) // the interface, scoped to its company
	if err != nil {
		log.ErrorContext(ctx, "settle: interfaces", "error", err)
		return failed, 0
	}
	var iface store.Interface
	for _, i := range ifaces {
		if i.ID == t.Interface {
			iface = i
		}
	}
	if iface.ID == "" || iface.Status != domain.StatusApproved {
		log.WarnContext(ctx, "settle: the interface is gone or no longer approved: nothing to settle", "status", iface.Status)
		return done, 0
	}

	work, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if hasDeadline {
		if d := stopAt.Sub(h.Clock()); d > 0 {
			defer h.afterFunc(d, func() { cancel(errNearDeadline) })()
		} else {
			cancel(errNearDeadline)
		}
	}
	line := h.settleOne(work, iface, t.Day)
	if errors.Is(context.Cause(work), errNearDeadline) {
		log.InfoContext(ctx, "settle: stopped before the deadline; resumes from its checkpoint on the next delivery",
			"statements", len(line.Statements))
		return stopped, line.New
	}
	if line.Error != "" {
		log.ErrorContext(ctx, "settle failed", "error", line.Error)
		return failed, line.New
	}
	log.InfoContext(ctx, "settled", "matched", line.Matched, "exceptions", line.Exceptions, "new_exceptions", line.New)
	return done, line.New
}

// handBack makes a message handed back visible again when it should be. If
// that fails it comes back after the queue's visibility timeout anyway.
func (h *Handler) handBack(ctx context.Context, m lambdaevents.SQSMessage, res outcome) {
	if h.Queue == nil {
		return
	}
	d := time.Duration(0)
	if res == failed {
		d = h.RetryAfter
		if d <= 0 {
			d = DefaultRetryAfter
		}
	}
	if err := h.Queue.Retry(ctx, m.ReceiptHandle, d); err != nil { // ctx: the invocation's, StopBefore left
		h.Log.WarnContext(ctx, "settle: message visibility not changed (it comes back after the visibility timeout)",
			"message_id", m.MessageId, "error", err)
	}
}

// stopAt is when queued work stops: StopBefore the invocation's deadline.
func (h *Handler) stopAt(ctx context.Context) (time.Time, bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	before := h.StopBefore
	if before <= 0 {
		before = DefaultStopBefore
	}
	return dl.Add(-before), true
}

func (h *Handler) afterFunc(d time.Duration, f func()) (stop func() bool) {
	if h.AfterFunc != nil {
		return h.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f).Stop
}

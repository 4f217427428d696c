package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/store"
)

// Counter applies an event to the aggregates once (store.Stats).
type Counter interface {
	Add(ctx context.Context, ev order.Event) (store.StatResult, error)
}

// Handler counts a batch of events from StatsEventsQueue.
type Handler struct {
	Stats Counter
	Log   *slog.Logger
}

// Handle counts each message's event and reports the ones that failed by
// message id (ReportBatchItemFailures): SQS delivers those again, and after
// maxReceiveCount (5) moves them to StatsEventsDLQ. A message whose body is
// not an event, or whose event cannot be counted, fails the same way: it
// ends in the DLQ (alarmed), never silently dropped. Messages of one group
// (one order) stay in order: after a failure, the group's later messages in
// the batch are reported failed without being counted, so SQS hands them
// out again after the failed one. Other groups go on.
func (h *Handler) Handle(ctx context.Context, in lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
	return events.EachInOrder(ctx, in, h.count), nil
}

func (h *Handler) count(ctx context.Context, m lambdaevents.SQSMessage) error {
	var ev order.Event
	if err := json.Unmarshal([]byte(m.Body), &ev); err != nil {
		h.Log.ErrorContext(ctx, "stats: message is not an event", "message_id", m.MessageId, "err", err)
		return err
	}
	res, err := h.Stats.Add(ctx, ev)
	if err != nil {
		level := slog.LevelWarn // transient: SQS delivers it again
		if errors.Is(err, store.ErrBadStatEvent) {
			level = slog.LevelError // it will end in the DLQ
		}
		h.Log.Log(ctx, level, "stats: event not counted", "message_id", m.MessageId, "event_id", ev.ID, "type", ev.Type, "order_id", ev.OrderID, "err", err)
		return err
	}
	h.Log.InfoContext(ctx, "stats: event", "event_id", ev.ID, "type", ev.Type, "order_id", ev.OrderID, "result", string(res))
	return nil
}

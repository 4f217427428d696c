package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/store"
)

// Task is one SettleQueue message: settle and reconcile one interface of a
// company for one business day.
type Task struct {
	Company   string       `json:"company"`
	Interface string       `json:"interface"`
	Day       calendar.Day `json:"day"`
}

// Queue is SettleQueue (SQSQueue).
type Queue interface {
	// Send queues the tasks: at most one message per interface × day within
	// SQS's deduplication interval (5 minutes), however often it is sent.
	Send(ctx context.Context, tasks []Task) error
	// Retry makes a received message visible again after d (0: at once)
	// instead of after the queue's visibility timeout.
	Retry(ctx context.Context, receiptHandle string, d time.Duration) error
}

// PlanReport is what the plan queued.
type PlanReport struct {
	Day    calendar.Day `json:"day"`
	Queued int          `json:"queued"` // messages sent (duplicates of an interface × day are dropped by SQS)
}

// planBatch is how many tasks go out in one SendMessageBatch (SQS's limit).
const planBatch = 10

// Plan queues one task per approved interface the input names (by default
// every one of every company) for the day (by default the previous business
// day). It only lists and sends: the settling is the consumers' (HandleSQS),
// one interface × day per message, each with a Lambda's whole time. A
// listing or sending failure fails the invocation; the schedule's retry
// plans again, and what was already queued is not queued twice (the
// deduplication id is the interface × day).
func (h *Handler) Plan(ctx context.Context, in Input) (PlanReport, error) {
	day, err := h.day(in)
	if err != nil {
		return PlanReport{}, err
	}
	rep := PlanReport{Day: day}
	if h.Queue == nil {
		return rep, errors.New("settle: no SettleQueue to plan into (SETTLE_QUEUE_URL)")
	}
	var batch []Task
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := h.Queue.Send(ctx, batch); err != nil {
			return fmt.Errorf("settle: queue %d tasks: %w", len(batch), err)
		}
		rep.Queued += len(batch)
		batch = batch[:0]
		return nil
	}
	err = h.eachInterface(ctx, in, func(iface store.Interface) error {
		batch = append(batch, Task{Company: iface.CompanyID, Interface: iface.ID, Day: day})
		if len(batch) == planBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "settle plan failed", "day", day, "queued", rep.Queued, "error", err)
		return rep, err
	}
	h.Log.InfoContext(ctx, "settle planned", "day", day, "queued", rep.Queued)
	return rep, nil
}

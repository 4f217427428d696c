package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/estatepay/estatepay/shared/payments"
)

// Handler sweeps once per scheduled invocation.
type Handler struct {
	Payments *payments.Service
	Log      *slog.Logger
}

// Handle sweeps once: every due order of every work shard, until 5 seconds
// before the Lambda deadline. Per-order failures are logged, pushed back and
// retried on a later run; only a failure to list the work fails the invocation.
func (h *Handler) Handle(ctx context.Context, _ json.RawMessage) (payments.SweepReport, error) {
	opt := payments.SweepOptions{}
	if dl, ok := ctx.Deadline(); ok {
		opt.Until = dl.Add(-5 * time.Second)
	}
	rep, err := h.Payments.Sweep(ctx, opt)
	h.Log.InfoContext(ctx, "sweep done", "examined", rep.Examined, "paid", rep.Paid, "refunded", rep.Refunded, "closed", rep.Closed,
		"postponed", rep.Postponed, "refunds_checked", rep.RefundsChecked, "failed", rep.Failed, "stopped", rep.Stopped)
	if err != nil && rep.Examined == 0 && rep.RefundsChecked == 0 {
		return rep, err
	}
	return rep, nil
}

package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/estatepay/estatepay/shared/payments"
)

// Handler sweeps once per scheduled invocation.
type Handler struct {
	Payments *payments.Service
	Log      *slog.Logger
}

// Handle sweeps up to 200 due orders. Per-order failures are logged and retried on
// the next run; only a failure to list the work fails the invocation.
func (h *Handler) Handle(ctx context.Context, _ json.RawMessage) (payments.SweepReport, error) {
	rep, err := h.Payments.Sweep(ctx, 200)
	h.Log.InfoContext(ctx, "sweep done", "examined", rep.Examined, "paid", rep.Paid, "closed", rep.Closed, "events_sent", rep.EventsSent, "failed", rep.Failed)
	if err != nil && rep.Examined == 0 {
		return rep, err
	}
	return rep, nil
}

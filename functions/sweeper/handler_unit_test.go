package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/payments"
)

// TestHandleListFailureFailsInvocation: when the work cannot even be listed,
// the invocation fails (so the error alarm sees it).
func TestHandleListFailureFailsInvocation(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	down := stacktest.DownStore(t)
	h := &Handler{Payments: &payments.Service{Orders: down.OrderRepo(), Directory: down, Log: log}, Log: log}
	ev := stacktest.SampleEvent(t, "sweeper-schedule.json")
	rep, err := h.Handle(context.Background(), json.RawMessage(ev))
	if err == nil || rep != (payments.SweepReport{}) {
		t.Fatalf("got %+v, %v; want an error and an empty report", rep, err)
	}
}

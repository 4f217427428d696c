package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// sampleEvent loads events/alipay-notify.json (API Gateway v2 payload).
func sampleEvent(t *testing.T) web.Request {
	t.Helper()
	var req web.Request
	if err := json.Unmarshal(stacktest.SampleEvent(t, "alipay-notify.json"), &req); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestHandleResponseMapping(t *testing.T) {
	h := &Handler{Payments: &payments.Service{Store: stacktest.DownStore(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	check := func(t *testing.T, resp web.Response, status int) {
		t.Helper()
		if resp.StatusCode != status || resp.Body != "fail" || !strings.HasPrefix(resp.Headers["Content-Type"], "text/plain") {
			t.Fatalf("got %d %v %q, want %d \"fail\"", resp.StatusCode, resp.Headers, resp.Body, status)
		}
	}
	t.Run("DownstreamFailureAsksForRetry", func(t *testing.T) {
		resp, err := h.Handle(context.Background(), sampleEvent(t))
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusInternalServerError)
	})
	t.Run("OversizedBody", func(t *testing.T) {
		req := sampleEvent(t)
		req.Body = strings.Repeat("x", web.MaxBody+1)
		resp, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusBadRequest)
	})
	t.Run("InvalidBase64Body", func(t *testing.T) {
		req := sampleEvent(t)
		req.IsBase64Encoded, req.Body = true, "***"
		resp, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusBadRequest)
	})
}

package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

func TestHandleResponseMapping(t *testing.T) {
	down := stacktest.DownStore(t)
	h := &Handler{Payments: &payments.Service{Orders: down.OrderRepo(), Directory: down, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	check := func(t *testing.T, resp web.Response, status int) {
		t.Helper()
		if resp.StatusCode != status || resp.Body != "fail" || !strings.HasPrefix(resp.Headers["Content-Type"], "text/plain") {
			t.Fatalf("got %d %v %q, want %d \"fail\"", resp.StatusCode, resp.Headers, resp.Body, status)
		}
	}
	t.Run("DownstreamFailureAsksForRetry", func(t *testing.T) {
		resp, err := h.Handle(context.Background(), stacktest.SampleRequest(t, "alipay-notify.json"))
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusInternalServerError)
	})
	t.Run("OversizedBody", func(t *testing.T) {
		req := stacktest.SampleRequest(t, "alipay-notify.json")
		req.Body = strings.Repeat("x", web.MaxBody+1)
		resp, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusBadRequest)
	})
	t.Run("InvalidBase64Body", func(t *testing.T) {
		req := stacktest.SampleRequest(t, "alipay-notify.json")
		req.IsBase64Encoded, req.Body = true, "***"
		resp, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusBadRequest)
	})
}

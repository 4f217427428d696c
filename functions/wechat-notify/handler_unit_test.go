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

func TestHandleResponseMapping(t *testing.T) {
	down := stacktest.DownStore(t)
	h := &Handler{Payments: &payments.Service{Orders: down.OrderRepo(), Directory: down, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	check := func(t *testing.T, resp web.Response, status int, msg string) {
		t.Helper()
		var b map[string]string
		if resp.StatusCode != status || json.Unmarshal([]byte(resp.Body), &b) != nil || b["code"] != "FAIL" || b["message"] != msg ||
			!strings.HasPrefix(resp.Headers["Content-Type"], "application/json") {
			t.Fatalf("got %d %v %q, want %d FAIL %q", resp.StatusCode, resp.Headers, resp.Body, status, msg)
		}
	}
	t.Run("DownstreamFailureAsksForRetry", func(t *testing.T) {
		resp, err := h.Handle(context.Background(), stacktest.SampleRequest(t, "wechat-notify.json"))
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusInternalServerError, "retry later")
	})
	t.Run("OversizedBody", func(t *testing.T) {
		req := stacktest.SampleRequest(t, "wechat-notify.json")
		req.Body = strings.Repeat("x", web.MaxBody+1)
		resp, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusBadRequest, "bad request")
	})
	t.Run("InvalidBase64Body", func(t *testing.T) {
		req := stacktest.SampleRequest(t, "wechat-notify.json")
		req.IsBase64Encoded, req.Body = true, "***"
		resp, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		check(t, resp, http.StatusBadRequest, "bad request")
	})
}

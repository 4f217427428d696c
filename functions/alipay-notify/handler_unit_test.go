package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// sampleEvent loads events/alipay-notify.json (API Gateway v2 payload).
func sampleEvent(t *testing.T) web.Request {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stacktest.Root(t), "events", "alipay-notify.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req web.Request
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

// downStore is a store whose DynamoDB endpoint refuses connections.
func downStore(t *testing.T) *store.Store {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	db := dynamodb.New(dynamodb.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
	return &store.Store{DB: db, Directory: "DirectoryTable", Orders: "OrdersTable"}
}

func TestHandleResponseMapping(t *testing.T) {
	h := &Handler{Payments: &payments.Service{Store: downStore(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
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

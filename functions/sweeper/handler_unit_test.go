package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

// TestHandleListFailureFailsInvocation: when the work cannot even be listed,
// the invocation fails (so the error alarm sees it).
func TestHandleListFailureFailsInvocation(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	db := dynamodb.New(dynamodb.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &Handler{Payments: &payments.Service{Store: &store.Store{DB: db, Orders: "OrdersTable"}, Log: log}, Log: log}
	ev, err := os.ReadFile(filepath.Join(stacktest.Root(t), "events", "sweeper-schedule.json"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := h.Handle(context.Background(), json.RawMessage(ev))
	if err == nil || rep != (payments.SweepReport{}) {
		t.Fatalf("got %+v, %v; want an error and an empty report", rep, err)
	}
}

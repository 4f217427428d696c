package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestLoggerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, slog.LevelInfo).With("function", "F")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	log.InfoContext(ctx, "order paid", "order_id", "EP1")
	log.Info("no context")

	dec := json.NewDecoder(&buf)
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	if first["request_id"] != "req-123" || first["order_id"] != "EP1" || first["function"] != "F" {
		t.Fatalf("record = %v, want request_id, order_id and function", first)
	}
	if _, ok := second["request_id"]; ok || second["function"] != "F" {
		t.Fatalf("record without a Lambda context = %v", second)
	}
}

package stack_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestFixtureFunctionCrashIsReplaced(t *testing.T) {
	s, _ := startFixture(t)
	gw := s.URLs.Gateway

	pid := func() (int, string) {
		t.Helper()
		r := do(t, "GET", gw+"/ok", "", "")
		var v struct {
			PID      int    `json:"pid"`
			Greeting string `json:"greeting"`
			RouteKey string `json:"routeKey"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &v) != nil || v.PID == 0 {
			t.Fatalf("GET /ok: %d %s", r.status, r.body)
		}
		if v.RouteKey != "GET /ok" {
			t.Errorf("routeKey %q", v.RouteKey)
		}
		return v.PID, v.Greeting
	}
	before, greeting := pid()
	if greeting != "hello from ap-southeast-1" {
		t.Errorf("environment !Sub with a pseudo parameter resolved to %q", greeting)
	}
	if again, _ := pid(); again != before {
		t.Errorf("warm instance not reused: pid %d then %d", before, again)
	}

	r := do(t, "GET", gw+"/crash", "", "")
	if r.status != 502 || !isGatewayMessage(r.body, "Internal Server Error") {
		t.Fatalf("GET /crash: %d %s, want 502 {\"message\":\"Internal Server Error\"}", r.status, r.body)
	}
	after, _ := pid()
	if after == before {
		t.Errorf("the crashed instance (pid %d) answered again; want a replacement", before)
	}
	r = do(t, "GET", gw+"/missing", "", "")
	if r.status != 404 || !isGatewayMessage(r.body, "Not Found") {
		t.Errorf("GET /missing: %d %s", r.status, r.body)
	}
}

func TestFixtureSQSPartialBatchFailureToDLQ(t *testing.T) {
	s, log := startFixture(t)
	if _, _, ok := s.SQS().Depth("WorkQueue"); !ok {
		t.Fatalf("fixture queue WorkQueue not created: %v", s.Queues)
	}
	client := sqs.New(sqs.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(s.URLs.SQS),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, body := range []string{"ok", "fail"} {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.Queues["WorkQueue"]), MessageBody: aws.String(body)}); err != nil {
			t.Fatalf("send %q: %v", body, err)
		}
	}

	// maxReceiveCount 2, visibility 1s: "fail" is delivered twice, then moves to the DLQ.
	eventually(t, 20*time.Second, "the failed message to reach WorkDLQ and WorkQueue to drain", func() bool {
		dv, di, _ := s.SQS().Depth("WorkDLQ")
		wv, wi, _ := s.SQS().Depth("WorkQueue")
		return dv == 1 && di == 0 && wv == 0 && wi == 0
	})
	out := log.String()
	for line, want := range map[string]int{
		"consumer: body=ok receive=1":   1,
		"consumer: body=ok receive=2":   0, // succeeded once, deleted: never redelivered
		"consumer: body=fail receive=1": 1,
		"consumer: body=fail receive=2": 1,
		"consumer: body=fail receive=3": 0, // beyond maxReceiveCount: in the DLQ instead
	} {
		if got := strings.Count(out, line); got != want {
			t.Errorf("%q logged %d times, want %d", line, got, want)
		}
	}
	got, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.Queues["WorkDLQ"]), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != "fail" {
		t.Errorf("DLQ holds %+v, want exactly the \"fail\" message", got.Messages)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/infra/local/sqsemu"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/store"
)

type failingSender struct{}

func (failingSender) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, errors.New("sqs down")
}

// One event per interface and day with the count of NEW exceptions: nothing
// when a run finds nothing new; a run's event sent twice is one message
// (FIFO deduplication by interface, day and run); another run's is another.
func TestNewExceptionsPublishedOncePerRun(t *testing.T) {
	now := time.Date(2026, 12, 6, 2, 30, 0, 0, time.UTC)
	srv := sqsemu.New(sqsemu.Config{Now: func() time.Time { return now }, Queues: []sqsemu.QueueConfig{{Name: "NotifyEventsQueue.fifo", FifoQueue: true,
		DeduplicationScope: "messageGroup", FifoThroughputLimit: "perMessageGroupId"}}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	srv.SetBaseURL(ts.URL)
	client := sqs.New(sqs.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", "")})
	url := srv.QueueURL("NotifyEventsQueue.fifo")
	h := &Handler{Notify: SQSExceptions{Client: client, QueueURL: url}, Clock: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	iface := store.Interface{ID: "demo-wechat", CompanyID: "demo-company", Channel: domain.WeChat}
	day := "2026-12-05"
	run := func(id string) context.Context {
		return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
	}
	for _, c := range []struct {
		ctx   context.Context
		fresh int
	}{{run("req-1"), 3}, {run("req-1"), 3}, {run("req-2"), 0}, {run("req-3"), 1}} {
		if err := h.notifyExceptions(c.ctx, iface, calendar.Day(day), c.fresh); err != nil {
			t.Fatal(err)
		}
	}
	var got []notification.ExceptionsFound
	for {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"MessageGroupId"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			var e notification.ExceptionsFound
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatal(err)
			}
			if m.Attributes["MessageGroupId"] != e.Group() || aws.ToString(m.MessageAttributes["type"].StringValue) != notification.EventExceptionsFound {
				t.Fatalf("message %+v", m)
			}
			got = append(got, e)
			client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}) //nolint:errcheck
		}
	}
	if len(got) != 2 || got[0].ID != "settle:demo-wechat:2026-12-05:req-1" || got[0].New != 3 || got[0].CompanyID != "demo-company" ||
		got[0].Channel != "wechat" || got[1].ID != "settle:demo-wechat:2026-12-05:req-3" || got[1].New != 1 {
		t.Fatalf("events %+v, want req-1's (3) once and req-3's (1)", got)
	}

	h.Notify = SQSExceptions{Client: failingSender{}, QueueURL: url}
	if err := h.notifyExceptions(run("req-4"), iface, calendar.Day(day), 2); err == nil || !strings.Contains(err.Error(), "差异通知") {
		t.Fatalf("a failed publish: %v, want the line's error", err)
	}
	h.Notify = nil
	if err := h.notifyExceptions(run("req-5"), iface, calendar.Day(day), 2); err != nil {
		t.Fatalf("no publisher: %v", err)
	}
}

package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/infra/local/sqsemu"
)

// SettleQueue as the template declares it, on the local SQS server, with
// a clock the test moves.
func settleQueue(t *testing.T) (SQSQueue, *sqs.Client, *sqsemu.Server, func(time.Duration)) {
	t.Helper()
	var mu sync.Mutex
	now := time.Now()
	s := sqsemu.New(sqsemu.Config{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }, Queues: []sqsemu.QueueConfig{{
		Name: "SettleQueue.fifo", FifoQueue: true, DeduplicationScope: "messageGroup", FifoThroughputLimit: "perMessageGroupId",
		VisibilityTimeout: 5400 * time.Second, MaxReceiveCount: 10, DeadLetterQueue: "SettleDLQ.fifo",
	}, {Name: "SettleDLQ.fifo", FifoQueue: true}}})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	s.SetBaseURL(ts.URL)
	c := sqs.New(sqs.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", "")})
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
		s.Wake()
	}
	return SQSQueue{Client: c, URL: s.QueueURL("SettleQueue.fifo")}, c, s, advance
}

func receiveAll(t *testing.T, c *sqs.Client, url string) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// Planning a day twice queues each interface × day once (SQS's
// deduplication by interface × day, within its 5 minutes); the group is the
// interface; an id SQS would refuse is hashed.
func TestSettleQueueDeduplicatesAPlannedDay(t *testing.T) {
	q, c, s, advance := settleQueue(t)
	ctx := context.Background()
	tasks := []Task{
		{Company: "c1", Interface: "wx1", Day: "2026-03-02"},
		{Company: "c1", Interface: "ali1", Day: "2026-03-02"},
		{Company: "c1", Interface: "接口 3", Day: "2026-03-02"},
	}
	for range 2 {
		if err := q.Send(ctx, tasks); err != nil {
			t.Fatal(err)
		}
	}
	if visible, _, _ := s.Depth("SettleQueue.fifo"); visible != 3 {
		t.Fatalf("%d messages after planning the day twice, want 3", visible)
	}
	msgs := receiveAll(t, c, q.URL)
	var got []string
	for _, m := range msgs {
		var task Task
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &task); err != nil {
			t.Fatal(err)
		}
		group, dedup := m.Attributes["MessageGroupId"], m.Attributes["MessageDeduplicationId"]
		if task.Interface == "接口 3" {
			if len(group) != 64 || len(dedup) != 64 || group == dedup {
				t.Errorf("ids of an interface SQS would refuse: group %q, dedup %q", group, dedup)
			}
		} else if group != "c1/"+task.Interface || dedup != "c1/"+task.Interface+"/2026-03-02" {
			t.Errorf("task %+v: group %q, dedup %q", task, group, dedup)
		}
		got = append(got, task.Interface)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "ali1,wx1,接口 3" {
		t.Fatalf("received %v", got)
	}

	// Handed back at once, a message is delivered again at once (not after
	// the 90-minute visibility timeout).
	if err := q.Retry(ctx, aws.ToString(msgs[0].ReceiptHandle), 0); err != nil {
		t.Fatal(err)
	}
	again := receiveAll(t, c, q.URL)
	if len(again) != 1 || aws.ToString(again[0].MessageId) != aws.ToString(msgs[0].MessageId) || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the hand-back: %+v", again)
	}
	// Handed back for later, it waits that long.
	if err := q.Retry(ctx, aws.ToString(again[0].ReceiptHandle), 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	advance(14 * time.Minute)
	if m := receiveAll(t, c, q.URL); len(m) != 0 {
		t.Fatalf("delivered before its 15 minutes: %+v", m)
	}
	advance(2 * time.Minute)
	if m := receiveAll(t, c, q.URL); len(m) != 1 {
		t.Fatalf("not delivered after its 15 minutes: %+v", m)
	}

	// Past SQS's 5 minutes a day planned again is queued again (the settler
	// then settles it again, to the same statements).
	if err := q.Send(ctx, tasks[:1]); err != nil {
		t.Fatal(err)
	}
	if visible, inFlight, _ := s.Depth("SettleQueue.fifo"); visible+inFlight != 4 {
		t.Fatalf("%d+%d messages after planning again 16 minutes later, want 4", visible, inFlight)
	}
	if err := q.Send(ctx, make([]Task, 11)); err == nil {
		t.Fatal("a batch of 11 was accepted")
	}
}

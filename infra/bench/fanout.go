package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// Fan-out throughput (issue 9): -fanout payment.succeeded events for 阳光花园
// (demo-both, the demo admin opted in: one recipient) are put on
// NotifyEventsQueue.fifo as the relay would (one message group per order),
// all at once, and the clock runs until the queue is empty (every event
// admitted through the throttle and, where the window allows, sent). The
// throttle sends at most one message per recipient per 10 minutes: the
// demo admin's window is closed first, so one message is sent and the rest
// are held back for the digest.

// FanoutResult is the fan-out measurement (JSON "fanout").
type FanoutResult struct {
	Events          int     `json:"events"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	MessagesSent    int     `json:"messages_sent"`
	Recipients      int     `json:"recipients"`
}

func (b *bench) measureFanout(ctx context.Context) error {
	url := b.s.Queues["NotifyEventsQueue"]
	if url == "" {
		return fmt.Errorf("no NotifyEventsQueue in the stack")
	}
	name := path.Base(url)
	empty := func() bool {
		v, f, ok := b.s.SQS().Depth(name)
		return ok && v == 0 && f == 0
	}
	if err := waitUntil(ctx, 30*time.Second, func() bool { return b.s.StreamsCaughtUp() && empty() }); err != nil {
		return fmt.Errorf("earlier events still queued: %w", err)
	}
	client := sqs.New(sqs.Options{Region: stack.Region, BaseEndpoint: aws.String(b.s.URLs.SQS),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	n := b.cfg.Fanout
	run := time.Now().UnixNano()
	var batches [][]sqstypes.SendMessageBatchRequestEntry
	for i := range n {
		at := time.Now().UTC()
		id := fmt.Sprintf("EPBENCHFAN%d%06d", run%1_000_000_000, i)
		ev := order.Event{ID: id + ":3", Type: order.EventPaid, Aggregate: "order", OrderID: id, Version: 3, From: order.Pending, Status: order.Paid,
			CommunityID: "demo-both", CompanyID: "demo-company", Channel: "alipay", IfaceID: "demo-alipay", MerchantID: "2088000000000009",
			AmountFen: int64(100 + i%900), At: at, PaidAt: &at, BusinessDay: calendar.BusinessDay(at)}
		body, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if i%10 == 0 {
			batches = append(batches, nil)
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], sqstypes.SendMessageBatchRequestEntry{
			Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(string(body)), MessageGroupId: aws.String(id), MessageDeduplicationId: aws.String(ev.ID),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{"type": {DataType: aws.String("String"), StringValue: aws.String(ev.Type)}}})
	}
	// The window an earlier phase's payment opened is closed (as ten minutes
	// would), so the first event sends at once and the rest are held back.
	if _, err := b.s.Store().DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(b.s.Tables["AccessTable"]),
		Key: map[string]dbtypes.AttributeValue{"pk": &dbtypes.AttributeValueMemberS{Value: "NOTIFYWIN#demo-admin"}, "sk": &dbtypes.AttributeValueMemberS{Value: "A"}}}); err != nil {
		return err
	}
	before := len(b.s.Outbox().Messages())
	t := time.Now()
	for _, batch := range batches {
		out, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: batch})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("send: %d failed, first %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	if err := waitUntil(ctx, 2*time.Minute, empty); err != nil {
		return fmt.Errorf("fan-out did not drain %d events: %w", n, err)
	}
	took := time.Since(t)
	r := FanoutResult{Events: n, Seconds: round2(took.Seconds()), EventsPerSecond: round2(float64(n) / took.Seconds()),
		MessagesSent: len(b.s.Outbox().Messages()) - before, Recipients: 1}
	progress("  %d events in %.2fs: %.0f events/s, %d messages sent", r.Events, r.Seconds, r.EventsPerSecond, r.MessagesSent)
	b.rep.Fanout = &r
	return nil
}

// waitUntil polls cond every 2 ms until it holds or limit passes.
func waitUntil(ctx context.Context, limit time.Duration, cond func() bool) error {
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) {
			return fmt.Errorf("not within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond): // polling interval
		}
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/infra/local/sqsemu"
	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
)

type deadMessage struct{ ID, Body, Reason string }

type postponed struct {
	Receipt string
	Delay   time.Duration
}

// fakeQueue records what the handler does with its messages.
type fakeQueue struct {
	mu        sync.Mutex
	dead      []deadMessage
	postponed []postponed
	deadErr   error
}

func (q *fakeQueue) Postpone(_ context.Context, receipt string, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.postponed = append(q.postponed, postponed{receipt, d})
	return nil
}

func (q *fakeQueue) DeadLetter(_ context.Context, m lambdaevents.SQSMessage, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deadErr != nil {
		return q.deadErr
	}
	q.dead = append(q.dead, deadMessage{m.MessageId, m.Body, reason})
	return nil
}

func (q *fakeQueue) Dead() []deadMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]deadMessage(nil), q.dead...)
}

func (q *fakeQueue) Postponed() []postponed {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]postponed(nil), q.postponed...)
}

// received is m as SQS hands it out for the n-th time.
func received(m lambdaevents.SQSMessage, n int) lambdaevents.SQSMessage {
	attrs := map[string]string{}
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs["ApproximateReceiveCount"] = fmt.Sprint(n)
	m.Attributes = attrs
	m.ReceiptHandle = fmt.Sprintf("rh-%s-%d", m.MessageId, n)
	return m
}

// A transient failure is retried with a backoff that doubles per receive
// (ChangeMessageVisibility), never looping; on the last allowed receive the
// message goes to the DLQ with the last error, acknowledged.
func TestTransientFailureBacksOffThenTheLastReceiveGoesToTheDLQ(t *testing.T) {
	f := newFixture(t, "alice", "bob")
	f.send.fail["bob"] = errors.New("provider timeout")
	h := f.handler(nil)
	m := message(t, "m1", paid(1, 900, t0))
	var delays []time.Duration
	for n := 1; n <= 4; n++ {
		if failed := handle(t, h, received(m, n)); strings.Join(failed, ",") != "m1" {
			t.Fatalf("receive %d: failures %v, want m1 (bob's timeout)", n, failed)
		}
		p := f.queue.Postponed()
		if len(p) != n || p[n-1].Receipt != fmt.Sprintf("rh-m1-%d", n) {
			t.Fatalf("receive %d: postponed %+v", n, p)
		}
		delays = append(delays, p[n-1].Delay)
	}
	if fmt.Sprint(delays) != "[30s 1m0s 2m0s 4m0s]" {
		t.Fatalf("backoff %v, want 30s 1m 2m 4m", delays)
	}
	if failed := handle(t, h, received(m, 5)); len(failed) != 0 {
		t.Fatalf("last receive: failures %v, want it acknowledged (in the DLQ)", failed)
	}
	dead := f.queue.Dead()
	if len(dead) != 1 || dead[0].ID != "m1" || dead[0].Body != m.Body ||
		!strings.HasPrefix(dead[0].Reason, "retries exhausted (receive 5 of 5): failed: provider timeout") {
		t.Fatalf("DLQ %+v", dead)
	}
	if n := len(f.queue.Postponed()); n != 4 {
		t.Fatalf("the dead message was postponed too (%d)", n)
	}
	// alice was told once, on the first receive; bob never.
	if got := f.send.Sent(); len(got) != 1 || got[0].To != "alice" {
		t.Fatalf("sent %+v", got)
	}
	// Redriven from the DLQ once the provider is back: bob's queued message goes out, alice is not told twice.
	delete(f.send.fail, "bob")
	if failed := handle(t, h, received(message(t, "m1-redriven", paid(1, 900, t0)), 1)); len(failed) != 0 {
		t.Fatalf("redriven: %v", failed)
	}
	if got := f.send.Sent(); len(got) != 2 || got[1].To != "bob" || got[1].Note.Amount != "9.00元" {
		t.Fatalf("after the redrive: %+v", got)
	}
}

// If the DLQ cannot be written, the message is reported failed (it comes
// back; the queue's redrive policy is the last resort): nothing is lost.
func TestDLQRefusalKeepsTheMessage(t *testing.T) {
	f := newFixture(t, "alice")
	f.queue.deadErr = errors.New("sqs down")
	h := f.handler(nil)
	poison := received(lambdaevents.SQSMessage{MessageId: "p", Body: "[]"}, 1)
	if failed := handle(t, h, poison); strings.Join(failed, ",") != "p" {
		t.Fatalf("failures %v, want the poison message kept", failed)
	}
}

func oaFixture(t *testing.T, f *fixture) (*outbox.Server, *Delivery) {
	t.Helper()
	ob, err := outbox.New(outbox.Config{WeChatOA: map[string]string{"wxoa": "s3cret"}, Now: f.clock.Now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ob.Handler())
	t.Cleanup(srv.Close)
	oa := &wechatoa.Client{BaseURL: srv.URL, AppID: "wxoa", Secret: "s3cret", Cache: tokenCache{N: f.notes}, Now: f.clock.Now}
	return ob, &Delivery{OA: oa, OATemplateID: "tpl-pay", OALinkURL: "https://pay.example.com/admin/records", BaseURL: "https://pay.example.com", Email: &ports{}}
}

// 45009 (the day's quota used up) is neither the recipient's problem nor
// permanent: the message is retried with the quota's longer backoff.
func TestQuotaExhaustedIsRetriedWithTheLongerBackoff(t *testing.T) {
	f := newFixture(t, "alice")
	ob, d := oaFixture(t, f)
	h := f.handler(d)
	ob.FailOpenID("oAlice", wechatoa.CodeQuotaExhausted)
	m := message(t, "m1", paid(1, 250, t0))
	for n, want := range map[int]time.Duration{1: 5 * time.Minute, 2: 10 * time.Minute} {
		if failed := handle(t, h, received(m, n)); strings.Join(failed, ",") != "m1" {
			t.Fatalf("receive %d: failures %v", n, failed)
		}
		if p := f.queue.Postponed(); p[len(p)-1].Delay != want {
			t.Fatalf("receive %d: backoff %v, want %v", n, p[len(p)-1].Delay, want)
		}
	}
	if pref, _, _ := f.notes.Preference(context.Background(), "co", "sun", "alice"); pref.Problem != "" {
		t.Fatalf("a used-up quota recorded as alice's problem: %q", pref.Problem)
	}
	ob.FailOpenID("oAlice", 0)
	if failed := handle(t, h, received(m, 3)); len(failed) != 0 {
		t.Fatalf("after the quota refilled: %v", failed)
	}
	if msgs := ob.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Body, "amount: 2.50元") {
		t.Fatalf("outbox %+v", msgs)
	}
}

// A refusal an operator must fix (40037: the template id is wrong) goes to
// the DLQ at once with WeChat's answer as the reason; redriven after the
// fix, the message is sent.
func TestMisconfiguredAccountGoesToTheDLQAtOnce(t *testing.T) {
	f := newFixture(t, "alice")
	ob, d := oaFixture(t, f)
	h := f.handler(d)
	ob.FailOpenID("oAlice", 40037)
	m := message(t, "m1", paid(1, 250, t0))
	if failed := handle(t, h, received(m, 1)); len(failed) != 0 {
		t.Fatalf("failures %v, want the message in the DLQ", failed)
	}
	dead := f.queue.Dead()
	if len(dead) != 1 || !strings.HasPrefix(dead[0].Reason, "misconfigured: wechatoa: 40037") {
		t.Fatalf("DLQ %+v", dead)
	}
	ob.FailOpenID("oAlice", 0)
	if failed := handle(t, h, received(message(t, "m1-redriven", paid(1, 250, t0)), 1)); len(failed) != 0 {
		t.Fatalf("redriven: %v", failed)
	}
	if msgs := ob.Messages(); len(msgs) != 1 {
		t.Fatalf("outbox %+v, want the message sent after the redrive", msgs)
	}
}

// A flush that meets an account-wide refusal stops (one call a minute, not
// one per digest); a digest failing for over a day is recorded failed.
func TestFlushStopsOnAccountWideRefusalAndGivesUpAfterADay(t *testing.T) {
	f := newFixture(t, "alice", "bob")
	ob, d := oaFixture(t, f)
	h := f.handler(d)
	for i, at := range []time.Duration{0, time.Minute} {
		f.clock.Set(t0.Add(at))
		handle(t, h, message(t, fmt.Sprint("m", i), paid(i, 100, t0.Add(at))))
	}
	if n := len(ob.Messages()); n != 2 {
		t.Fatalf("%d instant messages, want one each", n)
	}
	ob.FailOpenID("oAlice", wechatoa.CodeQuotaExhausted)
	ob.FailOpenID("oBob", wechatoa.CodeQuotaExhausted)
	f.clock.Set(t0.Add(notification.Window + time.Minute))
	if rep := flush(t, h); rep.Digests != 1 || rep.Failed != 1 || rep.Sent != 0 {
		t.Fatalf("flush under a used-up quota: %+v, want it to stop after the first refusal", rep)
	}
	f.clock.Set(f.clock.Now().Add(time.Minute))
	if rep := flush(t, h); rep.Digests != 1 || rep.Failed != 1 {
		t.Fatalf("next minute: %+v", rep)
	}
	f.clock.Set(t0.Add(DigestGiveUp + time.Hour))
	rep := flush(t, h)
	if rep.GaveUp != 2 || rep.Failed != 0 {
		t.Fatalf("a day later: %+v, want both digests given up", rep)
	}
	f.clock.Set(f.clock.Now().Add(time.Minute))
	if rep := flush(t, h); rep.Digests != 0 {
		t.Fatalf("given-up digests tried again: %+v", rep)
	}
}

// SQSQueue against the SQS emulator on a test clock: the backoff hides the
// message exactly as long as asked; the DLQ copy keeps the body, the group
// and the type, carries the reason, and a second copy of the same receive is
// dropped by its deduplication id.
func TestSQSQueuePostponesAndDeadLetters(t *testing.T) {
	clk := &clock{now: t0}
	srv := sqsemu.New(sqsemu.Config{Now: clk.Now, Queues: []sqsemu.QueueConfig{
		{Name: "NotifyEventsQueue.fifo", FifoQueue: true, VisibilityTimeout: time.Minute, DeadLetterQueue: "NotifyEventsDLQ.fifo", MaxReceiveCount: 5,
			DeduplicationScope: "messageGroup", FifoThroughputLimit: "perMessageGroupId"},
		{Name: "NotifyEventsDLQ.fifo", FifoQueue: true},
	}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	srv.SetBaseURL(ts.URL)
	client := sqs.New(sqs.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", "")})
	q := SQSQueue{Client: client, QueueURL: srv.QueueURL("NotifyEventsQueue.fifo"), DLQURL: srv.QueueURL("NotifyEventsDLQ.fifo")}
	ctx := context.Background()

	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.QueueURL), MessageBody: aws.String(`{"event_id":"e1"}`),
		MessageGroupId: aws.String("ord1"), MessageDeduplicationId: aws.String("e1")}); err != nil {
		t.Fatal(err)
	}
	receive := func(url string) []lambdaevents.SQSMessage {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		var ms []lambdaevents.SQSMessage
		for _, m := range out.Messages {
			lm := lambdaevents.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
				Attributes: m.Attributes, MessageAttributes: map[string]lambdaevents.SQSMessageAttribute{}}
			for k, v := range m.MessageAttributes {
				lm.MessageAttributes[k] = lambdaevents.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue}
			}
			ms = append(ms, lm)
		}
		return ms
	}
	got := receive(q.QueueURL)
	if len(got) != 1 {
		t.Fatalf("received %d", len(got))
	}
	if err := q.Postpone(ctx, got[0].ReceiptHandle, 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(4*time.Minute - time.Second))
	if again := receive(q.QueueURL); len(again) != 0 {
		t.Fatal("visible again a second before the backoff ended (the queue's own timeout is 1 minute)")
	}
	clk.Set(t0.Add(4 * time.Minute))
	again := receive(q.QueueURL)
	if len(again) != 1 || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the backoff: %+v", again)
	}

	m := again[0]
	m.MessageAttributes["type"] = lambdaevents.SQSMessageAttribute{DataType: "String", StringValue: aws.String("payment.succeeded")}
	reason := "retries exhausted (receive 5 of 5): " + strings.Repeat("原因", 400) // longer than kept
	for range 2 {
		if err := q.DeadLetter(ctx, m, reason); err != nil {
			t.Fatal(err)
		}
	}
	dead := receive(q.DLQURL)
	if len(dead) != 1 {
		t.Fatalf("%d copies in the DLQ, want 1 (deduplicated by the source message id)", len(dead))
	}
	d := dead[0]
	r := aws.ToString(d.MessageAttributes["reason"].StringValue)
	if d.Body != m.Body || d.Attributes["MessageGroupId"] != "ord1" || aws.ToString(d.MessageAttributes["type"].StringValue) != "payment.succeeded" ||
		!strings.HasPrefix(r, "retries exhausted") || len(r) > maxReason || !utf8.ValidString(r) ||
		aws.ToString(d.MessageAttributes["source_message_id"].StringValue) != m.MessageId || aws.ToString(d.MessageAttributes["receive_count"].StringValue) != "2" {
		t.Fatalf("DLQ message %+v (reason %d bytes)", d, len(r))
	}
}

package sqsemu

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// invocation is one call of the function under a mapping; the test answers
// it through reply.
type invocation struct {
	event events.SQSEvent
	reply chan<- invokeResult
}

type invokeResult struct {
	resp []byte
	err  error
}

// runMapping starts RunMapping with an invoke func that hands each event to
// the test and waits for its answer.
func runMapping(t *testing.T, s *Server, m Mapping) (calls <-chan invocation, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan invocation)
	done := make(chan error, 1)
	go func() {
		done <- s.RunMapping(ctx, m, func(_ context.Context, event []byte) ([]byte, error) {
			var ev events.SQSEvent
			if err := json.Unmarshal(event, &ev); err != nil {
				return nil, err
			}
			reply := make(chan invokeResult, 1)
			ch <- invocation{event: ev, reply: reply}
			r := <-reply
			return r.resp, r.err
		})
	}()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

func next(t *testing.T, calls <-chan invocation) invocation {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("mapping did not invoke the function")
		return invocation{}
	}
}

func bodies(ev events.SQSEvent) map[string]events.SQSMessage {
	out := map[string]events.SQSMessage{}
	for _, r := range ev.Records {
		out[r.Body] = r
	}
	return out
}

func failures(ids ...string) []byte {
	var r events.SQSEventResponse
	for _, id := range ids {
		r.BatchItemFailures = append(r.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	b, _ := json.Marshal(r)
	return b
}

func sendBodies(t *testing.T, c *sqs.Client, url string, bs ...string) {
	t.Helper()
	for _, b := range bs {
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b),
			MessageAttributes: map[string]types.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("k-" + b)}}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMappingPartialBatchFailureThenDLQ(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Region: "ap-east-1", AccountID: "111122223333"})
	url := queueURL(t, c, "events")
	sendBodies(t, c, url, "ok", "bad")
	calls, stop := runMapping(t, s, Mapping{Queue: "events", BatchSize: 10, ReportBatchItemFailures: true})

	call := next(t, calls)
	recs := bodies(call.event)
	if len(recs) != 2 {
		t.Fatalf("first batch has %d records, want 2", len(recs))
	}
	bad := recs["bad"]
	if bad.EventSource != "aws:sqs" || bad.EventSourceARN != "arn:aws:sqs:ap-east-1:111122223333:events" || bad.AWSRegion != "ap-east-1" ||
		bad.Md5OfBody != md5String("bad") || bad.ReceiptHandle == "" || bad.MessageId == "" ||
		bad.Attributes["ApproximateReceiveCount"] != "1" || bad.Attributes["SenderId"] != "111122223333" ||
		bad.Attributes["SentTimestamp"] != "1740816000000" || bad.Attributes["ApproximateFirstReceiveTimestamp"] != "1740816000000" ||
		aws.ToString(bad.MessageAttributes["kind"].StringValue) != "k-bad" || bad.MessageAttributes["kind"].DataType != "String" {
		t.Fatalf("record does not look like Lambda's: %+v", bad)
	}
	call.reply <- invokeResult{resp: failures(bad.MessageId)}

	// After the visibility timeout only the failed message comes back.
	clock.Advance(30 * time.Second)
	s.Wake()
	call = next(t, calls)
	if len(call.event.Records) != 1 || call.event.Records[0].Body != "bad" ||
		call.event.Records[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("second batch: %+v", call.event.Records)
	}
	call.reply <- invokeResult{resp: failures(call.event.Records[0].MessageId)}

	// maxReceiveCount (2) reached: the next receive moves it to the DLQ.
	clock.Advance(30 * time.Second)
	s.Wake()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL(t, c, "events-dlq")), WaitTimeSeconds: 10})
	if err != nil || len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "bad" ||
		aws.ToString(out.Messages[0].MessageId) != bad.MessageId {
		t.Fatalf("DLQ receive: %v %+v", err, out)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunMapping returned %v, want context.Canceled", err)
	}
	if v, f, _ := s.Depth("events"); v+f != 0 {
		t.Fatalf("source queue still holds %d visible, %d in flight", v, f)
	}
}

func TestMappingInvokeErrorRedeliversWholeBatch(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Queues: []QueueConfig{{Name: "q", VisibilityTimeout: 10 * time.Second}}})
	url := queueURL(t, c, "q")
	sendBodies(t, c, url, "a", "b")
	calls, stop := runMapping(t, s, Mapping{Queue: "q", ReportBatchItemFailures: true})

	call := next(t, calls)
	if len(call.event.Records) != 2 {
		t.Fatalf("first batch: %d records", len(call.event.Records))
	}
	call.reply <- invokeResult{err: errors.New("function crashed")}

	clock.Advance(10 * time.Second)
	s.Wake()
	call = next(t, calls)
	recs := bodies(call.event)
	if len(recs) != 2 || recs["a"].Attributes["ApproximateReceiveCount"] != "2" || recs["b"].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("redelivered batch: %+v", call.event.Records)
	}
	call.reply <- invokeResult{resp: []byte(`{"batchItemFailures":[]}`)}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunMapping: %v", err)
	}
	if v, f, _ := s.Depth("q"); v+f != 0 {
		t.Fatalf("successful batch not deleted: visible %d in flight %d", v, f)
	}
}

func TestMappingUnknownFailureIDFailsWholeBatch(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Queues: []QueueConfig{{Name: "q", VisibilityTimeout: 10 * time.Second}}})
	sendBodies(t, c, queueURL(t, c, "q"), "a", "b")
	calls, stop := runMapping(t, s, Mapping{Queue: "q", ReportBatchItemFailures: true})
	call := next(t, calls)
	call.reply <- invokeResult{resp: failures("not-in-batch")}
	clock.Advance(10 * time.Second)
	s.Wake()
	call = next(t, calls)
	if len(call.event.Records) != 2 {
		t.Fatalf("want both messages redelivered, got %d", len(call.event.Records))
	}
	call.reply <- invokeResult{}
	_ = stop()
}

func TestMappingWithoutReportDeletesAll(t *testing.T) {
	s, c := start(t, Config{Queues: []QueueConfig{{Name: "q"}}})
	sendBodies(t, c, queueURL(t, c, "q"), "a", "b", "c")
	calls, stop := runMapping(t, s, Mapping{Queue: "q", BatchSize: 2})
	seen := 0
	for seen < 3 {
		call := next(t, calls)
		if len(call.event.Records) > 2 {
			t.Fatalf("batch of %d exceeds BatchSize 2", len(call.event.Records))
		}
		seen += len(call.event.Records)
		// Failures are ignored without ReportBatchItemFailures.
		call.reply <- invokeResult{resp: failures(call.event.Records[0].MessageId)}
	}
	_ = stop()
	if v, f, _ := s.Depth("q"); v+f != 0 {
		t.Fatalf("left visible %d in flight %d", v, f)
	}
}

func TestMappingBatchingWindowGathersLateMessages(t *testing.T) {
	s, c := start(t, Config{Queues: []QueueConfig{{Name: "q"}}})
	url := queueURL(t, c, "q")
	waits := make(chan struct{}, 16)
	s.waitHook = func() { waits <- struct{}{} }
	calls, stop := runMapping(t, s, Mapping{Queue: "q", BatchSize: 2, MaximumBatchingWindow: 20 * time.Second})
	<-waits // idle mapping blocks
	sendBodies(t, c, url, "first")
	<-waits // holds "first", waiting inside the batching window
	sendBodies(t, c, url, "second")
	call := next(t, calls)
	if len(call.event.Records) != 2 {
		t.Fatalf("batching window delivered %d records, want 2", len(call.event.Records))
	}
	call.reply <- invokeResult{}
	_ = stop()
}

func TestMappingUnknownQueue(t *testing.T) {
	s := New(Config{})
	if err := s.RunMapping(context.Background(), Mapping{Queue: "nope"}, nil); err == nil {
		t.Fatal("mapping on an undeclared queue started")
	}
}

package stack_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/streammap"
)

const eventsStreamArn = "arn:aws:dynamodb:ap-southeast-1:000000000000:table/EventsTable/stream/2025-03-01T08:00:00.000"

// testStream stands in for the embedded DynamoDB's stream of EventsTable.
// TODO(merge): once the embedded DynamoDB keeps streams, write items to
// EventsTable through the DynamoDB API instead and drop Options.StreamSource.
type testStream struct {
	mu      sync.Mutex
	recs    []streammap.Record
	next    int
	changed chan struct{}
}

func newTestStream() *testStream {
	return &testStream{next: 1000, changed: make(chan struct{})}
}

func (f *testStream) StreamArn(table string) string {
	if table == "EventsTable" {
		return eventsStreamArn
	}
	return ""
}

func (f *testStream) ReadStream(_, after string, limit int) ([]streammap.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []streammap.Record
	for _, r := range f.recs {
		if len(out) < limit && (after == "" || streammap.SeqLess(after, r.SequenceNumber)) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *testStream) StreamChanged(string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// put appends a change of item pk and returns its sequence number. eventID ""
// makes a fresh one.
func (f *testStream) put(eventID, name, pk, status string, fail bool) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := strconv.Itoa(f.next)
	f.next++
	if eventID == "" {
		eventID = "ev-" + seq
	}
	img := map[string]json.RawMessage{"pk": json.RawMessage(`{"S":"` + pk + `"}`), "status": json.RawMessage(`{"S":"` + status + `"}`)}
	if fail {
		img["fail"] = json.RawMessage(`{"BOOL":true}`)
	}
	f.recs = append(f.recs, streammap.Record{EventID: eventID, EventName: name, SequenceNumber: seq,
		Keys: map[string]json.RawMessage{"pk": img["pk"]}, NewImage: img, ApproximateCreationDateTime: time.Now(),
		SizeBytes: 100, StreamViewType: "NEW_AND_OLD_IMAGES"})
	close(f.changed)
	f.changed = make(chan struct{})
	return seq
}

func startStreams(t *testing.T, state, bin string, src *testStream) (*stack.Stack, *logBuffer) {
	t.Helper()
	log := &logBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Root: filepath.Join("testdata", "streams"), StateDir: state, BinDir: bin, Log: log,
		NoSchedules: true, SnapshotEvery: time.Hour, StreamSource: src})
	if err != nil {
		t.Fatalf("start streams fixture: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		_ = s.Close()
		if t.Failed() {
			t.Logf("streams fixture log:\n%s", log.String())
		}
	})
	return s, log
}

func checkpointOf(t *testing.T, state string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "streams-checkpoint.json"))
	if err != nil {
		return ""
	}
	var f struct {
		Mappings map[string]streammap.Position `json:"mappings"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("streams-checkpoint.json: %v\n%s", err, b)
	}
	p := f.Mappings["RelayFunction.Changes"]
	if p.Table != "EventsTable" {
		t.Fatalf("checkpoint %+v names another table", p)
	}
	return p.After
}

func TestStreamMappingRelaysToFIFOQueue(t *testing.T) {
	state := t.TempDir()
	src := newTestStream()
	s, log := startStreams(t, state, "", src)
	if got := s.Queues["OrderedQueue"]; !strings.HasSuffix(got, "/OrderedQueue.fifo") {
		t.Fatalf("FIFO queue URL %q, want a .fifo name", got)
	}
	client := sqs.New(sqs.Options{Region: stack.Region, BaseEndpoint: aws.String(s.URLs.SQS),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first := src.put("", "INSERT", "order-a", "PENDING", false)
	src.put("", "INSERT", "order-b", "PENDING", false)
	third := src.put("", "MODIFY", "order-a", "PAID", false)
	eventually(t, 20*time.Second, "three relayed messages in OrderedQueue.fifo", func() bool {
		v, _, _ := s.SQS().Depth("OrderedQueue.fifo")
		return v == 3
	})
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.Queues["OrderedQueue"]), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range out.Messages {
		got = append(got, aws.ToString(m.Body)+"/"+m.Attributes["MessageGroupId"]+"/"+m.Attributes["MessageDeduplicationId"])
		if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.Queues["OrderedQueue"]), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	want := "order-a:PENDING/order-a/ev-" + first + ",order-b:PENDING/order-b/ev-1001,order-a:PAID/order-a/ev-" + third
	if strings.Join(got, ",") != want {
		t.Fatalf("FIFO queue delivered %v, want %s", got, want)
	}
	if !strings.Contains(log.String(), "queue=OrderedQueue.fifo") {
		t.Error("!GetAtt OrderedQueue.QueueName did not resolve to the .fifo name in the function's environment")
	}

	// The same event delivered again (at least once) is published again, and the FIFO queue drops it.
	again := src.put("ev-"+first, "INSERT", "order-a", "PENDING", false)
	eventually(t, 20*time.Second, "the repeated event to be processed", func() bool { return checkpointOf(t, state) == again })
	if v, f, _ := s.SQS().Depth("OrderedQueue.fifo"); v+f != 0 {
		t.Fatalf("a repeated event id was enqueued again: %d visible, %d in flight", v, f)
	}

	// A record the function keeps failing: invoked twice (MaximumRetryAttempts 1), then reported.
	bad := src.put("", "MODIFY", "order-c", "PAID", true)
	eventually(t, 20*time.Second, "an on-failure record in StreamFailures", func() bool {
		v, _, _ := s.SQS().Depth("StreamFailures")
		return v == 1
	})
	fo, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.Queues["StreamFailures"])})
	if err != nil || len(fo.Messages) != 1 {
		t.Fatalf("receive on-failure record: %v %+v", err, fo)
	}
	var rec struct {
		RequestContext struct {
			FunctionArn, Condition string
			ApproximateInvokeCount int
		} `json:"requestContext"`
		Info struct {
			StartSequenceNumber, EndSequenceNumber, StreamArn string
			BatchSize                                         int
		} `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(fo.Messages[0].Body)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.Condition != "RetryAttemptsExhausted" || rec.RequestContext.ApproximateInvokeCount != 2 ||
		rec.RequestContext.FunctionArn != "arn:aws:lambda:ap-southeast-1:000000000000:function:RelayFunction" ||
		rec.Info.StartSequenceNumber != bad || rec.Info.EndSequenceNumber != bad || rec.Info.BatchSize != 1 || rec.Info.StreamArn != eventsStreamArn {
		t.Fatalf("on-failure record %s", aws.ToString(fo.Messages[0].Body))
	}
	if n := strings.Count(log.String(), "relay: seq="+bad+" "); n != 2 {
		t.Errorf("the failing record was delivered %d times, want 2", n)
	}
	if cp := checkpointOf(t, state); cp != bad {
		t.Errorf("checkpoint %q after giving up on %s", cp, bad)
	}

	// Restart: records written while the stack is down are delivered after it; nothing before is.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	late := src.put("", "MODIFY", "order-b", "PAID", false)
	s2, log2 := startStreams(t, state, filepath.Join(state, "build"), src)
	eventually(t, 20*time.Second, "the record written while stopped to be relayed", func() bool {
		v, _, _ := s2.SQS().Depth("OrderedQueue.fifo")
		return v == 1
	})
	if out := log2.String(); strings.Count(out, "relay: seq=") != 1 || !strings.Contains(out, "relay: seq="+late+" ") {
		t.Errorf("after the restart the relay saw:\n%s\nwant only %s", out, late)
	}
}

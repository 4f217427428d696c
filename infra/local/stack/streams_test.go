package stack_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/streammap"
)

// streamWriter writes EventsTable items through the DynamoDB API; the
// embedded DynamoDB's stream carries each change to the relay fixture.
type streamWriter struct {
	t *testing.T
	s *stack.Stack
}

// put writes item pk with status (n makes an otherwise identical write a
// change) and returns the sequence number of its stream record.
func (w streamWriter) put(pk, status string, n int, fail bool) string {
	w.t.Helper()
	item := map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "status": &ddbtypes.AttributeValueMemberS{Value: status},
		"n": &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(n)},
	}
	if fail {
		item["fail"] = &ddbtypes.AttributeValueMemberBOOL{Value: true}
	}
	if _, err := dynamo.Client(w.s.URLs.DynamoDB).PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(w.s.Tables["EventsTable"]), Item: item}); err != nil {
		w.t.Fatal(err)
	}
	recs, err := w.s.DynamoDB().ReadStream(w.s.Tables["EventsTable"], "", 0)
	if err != nil || len(recs) == 0 {
		w.t.Fatalf("stream after put: %v (%d records)", err, len(recs))
	}
	return recs[len(recs)-1].SequenceNumber
}

func startStreams(t *testing.T, state, bin string) (*stack.Stack, *logBuffer) {
	t.Helper()
	log := &logBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Root: filepath.Join("testdata", "streams"), StateDir: state, BinDir: bin, Log: log,
		NoSchedules: true, SnapshotEvery: time.Hour})
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
	s, log := startStreams(t, state, "")
	src := streamWriter{t: t, s: s}
	eventsStreamArn := s.DynamoDB().StreamArn(s.Tables["EventsTable"])
	if got := s.Queues["OrderedQueue"]; !strings.HasSuffix(got, "/OrderedQueue.fifo") {
		t.Fatalf("FIFO queue URL %q, want a .fifo name", got)
	}
	client := sqs.New(sqs.Options{Region: stack.Region, BaseEndpoint: aws.String(s.URLs.SQS),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	src.put("order-a", "PENDING", 0, false)
	src.put("order-b", "PENDING", 0, false)
	src.put("order-a", "PAID", 0, false)
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
	want := "order-a:PENDING/order-a/order-a:PENDING,order-b:PENDING/order-b/order-b:PENDING,order-a:PAID/order-a/order-a:PAID"
	if strings.Join(got, ",") != want {
		t.Fatalf("FIFO queue delivered %v, want %s", got, want)
	}
	if !strings.Contains(log.String(), "queue=OrderedQueue.fifo") {
		t.Error("!GetAtt OrderedQueue.QueueName did not resolve to the .fifo name in the function's environment")
	}

	// A change that publishes a message with the same deduplication id again
	// (as a retried relay would) is dropped by the FIFO queue.
	again := src.put("order-a", "PAID", 1, false)
	eventually(t, 20*time.Second, "the repeated event to be processed", func() bool { return checkpointOf(t, state) == again })
	if v, f, _ := s.SQS().Depth("OrderedQueue.fifo"); v+f != 0 {
		t.Fatalf("a repeated event id was enqueued again: %d visible, %d in flight", v, f)
	}

	// A record the function keeps failing: invoked twice (MaximumRetryAttempts 1), then reported.
	bad := src.put("order-c", "PAID", 0, true)
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

	// Restart: the stream and the mapping's position survive it; nothing done
	// before is delivered again, and the next change is.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, log2 := startStreams(t, state, filepath.Join(state, "build"))
	late := streamWriter{t: t, s: s2}.put("order-b", "PAID", 0, false)
	eventually(t, 20*time.Second, "the record written while stopped to be relayed", func() bool {
		v, _, _ := s2.SQS().Depth("OrderedQueue.fifo")
		return v == 1
	})
	if out := log2.String(); strings.Count(out, "relay: seq=") != 1 || !strings.Contains(out, "relay: seq="+late+" ") {
		t.Errorf("after the restart the relay saw:\n%s\nwant only %s", out, late)
	}
}

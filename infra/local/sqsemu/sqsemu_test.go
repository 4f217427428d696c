package sqsemu

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testQueues() []QueueConfig {
	return []QueueConfig{
		{Name: "events", VisibilityTimeout: 30 * time.Second, DeadLetterQueue: "events-dlq", MaxReceiveCount: 2},
		{Name: "events-dlq"},
	}
}

// start serves a Server on a loopback httptest server and returns it with
// an SDK client pointed at it.
func start(t *testing.T, cfg Config) (*Server, *sqs.Client) {
	t.Helper()
	if cfg.Queues == nil {
		cfg.Queues = testQueues()
	}
	s := New(cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	s.SetBaseURL(ts.URL)
	c := sqs.New(sqs.Options{
		Region:       "ap-southeast-1",
		BaseEndpoint: aws.String(ts.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	})
	return s, c
}

func md5String(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func queueURL(t *testing.T, c *sqs.Client, name string) string {
	t.Helper()
	out, err := c.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetQueueUrl(%s): %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func queueAttrs(t *testing.T, c *sqs.Client, url string) map[string]string {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	return out.Attributes
}

func TestSendReceiveDelete(t *testing.T) {
	s, c := start(t, Config{AccountID: "123456789012"})
	ctx := context.Background()
	url := queueURL(t, c, "events")
	if want := s.QueueURL("events"); url != want || url[len(url)-len("/123456789012/events"):] != "/123456789012/events" {
		t.Fatalf("queue url %q, want %q ending in /123456789012/events", url, want)
	}
	body := `{"order":"o-1","amount_fen":12345,"note":"物业费"}`
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(url),
		MessageBody: aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("paid")},
			"blob": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
		},
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if got := aws.ToString(sent.MD5OfMessageBody); got != md5String(body) {
		t.Fatalf("MD5OfMessageBody %s, want %s", got, md5String(body))
	}
	if aws.ToString(sent.MD5OfMessageAttributes) == "" {
		t.Fatal("MD5OfMessageAttributes missing")
	}

	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         10,
		MessageAttributeNames:       []string{"kind"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("received %d messages, want 1", len(got.Messages))
	}
	m := got.Messages[0]
	if aws.ToString(m.Body) != body || aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) {
		t.Fatalf("message %q/%q, want %q/%q", aws.ToString(m.MessageId), aws.ToString(m.Body), aws.ToString(sent.MessageId), body)
	}
	if aws.ToString(m.MD5OfBody) != md5String(body) {
		t.Fatalf("MD5OfBody %s", aws.ToString(m.MD5OfBody))
	}
	if _, ok := m.MessageAttributes["blob"]; ok || aws.ToString(m.MessageAttributes["kind"].StringValue) != "paid" {
		t.Fatalf("message attributes %+v, want only kind=paid", m.MessageAttributes)
	}
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" ||
		m.Attributes["ApproximateFirstReceiveTimestamp"] == "" || m.Attributes["SenderId"] != "123456789012" {
		t.Fatalf("system attributes %+v", m.Attributes)
	}
	if a := queueAttrs(t, c, url); a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "1" {
		t.Fatalf("after receive: %v", a)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if a := queueAttrs(t, c, url); a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("after delete: %v", a)
	}
	// An empty short poll returns no messages and no error.
	empty, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if err != nil || len(empty.Messages) != 0 {
		t.Fatalf("empty receive: %v, %d messages", err, len(empty.Messages))
	}
}

func TestMD5OfMessageAttributesKnownValue(t *testing.T) {
	// Computed independently from the documented algorithm:
	// len("a")|"a"|len("String")|"String"|0x01|len("b")|"b".
	var buf bytes.Buffer
	buf.Write([]byte{0, 0, 0, 1, 'a', 0, 0, 0, 6})
	buf.WriteString("String")
	buf.Write([]byte{1, 0, 0, 0, 1, 'b'})
	sum := md5.Sum(buf.Bytes())
	got := md5OfAttributes(map[string]Attribute{"a": {DataType: "String", StringValue: aws.String("b")}})
	if got != hex.EncodeToString(sum[:]) {
		t.Fatalf("md5OfAttributes = %s, want %s", got, hex.EncodeToString(sum[:]))
	}
}

func TestBatchOperations(t *testing.T) {
	_, c := start(t, Config{})
	ctx := context.Background()
	url := queueURL(t, c, "events")
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{
		QueueUrl: aws.String(url),
		Entries: []types.SendMessageBatchRequestEntry{
			{Id: aws.String("a"), MessageBody: aws.String("one")},
			{Id: aws.String("b"), MessageBody: aws.String("two")},
			{Id: aws.String("bad"), MessageBody: aws.String("x"), DelaySeconds: 901},
		},
	})
	if err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	if len(out.Successful) != 2 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "bad" ||
		aws.ToString(out.Failed[0].Code) != "InvalidParameterValue" || !out.Failed[0].SenderFault {
		t.Fatalf("batch result: %+v / %+v", out.Successful, out.Failed)
	}
	for _, e := range out.Successful {
		want := map[string]string{"a": "one", "b": "two"}[aws.ToString(e.Id)]
		if aws.ToString(e.MD5OfMessageBody) != md5String(want) {
			t.Fatalf("entry %s md5 %s", aws.ToString(e.Id), aws.ToString(e.MD5OfMessageBody))
		}
	}

	recv, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if err != nil || len(recv.Messages) != 2 {
		t.Fatalf("receive: %v, %d messages", err, len(recv.Messages))
	}
	if aws.ToString(recv.Messages[0].Body) != "one" || aws.ToString(recv.Messages[1].Body) != "two" {
		t.Fatalf("order: %q, %q", aws.ToString(recv.Messages[0].Body), aws.ToString(recv.Messages[1].Body))
	}
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{
		QueueUrl: aws.String(url),
		Entries: []types.DeleteMessageBatchRequestEntry{
			{Id: aws.String("x1"), ReceiptHandle: recv.Messages[0].ReceiptHandle},
			{Id: aws.String("x2"), ReceiptHandle: recv.Messages[1].ReceiptHandle},
			{Id: aws.String("x3"), ReceiptHandle: aws.String("garbage")},
		},
	})
	if err != nil {
		t.Fatalf("DeleteMessageBatch: %v", err)
	}
	if len(del.Successful) != 2 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("delete batch: %+v / %+v", del.Successful, del.Failed)
	}
	if a := queueAttrs(t, c, url); a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("after batch delete: %v", a)
	}

	// Whole-request batch errors.
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("d"), MessageBody: aws.String("1")}, {Id: aws.String("d"), MessageBody: aws.String("2")},
	}})
	var distinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &distinct) {
		t.Fatalf("duplicate ids: %v (%T), want BatchEntryIdsNotDistinct", err, err)
	}
	entries := make([]types.SendMessageBatchRequestEntry, 11)
	for i := range entries {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String("e" + strconv.Itoa(i)), MessageBody: aws.String("x")}
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Fatalf("11 entries: %v (%T), want TooManyEntriesInBatchRequest", err, err)
	}
}

func TestQueueAttributes(t *testing.T) {
	_, c := start(t, Config{Region: "ap-east-1", AccountID: "111122223333"})
	url := queueURL(t, c, "events")
	a := queueAttrs(t, c, url)
	want := map[string]string{
		"QueueArn":                              "arn:aws:sqs:ap-east-1:111122223333:events",
		"VisibilityTimeout":                     "30",
		"RedrivePolicy":                         `{"deadLetterTargetArn":"arn:aws:sqs:ap-east-1:111122223333:events-dlq","maxReceiveCount":2}`,
		"ApproximateNumberOfMessages":           "0",
		"ApproximateNumberOfMessagesNotVisible": "0",
		"MessageRetentionPeriod":                "345600",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %q, want %q", k, a[k], v)
		}
	}
	// Selected names only.
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil || len(out.Attributes) != 1 {
		t.Fatalf("selected attributes: %v %v", err, out.Attributes)
	}
	dlq := queueAttrs(t, c, queueURL(t, c, "events-dlq"))
	if _, ok := dlq["RedrivePolicy"]; ok {
		t.Fatalf("DLQ has a redrive policy: %v", dlq)
	}
}

func TestUnknownQueueError(t *testing.T) {
	_, c := start(t, Config{})
	ctx := context.Background()
	_, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	var dne *types.QueueDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatalf("GetQueueUrl(nope) error %v (%T), want *types.QueueDoesNotExist", err, err)
	}
	if dne.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Fatalf("error code %q, want the query-compatible code", dne.ErrorCode())
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("http://127.0.0.1/000000000000/nope"), MessageBody: aws.String("x")})
	if !errors.As(err, &dne) {
		t.Fatalf("SendMessage to unknown queue: %v, want *types.QueueDoesNotExist", err)
	}
}

func TestInvalidParameters(t *testing.T) {
	_, c := start(t, Config{})
	ctx := context.Background()
	url := queueURL(t, c, "events")
	_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
	if err == nil {
		t.Fatal("MaxNumberOfMessages=11 accepted")
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("bad \x01 char")})
	var contents *types.InvalidMessageContents
	if !errors.As(err, &contents) {
		t.Fatalf("control character: %v, want InvalidMessageContents", err)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("nonsense")})
	var rh *types.ReceiptHandleIsInvalid
	if !errors.As(err, &rh) {
		t.Fatalf("bad receipt: %v, want ReceiptHandleIsInvalid", err)
	}
}

func TestVisibilityTimeoutRedelivery(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Queues: []QueueConfig{{Name: "events", VisibilityTimeout: 30 * time.Second}}})
	ctx := context.Background()
	url := queueURL(t, c, "events")
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	receive := func() []types.Message {
		t.Helper()
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		return out.Messages
	}
	first := receive()
	if len(first) != 1 {
		t.Fatalf("first receive: %d", len(first))
	}
	clock.Advance(29 * time.Second)
	if got := receive(); len(got) != 0 {
		t.Fatalf("message visible before its timeout: %+v", got)
	}
	clock.Advance(time.Second)
	s.Wake()
	second := receive()
	if len(second) != 1 || second[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("redelivery: %+v", second)
	}
	if aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Fatal("receipt handle did not change between receives")
	}
	// Deleting with the stale handle succeeds but does not delete.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Fatalf("stale delete: %v", err)
	}
	if _, inFlight, _ := s.Depth("events"); inFlight != 1 {
		t.Fatalf("stale handle deleted the message (in flight %d)", inFlight)
	}
	// ChangeMessageVisibility to 0 makes it visible at once.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 0,
	}); err != nil {
		t.Fatalf("ChangeMessageVisibility: %v", err)
	}
	third := receive()
	if len(third) != 1 || third[0].Attributes["ApproximateReceiveCount"] != "3" {
		t.Fatalf("after visibility 0: %+v", third)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if v, f, _ := s.Depth("events"); v+f != 0 {
		t.Fatalf("not deleted: visible %d in flight %d", v, f)
	}
}

func TestVisibilityExpiryWakesLongPoll(t *testing.T) {
	// Real clock: a 100ms visibility timeout must wake a 20s long poll via
	// the internal timer.
	_, c := start(t, Config{Queues: []QueueConfig{{Name: "q", VisibilityTimeout: 100 * time.Millisecond}}})
	ctx := context.Background()
	url := queueURL(t, c, "q")
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	if out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); err != nil || len(out.Messages) != 1 {
		t.Fatalf("first receive: %v", err)
	}
	begin := time.Now()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("long poll: %v, %d messages", err, len(out.Messages))
	}
	if el := time.Since(begin); el > 5*time.Second {
		t.Fatalf("long poll took %v: not woken by visibility expiry", el)
	}
}

func TestLongPollWokenBySend(t *testing.T) {
	s, c := start(t, Config{})
	ctx := context.Background()
	url := queueURL(t, c, "events")
	waiting := make(chan struct{}, 1)
	s.waitHook = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	type result struct {
		msgs []types.Message
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		begin := time.Now()
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
		r := result{err: err, took: time.Since(begin)}
		if out != nil {
			r.msgs = out.Messages
		}
		done <- r
	}()
	<-waiting // the receiver is blocked on the empty queue
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("wake")}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || len(r.msgs) != 1 || aws.ToString(r.msgs[0].Body) != "wake" {
		t.Fatalf("long poll result: %v %+v", r.err, r.msgs)
	}
	if r.took > 10*time.Second {
		t.Fatalf("long poll returned after %v; not woken by send", r.took)
	}
}

func TestPurgeQueue(t *testing.T) {
	s, c := start(t, Config{})
	ctx := context.Background()
	url := queueURL(t, c, "events")
	for i := range 3 {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatalf("PurgeQueue: %v", err)
	}
	if v, f, _ := s.Depth("events"); v != 0 || f != 0 {
		t.Fatalf("after purge: visible %d in flight %d", v, f)
	}
}

func TestSnapshotRestore(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now})
	ctx := context.Background()
	url := queueURL(t, c, "events")
	for _, b := range []string{"first", "second"} {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b),
			MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String(b)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/sqs.json"
	if err := s.SnapshotFile(path); err != nil {
		t.Fatalf("SnapshotFile: %v", err)
	}

	s2, c2 := start(t, Config{Now: clock.Now})
	if err := s2.RestoreFile(path); err != nil {
		t.Fatalf("RestoreFile: %v", err)
	}
	if v, f, _ := s2.Depth("events"); v != 1 || f != 1 {
		t.Fatalf("restored depth visible %d in flight %d, want 1/1", v, f)
	}
	url2 := queueURL(t, c2, "events")
	out, err := c2.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url2), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	if err != nil || len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "second" ||
		aws.ToString(out.Messages[0].MessageAttributes["k"].StringValue) != "second" {
		t.Fatalf("restored receive: %v %+v", err, out)
	}
	// The in-flight one comes back with its receive count preserved.
	clock.Advance(31 * time.Second)
	s2.Wake()
	out, err = c2.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url2),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	if err != nil || len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "first" ||
		out.Messages[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("restored in-flight message: %v %+v", err, out)
	}
	// Missing snapshot file is a fresh start.
	if err := s2.RestoreFile(t.TempDir() + "/none.json"); err != nil {
		t.Fatalf("missing file: %v", err)
	}
	// Undeclared queues are reported.
	s3 := New(Config{Queues: []QueueConfig{{Name: "other"}}})
	var buf bytes.Buffer
	if err := s.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	if err := s3.Restore(&buf); err == nil {
		t.Fatal("restore into a server without the queues reported no dropped messages")
	}
}

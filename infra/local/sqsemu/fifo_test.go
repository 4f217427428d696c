package sqsemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

func fifoQueues() []QueueConfig {
	return []QueueConfig{
		{Name: "orders.fifo", FifoQueue: true, VisibilityTimeout: 30 * time.Second, DeadLetterQueue: "orders-dlq.fifo", MaxReceiveCount: 2},
		{Name: "orders-dlq.fifo", FifoQueue: true},
		{Name: "content.fifo", FifoQueue: true, ContentBasedDeduplication: true},
		{Name: "bygroup.fifo", FifoQueue: true, DeduplicationScope: "messageGroup", FifoThroughputLimit: "perMessageGroupId"},
		{Name: "plain"},
	}
}

// fifoSend sends one FIFO message and returns its id and sequence number.
func fifoSend(t *testing.T, c *sqs.Client, url, body, group, dedup string) (id, seq string) {
	t.Helper()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body), MessageGroupId: aws.String(group)}
	if dedup != "" {
		in.MessageDeduplicationId = aws.String(dedup)
	}
	out, err := c.SendMessage(context.Background(), in)
	if err != nil {
		t.Fatalf("send %q to %s: %v", body, url, err)
	}
	if aws.ToString(out.MessageId) == "" || aws.ToString(out.SequenceNumber) == "" {
		t.Fatalf("send %q: no message id or sequence number: %+v", body, out)
	}
	return aws.ToString(out.MessageId), aws.ToString(out.SequenceNumber)
}

// receiveAll receives up to max messages with every system attribute.
func receiveAll(t *testing.T, c *sqs.Client, url string, max int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: max,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
	if err != nil {
		t.Fatalf("receive from %s: %v", url, err)
	}
	return out.Messages
}

func msgBodies(ms []types.Message) string {
	var b []string
	for _, m := range ms {
		b = append(b, aws.ToString(m.Body))
	}
	return strings.Join(b, ",")
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// seqLess compares decimal sequence numbers.
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func TestFIFODeduplicationWindow(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Queues: fifoQueues()})
	url := queueURL(t, c, "orders.fifo")

	id1, seq1 := fifoSend(t, c, url, "paid", "order-1", "evt-1")
	// Same deduplication id, other body and group: accepted, same answer, not enqueued.
	id2, seq2 := fifoSend(t, c, url, "something else", "order-2", "evt-1")
	if id2 != id1 || seq2 != seq1 {
		t.Fatalf("duplicate send answered %s/%s, want the first send's %s/%s", id2, seq2, id1, seq1)
	}
	if v, f, _ := s.Depth("orders.fifo"); v != 1 || f != 0 {
		t.Fatalf("after a duplicate: %d visible %d in flight, want 1/0", v, f)
	}

	// Deleting the message does not end the interval.
	ms := receiveAll(t, c, url, 10)
	if len(ms) != 1 || aws.ToString(ms[0].Body) != "paid" {
		t.Fatalf("receive: %s", msgBodies(ms))
	}
	if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: ms[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DeduplicationInterval - time.Second)
	if id, _ := fifoSend(t, c, url, "paid", "order-1", "evt-1"); id != id1 {
		t.Fatalf("send 1s before the interval ends got new id %s", id)
	}
	if v, _, _ := s.Depth("orders.fifo"); v != 0 {
		t.Fatalf("duplicate within the interval was enqueued (%d visible)", v)
	}

	// Once the interval has passed, the same id is a new message with a later sequence number.
	clock.Advance(time.Second)
	id3, seq3 := fifoSend(t, c, url, "paid", "order-1", "evt-1")
	if id3 == id1 || !seqLess(seq1, seq3) {
		t.Fatalf("after the interval: id %s seq %s (first %s %s), want a new id and a larger sequence number", id3, seq3, id1, seq1)
	}
	if v, _, _ := s.Depth("orders.fifo"); v != 1 {
		t.Fatalf("send after the interval not enqueued")
	}
}

func TestFIFOContentBasedDeduplication(t *testing.T) {
	s, c := start(t, Config{Queues: fifoQueues()})
	url := queueURL(t, c, "content.fifo")
	a, _ := fifoSend(t, c, url, "body-x", "g", "")
	b, _ := fifoSend(t, c, url, "body-x", "other-group", "")
	if a != b {
		t.Fatalf("same body sent twice got ids %s and %s, want one", a, b)
	}
	if y, _ := fifoSend(t, c, url, "body-y", "g", ""); y == a {
		t.Fatal("a different body was deduplicated")
	}
	// An explicit id takes precedence over the body's hash.
	if z, _ := fifoSend(t, c, url, "body-x", "g", "explicit"); z == a {
		t.Fatal("an explicit deduplication id was ignored")
	}
	if v, _, _ := s.Depth("content.fifo"); v != 3 {
		t.Fatalf("depth %d, want 3", v)
	}
	ms := receiveAll(t, c, url, 10)
	sum := sha256.Sum256([]byte("body-x"))
	if len(ms) != 3 || ms[0].Attributes["MessageDeduplicationId"] != hex.EncodeToString(sum[:]) ||
		ms[2].Attributes["MessageDeduplicationId"] != "explicit" {
		t.Fatalf("received %s with attributes %v / %v", msgBodies(ms), ms[0].Attributes, ms[len(ms)-1].Attributes)
	}
}

func TestFIFODeduplicationScope(t *testing.T) {
	s, c := start(t, Config{Queues: fifoQueues()})
	for name, want := range map[string]int{"bygroup.fifo": 2, "orders.fifo": 1} {
		url := queueURL(t, c, name)
		fifoSend(t, c, url, "m", "g1", "same")
		fifoSend(t, c, url, "m", "g2", "same")
		if v, _, _ := s.Depth(name); v != want {
			t.Errorf("%s: one deduplication id in two groups made %d messages, want %d", name, v, want)
		}
	}
}

func TestFIFOGroupOrderAndLock(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Queues: fifoQueues()})
	ctx := context.Background()
	url := queueURL(t, c, "orders.fifo")
	var seqs []string
	for i, m := range [][2]string{{"a1", "A"}, {"b1", "B"}, {"a2", "A"}, {"a3", "A"}, {"b2", "B"}} {
		_, seq := fifoSend(t, c, url, m[0], m[1], "d"+string(rune('0'+i)))
		if len(seqs) > 0 && !seqLess(seqs[len(seqs)-1], seq) {
			t.Fatalf("sequence %s after %s does not increase", seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, seq)
	}

	first := receiveAll(t, c, url, 2)
	if msgBodies(first) != "a1,b1" {
		t.Fatalf("first receive %q, want a1,b1", msgBodies(first))
	}
	if a := first[0].Attributes; a["MessageGroupId"] != "A" || a["MessageDeduplicationId"] != "d0" || a["SequenceNumber"] != seqs[0] {
		t.Fatalf("system attributes %v", a)
	}
	// Both groups have a message in flight: nothing else may be handed out.
	if got := receiveAll(t, c, url, 10); len(got) != 0 {
		t.Fatalf("receive while both groups are locked returned %q", msgBodies(got))
	}
	// Deleting a1 unlocks group A only, and its messages come in order.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if got := msgBodies(receiveAll(t, c, url, 10)); got != "a2,a3" {
		t.Fatalf("after deleting a1: %q, want a2,a3", got)
	}
	// b1 becomes visible again: it is redelivered before b2, then b2 follows in the same receive.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: first[1].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	got := receiveAll(t, c, url, 10)
	if msgBodies(got) != "b1,b2" || got[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after b1's visibility reset: %q %v, want b1 (second receive), b2", msgBodies(got), got)
	}
	// Standard queues keep their behaviour and carry no FIFO attributes.
	plain := queueURL(t, c, "plain")
	sendBodies(t, c, plain, "x")
	if ms := receiveAll(t, c, plain, 1); len(ms) != 1 || ms[0].Attributes["SequenceNumber"] != "" || ms[0].Attributes["MessageGroupId"] != "" {
		t.Fatalf("standard queue message: %+v", ms)
	}
	_ = s
}

func TestFIFOSendErrors(t *testing.T) {
	_, c := start(t, Config{Queues: fifoQueues()})
	ctx := context.Background()
	url := queueURL(t, c, "orders.fifo")
	cases := []struct {
		name string
		in   *sqs.SendMessageInput
		code string
		msg  string
	}{
		{"no group", &sqs.SendMessageInput{MessageDeduplicationId: aws.String("d")}, "MissingParameter", "MessageGroupId"},
		{"no dedup id", &sqs.SendMessageInput{MessageGroupId: aws.String("g")}, "InvalidParameterValue", "ContentBasedDeduplication"},
		{"per-message delay", &sqs.SendMessageInput{MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d"), DelaySeconds: 5}, "InvalidParameterValue", "DelaySeconds"},
		{"bad group id", &sqs.SendMessageInput{MessageGroupId: aws.String("g\u00e9"), MessageDeduplicationId: aws.String("d")}, "InvalidParameterValue", "MessageGroupId"},
		{"long dedup id", &sqs.SendMessageInput{MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String(strings.Repeat("d", 129))}, "InvalidParameterValue", "MessageDeduplicationId"},
	}
	for _, tc := range cases {
		tc.in.QueueUrl, tc.in.MessageBody = aws.String(url), aws.String("m")
		_, err := c.SendMessage(ctx, tc.in)
		if apiCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %s mentioning %s", tc.name, err, tc.code, tc.msg)
		}
	}
	// A deduplication id is refused on a standard queue.
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL(t, c, "plain")), MessageBody: aws.String("m"), MessageDeduplicationId: aws.String("d")})
	if apiCode(err) != "InvalidParameterValue" {
		t.Errorf("deduplication id on a standard queue: %v", err)
	}
}

func TestFIFOSendMessageBatch(t *testing.T) {
	s, c := start(t, Config{Queues: fifoQueues()})
	url := queueURL(t, c, "orders.fifo")
	out, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("e1"), MessageBody: aws.String("one"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d1")},
		{Id: aws.String("e2"), MessageBody: aws.String("two"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d2")},
		{Id: aws.String("e3"), MessageBody: aws.String("one again"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d1")},
		{Id: aws.String("e4"), MessageBody: aws.String("no group"), MessageDeduplicationId: aws.String("d4")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]types.SendMessageBatchResultEntry{}
	for _, e := range out.Successful {
		res[aws.ToString(e.Id)] = e
	}
	if len(res) != 3 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "e4" || aws.ToString(out.Failed[0].Code) != "MissingParameter" {
		t.Fatalf("batch result: ok %v failed %+v", res, out.Failed)
	}
	if aws.ToString(res["e3"].MessageId) != aws.ToString(res["e1"].MessageId) || aws.ToString(res["e3"].SequenceNumber) != aws.ToString(res["e1"].SequenceNumber) {
		t.Errorf("duplicate entry e3 got %v, want e1's id and sequence", res["e3"])
	}
	if !seqLess(aws.ToString(res["e1"].SequenceNumber), aws.ToString(res["e2"].SequenceNumber)) {
		t.Errorf("sequence numbers %s, %s do not increase", aws.ToString(res["e1"].SequenceNumber), aws.ToString(res["e2"].SequenceNumber))
	}
	if v, _, _ := s.Depth("orders.fifo"); v != 2 {
		t.Errorf("depth %d, want 2", v)
	}
}

func TestFIFODeadLetterAfterMaxReceiveCount(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Queues: fifoQueues()})
	url := queueURL(t, c, "orders.fifo")
	fifoSend(t, c, url, "poison", "g", "p")
	fifoSend(t, c, url, "next", "g", "n")
	for i := 1; i <= 2; i++ {
		got := receiveAll(t, c, url, 1)
		if msgBodies(got) != "poison" {
			t.Fatalf("receive %d: %q, want poison", i, msgBodies(got))
		}
		// The group stays locked while poison is in flight.
		if more := receiveAll(t, c, url, 10); len(more) != 0 {
			t.Fatalf("receive %d: %q handed out behind an in-flight message", i, msgBodies(more))
		}
		clock.Advance(30 * time.Second)
	}
	// Received twice (maxReceiveCount 2): it moves to the DLQ and the group moves on.
	if got := msgBodies(receiveAll(t, c, url, 10)); got != "next" {
		t.Fatalf("after the move: %q, want next", got)
	}
	dlq := receiveAll(t, c, queueURL(t, c, "orders-dlq.fifo"), 10)
	if len(dlq) != 1 || aws.ToString(dlq[0].Body) != "poison" || dlq[0].Attributes["MessageGroupId"] != "g" ||
		dlq[0].Attributes["MessageDeduplicationId"] != "p" || dlq[0].Attributes["SequenceNumber"] == "" {
		t.Fatalf("DLQ holds %+v", dlq)
	}
	_ = s
}

func TestFIFOQueueAttributes(t *testing.T) {
	_, c := start(t, Config{Queues: fifoQueues()})
	a := queueAttrs(t, c, queueURL(t, c, "bygroup.fifo"))
	for k, v := range map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false", "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"} {
		if a[k] != v {
			t.Errorf("%s = %q, want %q", k, a[k], v)
		}
	}
	if a := queueAttrs(t, c, queueURL(t, c, "content.fifo")); a["ContentBasedDeduplication"] != "true" || a["DeduplicationScope"] != "queue" || a["FifoThroughputLimit"] != "perQueue" {
		t.Errorf("content.fifo attributes %v", a)
	}
	if a := queueAttrs(t, c, queueURL(t, c, "plain")); a["FifoQueue"] != "" {
		t.Errorf("standard queue reports FifoQueue=%q", a["FifoQueue"])
	}
}

func TestFIFOSnapshotKeepsDeduplicationAndSequence(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Queues: fifoQueues()})
	url := queueURL(t, c, "orders.fifo")
	id1, _ := fifoSend(t, c, url, "one", "g", "d1")
	_, seq2 := fifoSend(t, c, url, "two", "g", "d2")
	path := t.TempDir() + "/sqs.json"
	if err := s.SnapshotFile(path); err != nil {
		t.Fatal(err)
	}

	s2, c2 := start(t, Config{Now: clock.Now, Queues: fifoQueues()})
	if err := s2.RestoreFile(path); err != nil {
		t.Fatal(err)
	}
	url2 := queueURL(t, c2, "orders.fifo")
	clock.Advance(time.Minute)
	if id, _ := fifoSend(t, c2, url2, "one", "g", "d1"); id != id1 {
		t.Errorf("restored queue enqueued a duplicate (id %s, first %s)", id, id1)
	}
	if _, seq3 := fifoSend(t, c2, url2, "three", "g", "d3"); !seqLess(seq2, seq3) {
		t.Errorf("sequence after restore %s, not above %s", seq3, seq2)
	}
	if got := msgBodies(receiveAll(t, c2, url2, 10)); got != "one,two,three" {
		t.Errorf("restored queue delivers %q, want one,two,three", got)
	}
}

func TestNewRejectsBadFIFODeclarations(t *testing.T) {
	for name, qs := range map[string][]QueueConfig{
		"fifo without suffix":     {{Name: "q", FifoQueue: true}},
		"suffix without fifo":     {{Name: "q.fifo"}},
		"standard dlq for fifo":   {{Name: "q.fifo", FifoQueue: true, DeadLetterQueue: "d", MaxReceiveCount: 1}, {Name: "d"}},
		"fifo dlq for standard":   {{Name: "q", DeadLetterQueue: "d.fifo", MaxReceiveCount: 1}, {Name: "d.fifo", FifoQueue: true}},
		"bad scope":               {{Name: "q.fifo", FifoQueue: true, DeduplicationScope: "group"}},
		"per group without scope": {{Name: "q.fifo", FifoQueue: true, FifoThroughputLimit: "perMessageGroupId"}},
		"fifo attr on standard":   {{Name: "q", ContentBasedDeduplication: true}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: New accepted %+v", name, qs)
				}
			}()
			New(Config{Queues: qs})
		}()
	}
}

func TestServerSend(t *testing.T) {
	s, c := start(t, Config{Queues: fifoQueues()})
	id, err := s.Send("plain", "direct")
	if err != nil || id == "" {
		t.Fatalf("Send: %q %v", id, err)
	}
	if ms := receiveAll(t, c, queueURL(t, c, "plain"), 1); len(ms) != 1 || aws.ToString(ms[0].MessageId) != id || aws.ToString(ms[0].Body) != "direct" {
		t.Fatalf("received %+v", ms)
	}
	if _, err := s.Send("orders.fifo", "x"); err == nil {
		t.Error("Send to a FIFO queue without a group succeeded")
	}
	if _, err := s.Send("nope", "x"); err == nil {
		t.Error("Send to an undeclared queue succeeded")
	}
}

func TestMappingFIFOFailedItemHoldsBackItsGroup(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, Config{Now: clock.Now, Queues: []QueueConfig{{Name: "ev.fifo", FifoQueue: true, VisibilityTimeout: 10 * time.Second}}})
	url := queueURL(t, c, "ev.fifo")
	for i, m := range [][2]string{{"a1", "A"}, {"a2", "A"}, {"b1", "B"}, {"a3", "A"}, {"b2", "B"}} {
		fifoSend(t, c, url, m[0], m[1], "d"+string(rune('0'+i)))
	}
	calls, stop := runMapping(t, s, Mapping{Queue: "ev.fifo", BatchSize: 10, ReportBatchItemFailures: true})

	call := next(t, calls)
	var order []string
	for _, r := range call.event.Records {
		order = append(order, r.Body)
	}
	if strings.Join(order, ",") != "a1,a2,b1,a3,b2" {
		t.Fatalf("batch order %v, want send order", order)
	}
	a2 := call.event.Records[1]
	if a2.Attributes["MessageGroupId"] != "A" || a2.Attributes["MessageDeduplicationId"] != "d1" || a2.Attributes["SequenceNumber"] == "" {
		t.Fatalf("record attributes %v", a2.Attributes)
	}
	// a2 fails: a3 (same group, later) counts as failed too; b1, b2 and a1 are done.
	call.reply <- invokeResult{resp: failures(a2.MessageId)}

	clock.Advance(10 * time.Second)
	s.Wake()
	call = next(t, calls)
	order = order[:0]
	for _, r := range call.event.Records {
		order = append(order, r.Body+"#"+r.Attributes["ApproximateReceiveCount"])
	}
	if strings.Join(order, ",") != "a2#2,a3#2" {
		t.Fatalf("redelivered %v, want a2 then a3, each on its second receive", order)
	}
	call.reply <- invokeResult{}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunMapping: %v", err)
	}
	if v, f, _ := s.Depth("ev.fifo"); v+f != 0 {
		t.Fatalf("left %d visible %d in flight", v, f)
	}
}

package events

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
)

const (
	statsQ   = "https://sqs.local/000000000000/StatsEventsQueue.fifo"
	invoiceQ = "https://sqs.local/000000000000/InvoiceEventsQueue.fifo"
)

// fakeSQS records what each queue received. failQueue/failID make the entry
// with that event id fail (in the batch's Failed list) on that queue, once.
type fakeSQS struct {
	got       map[string][]string // queue → event ids
	calls     map[string]int      // queue → SendMessageBatch calls
	failQueue string
	failID    string
}

func (f *fakeSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q := aws.ToString(in.QueueUrl)
	f.calls[q]++
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		id := aws.ToString(e.MessageDeduplicationId)
		if q == f.failQueue && id == f.failID {
			f.failQueue = ""
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again"), SenderFault: false})
			continue
		}
		var ev order.Event
		if err := json.Unmarshal([]byte(aws.ToString(e.MessageBody)), &ev); err != nil || ev.ID != id ||
			e.MessageAttributes["type"].StringValue == nil || *e.MessageAttributes["type"].StringValue != ev.Type {
			return nil, errors.New("malformed entry")
		}
		f.got[q] = append(f.got[q], id)
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func newFake() *fakeSQS { return &fakeSQS{got: map[string][]string{}, calls: map[string]int{}} }

// batch is n events; every event at index i%4 == 3 is a refund, the rest payments.
func batch(n int) []order.Event {
	evs := make([]order.Event, n)
	for i := range evs {
		evs[i] = order.Event{ID: "EP" + strconv.Itoa(i) + ":4", Type: order.EventPaid, OrderID: "EP" + strconv.Itoa(i)}
		if i%4 == 3 {
			evs[i].Type = refund.EventSucceeded
			evs[i].ID = "RF" + strconv.Itoa(i) + ":2"
		}
	}
	return evs
}

func ids(evs []order.Event, keep func(order.Event) bool) []string {
	var out []string
	for _, e := range evs {
		if keep(e) {
			out = append(out, e.ID)
		}
	}
	return out
}

func all(order.Event) bool { return true }

func isRefund(e order.Event) bool {
	return e.Type == refund.EventSucceeded || e.Type == order.EventRefunded
}

func invoiceTypes(t *testing.T) QueueTypes {
	t.Helper()
	qt, err := ParseQueueTypes(`{"`+invoiceQ+`": ["refund.succeeded", "order.refunded"]}`, []string{statsQ, invoiceQ})
	if err != nil {
		t.Fatal(err)
	}
	return qt
}

// A filtered queue receives only its types; a queue not named receives
// every event, as before.
func TestPublishFiltersPerQueue(t *testing.T) {
	f := newFake()
	p := SQSPublisher{Client: f, QueueURLs: []string{statsQ, invoiceQ}, Types: invoiceTypes(t)}
	evs := batch(25)
	n, err := p.Publish(context.Background(), evs)
	if err != nil || n != 25 {
		t.Fatalf("publish = %d, %v", n, err)
	}
	if got, want := strings.Join(f.got[statsQ], ","), strings.Join(ids(evs, all), ","); got != want {
		t.Errorf("stats queue got %s\nwant %s", got, want)
	}
	if got, want := strings.Join(f.got[invoiceQ], ","), strings.Join(ids(evs, isRefund), ","); got != want || len(f.got[invoiceQ]) != 6 {
		t.Errorf("invoice queue got %s, want the 6 refunds %s", got, want)
	}
	if f.calls[statsQ] != 3 || f.calls[invoiceQ] != 1 {
		t.Errorf("calls = %v, want 3 batches to the stats queue, 1 to the invoice queue", f.calls)
	}

	// A batch of payments only: no call at all to the invoice queue.
	f2 := newFake()
	p.Client = f2
	if n, err := p.Publish(context.Background(), batch(3)); err != nil || n != 3 {
		t.Fatalf("publish = %d, %v", n, err)
	}
	if f2.calls[invoiceQ] != 0 || f2.calls[statsQ] != 1 {
		t.Errorf("calls = %v, want none to the invoice queue", f2.calls)
	}
}

// A failure on a filtered queue reports the failed event's index in the
// original batch. Of 60 events the invoice queue receives the 15 refunds
// (indexes 3, 7, …, 59) in two batches of 10 and 5; its 12th (the second
// batch's 2nd) is index 47, so 47 events went to every queue that wants them.
func TestPublishFilteredFailureMapsToOriginalIndex(t *testing.T) {
	evs := batch(60)
	f := newFake()
	f.failQueue, f.failID = invoiceQ, evs[47].ID
	p := SQSPublisher{Client: f, QueueURLs: []string{statsQ, invoiceQ}, Types: invoiceTypes(t)}
	n, err := p.Publish(context.Background(), evs)
	if err == nil || n != 47 {
		t.Fatalf("publish = %d, %v; want 47 and the error", n, err)
	}
	if !strings.Contains(err.Error(), invoiceQ) {
		t.Errorf("error %v does not name the queue", err)
	}
	// The retry from index 47 (the relay's ReportBatchItemFailures) sends
	// the rest; together every queue has every event it wants.
	if n, err := p.Publish(context.Background(), evs[47:]); err != nil || n != 13 {
		t.Fatalf("retry = %d, %v", n, err)
	}
	inv := map[string]bool{}
	for _, id := range f.got[invoiceQ] {
		inv[id] = true
	}
	for _, id := range ids(evs, isRefund) {
		if !inv[id] {
			t.Errorf("invoice queue never got %s", id)
		}
	}
	if len(inv) != 15 {
		t.Errorf("invoice queue got %v", f.got[invoiceQ])
	}
	if len(f.got[statsQ]) != 60+13 {
		t.Errorf("stats queue got %d messages, want all 60 and the retry's 13 again (dropped by the FIFO queue)", len(f.got[statsQ]))
	}
}

// An unfiltered queue's failure keeps its index, as before filtering.
func TestPublishUnfilteredFailureIndex(t *testing.T) {
	evs := batch(25)
	f := newFake()
	f.failQueue, f.failID = statsQ, evs[12].ID
	p := SQSPublisher{Client: f, QueueURLs: []string{statsQ, invoiceQ}, Types: invoiceTypes(t)}
	n, err := p.Publish(context.Background(), evs)
	if err == nil || n != 12 {
		t.Fatalf("publish = %d, %v; want 12 and the error", n, err)
	}
	// Without a filter at all every queue gets every event.
	f2 := newFake()
	p2 := SQSPublisher{Client: f2, QueueURLs: []string{statsQ, invoiceQ}}
	if n, err := p2.Publish(context.Background(), evs); err != nil || n != 25 || len(f2.got[statsQ]) != 25 || len(f2.got[invoiceQ]) != 25 {
		t.Fatalf("unfiltered publish = %d, %v, got %d/%d", n, err, len(f2.got[statsQ]), len(f2.got[invoiceQ]))
	}
}

// A filtered queue listed first fails at its 2nd event (index 7): 7 is
// reported and the later queues are not tried (the retry sends them all).
func TestPublishFilteredFirstQueueFails(t *testing.T) {
	evs := batch(25)
	f := newFake()
	f.failQueue, f.failID = invoiceQ, evs[7].ID
	p := SQSPublisher{Client: f, QueueURLs: []string{invoiceQ, statsQ}, Types: invoiceTypes(t)}
	n, err := p.Publish(context.Background(), evs)
	if err == nil || n != 7 {
		t.Fatalf("publish = %d, %v; want 7", n, err)
	}
	if len(f.got[statsQ]) != 0 {
		t.Errorf("went on to the next queue after a failure: %v", f.got[statsQ])
	}
}

func TestParseQueueTypes(t *testing.T) {
	queues := []string{statsQ, invoiceQ}
	if qt, err := ParseQueueTypes("", queues); err != nil || qt != nil {
		t.Fatalf("empty = %v, %v; want no filter", qt, err)
	}
	qt := invoiceTypes(t)
	if len(qt) != 1 || !qt[invoiceQ][refund.EventSucceeded] || !qt[invoiceQ][order.EventRefunded] || qt[invoiceQ][order.EventPaid] {
		t.Fatalf("parsed %v", qt)
	}
	for name, raw := range map[string]string{
		"not JSON":      `{"` + invoiceQ + `": ["refund.succeeded"]`,
		"not lists":     `{"` + invoiceQ + `": "refund.succeeded"}`,
		"a list":        `["refund.succeeded"]`,
		"unknown queue": `{"https://sqs.local/000000000000/Other.fifo": ["refund.succeeded"]}`,
		"unknown type":  `{"` + invoiceQ + `": ["refund.succeeded", "refund.done"]}`,
		"not an event":  `{"` + invoiceQ + `": ["settlement.exceptions"]}`,
		"empty list":    `{"` + invoiceQ + `": []}`,
	} {
		if qt, err := ParseQueueTypes(raw, queues); err == nil {
			t.Errorf("%s: accepted %s as %v", name, raw, qt)
		}
	}
}

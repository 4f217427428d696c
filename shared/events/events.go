// Package events turns stored state changes into the messages consumers act
// on. The orders table's DynamoDB stream is the outbox: RelayFunction hands
// each batch of stream records to Relay, which derives at most one event per
// record (order.Change: one per state transition, its id the order id and the
// version the change produced) and publishes it to every consumer's SQS FIFO
// queue that receives its type (SQSPublisher.Types; the others all) with
// MessageDeduplicationId = event id and MessageGroupId = order id.
// A record's event is therefore published at least once (the stream retries
// until it is acknowledged), SQS drops copies within its 5-minute
// deduplication window, and consumers act once per event id.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/store"
)

// Publisher delivers events to the consumers' queues.
type Publisher interface {
	// Publish sends evs (in order) and returns how many from the start were
	// sent to every queue that receives them; n < len(evs) comes with the error.
	Publish(ctx context.Context, evs []order.Event) (n int, err error)
}

// BatchSender is the one SQS call the publisher makes (*sqs.Client).
type BatchSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// SQSPublisher publishes to SQS FIFO queues, one per consumer.
type SQSPublisher struct {
	Client    BatchSender
	QueueURLs []string
	// Types limits a queue to the event types it receives (ParseQueueTypes);
	// a queue it does not name receives every event.
	Types QueueTypes
}

// QueueTypes is, per queue URL, the set of event types the queue receives.
type QueueTypes map[string]map[string]bool

// Types are the event types the relay publishes.
var Types = []string{order.EventPaid, order.EventClosed, order.EventRefunded, refund.EventSucceeded, refund.EventFailed}

// ParseQueueTypes reads the relay's EVENT_QUEUE_TYPES: a JSON object from
// queue URL to the event types that queue receives. Empty is no filter.
// Every queue must be one of queues, every type one the relay publishes,
// and no list empty (a queue that wants nothing is left out of
// EVENT_QUEUE_URLS instead).
func ParseQueueTypes(raw string, queues []string) (QueueTypes, error) {
	if raw == "" {
		return nil, nil
	}
	var m map[string][]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("events: queue types are not a JSON object of lists: %w", err)
	}
	out := QueueTypes{}
	for q, types := range m {
		if !slices.Contains(queues, q) {
			return nil, fmt.Errorf("events: queue types name %q, which is not one of the queues %v", q, queues)
		}
		if len(types) == 0 {
			return nil, fmt.Errorf("events: queue %q receives no event type", q)
		}
		set := map[string]bool{}
		for _, t := range types {
			if !slices.Contains(Types, t) {
				return nil, fmt.Errorf("events: queue %q: unknown event type %q (known: %v)", q, t, Types)
			}
			set[t] = true
		}
		out[q] = set
	}
	return out, nil
}

// Publish sends evs to every queue in batches of 10 (SendMessageBatch): to a
// filtered queue only the events of its types (none at all: no call). A
// queue's failure at its k-th event is mapped back to that event's index in
// evs: the events before it went to every queue that receives them.
func (p SQSPublisher) Publish(ctx context.Context, evs []order.Event) (int, error) {
	sent := len(evs)
	for _, q := range p.QueueURLs {
		want, idx := evs, []int(nil)
		if types, ok := p.Types[q]; ok {
			want = nil
			idx = []int{}
			for i, e := range evs {
				if types[e.Type] {
					want = append(want, e)
					idx = append(idx, i)
				}
			}
			if len(want) == 0 {
				continue
			}
		}
		n, err := p.publishTo(ctx, q, want)
		if n < len(want) {
			if idx != nil {
				n = idx[n]
			}
			sent = min(sent, n)
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func (p SQSPublisher) publishTo(ctx context.Context, queue string, evs []order.Event) (int, error) {
	for start := 0; start < len(evs); start += 10 {
		end := min(start+10, len(evs))
		entries := make([]types.SendMessageBatchRequestEntry, 0, end-start)
		for i, e := range evs[start:end] {
			body, err := json.Marshal(e)
			if err != nil {
				return start, err
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id:                     aws.String(strconv.Itoa(i)),
				MessageBody:            aws.String(string(body)),
				MessageGroupId:         aws.String(e.OrderID),
				MessageDeduplicationId: aws.String(e.ID),
				MessageAttributes: map[string]types.MessageAttributeValue{
					"type": {DataType: aws.String("String"), StringValue: aws.String(e.Type)},
				},
			})
		}
		out, err := p.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
		if err != nil {
			return start, fmt.Errorf("events: send to %s: %w", queue, err)
		}
		if len(out.Failed) > 0 {
			first := end - start
			for _, f := range out.Failed {
				if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i < first {
					first = i
				}
			}
			return start + first, fmt.Errorf("events: %d of %d messages to %s failed: %s %s", len(out.Failed), len(entries), queue,
				aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message))
		}
	}
	return len(evs), nil
}

// Derive returns the event of one stream record, if its change is one.
func Derive(rec lambdaevents.DynamoDBEventRecord) (order.Event, bool, error) {
	if rec.EventName == "REMOVE" || len(rec.Change.NewImage) == 0 {
		return order.Event{}, false, nil // orders are never deleted; TTL has nothing to say
	}
	if store.IsRefundItem(AttributeValues(rec.Change.NewImage)) {
		return deriveRefund(rec)
	}
	after, err := store.DecodeOrder(AttributeValues(rec.Change.NewImage))
	if err != nil {
		return order.Event{}, false, fmt.Errorf("new image: %w", err)
	}
	var before *order.Order
	if len(rec.Change.OldImage) > 0 {
		b, err := store.DecodeOrder(AttributeValues(rec.Change.OldImage))
		if err != nil {
			return order.Event{}, false, fmt.Errorf("old image: %w", err)
		}
		before = &b
	}
	ev, ok := order.Change(before, after)
	return ev, ok, nil
}

// deriveRefund is Derive for a refund item of the OrdersTable.
func deriveRefund(rec lambdaevents.DynamoDBEventRecord) (order.Event, bool, error) {
	after, err := store.DecodeRefund(AttributeValues(rec.Change.NewImage))
	if err != nil {
		return order.Event{}, false, fmt.Errorf("new image: %w", err)
	}
	var before *refund.Refund
	if len(rec.Change.OldImage) > 0 {
		b, err := store.DecodeRefund(AttributeValues(rec.Change.OldImage))
		if err != nil {
			return order.Event{}, false, fmt.Errorf("old image: %w", err)
		}
		before = &b
	}
	ev, ok := refund.Change(before, after)
	return ev, ok, nil
}

// EachInOrder hands every message of an SQS FIFO batch to handle, in order,
// and reports the ones to deliver again: a message handle failed, and every
// later message of its group (one order), which is not handled so that a
// group is never handled out of order. Other groups go on. A Lambda
// consumer with ReportBatchItemFailures returns the response as is.
func EachInOrder(ctx context.Context, in lambdaevents.SQSEvent, handle func(context.Context, lambdaevents.SQSMessage) error) lambdaevents.SQSEventResponse {
	var out lambdaevents.SQSEventResponse
	failedGroups := map[string]bool{}
	for _, m := range in.Records {
		group := m.Attributes["MessageGroupId"]
		if group != "" && failedGroups[group] {
			out.BatchItemFailures = append(out.BatchItemFailures, lambdaevents.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			continue
		}
		if err := handle(ctx, m); err != nil {
			out.BatchItemFailures = append(out.BatchItemFailures, lambdaevents.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			if group != "" {
				failedGroups[group] = true
			}
		}
	}
	return out
}

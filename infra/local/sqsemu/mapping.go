package sqsemu

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Mapping is an SQS event source mapping (how Lambda polls a queue).
type Mapping struct {
	Queue                   string
	BatchSize               int           // default 10
	MaximumBatchingWindow   time.Duration // how long to gather a fuller batch once one message is in hand
	ReportBatchItemFailures bool          // FunctionResponseTypes: [ReportBatchItemFailures]
}

// InvokeFunc invokes the function with an event and returns its response
// payload. A non-nil error is a failed invocation (function error, timeout,
// crash): the whole batch is retried after the visibility timeout.
type InvokeFunc func(ctx context.Context, event []byte) ([]byte, error)

// RunMapping polls m.Queue like Lambda's SQS poller until ctx ends, then
// returns ctx.Err(). Each batch is delivered as an events.SQSEvent. After a
// successful invocation the batch is deleted, except — with
// ReportBatchItemFailures — the messages named in the response's
// batchItemFailures, which stay in flight until their visibility timeout
// expires and are then redelivered. A response that cannot be parsed or names
// an unknown id fails the whole batch, as Lambda does. Messages received more
// than the queue's MaxReceiveCount times move to its dead-letter queue.
//
// On a FIFO queue a batch holds each group's messages in order, and once an
// item fails, the later items of its group in that batch count as failed too
// (they stay in flight and come back after it), as Lambda does.
//
// Several RunMapping loops may serve one queue concurrently (that is
// Lambda's concurrency).
func (s *Server) RunMapping(ctx context.Context, m Mapping, invoke InvokeFunc) error {
	s.mu.Lock()
	q, ok := s.queues[m.Queue]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("sqsemu: mapping for undeclared queue %q", m.Queue)
	}
	size := m.BatchSize
	if size <= 0 {
		size = 10
	}
	for ctx.Err() == nil {
		batch := s.receiveWait(ctx, q, size, q.cfg.VisibilityTimeout, -1, m.MaximumBatchingWindow)
		if len(batch) == 0 {
			continue
		}
		event, err := json.Marshal(s.lambdaEvent(q, batch))
		if err != nil {
			return fmt.Errorf("sqsemu: encoding SQS event: %w", err)
		}
		resp, err := invoke(ctx, event)
		if err != nil {
			continue // nothing deleted: the batch reappears after the visibility timeout
		}
		keep, ok := failedIDs(m.ReportBatchItemFailures, resp, batch, q.fifo != nil)
		if !ok {
			continue
		}
		s.mu.Lock()
		for _, d := range batch {
			if !keep[d.ID] {
				_ = s.deleteLocked(q, d.ReceiptHandle)
			}
		}
		s.mu.Unlock()
	}
	return ctx.Err()
}

// failedIDs returns the message ids to leave undeleted. ok is false when the
// whole batch counts as failed. On a FIFO queue a failed item also keeps the
// later items of its message group.
func failedIDs(report bool, resp []byte, batch []delivery, fifo bool) (keep map[string]bool, ok bool) {
	if !report || len(resp) == 0 || string(resp) == "null" {
		return nil, true
	}
	var r events.SQSEventResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		return nil, false
	}
	inBatch := make(map[string]bool, len(batch))
	for _, d := range batch {
		inBatch[d.ID] = true
	}
	keep = map[string]bool{}
	for _, f := range r.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			return nil, false
		}
		keep[f.ItemIdentifier] = true
	}
	if fifo {
		failedGroups := map[string]bool{}
		for _, d := range batch {
			if keep[d.ID] {
				failedGroups[d.GroupID] = true
			} else if failedGroups[d.GroupID] {
				keep[d.ID] = true
			}
		}
	}
	return keep, true
}

// lambdaEvent builds the event Lambda's SQS poller sends.
func (s *Server) lambdaEvent(q *queue, batch []delivery) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(batch))}
	for _, d := range batch {
		attrs := map[string]events.SQSMessageAttribute{}
		for name, a := range d.Attributes {
			attrs[name] = events.SQSMessageAttribute{
				StringValue:      a.StringValue,
				BinaryValue:      a.BinaryValue,
				StringListValues: []string{},
				BinaryListValues: [][]byte{},
				DataType:         a.DataType,
			}
		}
		sys := map[string]string{
			"ApproximateReceiveCount":          strconv.Itoa(d.ReceiveCount),
			"SentTimestamp":                    strconv.FormatInt(d.Sent.UnixMilli(), 10),
			"SenderId":                         d.SenderID,
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(d.FirstReceive.UnixMilli(), 10),
		}
		for k, v := range map[string]string{"MessageGroupId": d.GroupID, "MessageDeduplicationId": d.DedupID, "SequenceNumber": d.Sequence} {
			if v != "" {
				sys[k] = v
			}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:              d.ID,
			ReceiptHandle:          d.ReceiptHandle,
			Body:                   d.Body,
			Md5OfBody:              md5Hex(d.Body),
			Attributes:             sys,
			Md5OfMessageAttributes: md5OfAttributes(d.Attributes),
			MessageAttributes:      attrs,
			EventSource:            "aws:sqs",
			EventSourceARN:         q.arn,
			AWSRegion:              s.region,
		})
	}
	return ev
}

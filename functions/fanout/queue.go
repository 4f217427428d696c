package main

import (
	"context"
	"time"
	"unicode/utf8"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the part of the SQS client SQSQueue uses (the two calls the
// function's policy grants: ChangeMessageVisibility on NotifyEventsQueue,
// SendMessage on NotifyEventsDLQ).
type SQSAPI interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSQueue is Queue on NotifyEventsQueue and its DLQ (both FIFO).
type SQSQueue struct {
	Client   SQSAPI
	QueueURL string // NotifyEventsQueue
	DLQURL   string // NotifyEventsDLQ
}

// maxVisibility is SQS's limit on a visibility timeout (12 hours).
const maxVisibility = 12 * time.Hour

// Postpone implements Queue.
func (q SQSQueue) Postpone(ctx context.Context, receiptHandle string, d time.Duration) error {
	d = min(max(d, 0), maxVisibility)
	_, err := q.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.QueueURL),
		ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: int32(d / time.Second)})
	return err
}

// maxReason bounds the reason attribute (bytes; cut on a character boundary).
const maxReason = 1000

// DeadLetter implements Queue: the body unchanged, the message's own
// attributes (type) and reason, receive_count and source_message_id; the
// same message group (an order's dead events stay in order), deduplicated by
// the source message id (a copy sent twice for one receive is dropped).
func (q SQSQueue) DeadLetter(ctx context.Context, m lambdaevents.SQSMessage, reason string) error {
	attrs := map[string]types.MessageAttributeValue{}
	for name, a := range m.MessageAttributes {
		switch {
		case a.DataType == "" || len(attrs) >= 7: // SQS allows 10; three are ours
		case a.StringValue != nil:
			attrs[name] = types.MessageAttributeValue{DataType: aws.String(a.DataType), StringValue: aws.String(*a.StringValue)}
		case a.BinaryValue != nil:
			attrs[name] = types.MessageAttributeValue{DataType: aws.String(a.DataType), BinaryValue: a.BinaryValue}
		}
	}
	if len(reason) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	attrs["reason"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(reason)}
	attrs["receive_count"] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(m.Attributes["ApproximateReceiveCount"])}
	attrs["source_message_id"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.MessageId)}
	if m.Attributes["ApproximateReceiveCount"] == "" {
		delete(attrs, "receive_count")
	}
	group := m.Attributes["MessageGroupId"]
	if group == "" {
		group = "fanout-dead"
	}
	_, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.DLQURL), MessageBody: aws.String(m.Body),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(m.MessageId), MessageAttributes: attrs})
	return err
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/store"
)

// ExceptionPublisher tells FanoutFunction that a reconciliation found new
// exceptions (it messages the company's admins).
type ExceptionPublisher interface {
	PublishExceptions(ctx context.Context, e notification.ExceptionsFound) error
}

// SQSSender is the one SQS call the publisher makes.
type SQSSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSExceptions publishes to NotifyEventsQueue (FIFO): the message group is
// the interface and day, the deduplication id the event id (interface, day
// and run), so the SDK's retry of one send is dropped and another run's
// event is not.
type SQSExceptions struct {
	Client   SQSSender
	QueueURL string
}

// PublishExceptions implements ExceptionPublisher.
func (p SQSExceptions) PublishExceptions(ctx context.Context, e notification.ExceptionsFound) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = p.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.QueueURL), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(e.Group()), MessageDeduplicationId: aws.String(e.DedupID()),
		MessageAttributes: map[string]types.MessageAttributeValue{"type": {DataType: aws.String("String"), StringValue: aws.String(e.Type)}}})
	return err
}

// notifyExceptions publishes the count of exceptions the reconciliation of
// one interface and day found for the first time. Nothing new (a rerun that
// finds what an earlier run found), or no publisher: nothing is sent. A
// failure is returned as the line's error (the invocation fails and the
// errors alarm fires).
func (h *Handler) notifyExceptions(ctx context.Context, iface store.Interface, day calendar.Day, fresh int) error {
	if fresh <= 0 || h.Notify == nil {
		return nil
	}
	e := notification.NewExceptionsFound(iface.CompanyID, iface.ID, iface.PaymentMerchant(), string(iface.Channel), day, fresh, runID(ctx, h), h.Clock())
	if err := h.Notify.PublishExceptions(ctx, e); err != nil {
		return fmt.Errorf("差异通知: %w", err)
	}
	h.Log.InfoContext(ctx, "settle: exceptions notified", "iface", iface.ID, "day", day, "new_exceptions", fresh, "event_id", e.ID)
	return nil
}

// runID names this settlement run: the invocation's request id (the clock's
// nanoseconds outside Lambda).
func runID(ctx context.Context, h *Handler) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return strconv.FormatInt(h.Clock().UnixNano(), 36)
}

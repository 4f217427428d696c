// Package events defines the messages functions exchange through SQS and the
// publisher that sends them. Consumers must dedupe by OrderID: delivery is
// at-least-once.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// PaymentSucceededType is the Type of PaymentSucceeded.
const PaymentSucceededType = "payment.succeeded"

// PaymentSucceeded is emitted once an order is PAID (for notification and settlement).
type PaymentSucceeded struct {
	Type          string    `json:"type"`
	OrderID       string    `json:"order_id"`
	CommunityID   string    `json:"community_id"`
	CompanyID     string    `json:"company_id"`
	Channel       string    `json:"channel"`
	IfaceID       string    `json:"iface_id"`
	MerchantID    string    `json:"merchant_id"`
	AmountFen     int64     `json:"amount_fen"`
	PaidAt        time.Time `json:"paid_at"`
	ProviderTxnID string    `json:"provider_txn_id"`
}

// Publisher sends payment events.
type Publisher interface {
	PublishPayment(ctx context.Context, e PaymentSucceeded) error
}

// SQSPublisher publishes to an SQS queue.
type SQSPublisher struct {
	Client   *sqs.Client
	QueueURL string
}

// PublishPayment sends e as JSON with a "type" message attribute.
func (p SQSPublisher) PublishPayment(ctx context.Context, e PaymentSucceeded) error {
	e.Type = PaymentSucceededType
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = p.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(p.QueueURL),
		MessageBody: aws.String(string(b)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"type": {DataType: aws.String("String"), StringValue: aws.String(e.Type)},
		},
	})
	if err != nil {
		return fmt.Errorf("events: publish payment %s: %w", e.OrderID, err)
	}
	return nil
}

package main

import (
	"context"
	"unicode/utf8"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sendAPI is the one SQS call the function makes (SendMessage on its DLQ).
type sendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// sqsDeadLetters puts a message into AnnounceEventsDLQ (FIFO): the body as
// it came, the reason as an attribute, its group kept, deduplicated by the
// source message id.
type sqsDeadLetters struct {
	client sendAPI
	url    string
}

func (q sqsDeadLetters) DeadLetter(ctx context.Context, m lambdaevents.SQSMessage, reason string) error {
	for len(reason) > 1000 {
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	group := m.Attributes["MessageGroupId"]
	if group == "" {
		group = "announce-dead"
	}
	_, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(m.Body),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(m.MessageId),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"reason":            {DataType: aws.String("String"), StringValue: aws.String(reason)},
			"source_message_id": {DataType: aws.String("String"), StringValue: aws.String(m.MessageId)},
		}})
	return err
}

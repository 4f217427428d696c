package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the part of the SQS client SettleQueue needs.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// SQSQueue is SettleQueue, a FIFO queue: a message's group is its
// interface (one interface's days are settled one after the other, never
// two at once) and its deduplication id the interface × day (planning the
// day again within SQS's 5 minutes queues nothing more).
type SQSQueue struct {
	Client SQSAPI
	URL    string
}

// Send queues up to 10 tasks in one SendMessageBatch.
func (q SQSQueue) Send(ctx context.Context, tasks []Task) error {
	if len(tasks) > planBatch {
		return fmt.Errorf("settle: %d tasks in one batch (at most %d)", len(tasks), planBatch)
	}
	entries := make([]types.SendMessageBatchRequestEntry, 0, len(tasks))
	for i, t := range tasks {
		body, err := json.Marshal(t)
		if err != nil {
			return err
		}
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:                     aws.String(strconv.Itoa(i)),
			MessageBody:            aws.String(string(body)),
			MessageGroupId:         aws.String(sqsID(t.Company + "/" + t.Interface)),
			MessageDeduplicationId: aws.String(sqsID(t.Company + "/" + t.Interface + "/" + string(t.Day))),
		})
	}
	out, err := q.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
	if err != nil {
		return err
	}
	if len(out.Failed) > 0 {
		f := out.Failed[0]
		return fmt.Errorf("%d of %d messages not sent: %s %s", len(out.Failed), len(entries), aws.ToString(f.Code), aws.ToString(f.Message))
	}
	return nil
}

// Retry sets the received message's visibility timeout to d from now.
func (q SQSQueue) Retry(ctx context.Context, receiptHandle string, d time.Duration) error {
	_, err := q.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: int32(d / time.Second)})
	return err
}

// sqsIDChars is what a group or deduplication id may hold (SQS: up to 128
// alphanumeric and punctuation characters).
var sqsIDChars = regexp.MustCompile("^[A-Za-z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]{1,128}$")

// sqsID is s when SQS accepts it as a group or deduplication id, otherwise
// its SHA-256 (hex): the same s always gives the same id.
func sqsID(s string) string {
	if sqsIDChars.MatchString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Command relay is a fixture stream consumer. For each record of its table's
// stream it publishes "<pk>:<status>" to the FIFO queue ORDERED_QUEUE_URL
// (message group = pk, deduplication id = "<pk>:<status>"); a record
// whose new image has fail=true is reported as a batch item failure (and the
// records after it are left for the retry). An event from another stream than
// STREAM_ARN fails the invocation. It prints one line per record.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

type relay struct {
	sqs                   *sqs.Client
	streamArn, queue, url string
}

func (r relay) handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, rec := range ev.Records {
		if rec.EventSourceArn != r.streamArn {
			return resp, fmt.Errorf("event from %s, want %s", rec.EventSourceArn, r.streamArn)
		}
		pk := rec.Change.Keys["pk"].String()
		fmt.Printf("relay: seq=%s event=%s %s pk=%s queue=%s\n", rec.Change.SequenceNumber, rec.EventID, rec.EventName, pk, r.queue)
		if f, ok := rec.Change.NewImage["fail"]; ok && f.Boolean() {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			return resp, nil
		}
		status := rec.Change.NewImage["status"].String()
		if _, err := r.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.url), MessageBody: aws.String(pk + ":" + status),
			MessageGroupId: aws.String(pk), MessageDeduplicationId: aws.String(pk + ":" + status)}); err != nil {
			fmt.Printf("relay: send: %v\n", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			return resp, nil
		}
	}
	return resp, nil
}

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay: aws config:", err)
		os.Exit(1)
	}
	r := relay{sqs: sqs.NewFromConfig(cfg), streamArn: os.Getenv("STREAM_ARN"), queue: os.Getenv("ORDERED_QUEUE_NAME"), url: os.Getenv("ORDERED_QUEUE_URL")}
	if r.streamArn == "" || r.queue == "" || r.url == "" {
		fmt.Fprintln(os.Stderr, "relay: STREAM_ARN, ORDERED_QUEUE_NAME and ORDERED_QUEUE_URL are required")
		os.Exit(1)
	}
	lambda.Start(r.handle)
}

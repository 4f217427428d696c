// Command relay is the outbox: the OrdersTable stream's event source mapping
// hands it each batch of changes, and it publishes the events they make
// (one per state change, id = order id + version) to the consumers' FIFO
// queues, deduplicated by event id.
package main

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/platform"
)

func main() {
	queues := strings.Split(platform.Env("EVENT_QUEUE_URLS"), ",")
	cfg := platform.MustAWSConfig(context.Background())
	relay := &Relay{Publisher: events.SQSPublisher{Client: sqs.NewFromConfig(cfg), QueueURLs: queues}, Log: platform.Logger()}
	platform.Start(relay.Handle)
}

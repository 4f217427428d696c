// Command relay is the outbox: the OrdersTable stream's event source mapping
// hands it each batch of changes, and it publishes the events they make
// (one per state change, id = order id + version) to the consumers' FIFO
// queues, deduplicated by event id. EVENT_QUEUE_TYPES (optional, JSON
// {queue URL: [event types]}) limits a queue to the types its consumer acts
// on; it is checked at cold start, which fails when it does not parse,
// names a queue not in EVENT_QUEUE_URLS or a type the relay never publishes.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/platform"
)

func main() {
	queues := strings.Split(platform.Env("EVENT_QUEUE_URLS"), ",")
	types, err := events.ParseQueueTypes(os.Getenv("EVENT_QUEUE_TYPES"), queues)
	if err != nil {
		platform.Fail("EVENT_QUEUE_TYPES", err)
	}
	ctx := context.Background()
	cfg := platform.MustAWSConfig(ctx)
	client := sqs.NewFromConfig(cfg)
	o := client.Options()
	if ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, sqs.EndpointParameters{Region: &o.Region, Endpoint: o.BaseEndpoint}); err == nil {
		platform.Preconnect(o.HTTPClient, ep.URI.String()) // the first publish finds its connection open
	}
	relay := &Relay{Publisher: events.SQSPublisher{Client: client, QueueURLs: queues, Types: types}, Log: platform.Logger()}
	platform.Start(relay.Handle)
}

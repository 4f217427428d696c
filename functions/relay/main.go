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
	ctx := context.Background()
	cfg := platform.MustAWSConfig(ctx)
	client := sqs.NewFromConfig(cfg)
	o := client.Options()
	if ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, sqs.EndpointParameters{Region: &o.Region, Endpoint: o.BaseEndpoint}); err == nil {
		platform.Preconnect(o.HTTPClient, ep.URI.String()) // the first publish finds its connection open
	}
	relay := &Relay{Publisher: events.SQSPublisher{Client: client, QueueURLs: queues}, Log: platform.Logger()}
	platform.Start(relay.Handle)
}

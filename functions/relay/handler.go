package main

import (
	"context"
	"log/slog"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/events"
)

// Relay turns a batch of orders-table stream records into events.
type Relay struct {
	Publisher events.Publisher
	Log       *slog.Logger
}

type pending struct {
	seq string
	ev  order.Event
}

// Handle publishes the events of a stream batch, in stream order. When a
// publish fails it reports the first record whose event did not go out, so
// the stream mapping retries from there (ReportBatchItemFailures); the
// records before it are done. A record that cannot be decoded is a bug, not
// a transient failure: it is reported as failed too, so it lands, after the
// mapping's retries, in the on-failure queue with its position, never
// silently dropped.
func (r *Relay) Handle(ctx context.Context, in lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	var batch []pending
	for _, rec := range in.Records {
		ev, ok, err := events.Derive(rec)
		if err != nil {
			r.Log.ErrorContext(ctx, "relay: undecodable stream record", "sequence_number", rec.Change.SequenceNumber, "event_id", rec.EventID, "err", err)
			return r.flush(ctx, batch, rec.Change.SequenceNumber)
		}
		if ok {
			batch = append(batch, pending{seq: rec.Change.SequenceNumber, ev: ev})
		}
	}
	return r.flush(ctx, batch, "")
}

// flush publishes batch; failAt (if set) is reported as failed when all of
// batch went out.
func (r *Relay) flush(ctx context.Context, batch []pending, failAt string) (lambdaevents.DynamoDBEventResponse, error) {
	var out lambdaevents.DynamoDBEventResponse
	evs := make([]order.Event, len(batch))
	for i, p := range batch {
		evs[i] = p.ev
	}
	n, err := r.Publisher.Publish(ctx, evs)
	for _, e := range evs[:n] {
		r.Log.InfoContext(ctx, "event published", "event_id", e.ID, "type", e.Type, "order_id", e.OrderID)
	}
	if err != nil {
		r.Log.ErrorContext(ctx, "relay: publish", "err", err, "published", n, "of", len(evs))
		failAt = batch[n].seq
	}
	if failAt != "" {
		out.BatchItemFailures = []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: failAt}}
	}
	return out, nil
}

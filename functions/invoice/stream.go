package main

import (
	"context"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/store"
)

// StreamMargin is the time Stream leaves before the invocation's deadline:
// more than one platform call may take (nuonuo's client times out at 10 s).
const StreamMargin = 12 * time.Second

// Stream handles a batch of InvoicesTable's stream (NEW_IMAGE): a new
// invoice request — an INSERT whose status is REQUESTED: a resident's, or
// the re-issue after a partial refund — is submitted to the platform now
// instead of at the schedule's next run (Service.SubmitNew). Every other
// record (an invoice's later changes, the settings) is not work here; the
// schedule still handles retries and late results.
//
// A record whose submission failed is reported (ReportBatchItemFailures):
// the first one, so the mapping retries the batch from there (bounded; then
// the on-failure queue and its alarm). The records after it are still tried
// now, so one failure delays no one else; on the retry they are found
// submitted and skipped, and a failed attempt that recorded its backoff is
// left to the schedule. Closer than StreamMargin to the deadline it stops
// and reports the next new request, so a slow platform never times the
// invocation out.
func (h *Handler) Stream(ctx context.Context, in lambdaevents.DynamoDBEvent) lambdaevents.DynamoDBEventResponse {
	var out lambdaevents.DynamoDBEventResponse
	for _, rec := range in.Records {
		orderID, seq, ok := newRequest(rec)
		if !ok {
			continue
		}
		if dl, ok := ctx.Deadline(); ok && dl.Sub(h.Now()) < StreamMargin {
			// Not enough time for another platform call: the retry goes on here.
			if len(out.BatchItemFailures) == 0 {
				out.BatchItemFailures = []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
			}
			break
		}
		submitted, err := h.Svc.SubmitNew(ctx, orderID, seq)
		if err != nil {
			h.Log.WarnContext(ctx, "invoice not submitted from the stream; retried", "order_id", orderID, "seq", seq,
				"sequence_number", rec.Change.SequenceNumber, "err", err)
			if len(out.BatchItemFailures) == 0 {
				out.BatchItemFailures = []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
			}
			continue
		}
		if submitted {
			h.Log.InfoContext(ctx, "invoice submitted from the stream", "order_id", orderID, "seq", seq)
		}
	}
	return out
}

// newRequest says whether rec is a new invoice request, and which.
func newRequest(rec lambdaevents.DynamoDBEventRecord) (orderID string, seq int, ok bool) {
	if rec.EventName != "INSERT" {
		return "", 0, false
	}
	st, pk, sk := rec.Change.NewImage["status"], rec.Change.Keys["pk"], rec.Change.Keys["sk"]
	if st.DataType() != lambdaevents.DataTypeString || st.String() != string(invoice.Requested) ||
		pk.DataType() != lambdaevents.DataTypeString || sk.DataType() != lambdaevents.DataTypeString {
		return "", 0, false
	}
	return store.InvoiceOfKey(pk.String(), sk.String())
}

package stacktest

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// RawOrder reads an order's item exactly as stored in the OrdersTable, index
// attributes (work_pk, rec_pk, settle_pk, …) included.
func RawOrder(t testing.TB, s *stack.Stack, id string) map[string]types.AttributeValue {
	t.Helper()
	res, err := s.Store().DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(s.Tables["OrdersTable"]), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil || len(res.Item) == 0 {
		t.Fatalf("raw order %s: %v (found %v)", id, err, err == nil && len(res.Item) > 0)
	}
	return res.Item
}

// Attr is a string attribute of a stored item ("" when absent or not a string).
func Attr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// CheckEvent checks that e is the event of the stored order o's latest change,
// of type typ: its id is "<order id>:<version>" and every field a consumer
// reads is the order's.
func CheckEvent(t testing.TB, e order.Event, typ string, o order.Order) {
	t.Helper()
	wantStatus := map[string]order.Status{order.EventPaid: order.Paid, order.EventClosed: order.Closed, order.EventRefunded: order.Refunded}[typ]
	if wantStatus == "" {
		t.Fatalf("CheckEvent: unknown event type %q", typ)
	}
	if o.Status != wantStatus {
		t.Fatalf("stored order %s is %s, not %s: %+v", o.ID, o.Status, wantStatus, o)
	}
	at := map[order.Status]time.Time{order.Paid: o.PaidAt, order.Closed: o.ClosedAt, order.Refunded: o.RefundedAt}[wantStatus]
	bad := func(field string, got, want any) { t.Errorf("event %s: %s = %v, want %v", e.ID, field, got, want) }
	if want := o.ID + ":" + strconv.FormatInt(o.Version, 10); e.ID != want {
		bad("event_id", e.ID, want)
	}
	if e.Type != typ {
		bad("type", e.Type, typ)
	}
	if e.Version != o.Version || e.Status != o.Status || e.Aggregate != "order" {
		bad("version/status/aggregate", []any{e.Version, e.Status, e.Aggregate}, []any{o.Version, o.Status, "order"})
	}
	if e.OrderID != o.ID {
		bad("order_id", e.OrderID, o.ID)
	}
	if e.AmountFen != o.AmountFen || e.AmountFen <= 0 {
		bad("amount_fen", e.AmountFen, o.AmountFen)
	}
	if e.MerchantID != o.MerchantID || e.MerchantID == "" {
		bad("merchant_id", e.MerchantID, o.MerchantID)
	}
	if e.Channel != string(o.Channel) || e.Channel == "" {
		bad("channel", e.Channel, o.Channel)
	}
	if e.CommunityID != o.CommunityID || e.CompanyID != o.CompanyID || e.IfaceID != o.IfaceID {
		bad("community/company/iface", []string{e.CommunityID, e.CompanyID, e.IfaceID}, []string{o.CommunityID, o.CompanyID, o.IfaceID})
	}
	if e.ProviderTxnID != o.ProviderTxnID {
		bad("provider_txn_id", e.ProviderTxnID, o.ProviderTxnID)
	}
	if !e.At.Equal(at) || at.IsZero() {
		bad("occurred_at", e.At, at)
	}
	switch {
	case o.PaidAt.IsZero() && e.PaidAt != nil:
		bad("paid_at", *e.PaidAt, "absent")
	case !o.PaidAt.IsZero() && (e.PaidAt == nil || !e.PaidAt.Equal(o.PaidAt)):
		bad("paid_at", e.PaidAt, o.PaidAt)
	}
	wantDay := ""
	if !o.PaidAt.IsZero() {
		wantDay = o.PaidAt.In(time.FixedZone("UTC+8", 8*3600)).Format("2006-01-02")
	}
	if string(e.BusinessDay) != wantDay || string(o.BusinessDay) != wantDay {
		bad("business_day (event, stored)", []any{e.BusinessDay, o.BusinessDay}, wantDay)
	}
}

var eventIDRE = regexp.MustCompile(`^EP[0-9A-Z]+:[1-9][0-9]*$`)

// DrainEventJSON is DrainEvents returning each message body as its JSON
// object, for tests of the wire contract (field names and formats) rather
// than of the Go type both sides share.
func DrainEventJSON(t testing.TB, s *stack.Stack) []map[string]any {
	t.Helper()
	WaitFor(t, "the stream relay to catch up", 30*time.Second, s.StreamsCaughtUp)
	ctx := context.Background()
	c := SQSClient(s)
	q := s.Queues["PaymentEventsQueue"]
	var out []map[string]any
	for {
		res, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			var body map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &body); err != nil {
				t.Fatalf("event is not a JSON object: %v: %s", err, aws.ToString(m.Body))
			}
			if id, _ := body["event_id"].(string); !eventIDRE.MatchString(id) {
				t.Errorf("event_id %q is not <order id>:<version>", body["event_id"])
			}
			out = append(out, body)
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
	}
}

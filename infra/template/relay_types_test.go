package template_test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/template"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/events"
)

// RelayFunction's EVENT_QUEUE_TYPES, resolved as CloudFormation would (a
// queue's Ref is its URL), passes the relay's cold-start check against its
// EVENT_QUEUE_URLS and sends InvoiceEventsQueue the refund events only
// (the two InvoiceFunction acts on; functions/invoice checks it ignores the
// rest); every other queue still receives every event.
func TestRelayQueueTypes(t *testing.T) {
	tm := loadProduct(t)
	queues, err := tm.Queues()
	if err != nil {
		t.Fatal(err)
	}
	url := map[string]string{}
	for _, q := range queues {
		url[q.LogicalID] = "https://sqs.ap-southeast-1.amazonaws.com/000000000000/estatepay-" + q.LogicalID + ".fifo"
	}
	r := template.Resolver{T: tm, Pseudo: map[string]string{"AWS::Region": "ap-southeast-1", "AWS::AccountId": "000000000000", "AWS::Partition": "aws"},
		Ref: func(id string) (string, bool) { u, ok := url[id]; return u, ok }}
	var relay *template.Function
	for _, f := range tm.Functions() {
		if f.LogicalID == "RelayFunction" {
			relay = &f
		}
	}
	if relay == nil {
		t.Fatal("no RelayFunction")
	}
	rawURLs, err := r.String(relay.Environment["EVENT_QUEUE_URLS"])
	if err != nil {
		t.Fatal(err)
	}
	rawTypes, err := r.String(relay.Environment["EVENT_QUEUE_TYPES"])
	if err != nil {
		t.Fatal(err)
	}
	urls := strings.Split(rawURLs, ",")
	qt, err := events.ParseQueueTypes(rawTypes, urls)
	if err != nil {
		t.Fatalf("the cold start would fail: %v\n%s", err, rawTypes)
	}
	inv := url["InvoiceEventsQueue"]
	if inv == "" || !slices.Contains(urls, inv) {
		t.Fatalf("InvoiceEventsQueue %q not among the relay's queues %v", inv, urls)
	}
	var got []string
	for typ := range qt[inv] {
		got = append(got, typ)
	}
	sort.Strings(got)
	want := []string{order.EventRefunded, refund.EventSucceeded}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("InvoiceEventsQueue receives %v, want %v", got, want)
	}
	if len(qt) != 1 {
		t.Errorf("filtered queues %v; only InvoiceEventsQueue expected", qt)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	refundpkg "github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/store"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

const day = calendar.Day("2026-11-29")

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func newHandler(t *testing.T) (*Handler, *store.Stats) {
	t.Helper()
	st := stacktest.NewStore(t)
	stats := &store.Stats{DB: st.DB, Table: "StatsTable", Clock: func() time.Time { return t0 }}
	return &Handler{Stats: stats, Log: quiet()}, stats
}

func event(id string, v int64, typ string, from order.Status, community, channel string, amount int64) order.Event {
	return order.Event{
		ID: id + ":" + strconv.FormatInt(v, 10), Type: typ, Aggregate: "order", OrderID: id, Version: v, From: from,
		CompanyID: "demo-company", CommunityID: community, Channel: channel, AmountFen: amount, BusinessDay: day, At: t0,
	}
}

// message is ev as the relay publishes it and Lambda's SQS poller delivers it.
func message(t *testing.T, msgID string, ev order.Event) lambdaevents.SQSMessage {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return lambdaevents.SQSMessage{MessageId: msgID, Body: string(b), EventSource: "aws:sqs",
		Attributes: map[string]string{"MessageGroupId": ev.OrderID, "MessageDeduplicationId": ev.ID}}
}

func handle(t *testing.T, h *Handler, msgs ...lambdaevents.SQSMessage) []string {
	t.Helper()
	out, err := h.Handle(context.Background(), lambdaevents.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatalf("Handle returned an error (the whole batch would be retried): %v", err)
	}
	var failed []string
	for _, f := range out.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

func aggregate(t *testing.T, s *store.Stats, community, channel string) store.DailyStat {
	t.Helper()
	ds, err := s.Daily(context.Background(), "demo-company", []string{community}, day, day)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Channel == channel {
			return d
		}
	}
	return store.DailyStat{}
}

func TestEventDeliveredTwiceCountsOnce(t *testing.T) {
	h, s := newHandler(t)
	ev := event("EPA", 3, order.EventPaid, order.Pending, "c1", "alipay", 1234)
	// Twice in one batch (SQS at-least-once), then again in a later batch.
	if f := handle(t, h, message(t, "m1", ev), message(t, "m2", ev)); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if f := handle(t, h, message(t, "m3", ev)); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if got := aggregate(t, s, "c1", "alipay"); got.Count != 1 || got.AmountFen != 1234 {
		t.Fatalf("aggregate = %+v, want 1 payment of 1234", got)
	}
}

func TestConcurrentDeliveriesCountOnce(t *testing.T) {
	h, s := newHandler(t)
	evs := []order.Event{
		event("EPW1", 3, order.EventPaid, order.Pending, "c1", "wechat", 100),
		event("EPW2", 3, order.EventPaid, order.Pending, "c1", "wechat", 250),
	}
	var wg sync.WaitGroup
	failures := make(chan []string, 16)
	for i := range 16 { // 16 invocations at once, each delivering both events
		wg.Add(1)
		go func() {
			defer wg.Done()
			failures <- handle(t, h, message(t, "a"+strconv.Itoa(i), evs[i%2]), message(t, "b"+strconv.Itoa(i), evs[(i+1)%2]))
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		if len(f) != 0 {
			t.Fatalf("failures %v", f)
		}
	}
	if got := aggregate(t, s, "c1", "wechat"); got.Count != 2 || got.AmountFen != 350 {
		t.Fatalf("aggregate = %+v, want 2 payments, 350 fen", got)
	}
}

func TestRefundOfACountedPayment(t *testing.T) {
	h, s := newHandler(t)
	pay := event("EPR", 3, order.EventPaid, order.Pending, "c1", "alipay", 5000)
	other := event("EPO", 3, order.EventPaid, order.Pending, "c1", "alipay", 700)
	refund := event("EPR", 4, refundpkg.EventSucceeded, order.Paid, "c1", "alipay", 5000)
	refund.ID, refund.Aggregate = "RFEPR:2", "refund"
	refund.At = t0.Add(26 * time.Hour) // refunded the next day: still the payment's day
	neverPaid := event("EPN", 3, order.EventRefunded, order.Pending, "c1", "alipay", 900)
	closed := event("EPC", 2, order.EventClosed, order.Pending, "c1", "alipay", 900)
	if f := handle(t, h, message(t, "m1", pay), message(t, "m2", other), message(t, "m3", refund), message(t, "m4", refund),
		message(t, "m5", neverPaid), message(t, "m6", closed)); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	got := aggregate(t, s, "c1", "alipay")
	if got.Count != 2 || got.AmountFen != 700 || got.RefundedCount != 1 || got.RefundedFen != 5000 {
		t.Fatalf("aggregate = %+v, want 2 payments, 700 held and 1 refund of 5000", got)
	}
}

func TestFailuresReportedPerMessageAndGroup(t *testing.T) {
	h, s := newHandler(t)
	good := event("EPG", 3, order.EventPaid, order.Pending, "c1", "alipay", 100)
	bad := event("EPB", 3, order.EventPaid, order.Pending, "", "alipay", 100) // no community: cannot be counted
	badLater := event("EPB", 4, refundpkg.EventSucceeded, order.Paid, "c1", "alipay", 100)
	after := event("EPH", 3, order.EventPaid, order.Pending, "c1", "alipay", 200)
	notJSON := lambdaevents.SQSMessage{MessageId: "m-junk", Body: "{not json", Attributes: map[string]string{"MessageGroupId": "EPJ"}}
	f := handle(t, h, message(t, "m-good", good), message(t, "m-bad", bad), notJSON, message(t, "m-bad-later", badLater), message(t, "m-after", after))
	if want := []string{"m-bad", "m-junk", "m-bad-later"}; !slices.Equal(f, want) {
		t.Fatalf("failures %v, want %v (the group's later message held back, other groups counted)", f, want)
	}
	if got := aggregate(t, s, "c1", "alipay"); got.Count != 2 || got.AmountFen != 300 || got.RefundedCount != 0 {
		t.Fatalf("aggregate = %+v, want the two good payments only", got)
	}
}

type flakyCounter struct {
	fail map[string]bool
	seen []string
}

func (c *flakyCounter) Add(_ context.Context, ev order.Event) (store.StatResult, error) {
	c.seen = append(c.seen, ev.ID)
	if c.fail[ev.ID] {
		return "", errors.New("throttled")
	}
	return store.StatCounted, nil
}

func TestTransientFailureHoldsBackItsGroupOnly(t *testing.T) {
	c := &flakyCounter{fail: map[string]bool{"EP1:3": true}}
	h := &Handler{Stats: c, Log: quiet()}
	f := handle(t, h,
		message(t, "m1", event("EP1", 3, order.EventPaid, order.Pending, "c1", "alipay", 1)),
		message(t, "m2", event("EP2", 3, order.EventPaid, order.Pending, "c1", "alipay", 1)),
		message(t, "m3", event("EP1", 4, order.EventRefunded, order.Paid, "c1", "alipay", 1)))
	if !slices.Equal(f, []string{"m1", "m3"}) {
		t.Fatalf("failures %v, want m1 and m3 (same order, after the failure)", f)
	}
	if !slices.Equal(c.seen, []string{"EP1:3", "EP2:3"}) {
		t.Fatalf("counted %v: EP1's refund must wait for its payment", c.seen)
	}
}

// The sample in events/ (a payment and its refund, as Lambda delivers them)
// goes through the handler.
func TestSampleEvent(t *testing.T) {
	h, s := newHandler(t)
	var in lambdaevents.SQSEvent
	if err := json.Unmarshal(stacktest.SampleEvent(t, "stats-events.json"), &in); err != nil {
		t.Fatal(err)
	}
	out, err := h.Handle(context.Background(), in)
	if err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("sample: %+v %v", out, err)
	}
	ds, err := s.Daily(context.Background(), "demo-company", []string{"demo-both"}, "2026-11-29", "2026-11-29")
	if err != nil || len(ds) != 1 {
		t.Fatalf("aggregates %+v %v", ds, err)
	}
	if d := ds[0]; d.Channel != "alipay" || d.Count != 1 || d.AmountFen != 0 || d.RefundedCount != 1 || d.RefundedFen != 1234 {
		t.Fatalf("after the sample's payment and refund: %+v", d)
	}
}

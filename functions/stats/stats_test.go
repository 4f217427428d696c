package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// payAlipay pays an order of amount on community demo-both through the
// Alipay sandbox, as a resident would: the cashier opened, then paid.
func payAlipay(t *testing.T, s *stack.Stack, amount int64) order.Order {
	t.Helper()
	o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "alipay", amount, "")
	resp, err := stacktest.HTTPClient.Get(o.Pay.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cashier: %d", resp.StatusCode)
	}
	if err := s.Alipay().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "order paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	return stacktest.StoredOrder(t, s, o.OrderID)
}

// End to end through the local stack: payments → stream → relay →
// StatsEventsQueue → StatsFunction → StatsTable.
func TestPaymentsMoveTheAggregate(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	stats := &store.Stats{DB: s.Store().DB, Table: s.Tables["StatsTable"]}
	// The Alipay figures of demo-both over the payments' days (two days if
	// they straddle midnight in Shanghai).
	var from, to calendar.Day
	alipay := func() (count, amount int64) {
		ds, err := stats.Daily(ctx, stack.DemoCompanyID, []string{"demo-both"}, from, to)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Channel == "alipay" {
				count, amount = count+d.Count, amount+d.AmountFen
			}
		}
		return count, amount
	}

	first := payAlipay(t, s, 1234)
	from, to = first.BusinessDay, first.BusinessDay
	stacktest.WaitFor(t, "the first payment in the aggregate", 20*time.Second, func() bool { n, _ := alipay(); return n == 1 })
	if _, amount := alipay(); amount != 1234 {
		t.Fatalf("amount after one payment: %d", amount)
	}
	second := payAlipay(t, s, 766)
	to = second.BusinessDay
	stacktest.WaitFor(t, "the second payment in the aggregate", 20*time.Second, func() bool { n, _ := alipay(); return n == 2 })
	if _, amount := alipay(); amount != 2000 {
		t.Fatalf("amount after two payments: %d", amount)
	}

	// The first payment's event delivered once more (a new deduplication id:
	// SQS would not drop it) changes nothing.
	ev, ok := order.Change(&order.Order{ID: first.ID, Status: order.Pending, Version: first.Version - 1}, first)
	if !ok || ev.Type != order.EventPaid {
		t.Fatalf("cannot rebuild the payment event: %+v", ev)
	}
	body, _ := json.Marshal(ev)
	if _, err := stacktest.SQSClient(s).SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(s.Queues["StatsEventsQueue"]), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(ev.OrderID), MessageDeduplicationId: aws.String(ev.ID + "-again"),
	}); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the redelivered event to be consumed", 20*time.Second, func() bool {
		v, f, ok := s.SQS().Depth("StatsEventsQueue.fifo")
		return ok && v == 0 && f == 0
	})
	if n, amount := alipay(); n != 2 || amount != 2000 {
		t.Fatalf("after a redelivered event: %d payments, %d fen", n, amount)
	}
	if v, f, ok := s.SQS().Depth("StatsEventsDLQ.fifo"); !ok || v+f != 0 {
		t.Fatalf("StatsEventsDLQ holds %d messages (ok=%v)", v+f, ok)
	}
}

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

func lambdaAV(v types.AttributeValue) lambdaevents.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return lambdaevents.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return lambdaevents.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return lambdaevents.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberM:
		m := map[string]lambdaevents.DynamoDBAttributeValue{}
		for k, e := range v.Value {
			m[k] = lambdaAV(e)
		}
		return lambdaevents.NewMapAttribute(m)
	}
	panic("unexpected attribute type")
}

func image(t *testing.T, o order.Order) map[string]lambdaevents.DynamoDBAttributeValue {
	t.Helper()
	item, err := store.EncodeOrder(o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]lambdaevents.DynamoDBAttributeValue{}
	for k, v := range item {
		out[k] = lambdaAV(v)
	}
	return out
}

func record(t *testing.T, seq int, before *order.Order, after order.Order) lambdaevents.DynamoDBEventRecord {
	r := lambdaevents.DynamoDBEventRecord{EventName: "INSERT", Change: lambdaevents.DynamoDBStreamRecord{
		SequenceNumber: strconv.Itoa(100 + seq), NewImage: image(t, after)}}
	if before != nil {
		r.EventName = "MODIFY"
		r.Change.OldImage = image(t, *before)
	}
	return r
}

type fakePublisher struct {
	sent    []order.Event
	failAt  int // fail when this many have been sent in total (-1: never)
	batches int
}

func (p *fakePublisher) Publish(ctx context.Context, evs []order.Event) (int, error) {
	p.batches++
	for i, e := range evs {
		if p.failAt >= 0 && len(p.sent) == p.failAt {
			p.failAt = -1
			return i, errors.New("sqs unavailable")
		}
		p.sent = append(p.sent, e)
	}
	return len(evs), nil
}

// lifecycle: created, prepaid, postponed, paid, (late duplicate write of the
// same state), refunded: three events would be wrong, two are right.
func lifecycle(t *testing.T) []lambdaevents.DynamoDBEventRecord {
	t.Helper()
	o, err := order.New(order.Order{ID: "EPRELAY", CommunityID: "com", CompanyID: "co", IfaceID: "ali-1", Channel: domain.Alipay,
		MerchantID: "2088", AppID: "2021", AmountFen: 500}, t0, 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var recs []lambdaevents.DynamoDBEventRecord
	recs = append(recs, record(t, len(recs), nil, o))
	step := func(f func(*order.Order)) {
		before := o
		f(&o)
		recs = append(recs, record(t, len(recs), &before, o))
	}
	step(func(o *order.Order) { _ = o.SetPrepay("{}", t0) })
	step(func(o *order.Order) { o.Postpone(t0.Add(4 * time.Minute)) })
	step(func(o *order.Order) {
		if err := o.Pay(order.Payment{ProviderTxnID: "T1", AmountFen: 500, PaidAt: t0.Add(time.Minute), MerchantID: "2088", AppID: "2021"}); err != nil {
			t.Fatal(err)
		}
	})
	step(func(o *order.Order) {
		if err := o.Refund(order.Payment{ProviderTxnID: "T1", AmountFen: 500, PaidAt: t0.Add(time.Minute), MerchantID: "2088", AppID: "2021"}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	return recs
}

func TestRelayOneEventPerStateChange(t *testing.T) {
	pub := &fakePublisher{failAt: -1}
	r := &Relay{Publisher: pub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	resp, err := r.Handle(context.Background(), lambdaevents.DynamoDBEvent{Records: lifecycle(t)})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("handle = %+v %v", resp, err)
	}
	if len(pub.sent) != 2 || pub.sent[0].Type != order.EventPaid || pub.sent[0].ID != "EPRELAY:4" ||
		pub.sent[1].Type != order.EventRefunded || pub.sent[1].ID != "EPRELAY:5" {
		t.Fatalf("sent %+v", pub.sent)
	}
	if e := pub.sent[0]; e.AmountFen != 500 || e.MerchantID != "2088" || e.BusinessDay != "2026-11-29" || e.PaidAt == nil || !e.PaidAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("paid event = %+v", e)
	}
}

// A failed publish reports the first record whose event did not go out; the
// retry from there sends it again with the same id (the FIFO queue drops the
// copy, consumers dedupe by id).
func TestRelayReportsFirstUnsentRecord(t *testing.T) {
	recs := lifecycle(t)
	pub := &fakePublisher{failAt: 1} // the paid event goes, the refund event fails
	r := &Relay{Publisher: pub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	resp, _ := r.Handle(context.Background(), lambdaevents.DynamoDBEvent{Records: recs})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != recs[4].Change.SequenceNumber {
		t.Fatalf("failures = %+v, want the refund record %s", resp.BatchItemFailures, recs[4].Change.SequenceNumber)
	}
	resp, _ = r.Handle(context.Background(), lambdaevents.DynamoDBEvent{Records: recs[4:]})
	if len(resp.BatchItemFailures) != 0 || len(pub.sent) != 2 || pub.sent[1].ID != "EPRELAY:5" {
		t.Fatalf("retry: %+v, sent %+v", resp, pub.sent)
	}
}

// An undecodable record is never skipped silently.
func TestRelayUndecodableRecordFails(t *testing.T) {
	recs := lifecycle(t)
	bad := recs[3]
	bad.Change.NewImage = map[string]lambdaevents.DynamoDBAttributeValue{"version": lambdaevents.NewStringAttribute("not a number")}
	pub := &fakePublisher{failAt: -1}
	r := &Relay{Publisher: pub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	resp, _ := r.Handle(context.Background(), lambdaevents.DynamoDBEvent{Records: []lambdaevents.DynamoDBEventRecord{recs[0], recs[1], bad, recs[4]}})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != bad.Change.SequenceNumber {
		t.Fatalf("failures = %+v", resp.BatchItemFailures)
	}
	if len(pub.sent) != 0 {
		t.Fatalf("sent %+v past a bad record", pub.sent)
	}
}

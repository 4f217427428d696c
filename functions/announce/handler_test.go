package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

var t0 = time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)

type names map[string]string

func (n names) CommunityName(_ context.Context, id string) string { return n[id] }

// deadSQS records what was sent to the DLQ (the real sqsDeadLetters on a fake client).
type deadSQS struct {
	mu   sync.Mutex
	sent []*sqs.SendMessageInput
	fail error
}

func (d *deadSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return nil, d.fail
	}
	d.sent = append(d.sent, in)
	return &sqs.SendMessageOutput{}, nil
}

func newHandler(t *testing.T) (*Handler, *store.Announcements, *deadSQS) {
	t.Helper()
	st := &store.Announcements{DB: stacktest.NewStore(t).DB, Table: "AnnouncementsTable"}
	dead := &deadSQS{}
	h := &Handler{Store: st, Names: names{"cm1": "阳光花园"}, Dead: sqsDeadLetters{client: dead, url: "dlq"},
		Clock: func() time.Time { return t0.Add(2 * time.Second) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return h, st, dead
}

func paid(id, collector, channel, method string, fen int64) order.Event {
	at := t0
	return order.Event{ID: id, Type: order.EventPaid, OrderID: strings.Split(id, ":")[0], CompanyID: "co1", CommunityID: "cm1",
		Channel: channel, Method: method, AmountFen: fen, At: at, PaidAt: &at, CollectorID: collector}
}

func message(t *testing.T, mid string, ev any) lambdaevents.SQSMessage {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return lambdaevents.SQSMessage{MessageId: mid, Body: string(b), Attributes: map[string]string{"MessageGroupId": "g-" + mid}}
}

func items(t *testing.T, st *store.Announcements, aud string) []store.Announcement {
	t.Helper()
	p, err := st.Since(context.Background(), aud, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

// A payment is announced to the company and to the manager whose code took
// it, once each however often its event comes (the same batch, a later
// redelivery); other events say nothing.
func TestPaymentAnnouncedOncePerAudience(t *testing.T) {
	h, st, _ := newHandler(t)
	ctx := context.Background()
	ev := paid("o1:2", "mgr1", "wechat", "", 12850)
	closed := ev
	closed.ID, closed.Type = "o9:2", order.EventClosed
	batch := lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message(t, "m1", ev), message(t, "m2", ev), message(t, "m3", closed)}}
	for range 2 { // the batch, then the same batch redelivered
		resp, err := h.Handle(ctx, batch)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("resp %+v, %v", resp, err)
		}
	}
	co := items(t, st, store.CompanyAudience("co1"))
	if len(co) != 1 {
		t.Fatalf("%d company announcements, want 1", len(co))
	}
	a := co[0]
	if a.EventID != "o1:2" || a.Text != "微信收款 128.50 元" || a.Spoken != "微信收款一百二十八元五角" || a.Channel != "微信" ||
		a.AmountFen != 12850 || a.CommunityName != "阳光花园" || !a.OccurredAt.Equal(t0) {
		t.Errorf("announcement %+v", a)
	}
	if got := strings.Join(a.Tokens, " "); got != "wechat n1 bai n2 shi n8 yuan n5 jiao" {
		t.Errorf("tokens %s", got)
	}
	if m := items(t, st, store.ManagerAudience("co1", "mgr1")); len(m) != 1 || m[0].EventID != "o1:2" {
		t.Errorf("manager's announcements %+v, want the one", m)
	}
	if o := items(t, st, store.ManagerAudience("co1", "mgr2")); len(o) != 0 {
		t.Errorf("another manager has %d", len(o))
	}
	// A community-code payment (no collector): the console only; 分付 named as such.
	if _, err := h.Handle(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message(t, "m4", paid("o2:2", "", "wechat", "fenfu", 1000520))}}); err != nil {
		t.Fatal(err)
	}
	co = items(t, st, store.CompanyAudience("co1"))
	if len(co) != 2 || co[1].Spoken != "分付收款一万零五元二角" || co[1].Channel != "分付" {
		t.Errorf("announcements %+v", co)
	}
}

// A failed write is reported for redelivery, with its group's later
// messages; the redelivery completes it without doubling what was written.
func TestFailedWriteRetriedWithoutDoubling(t *testing.T) {
	h, st, dead := newHandler(t)
	ctx := context.Background()
	real := h.Store
	ev := paid("o1:2", "mgr1", "alipay", "", 1)
	next := paid("o1:3", "", "alipay", "", 2)
	m1, m2 := message(t, "m1", ev), message(t, "m2", next)
	m2.Attributes["MessageGroupId"] = m1.Attributes["MessageGroupId"]
	other := message(t, "m3", paid("o3:2", "", "alipay", "", 3))
	calls := 0 // the second write (m1's manager, after its company's) fails
	h.Store = storeFunc(func(ctx context.Context, a store.Announcement, now time.Time) (bool, error) {
		calls++
		if calls == 2 {
			return false, errors.New("throttled")
		}
		return real.PutAnnouncement(ctx, a, now)
	})
	resp, _ := h.Handle(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{m1, m2, other}})
	if len(resp.BatchItemFailures) != 2 || resp.BatchItemFailures[0].ItemIdentifier != "m1" || resp.BatchItemFailures[1].ItemIdentifier != "m2" {
		t.Fatalf("failures %+v, want m1 and m2 (its group)", resp.BatchItemFailures)
	}
	resp, _ = h.Handle(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{m1, m2}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("redelivery failed: %+v", resp.BatchItemFailures)
	}
	if n := len(items(t, st, store.CompanyAudience("co1"))); n != 3 {
		t.Errorf("%d company announcements, want 3", n)
	}
	if n := len(items(t, st, store.ManagerAudience("co1", "mgr1"))); n != 1 {
		t.Errorf("%d manager announcements, want 1", n)
	}
	if len(dead.sent) != 0 {
		t.Errorf("%d dead letters, want none", len(dead.sent))
	}
}

type storeFunc func(ctx context.Context, a store.Announcement, now time.Time) (bool, error)

func (f storeFunc) PutAnnouncement(ctx context.Context, a store.Announcement, now time.Time) (bool, error) {
	return f(ctx, a, now)
}

// Poison (not an event, no company, a payment without amount) goes to the
// DLQ at once with its reason and is acknowledged; if the DLQ refuses, it is
// reported failed (the redrive policy moves it in the end).
func TestPoisonToTheDLQ(t *testing.T) {
	h, st, dead := newHandler(t)
	ctx := context.Background()
	bad := paid("o5:2", "", "wechat", "", 0)
	in := lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		{MessageId: "p1", Body: "not json", Attributes: map[string]string{"MessageGroupId": "g1"}},
		message(t, "p2", map[string]string{"event_id": "x", "type": order.EventPaid}),
		message(t, "p3", bad),
		message(t, "ok", paid("o6:2", "", "wechat", "", 100)),
	}}
	resp, _ := h.Handle(ctx, in)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v, want none (poison acknowledged)", resp.BatchItemFailures)
	}
	if len(dead.sent) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dead.sent))
	}
	d := dead.sent[0]
	if aws.ToString(d.QueueUrl) != "dlq" || aws.ToString(d.MessageBody) != "not json" || aws.ToString(d.MessageGroupId) != "g1" ||
		aws.ToString(d.MessageDeduplicationId) != "p1" || !strings.HasPrefix(aws.ToString(d.MessageAttributes["reason"].StringValue), "poison: ") {
		t.Errorf("dead letter %+v", d)
	}
	if n := len(items(t, st, store.CompanyAudience("co1"))); n != 1 {
		t.Errorf("%d announcements, want the good one", n)
	}
	dead.fail = errors.New("dlq down")
	resp, _ = h.Handle(ctx, lambdaevents.SQSEvent{Records: in.Records[:1]})
	if len(resp.BatchItemFailures) != 1 {
		t.Errorf("with the DLQ down: %+v, want the message failed", resp.BatchItemFailures)
	}
}

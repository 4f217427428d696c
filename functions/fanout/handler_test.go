package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/notify/tencentsms"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/store"
)

var t0 = time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)

// clock is a test clock shared by handlers (instances) of one test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

type staffMap map[string]staff.Staff

func (m staffMap) GetStaff(_ context.Context, id string) (staff.Staff, error) {
	s, ok := m[id]
	if !ok {
		return staff.Staff{}, accounts.ErrNotFound
	}
	return s, nil
}

func (m staffMap) ListStaff(_ context.Context, companyID string) ([]staff.Staff, error) {
	var out []staff.Staff
	for _, s := range m {
		if s.CompanyID == companyID {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

type names struct{}

func (names) CommunityName(context.Context, string) string { return "阳光花园" }

type sent struct {
	To   string
	Ch   notification.Channel
	Note Note
}

// recorder is a Sender that records what it sent; fail makes sends to a staff id fail.
type recorder struct {
	mu   sync.Mutex
	sent []sent
	fail map[string]error
}

func (r *recorder) Send(_ context.Context, to staff.Staff, ch notification.Channel, n Note) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[to.ID]; err != nil {
		return err
	}
	r.sent = append(r.sent, sent{to.ID, ch, n})
	return nil
}

func (r *recorder) Sent() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.sent...)
}

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

var people = staffMap{
	"alice": {ID: "alice", CompanyID: "co", Role: staff.Cashier, Status: staff.Active, OpenID: "oAlice", Phone: "13800000011", Email: "alice@example.com"},
	"bob":   {ID: "bob", CompanyID: "co", Role: staff.Cashier, Status: staff.Active, OpenID: "oBob"},
	"carol": {ID: "carol", CompanyID: "co", Role: staff.Cashier, Status: staff.Active, OpenID: "oCarol"},
	// The company's admins (alerts): one on the official account, one with
	// e-mail only, one with neither, one disabled; another company's admin.
	"dana":  {ID: "dana", CompanyID: "co", Role: staff.Admin, Status: staff.Active, OpenID: "oDana", Email: "dana@example.com"},
	"erin":  {ID: "erin", CompanyID: "co", Role: staff.Admin, Status: staff.Active, Email: "erin@example.com", Phone: "13800000012"},
	"frank": {ID: "frank", CompanyID: "co", Role: staff.Admin, Status: staff.Active, Phone: "13800000013"},
	"gone":  {ID: "gone", CompanyID: "co", Role: staff.Admin, Status: staff.Disabled, OpenID: "oGone"},
	"otto":  {ID: "otto", CompanyID: "other", Role: staff.Admin, Status: staff.Active, OpenID: "oOtto"},
}

type fixture struct {
	notes *store.Notifications
	clock *clock
	send  *recorder
	queue *fakeQueue
}

func newFixture(t *testing.T, optedIn ...string) *fixture {
	t.Helper()
	st := stacktest.NewStore(t)
	f := &fixture{notes: st.NotificationRepo(), clock: &clock{now: t0}, send: &recorder{fail: map[string]error{}}, queue: &fakeQueue{}}
	for _, id := range optedIn {
		if err := f.notes.PutPreference(context.Background(), notification.Preference{CompanyID: "co", CommunityID: "sun", StaffID: id,
			Payments: true, Channel: notification.WeChatOA, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// carol chose the community but not the payment messages: she gets none.
	if err := f.notes.PutPreference(context.Background(), notification.Preference{CompanyID: "co", CommunityID: "sun", StaffID: "carol",
		Payments: false, Channel: notification.WeChatOA}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) handler(s Sender) *Handler {
	if s == nil {
		s = f.send
	}
	return &Handler{Store: f.notes, Staff: people, Names: names{}, Sender: s, Queue: f.queue, MaxReceives: 5, Clock: f.clock.Now, Log: quiet()}
}

func paid(n int, fen int64, at time.Time) order.Event {
	id := fmt.Sprintf("ord%03d", n)
	return order.Event{ID: id + ":3", Type: order.EventPaid, Aggregate: "order", OrderID: id, Version: 3, Status: order.Paid,
		CompanyID: "co", CommunityID: "sun", Channel: "wechat", AmountFen: fen, At: at, PaidAt: &at}
}

func message(t *testing.T, msgID string, ev order.Event) lambdaevents.SQSMessage {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return lambdaevents.SQSMessage{MessageId: msgID, Body: string(b), Attributes: map[string]string{"MessageGroupId": ev.OrderID}}
}

func handle(t *testing.T, h *Handler, msgs ...lambdaevents.SQSMessage) []string {
	t.Helper()
	raw, err := json.Marshal(lambdaevents.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatalf("Handle returned an error (the whole batch would be retried): %v", err)
	}
	var failed []string
	for _, f := range res.(lambdaevents.SQSEventResponse).BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

func flush(t *testing.T, h *Handler) FlushReport {
	t.Helper()
	res, err := h.Handle(context.Background(), json.RawMessage(`{"job":"flush"}`))
	if err != nil {
		t.Fatal(err)
	}
	return res.(FlushReport)
}

func TestTwentyPaymentsInThreeMinutesOneMessageThenOneDigest(t *testing.T) {
	f := newFixture(t, "alice")
	h := f.handler(nil)
	var sum int64
	for i := 0; i < 20; i++ {
		at := t0.Add(time.Duration(i) * 9 * time.Second) // 20 payments within 3 minutes
		f.clock.Set(at)
		fen := int64(1000 + i)
		if i > 0 {
			sum += fen
		}
		if failed := handle(t, h, message(t, fmt.Sprint("m", i), paid(i, fen, at))); len(failed) > 0 {
			t.Fatalf("payment %d failed: %v", i, failed)
		}
		f.clock.Set(at.Add(time.Second))
		flush(t, h) // the minutely flush finds nothing due inside the window
	}
	got := f.send.Sent()
	if len(got) != 1 || got[0].To != "alice" || got[0].Note.Amount != "10.00元" || got[0].Note.Count != "1笔" {
		t.Fatalf("within the window: %+v, want exactly one message (alice, 10.00元)", got)
	}
	f.clock.Set(t0.Add(notification.Window - time.Second))
	if rep := flush(t, h); rep.Digests != 0 {
		t.Fatalf("digest before the window ended: %+v", rep)
	}
	f.clock.Set(t0.Add(notification.Window + 30*time.Second))
	if rep := flush(t, h); rep.Digests != 1 || rep.Sent != 1 {
		t.Fatalf("flush at the window's end: %+v", rep)
	}
	if rep := flush(t, h); rep.Digests != 0 {
		t.Fatalf("second flush sent again: %+v", rep)
	}
	got = f.send.Sent()
	want := fmt.Sprintf("%d.%02d元", sum/100, sum%100)
	if len(got) != 2 || got[1].Note.Title != "收款汇总通知" || got[1].Note.Count != "19笔" || got[1].Note.Total != want {
		t.Fatalf("digest: %+v, want 19笔 %s", got[len(got)-1], want)
	}
}

func TestConcurrentInstancesSendOneMessage(t *testing.T) {
	f := newFixture(t, "alice")
	const instances = 8
	var wg sync.WaitGroup
	errs := make(chan string, instances)
	for i := 0; i < instances; i++ {
		h := f.handler(nil) // one handler per instance, on the same table
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			raw, _ := json.Marshal(lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message(t, fmt.Sprint("m", i), paid(i, 100, t0))}})
			res, err := h.Handle(context.Background(), raw)
			if err != nil || len(res.(lambdaevents.SQSEventResponse).BatchItemFailures) > 0 {
				errs <- fmt.Sprint(i, err, res)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("instance failed:", e)
	}
	if got := f.send.Sent(); len(got) != 1 {
		t.Fatalf("%d messages from %d concurrent instances, want 1: %+v", len(got), instances, got)
	}
	f.clock.Set(t0.Add(notification.Window))
	if rep := flush(t, f.handler(nil)); rep.Sent != 1 {
		t.Fatalf("flush: %+v", rep)
	}
	if got := f.send.Sent(); got[1].Note.Count != fmt.Sprintf("%d笔", instances-1) {
		t.Fatalf("digest counts %s, want %d笔", got[1].Note.Count, instances-1)
	}
}

func TestDuplicateDeliveriesCountOnce(t *testing.T) {
	f := newFixture(t, "alice", "bob")
	h := f.handler(nil)
	first, second := paid(1, 500, t0), paid(2, 700, t0.Add(time.Minute))
	handle(t, h, message(t, "a", first))
	handle(t, h, message(t, "a-again", first)) // SQS delivers again (e.g. after a timeout)
	f.clock.Set(t0.Add(time.Minute))
	handle(t, h, message(t, "b", second), message(t, "b-again", second))
	handle(t, h, message(t, "b-third", second))
	if got := f.send.Sent(); len(got) != 2 {
		t.Fatalf("messages: %+v, want one each for alice and bob", got)
	}
	f.clock.Set(t0.Add(notification.Window))
	flush(t, h)
	got := f.send.Sent()
	if len(got) != 4 || got[2].Note.Count != "1笔" || got[2].Note.Total != "7.00元" || got[3].Note.Count != "1笔" {
		t.Fatalf("digests: %+v, want one per recipient with the one held-back payment", got[2:])
	}
}

func TestOneFailingRecipientDoesNotRedeliverTheOthers(t *testing.T) {
	f := newFixture(t, "alice", "bob")
	f.send.fail["bob"] = errors.New("provider timeout")
	h := f.handler(nil)
	ev := paid(1, 900, t0)
	other := paid(2, 100, t0)
	other.CommunityID = "nobody-opted-in"
	if failed := handle(t, h, message(t, "m1", ev), message(t, "m2", other)); strings.Join(failed, ",") != "m1" {
		t.Fatalf("failures %v, want only m1 (bob's transient failure)", failed)
	}
	delete(f.send.fail, "bob")
	f.clock.Set(t0.Add(30 * time.Second))
	if failed := handle(t, h, message(t, "m1", ev)); len(failed) > 0 {
		t.Fatalf("redelivery failed: %v", failed)
	}
	got := f.send.Sent()
	if len(got) != 2 || got[0].To != "alice" || got[1].To != "bob" || got[1].Note.Amount != "9.00元" {
		t.Fatalf("sent %+v, want alice once, then bob once on redelivery", got)
	}
}

func TestPoisonMessageGoesToTheDLQAtOnceWithItsReason(t *testing.T) {
	f := newFixture(t, "alice")
	h := f.handler(nil)
	later := message(t, "later", paid(1, 100, t0))
	later.Attributes["MessageGroupId"] = "g"
	poison := lambdaevents.SQSMessage{MessageId: "poison", Body: "{not json", Attributes: map[string]string{"MessageGroupId": "g", "ApproximateReceiveCount": "1"}}
	empty := lambdaevents.SQSMessage{MessageId: "empty", Body: `{"type":"payment.succeeded"}`}
	other := message(t, "other", paid(2, 100, t0))
	if failed := handle(t, h, poison, later, empty, other); len(failed) != 0 {
		t.Fatalf("failures %v: poison messages are acknowledged once in the DLQ (never redelivered)", failed)
	}
	dead := f.queue.Dead()
	if len(dead) != 2 || dead[0].ID != "poison" || !strings.HasPrefix(dead[0].Reason, "poison: body is not JSON") ||
		dead[1].ID != "empty" || !strings.Contains(dead[1].Reason, "without event_id") {
		t.Fatalf("DLQ %+v, want the two poison messages with their reasons", dead)
	}
	if len(f.queue.Postponed()) != 0 {
		t.Fatalf("a poison message was postponed: %+v", f.queue.Postponed())
	}
	// The group goes on behind its poison message; alice's window holds the second payment.
	if got := f.send.Sent(); len(got) != 1 {
		t.Fatalf("sent %+v, want one message (the second payment held back)", got)
	}
	if p, _, _ := f.notes.Preference(context.Background(), "co", "sun", "alice"); p.Problem != "" {
		t.Fatalf("problem %q", p.Problem)
	}
}

func TestNotFollowingIsRecordedNotRetried(t *testing.T) {
	f := newFixture(t, "alice")
	ob, err := outbox.New(outbox.Config{WeChatOA: map[string]string{"wxoa": "s3cret"}, Now: f.clock.Now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ob.Handler())
	defer srv.Close()
	oa := &wechatoa.Client{BaseURL: srv.URL, AppID: "wxoa", Secret: "s3cret", Cache: tokenCache{N: f.notes}, Now: f.clock.Now}
	h := f.handler(&Delivery{OA: oa, OATemplateID: "tpl-pay"})

	ob.FailOpenID("oAlice", wechatoa.CodeNotFollowing)
	if failed := handle(t, h, message(t, "m1", paid(1, 100, t0))); len(failed) > 0 {
		t.Fatalf("a recipient who must follow the account failed the message (it would loop): %v", failed)
	}
	p, ok, err := f.notes.Preference(context.Background(), "co", "sun", "alice")
	if err != nil || !ok || p.Problem != ProblemNotFollowing {
		t.Fatalf("problem recorded for the console: %+v %v", p, err)
	}
	ob.FailOpenID("oAlice", 0)
	f.clock.Set(t0.Add(notification.Window + time.Minute))
	handle(t, h, message(t, "m2", paid(2, 250, f.clock.Now())))
	msgs := ob.Messages()
	if len(msgs) != 1 || msgs[0].Channel != "wechat_oa" || msgs[0].To != "oAlice" || !strings.Contains(msgs[0].Body, "amount: 2.50元") {
		t.Fatalf("outbox: %+v", msgs)
	}
}

func TestExpiredTokenIsRefreshedOnceForAllInstances(t *testing.T) {
	f := newFixture(t, "alice")
	ob, err := outbox.New(outbox.Config{WeChatOA: map[string]string{"wxoa": "s3cret"}, Now: f.clock.Now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ob.Handler())
	defer srv.Close()
	client := func() *wechatoa.Client { // a new instance: nothing in memory, the token in DynamoDB
		return &wechatoa.Client{BaseURL: srv.URL, AppID: "wxoa", Secret: "s3cret", Cache: tokenCache{N: f.notes}, Now: f.clock.Now}
	}
	send := func(c *wechatoa.Client) {
		t.Helper()
		if err := c.Send(context.Background(), wechatoa.Template{ToOpenID: "oAlice", TemplateID: "tpl", Data: map[string]string{"amount": "1.00元"}}); err != nil {
			t.Fatal(err)
		}
	}
	send(client())
	send(client())
	if n := ob.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens fetched by two instances, want 1 (cached in DynamoDB)", n)
	}
	ob.ExpireTokens() // WeChat answers 40001 to the cached token
	send(client())
	if n := ob.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens after the cached one was refused, want 2", n)
	}
	f.clock.Set(t0.Add(2*time.Hour - time.Minute)) // within the margin of the token's expiry: fetched again
	send(client())
	if n, m := ob.TokensIssued(), len(ob.Messages()); n != 3 || m != 4 {
		t.Fatalf("tokens %d (want 3), messages %d (want 4)", n, m)
	}
}

type ports struct {
	mu   sync.Mutex
	sms  []notify.SMSMessage
	mail []notify.EmailMessage
}

func (p *ports) SendSMS(_ context.Context, m notify.SMSMessage) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.Phone == "" {
		return &tencentsms.Error{Code: "InvalidParameterValue.IncorrectPhoneNumber"}
	}
	p.sms = append(p.sms, m)
	return nil
}

func (p *ports) SendEmail(_ context.Context, m notify.EmailMessage) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mail = append(p.mail, m)
	return nil
}

func TestSMSAndEmailChannels(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for id, ch := range map[string]notification.Channel{"alice": notification.SMS, "bob": notification.Email} {
		if err := f.notes.PutPreference(ctx, notification.Preference{CompanyID: "co", CommunityID: "sun", StaffID: id, Payments: true, Channel: ch}); err != nil {
			t.Fatal(err)
		}
	}
	p := &ports{}
	h := f.handler(&Delivery{SMS: p, SMSTemplateID: "100002", Email: p})
	if failed := handle(t, h, message(t, "m1", paid(1, 12345, t0))); len(failed) > 0 {
		t.Fatalf("failed: %v", failed)
	}
	if len(p.sms) != 1 || p.sms[0].Phone != "13800000011" || strings.Join(p.sms[0].Params, "|") != "收款成功通知|阳光花园|1笔|123.45元" {
		t.Fatalf("SMS: %+v", p.sms)
	}
	// bob has no e-mail address: a problem for the console, not a retry.
	if len(p.mail) != 0 {
		t.Fatalf("e-mail to an account without an address: %+v", p.mail)
	}
	if pref, _, _ := f.notes.Preference(ctx, "co", "sun", "bob"); pref.Problem != ProblemNoEmail {
		t.Fatalf("bob's problem: %q", pref.Problem)
	}
}

// A manager who asked for their own codes' payments (OwnCodes, the app's
// 设置) is told of a payment through their code — which carries them as the
// collector — throttled like anyone, on the channel they chose there, and
// once when they also subscribe to the community; a payment through another
// manager's code, or with the preference off, tells them nothing.
func TestCodeOwnerToldOfTheirCodesPayments(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	put := func(staffID, community string, on bool, ch notification.Channel) {
		t.Helper()
		if err := f.notes.PutPreference(ctx, notification.Preference{CompanyID: "co", CommunityID: community, StaffID: staffID,
			Payments: on, Channel: ch, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	put("alice", notification.OwnCodes, true, notification.SMS)
	put("bob", notification.OwnCodes, false, notification.WeChatOA)
	h := f.handler(nil)
	through := func(n int, collector string, at time.Time) order.Event {
		ev := paid(n, 1234, at)
		ev.CollectorID = collector
		return ev
	}
	handle(t, h, message(t, "m1", through(1, "alice", t0)))
	handle(t, h, message(t, "m2", through(2, "bob", t0)))
	handle(t, h, message(t, "m3", through(3, "", t0)))
	got := f.send.Sent()
	if len(got) != 1 || got[0].To != "alice" || got[0].Ch != notification.SMS || got[0].Note.Amount != "12.34元" {
		t.Fatalf("sent %+v, want one SMS to alice", got)
	}
	// Also subscribed to the community: still one recipient per payment.
	put("alice", "sun", true, notification.SMS)
	f.clock.Set(t0.Add(time.Minute))
	handle(t, h, message(t, "m4", through(4, "alice", t0.Add(time.Minute))))
	handle(t, h, message(t, "m5", through(5, "alice", t0.Add(2*time.Minute))))
	f.clock.Set(t0.Add(notification.Window + 30*time.Second))
	if rep := flush(t, h); rep.Digests != 1 || rep.Sent != 1 {
		t.Fatalf("flush: %+v", rep)
	}
	got = f.send.Sent()
	if len(got) != 2 || got[1].To != "alice" || got[1].Note.Count != "2笔" || got[1].Note.Total != "24.68元" {
		t.Fatalf("digest %+v, want alice's 2笔 24.68元", got)
	}
}

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
)

func refundFailedEvent() order.Event {
	at := t0.Add(time.Hour)
	return order.Event{ID: "RF1:4", Type: refund.EventFailed, Aggregate: "refund", OrderID: "ord001", Version: 4, From: "PROCESSING", Status: "FAILED",
		CompanyID: "co", CommunityID: "sun", Channel: "wechat", AmountFen: 2345, At: at, RefundID: "RF1", BusinessDay: "2026-12-06"}
}

func rawMessage(t *testing.T, id string, v any, group string) lambdaevents.SQSMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return lambdaevents.SQSMessage{MessageId: id, Body: string(b), Attributes: map[string]string{"MessageGroupId": group, "ApproximateReceiveCount": "1"}}
}

// A failed refund goes to every active admin of the company once, on a
// usable channel (dana: the official account; erin: e-mail, having no
// openid), not throttled; frank (neither) is recorded, not retried; the
// disabled admin, the cashiers and the other company's admin are not told.
// A duplicate delivery tells nobody twice.
func TestRefundFailedTellsEachAdminOnce(t *testing.T) {
	f := newFixture(t, "alice")
	ob, d := oaFixture(t, f)
	mail := d.Email.(*ports)
	h := f.handler(d)
	ev := refundFailedEvent()
	for _, id := range []string{"r1", "r1-again"} {
		if failed := handle(t, h, rawMessage(t, id, ev, "ord001")); len(failed) != 0 {
			t.Fatalf("%s: failures %v", id, failed)
		}
	}
	msgs := ob.Messages()
	if len(msgs) != 1 || msgs[0].To != "oDana" || !strings.Contains(msgs[0].Body, "title: 退款失败提醒") || !strings.Contains(msgs[0].Body, "amount: 23.45元") ||
		!strings.Contains(msgs[0].Body, "url: https://pay.example.com/admin/orders/ord001") || !strings.Contains(msgs[0].Body, "community: 阳光花园") {
		t.Fatalf("official-account messages %+v, want one to dana linking to the order", msgs)
	}
	if len(mail.mail) != 1 || mail.mail[0].To != "erin@example.com" || !strings.Contains(mail.mail[0].Text, "ord001") ||
		!strings.Contains(mail.mail[0].Text, "https://pay.example.com/admin/orders/ord001") || !strings.HasPrefix(mail.mail[0].Subject, "退款失败提醒") {
		t.Fatalf("e-mails %+v, want one to erin", mail.mail)
	}
	if len(mail.sms) != 0 {
		t.Fatalf("SMS sent for an alert: %+v", mail.sms)
	}
	// frank has no usable channel: his message is recorded failed, not left queued to retry.
	if _, again, err := f.notes.Alert(context.Background(), ev.ID, "frank", "co", "sun", notification.Message{Kind: notification.RefundFailed}, t0); err != nil || again {
		t.Fatalf("frank's message still to send (%v): it would be retried forever", err)
	}
	// A payment inside a window is still throttled for alice; the alert did not touch any window.
	if failed := handle(t, h, message(t, "p1", paid(1, 100, t0))); len(failed) != 0 {
		t.Fatalf("payment: %v", failed)
	}
	if n := len(ob.Messages()); n != 2 {
		t.Fatalf("%d official-account messages after alice's payment, want 2", n)
	}
}

// An admin's chosen channel comes first: dana chose e-mail on 通知设置, so
// the alert goes there although she has an openid.
func TestAdminAlertUsesTheChosenChannel(t *testing.T) {
	f := newFixture(t)
	if err := f.notes.PutPreference(context.Background(), notification.Preference{CompanyID: "co", CommunityID: "sun", StaffID: "dana",
		Channel: notification.Email, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	ob, d := oaFixture(t, f)
	mail := d.Email.(*ports)
	h := f.handler(d)
	if failed := handle(t, h, rawMessage(t, "r1", refundFailedEvent(), "ord001")); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	if len(ob.Messages()) != 0 || len(mail.mail) != 2 || mail.mail[0].To != "dana@example.com" && mail.mail[1].To != "dana@example.com" {
		t.Fatalf("official account %+v, e-mail %+v: want dana and erin by e-mail", ob.Messages(), mail.mail)
	}
}

// New reconciliation exceptions reach the admins with a link to 结算对账 of
// the month; a failing admin fails the message and only that admin is told
// on redelivery.
func TestSettlementExceptionsReachTheAdmins(t *testing.T) {
	f := newFixture(t)
	ob, d := oaFixture(t, f)
	mail := d.Email.(*ports)
	h := f.handler(d)
	ev := notification.NewExceptionsFound("co", "iface-wx", "1900000001", "wechat", "2026-12-05", 3, "run-1", t0)
	ob.FailOpenID("oDana", wechatoa.CodeSystemBusy) // transient
	m := rawMessage(t, "x1", ev, ev.Group())
	if failed := handle(t, h, m); strings.Join(failed, ",") != "x1" {
		t.Fatalf("failures %v, want x1 (dana's send failed)", failed)
	}
	if p := f.queue.Postponed(); len(p) != 1 || p[0].Delay != notification.RetryBase {
		t.Fatalf("postponed %+v", p)
	}
	if len(mail.mail) != 1 || !strings.Contains(mail.mail[0].Text, "3 条新的差异") || !strings.Contains(mail.mail[0].Text, "https://pay.example.com/admin/settlement?month=2026-12") {
		t.Fatalf("erin's e-mail %+v", mail.mail)
	}
	ob.FailOpenID("oDana", 0)
	if failed := handle(t, h, received(m, 2)); len(failed) != 0 {
		t.Fatalf("redelivery: %v", failed)
	}
	msgs := ob.Messages()
	if len(msgs) != 1 || msgs[0].To != "oDana" || !strings.Contains(msgs[0].Body, "title: 对账差异提醒") || !strings.Contains(msgs[0].Body, "count: 3条") ||
		!strings.Contains(msgs[0].Body, "url: https://pay.example.com/admin/settlement?month=2026-12") || !strings.Contains(msgs[0].Body, "1900000001") {
		t.Fatalf("dana's message %+v", msgs)
	}
	if len(mail.mail) != 1 {
		t.Fatalf("erin told twice: %+v", mail.mail)
	}
	// Another run's event of the same day is another message.
	next := notification.NewExceptionsFound("co", "iface-wx", "1900000001", "wechat", "2026-12-05", 1, "run-2", t0.Add(time.Hour))
	handle(t, h, rawMessage(t, "x2", next, next.Group()))
	if len(ob.Messages()) != 2 || len(mail.mail) != 2 {
		t.Fatalf("the second run's exceptions: %d messages, %d e-mails", len(ob.Messages()), len(mail.mail))
	}
}

// An exceptions event without what the message needs is poison.
func TestBadExceptionsEventIsPoison(t *testing.T) {
	f := newFixture(t)
	h := f.handler(nil)
	bad := notification.NewExceptionsFound("co", "iface-wx", "m", "wechat", "2026-13-45", 2, "r", t0)
	none := notification.NewExceptionsFound("co", "iface-wx", "m", "wechat", "2026-12-05", 0, "r", t0)
	if failed := handle(t, h, rawMessage(t, "bad", bad, "g1"), rawMessage(t, "none", none, "g2")); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	if dead := f.queue.Dead(); len(dead) != 2 || !strings.Contains(dead[0].Reason, "business_day") || !strings.Contains(dead[1].Reason, "without iface_id or new") {
		t.Fatalf("DLQ %+v", dead)
	}
}

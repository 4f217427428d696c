package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/setup"
)

// oaFixture is the fixture with the official-account channel on, through
// the outbox sandbox (the same WeChat API the local stack serves).
func oaFixture(t *testing.T) (*fixture, *outbox.Server) {
	t.Helper()
	f := newFixture(t)
	ob, err := outbox.New(outbox.Config{WeChatOA: map[string]string{"wxoa": "s3cret"}, Now: func() time.Time { return f.now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ob.Handler())
	t.Cleanup(srv.Close)
	f.h.OA = &wechatoa.Client{BaseURL: srv.URL, AppID: "wxoa", Secret: "s3cret", Cache: setup.OATokenCache{N: f.st.NotificationRepo()},
		Now: func() time.Time { return f.now }}
	f.h.OATemplateID = "tpl-remind"
	return f, ob
}

func TestRemindByOfficialAccount(t *testing.T) {
	f, ob := oaFixture(t)
	ctx := context.Background()
	rem := f.st.ReminderRepo()
	// House 0 (a phone) and house 3 (no phone) have a bound WeChat.
	for _, i := range []int{0, 3} {
		if _, err := rem.SetOpenID(ctx, f.co, f.houses[i].ID, "oResident"+f.houses[i].ID, f.now); err != nil {
			t.Fatal(err)
		}
	}
	rep := f.run(t)
	c := rep.Communities[0]
	// The house with only an openid is reached now: no print batch for it.
	if rep.Sent != 4 || c.SentWechat != 2 || c.NoContact != 0 || f.sms.count() != 2 {
		t.Fatalf("run: %+v, %d SMS", rep, f.sms.count())
	}
	msgs := ob.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d template messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if m.Channel != "wechat_oa" || m.Template != "tpl-remind" || !strings.Contains(m.Body, "total: 250.00元") || !strings.Contains(m.Body, "due: 2026-11-30") {
			t.Fatalf("template message %+v", m)
		}
	}
	for _, m := range f.sms.sent {
		if m.Phone == "13800000001" {
			t.Fatal("the house with a bound WeChat got the SMS as well")
		}
	}
	_, recs, err := rem.HouseReminders(ctx, f.co, f.houses[0].ID, 10)
	if err != nil || len(recs) != 1 || recs[0].Channel != reminder.WechatOA || recs[0].Status != reminder.Sent ||
		!strings.HasPrefix(recs[0].To, "微信 …") || strings.Contains(recs[0].To, "oResident") {
		t.Fatalf("record %+v %v", recs, err)
	}
	// Once per period whatever the channel: the same day, nothing.
	if rep := f.run(t); rep.Sent != 0 || rep.Communities[0].Recent != 4 {
		t.Fatalf("second run: %+v", rep)
	}
}

func TestRemindOfficialAccountFallsBackToSMS(t *testing.T) {
	f, ob := oaFixture(t)
	ctx := context.Background()
	rem := f.st.ReminderRepo()
	follow, gone := "oFollowsNot", "oNoSuchID"
	if _, err := rem.SetOpenID(ctx, f.co, f.houses[0].ID, follow, f.now); err != nil { // has a phone
		t.Fatal(err)
	}
	if _, err := rem.SetOpenID(ctx, f.co, f.houses[3].ID, gone, f.now); err != nil { // no phone
		t.Fatal(err)
	}
	ob.FailOpenID(follow, wechatoa.CodeNotFollowing)
	ob.FailOpenID(gone, wechatoa.CodeInvalidOpenID)
	rep := f.run(t)
	if rep.Sent != 3 || rep.Communities[0].SentWechat != 0 || rep.Failed != 1 || len(ob.Messages()) != 0 {
		t.Fatalf("run: %+v, %d OA messages", rep, len(ob.Messages()))
	}
	// 43004 with a phone: the SMS, both attempts recorded.
	var toFirst int
	for _, m := range f.sms.sent {
		if m.Phone == "13800000001" {
			toFirst++
		}
	}
	_, recs, _ := rem.HouseReminders(ctx, f.co, f.houses[0].ID, 10)
	if toFirst != 1 || len(recs) != 1 || recs[0].Channel != reminder.SMS || recs[0].Status != reminder.Sent || len(recs[0].Attempts) != 2 ||
		recs[0].Attempts[0].Channel != reminder.WechatOA || recs[0].Attempts[0].OK || recs[0].Attempts[0].Error != "住户未关注公众号" ||
		recs[0].Attempts[1].Channel != reminder.SMS || !recs[0].Attempts[1].OK {
		t.Fatalf("fallback: %d SMS, records %+v", toFirst, recs)
	}
	// 40003 without a phone: failed, the period given back (retried next run).
	th, recs, _ := rem.HouseReminders(ctx, f.co, f.houses[3].ID, 10)
	if len(recs) != 1 || recs[0].Status != reminder.Failed || len(recs[0].Attempts) != 1 || !th.LastAt.IsZero() {
		t.Fatalf("no fallback: %+v %+v", th, recs)
	}
	// Once the resident follows, the next run reaches them by the account.
	ob.FailOpenID(gone, 0)
	f.now = f.now.Add(time.Hour)
	if rep := f.run(t); rep.Sent != 1 || len(ob.Messages()) != 1 || ob.Messages()[0].To != gone {
		t.Fatalf("retry: %+v", rep)
	}
}

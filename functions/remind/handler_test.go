package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/reminder"
)

type outboxMessage struct {
	Channel  string   `json:"channel"`
	To       string   `json:"to"`
	Template string   `json:"template"`
	Body     string   `json:"body"`
	Params   []string `json:"params"`
}

// remindSMS lists the SMS reminders in the outbox (GET <outbox>/messages).
func remindSMS(t *testing.T, s *stack.Stack) []outboxMessage {
	return remindMessages(t, s, "sms", stack.LocalSmsRemindTemplateID)
}

// remindOA lists the official-account reminders in the outbox.
func remindOA(t *testing.T, s *stack.Stack) []outboxMessage {
	return remindMessages(t, s, "wechat_oa", stack.LocalRemindWechatTemplateID)
}

func remindMessages(t *testing.T, s *stack.Stack, channel, template string) []outboxMessage {
	t.Helper()
	resp, err := stacktest.HTTPClient.Get(s.URLs.Outbox + "/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all []outboxMessage
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	var out []outboxMessage
	for _, m := range all {
		if m.Channel == channel && m.Template == template {
			out = append(out, m)
		}
	}
	return out
}

func fireRemind(t *testing.T, s *stack.Stack, input string) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := s.FireSchedule(ctx, "RemindFunction.Remind", input)
	if err != nil {
		t.Fatalf("remind: %v (%s)", err, out)
	}
	var rep Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("remind report %s: %v", out, err)
	}
	return rep
}

// The Done-when walk: running the reminder schedule for the demo community
// sends one reminder per overdue house (by SMS, to the outbox), with a pay
// link that opens the house's notice; running it again the same day sends
// none. In the quiet hours a run sends nothing.
func TestRemindDemoCommunity(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	day := calendar.BusinessDay(time.Now())
	if err := s.SetRemindClock(day.Start().Add(10 * time.Hour)); err != nil { // 10:00 today, whenever the test runs
		t.Fatal(err)
	}
	// The houses the demo owes for: overdue bills, a phone.
	owed, err := s.Store().ReminderRepo().Overdue(ctx, stack.DemoCompanyID, stack.DemoRemindCommunity, day)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	noContact := false
	for _, b := range owed {
		h, err := s.Store().HouseRepo().GetHouse(ctx, stack.DemoCompanyID, b.HouseID)
		if err != nil {
			t.Fatal(err)
		}
		if h.OwnerPhone == "" {
			noContact = noContact || h.ID == stack.DemoRemindNoContactHouse()
			continue
		}
		if h.ID == stack.DemoRemindWechatHouse() { // a bound WeChat: the template message instead
			continue
		}
		want["+86"+h.OwnerPhone] = true
	}
	if len(want) < 3 || !noContact {
		t.Fatalf("the demo owes from %d houses with a phone (no-contact house among the owing: %v); want several and one without", len(want), noContact)
	}

	quiet := day.Start().Add(22 * time.Hour)
	if err := s.SetRemindClock(quiet); err != nil {
		t.Fatal(err)
	}
	if rep := fireRemind(t, s, ""); !rep.Deferred || rep.Sent != 0 || rep.Message != reminder.QuietMessage || len(remindSMS(t, s)) != 0 {
		t.Fatalf("22:00: %+v", rep)
	}
	if err := s.SetRemindClock(day.Start().Add(10 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	in := `{"company":"` + stack.DemoCompanyID + `","community":"` + stack.DemoRemindCommunity + `"}`
	rep := fireRemind(t, s, in)
	msgs := remindSMS(t, s)
	oa := remindOA(t, s)
	if rep.Sent != len(want)+1 || rep.Communities[0].SentWechat != 1 || len(msgs) != len(want) || len(oa) != 1 || rep.Communities[0].NoContact != 1 {
		t.Fatalf("first run: %+v; %d SMS, want %d; %d template messages, want 1", rep, len(msgs), len(want), len(oa))
	}
	// The house with a bound WeChat: one template message, the pay link its url.
	if o := oa[0]; o.To != stack.DemoRemindOpenID || !strings.Contains(o.Body, "house: ") || !strings.Contains(o.Body, "total: ") ||
		!strings.Contains(o.Body, "due: ") || !strings.Contains(o.Body, s.URLs.Gateway+"/n/") {
		t.Fatalf("template message %+v", o)
	}
	got := map[string]bool{}
	for _, m := range msgs {
		if got[m.To] || !want[m.To] {
			t.Fatalf("a second or unexpected reminder to %s", m.To)
		}
		got[m.To] = true
		if !strings.Contains(m.Body, "逾期") || len(m.Params) != 5 || !strings.HasPrefix(m.Params[3], s.URLs.Gateway+"/n/") ||
			!strings.HasPrefix(m.Params[4], s.URLs.Gateway+"/u/") {
			t.Fatalf("message %+v", m)
		}
	}
	// The pay link opens the notice, asking what the reminder says.
	m := msgs[0]
	req, _ := http.NewRequest(http.MethodGet, m.Params[3], nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone) AlipayClient/10.5.36")
	resp, err := stacktest.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), m.Params[2]) {
		i := strings.Index(string(page), "<main")
		t.Fatalf("pay link %s: %d, want it to ask %s:\n%.3000s", m.Params[3], resp.StatusCode, m.Params[2], string(page)[max(i, 0):])
	}

	// Again the same day (the schedule's own input: every community whose reminders are on).
	if err := s.SetRemindClock(day.Start().Add(15 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	rep = fireRemind(t, s, "")
	if rep.Sent != 0 || len(remindSMS(t, s)) != len(want) || len(remindOA(t, s)) != 1 {
		t.Fatalf("second run the same day: %+v", rep)
	}
	found := false
	for _, c := range rep.Communities {
		if c.CompanyID == stack.DemoCompanyID && c.CommunityID == stack.DemoRemindCommunity {
			found = c.Recent == len(want)+1
		}
	}
	if !found {
		t.Fatalf("the scheduled run did not see the demo community's reminders as recent: %+v", rep)
	}

	// The 退订 link: a GET asks, a POST opts the house out; a week later it
	// gets no reminder while the others do.
	unsub := m.Params[4]
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, unsub, nil)
		resp, err := stacktest.HTTPClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := map[string]string{http.MethodGet: "确认不再接收催缴提醒", http.MethodPost: "已退订"}[method]
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), want) {
			t.Fatalf("%s %s: %d, want %s", method, unsub, resp.StatusCode, want)
		}
	}
	tampered := unsub[:len(unsub)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(unsub, "A")]
	if resp, err := stacktest.HTTPClient.Post(tampered, "", nil); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a tampered link: %v %v", resp, err)
	}
	// A minute past the period: the clock file keeps whole seconds, so at
	// exactly the period the run could read a moment before it.
	if err := s.SetRemindClock(day.Start().Add(7*24*time.Hour + 10*time.Hour + time.Minute)); err != nil {
		t.Fatal(err)
	}
	rep = fireRemind(t, s, in)
	if rep.Sent != len(want) || rep.Communities[0].OptedOut != 1 || len(remindOA(t, s)) != 2 {
		t.Fatalf("a week later, one house unsubscribed: %+v", rep)
	}
	for _, later := range remindSMS(t, s)[:rep.Sent-1] { // newest first
		if later.To == m.To {
			t.Fatalf("the unsubscribed %s got a reminder", m.To)
		}
	}
}

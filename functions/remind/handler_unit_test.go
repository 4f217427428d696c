package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/store"
)

type fakeSMS struct {
	mu   sync.Mutex
	sent []notify.SMSMessage
	fail map[string]bool // phones whose sends fail
}

func (f *fakeSMS) SendSMS(_ context.Context, m notify.SMSMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[m.Phone] {
		return errors.New("tencentsms: LimitExceeded.PhoneNumberDailyLimit")
	}
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeSMS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

type fixture struct {
	st       *store.Store
	h        *Handler
	sms      *fakeSMS
	now      time.Time
	co, comm string
	houses   []house.House
}

func shanghai(day, clock string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", day+" "+clock, calendar.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// newFixture: a community of four houses — three with phones and an
// overdue bill (the first also a bill due today: not overdue yet), one
// without a phone — and a fifth house whose only bill is due later.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st := stacktest.NewStore(t)
	f := &fixture{st: st, sms: &fakeSMS{fail: map[string]bool{}}, now: shanghai("2026-12-07", "10:00:00"),
		co: "co-remind", comm: fmt.Sprintf("comm-%d", time.Now().UnixNano())}
	for i, phone := range []string{"13800000001", "13800000002", "13800000003", "", "13800000005"} {
		h, err := house.New(house.House{CompanyID: f.co, CommunityID: f.comm, Building: "1", Room: fmt.Sprintf("%d01", i+1),
			OwnerName: "业主", OwnerPhone: phone}, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.HouseRepo().PutHouse(ctx, h); err != nil {
			t.Fatal(err)
		}
		due := calendar.Day("2026-11-30")
		if i == 4 {
			due = "2026-12-31"
		}
		bills := []bill.Bill{{ID: h.ID + "-1", FeeItem: "物业费", Period: "2026-11", DueDate: due, AmountFen: 25000}}
		if i == 0 {
			bills = append(bills, bill.Bill{ID: h.ID + "-2", FeeItem: "物业费", Period: "2026-12", DueDate: "2026-12-07", AmountFen: 25000})
		}
		for _, b := range bills {
			b.CompanyID, b.CommunityID, b.HouseID = f.co, f.comm, h.ID
			b, err := bill.New(b, "import:test", f.now.Add(-40*24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.BillRepo().Create(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		f.houses = append(f.houses, h)
	}
	f.h = &Handler{Reminders: st.ReminderRepo(), Houses: st.HouseRepo(), Notices: st.HouseRepo(), SMS: f.sms, SMSTemplateID: "100003",
		BaseURL: "https://pay.example.com", UnsubKey: []byte("0123456789abcdef0123456789abcdef"), Clock: func() time.Time { return f.now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return f
}

func (f *fixture) run(t *testing.T) Report {
	t.Helper()
	in, _ := json.Marshal(Input{Company: f.co, Community: f.comm})
	rep, err := f.h.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRemindOncePerPeriod(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t)
	if rep.Sent != 3 || len(rep.Communities) != 1 || rep.Communities[0].NoContact != 1 || rep.Communities[0].Houses != 4 {
		t.Fatalf("first run: %+v", rep)
	}
	// One SMS per overdue house with a phone, with its notice's pay link.
	phones := map[string]bool{}
	for _, m := range f.sms.sent {
		phones[m.Phone] = true
		if len(m.Params) != 5 || m.TemplateID != "100003" || !strings.HasPrefix(m.Params[3], "https://pay.example.com/n/") ||
			!strings.HasPrefix(m.Params[4], "https://pay.example.com/u/") {
			t.Fatalf("message %+v", m)
		}
		if m.Phone == "13800000001" && (m.Params[1] != "1" || m.Params[2] != "250.00") {
			t.Fatalf("the first house is reminded of its overdue bill only: %+v", m.Params)
		}
	}
	if len(phones) != 3 || phones["13800000005"] {
		t.Fatalf("sent to %v", phones)
	}
	// The notice covers exactly the overdue bill.
	_, recs, err := f.st.ReminderRepo().HouseReminders(context.Background(), f.co, f.houses[0].ID, 10)
	if err != nil || len(recs) != 1 || recs[0].Status != reminder.Sent || len(recs[0].BillIDs) != 1 || recs[0].To != "138****0001" {
		t.Fatalf("records of the first house: %+v %v", recs, err)
	}
	n, err := f.st.HouseRepo().GetNotice(context.Background(), recs[0].NoticeID)
	if err != nil || len(n.BillIDs) != 1 || n.BillIDs[0] != f.houses[0].ID+"-1" {
		t.Fatalf("notice %+v %v", n, err)
	}

	// The same day again: nothing.
	f.now = f.now.Add(3 * time.Hour)
	if rep := f.run(t); rep.Sent != 0 || rep.Communities[0].Recent != 3 || f.sms.count() != 3 {
		t.Fatalf("second run the same day: %+v, %d sent", rep, f.sms.count())
	}
	// One second before the period: nothing; at the period: again.
	f.now = shanghai("2026-12-14", "09:59:59")
	if rep := f.run(t); rep.Sent != 0 {
		t.Fatalf("period − 1 s: %+v", rep)
	}
	f.now = shanghai("2026-12-14", "10:00:00")
	if rep := f.run(t); rep.Sent != 3 || f.sms.count() != 6 {
		t.Fatalf("a period later: %+v", rep)
	}
	// The same bills, the same notice; the first house's bill due on the
	// first run's day is overdue now: a new notice of both.
	_, recs, _ = f.st.ReminderRepo().HouseReminders(context.Background(), f.co, f.houses[1].ID, 10)
	if len(recs) != 2 || recs[0].NoticeID != recs[1].NoticeID {
		t.Fatalf("a week later the notice is reused: %+v", recs)
	}
	_, recs, _ = f.st.ReminderRepo().HouseReminders(context.Background(), f.co, f.houses[0].ID, 10)
	if len(recs) != 2 || recs[0].NoticeID == recs[1].NoticeID || len(recs[0].BillIDs) != 2 || recs[0].AmountFen != 50000 {
		t.Fatalf("a week later the first house owes two bills: %+v", recs)
	}
}

func TestRemindQuietHours(t *testing.T) {
	f := newFixture(t)
	for _, at := range []string{"21:00:00", "23:30:00", "07:59:59"} {
		f.now = shanghai("2026-12-07", at)
		rep := f.run(t)
		if !rep.Deferred || rep.Sent != 0 || rep.Message == "" || f.sms.count() != 0 {
			t.Fatalf("%s: %+v, %d sent", at, rep, f.sms.count())
		}
		// The community's page says so.
		runs, _ := f.st.ReminderRepo().Runs(context.Background(), f.co)
		if !strings.Contains(runs[f.comm], `"deferred":true`) {
			t.Fatalf("%s: kept summary %q", at, runs[f.comm])
		}
	}
	// Deferred, not dropped: the first run after 08:00 sends.
	f.now = shanghai("2026-12-08", "08:00:00")
	if rep := f.run(t); rep.Deferred || rep.Sent != 3 {
		t.Fatalf("08:00: %+v", rep)
	}
	f.now = shanghai("2026-12-08", "20:59:59")
	if rep := f.run(t); rep.Deferred || rep.Sent != 0 || rep.Communities[0].Recent != 3 {
		t.Fatalf("20:59:59: %+v", rep)
	}
}

func TestRemindOptOutAndFailedSend(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.st.ReminderRepo().SetOptOut(ctx, f.co, f.houses[1].ID, true, "staff:s1", f.now); err != nil {
		t.Fatal(err)
	}
	f.sms.fail["13800000003"] = true
	rep := f.run(t)
	c := rep.Communities[0]
	if rep.Sent != 1 || rep.Failed != 1 || c.OptedOut != 1 || c.NoContact != 1 {
		t.Fatalf("run: %+v", rep)
	}
	for _, m := range f.sms.sent {
		if m.Phone == "13800000002" {
			t.Fatal("the opted-out house got a reminder")
		}
	}
	th, recs, _ := f.st.ReminderRepo().HouseReminders(ctx, f.co, f.houses[2].ID, 10)
	if len(recs) != 1 || recs[0].Status != reminder.Failed || recs[0].Error == "" || !th.LastAt.IsZero() {
		t.Fatalf("the failed send: %+v %+v", th, recs)
	}
	// The next run retries it (and only it).
	f.sms.fail = map[string]bool{}
	f.now = f.now.Add(time.Hour)
	rep = f.run(t)
	if rep.Sent != 1 || f.sms.sent[len(f.sms.sent)-1].Phone != "13800000003" {
		t.Fatalf("the retry: %+v", rep)
	}
	if rep := f.run(t); rep.Sent != 0 {
		t.Fatalf("after the retry: %+v", rep)
	}
}

// A run that starts at 20:59:59 and reaches 21:00 stops there: the rest
// are deferred to the next run.
func TestRemindStopsAtTheQuietHours(t *testing.T) {
	f := newFixture(t)
	calls := 0
	f.h.Clock = func() time.Time {
		calls++
		if calls == 1 {
			return shanghai("2026-12-07", "20:59:59")
		}
		return shanghai("2026-12-07", "21:00:00")
	}
	rep := f.run(t)
	if !rep.Deferred || rep.Sent != 0 || f.sms.count() != 0 || !rep.Communities[0].Deferred {
		t.Fatalf("%+v, %d sent", rep, f.sms.count())
	}
}

// A run past its deadline margin stops before the first house.
func TestRemindStopsBeforeTheDeadline(t *testing.T) {
	f := newFixture(t)
	f.h.Margin = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in, _ := json.Marshal(Input{Company: f.co, Community: f.comm})
	rep, err := f.h.Handle(ctx, in)
	if err != nil || !rep.Stopped || rep.Sent != 0 || f.sms.count() != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/store"
)

var remindT0 = time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC) // 10:00 Asia/Shanghai

func owedBill(t *testing.T, company, community, houseID, id string, due calendar.Day) bill.Bill {
	t.Helper()
	b, err := bill.New(bill.Bill{ID: id, CompanyID: company, CommunityID: community, HouseID: houseID, Building: "1", Room: "101",
		FeeItem: "物业费", Period: string(due)[:7], AmountFen: 12000, DueDate: due}, "import:test", remindT0.Add(-60*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func billIDs(bs []bill.Bill) map[string]bool {
	out := map[string]bool{}
	for _, b := range bs {
		out[b.ID] = true
	}
	return out
}

// The sparse `overdue` index lists a bill while it is owed and due before
// today, and no longer once it is paid.
func TestOverdueIndexFollowsPayment(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	co, comm := "co-od", fmt.Sprintf("comm-%d", time.Now().UnixNano())
	old := owedBill(t, co, comm, "H1", comm+"-old", "2026-10-31")
	late := owedBill(t, co, comm, "H2", comm+"-late", "2026-12-06")
	today := owedBill(t, co, comm, "H2", comm+"-today", "2026-12-07")
	if err := st.BillRepo().Create(ctx, old, late, today); err != nil {
		t.Fatal(err)
	}
	rem := st.ReminderRepo()
	got, err := rem.Overdue(ctx, co, comm, calendar.BusinessDay(remindT0))
	if err != nil {
		t.Fatal(err)
	}
	if ids := billIDs(got); len(ids) != 2 || !ids[old.ID] || !ids[late.ID] {
		t.Fatalf("overdue = %v, want the two bills due before today", ids)
	}
	// Another company's query of the same community id sees nothing.
	if other, _ := rem.Overdue(ctx, "co-other", comm, "2099-01-01"); len(other) != 0 {
		t.Fatalf("another company sees %d bills", len(other))
	}
	if _, err := st.BillRepo().PayAll(ctx, "order-1", []string{old.ID}, remindT0); err != nil {
		t.Fatal(err)
	}
	got, err = rem.Overdue(ctx, co, comm, calendar.BusinessDay(remindT0))
	if err != nil {
		t.Fatal(err)
	}
	if ids := billIDs(got); len(ids) != 1 || !ids[late.ID] {
		t.Fatalf("after paying %s: overdue = %v", old.ID, ids)
	}
	// The stored item of the paid bill has no index attributes at all.
	res, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.Bills),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "BILL#" + old.ID}, "sk": &types.AttributeValueMemberS{Value: "BILL"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, has := res.Item["od_pk"]; has {
		t.Fatal("a paid bill kept od_pk")
	}
}

// Bills written before the index get their attributes from the backfill,
// which pages the community index.
func TestBackfillOverdue(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	co, comm := "co-bf", fmt.Sprintf("comm-%d", time.Now().UnixNano())
	a := owedBill(t, co, comm, "H1", comm+"-a", "2026-11-30")
	paid := owedBill(t, co, comm, "H2", comm+"-paid", "2026-11-30")
	if err := st.BillRepo().Create(ctx, a, paid); err != nil {
		t.Fatal(err)
	}
	if _, err := st.BillRepo().PayAll(ctx, "order-2", []string{paid.ID}, remindT0); err != nil {
		t.Fatal(err)
	}
	// As written by the code before the index: no od_pk / od_sk.
	_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(st.Bills),
		Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "BILL#" + a.ID}, "sk": &types.AttributeValueMemberS{Value: "BILL"}},
		UpdateExpression: aws.String("REMOVE od_pk, od_sk")})
	if err != nil {
		t.Fatal(err)
	}
	rem := st.ReminderRepo()
	if got, _ := rem.Overdue(ctx, co, comm, "2026-12-07"); len(got) != 0 {
		t.Fatalf("before the backfill: %d overdue", len(got))
	}
	n, err := rem.BackfillOverdue(ctx, co, comm)
	if err != nil || n != 1 {
		t.Fatalf("backfill = %d, %v; want 1 (the paid bill stays out)", n, err)
	}
	got, _ := rem.Overdue(ctx, co, comm, "2026-12-07")
	if ids := billIDs(got); len(ids) != 1 || !ids[a.ID] {
		t.Fatalf("after the backfill: %v", ids)
	}
	if n, _ := rem.BackfillOverdue(ctx, co, comm); n != 0 {
		t.Fatalf("a second backfill updated %d", n)
	}
}

// Runs racing for one house make one reminder; a failed send gives the
// period back, a sent one holds it.
func TestReminderClaimThrottle(t *testing.T) {
	ctx := context.Background()
	rem := newStore(t).ReminderRepo()
	co, houseID := "co-th", fmt.Sprintf("H%d", time.Now().UnixNano())
	const runs = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			th, err := rem.Throttle(ctx, co, houseID)
			if err != nil {
				t.Error(err)
				return
			}
			rec := reminder.Record{ID: fmt.Sprintf("r%d", i), CompanyID: co, CommunityID: "m", HouseID: houseID, At: remindT0,
				Channel: reminder.SMS, BillIDs: []string{"b"}, AmountFen: 100, Status: reminder.Sending}
			_, err = rem.Claim(ctx, th, rec, reminder.DefaultPeriod)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrReminded):
				lost++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != runs-1 {
		t.Fatalf("won %d, lost %d; want exactly one reminder", won, lost)
	}
	th, recs, err := rem.HouseReminders(ctx, co, houseID, 10)
	if err != nil || len(recs) != 1 || th.LastID != recs[0].ID || recs[0].Status != reminder.Sending {
		t.Fatalf("house reminders = %+v %+v %v", th, recs, err)
	}

	// Its send failed: recorded, and the period given back.
	rec := recs[0]
	rec.Status, rec.Error, rec.DoneAt = reminder.Failed, "短信发送失败", remindT0.Add(time.Second)
	if err := rem.Finish(ctx, th, rec); err != nil {
		t.Fatal(err)
	}
	th, recs, _ = rem.HouseReminders(ctx, co, houseID, 10)
	if !th.LastAt.IsZero() || recs[0].Status != reminder.Failed || recs[0].Error != "短信发送失败" {
		t.Fatalf("after a failure: %+v %+v", th, recs)
	}
	// The next run (an hour later) claims again and sends.
	next := reminder.Record{ID: "r-next", CompanyID: co, CommunityID: "m", HouseID: houseID, At: remindT0.Add(time.Hour),
		Channel: reminder.SMS, Status: reminder.Sending}
	th, err = rem.Claim(ctx, th, next, reminder.DefaultPeriod)
	if err != nil {
		t.Fatal(err)
	}
	next.Status, next.DoneAt = reminder.Sent, next.At
	if err := rem.Finish(ctx, th, next); err != nil {
		t.Fatal(err)
	}
	// Within the period, even at a stale version the condition refuses.
	stale := reminder.Throttle{CompanyID: co, HouseID: houseID, Version: th.Version}
	again := reminder.Record{ID: "r-again", CompanyID: co, HouseID: houseID, At: remindT0.Add(2 * time.Hour), Status: reminder.Sending}
	if _, err := rem.Claim(ctx, stale, again, reminder.DefaultPeriod); !errors.Is(err, store.ErrReminded) {
		t.Fatalf("a claim within the period: %v", err)
	}
	th, recs, _ = rem.HouseReminders(ctx, co, houseID, 10)
	if th.LastID != "r-next" || len(recs) != 2 || recs[0].ID != "r-next" || recs[0].Status != reminder.Sent {
		t.Fatalf("after the retry: %+v %+v", th, recs)
	}
	// A week later it may be reminded again.
	week := reminder.Record{ID: "r-week", CompanyID: co, HouseID: houseID, At: next.At.Add(reminder.DefaultPeriod), Status: reminder.Sending}
	if _, err := rem.Claim(ctx, th, week, reminder.DefaultPeriod); err != nil {
		t.Fatalf("a claim a period later: %v", err)
	}
}

func TestReminderOptOutAndSettings(t *testing.T) {
	ctx := context.Background()
	rem := newStore(t).ReminderRepo()
	co, houseID := fmt.Sprintf("co-oo-%d", time.Now().UnixNano()), "H-oo"
	if err := rem.SetOptOut(ctx, co, houseID, true, "staff:s1", remindT0); err != nil {
		t.Fatal(err)
	}
	th, err := rem.Throttle(ctx, co, houseID)
	if err != nil || !th.OptedOut || th.OptedBy != "staff:s1" || th.Version != 1 {
		t.Fatalf("throttle = %+v %v", th, err)
	}
	// Another company reads no throttle of it.
	if _, err := rem.Throttle(ctx, "co-else", houseID); err == nil {
		t.Fatal("another company read the throttle")
	}
	if err := rem.SetOptOut(ctx, co, houseID, false, "staff:s1", remindT0); err != nil {
		t.Fatal(err)
	}
	if th, _ := rem.Throttle(ctx, co, houseID); th.OptedOut || th.Version != 2 {
		t.Fatalf("after taking it back: %+v", th)
	}
	if err := rem.PutReminderSettings(ctx, reminder.Settings{CompanyID: co, CommunityID: "m1", Enabled: true, PeriodDays: 3}); err != nil {
		t.Fatal(err)
	}
	got, err := rem.ReminderSettings(ctx, co)
	if err != nil || len(got) != 1 || got[0].Period() != 72*time.Hour || !got[0].Enabled {
		t.Fatalf("settings = %+v %v", got, err)
	}
}

// A resident's WeChat binding is a conditional write on the throttle: a
// claim made with the throttle read before the binding is refused (the
// version moved), one read after keeps the openid, and unbinding keeps the
// claim; the record keeps its attempts.
func TestReminderOpenIDBinding(t *testing.T) {
	ctx := context.Background()
	rem := newStore(t).ReminderRepo()
	at := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	hid := fmt.Sprintf("Hwx%d", time.Now().UnixNano())
	stale, err := rem.Throttle(ctx, "co", hid)
	if err != nil {
		t.Fatal(err)
	}
	before, err := rem.SetOpenID(ctx, "co", hid, "oResident01", at)
	if err != nil || before.OpenID != "" || before.Version != 0 {
		t.Fatalf("bind: %+v %v", before, err)
	}
	rec := reminder.Record{ID: "r1", CompanyID: "co", CommunityID: "cm", HouseID: hid, At: at, Channel: reminder.WechatOA, To: "微信 …nt01", Status: reminder.Sending}
	if _, err := rem.Claim(ctx, stale, rec, reminder.DefaultPeriod); !errors.Is(err, store.ErrReminded) {
		t.Fatalf("a claim at the version before the binding: %v", err)
	}
	fresh, _ := rem.Throttle(ctx, "co", hid)
	claimed, err := rem.Claim(ctx, fresh, rec, reminder.DefaultPeriod)
	if err != nil || claimed.OpenID != "oResident01" {
		t.Fatalf("claim: %+v %v", claimed, err)
	}
	rec.Status, rec.Channel, rec.To, rec.DoneAt = reminder.Sent, reminder.SMS, "138****0001", at.Add(time.Second)
	rec.Attempts = []reminder.Attempt{{Channel: reminder.WechatOA, To: "微信 …nt01", Error: "住户未关注公众号"}, {Channel: reminder.SMS, To: "138****0001", OK: true}}
	if err := rem.Finish(ctx, claimed, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := rem.SetOpenID(ctx, "co", hid, "", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	th, recs, err := rem.HouseReminders(ctx, "co", hid, 5)
	if err != nil || th.OpenID != "" || th.LastID != "r1" || th.Version != 3 || len(recs) != 1 || recs[0].Channel != reminder.SMS ||
		len(recs[0].Attempts) != 2 || recs[0].Attempts[0].OK || !recs[0].Attempts[1].OK || recs[0].Attempts[0].Error != "住户未关注公众号" {
		t.Fatalf("after unbinding: %+v %+v %v", th, recs, err)
	}
	// Another company's house reads as never bound.
	if _, err := rem.Throttle(ctx, "other", hid); err == nil {
		t.Fatal("another company's throttle was read")
	}
}

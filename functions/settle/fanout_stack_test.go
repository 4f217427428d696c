package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// On the local stack (as in make run) the schedule's plan queues the day
// of every approved interface on SettleQueue, SettleFunction's event source
// mapping settles each, and the queue ends empty; the events/ sample of
// the trigger settles its interface × day again.
func TestThePlanFansOutThroughSettleQueue(t *testing.T) {
	s := stacktest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "wechat", 3100, "oFanoutPayer")
	if err := s.WeChat().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	day := calendar.BusinessDay(time.Now())

	ifaces, err := s.Store().ListInterfaces(ctx, stack.DemoCompanyID)
	if err != nil {
		t.Fatal(err)
	}
	var approved []store.Interface
	for _, i := range ifaces {
		if i.Status == domain.StatusApproved {
			approved = append(approved, i)
		}
	}
	if len(approved) < 2 {
		t.Fatalf("demo interfaces %+v: want both channels approved", ifaces)
	}
	repo := &store.Settlements{DB: s.Store().DB, Table: s.Tables["StatsTable"]}
	runOf := func(i store.Interface) dsettle.Run {
		r, _ := repo.Run(ctx, dsettle.Key{Merchant: i.PaymentMerchant(), Channel: i.Channel, Day: day})
		return r
	}
	queueEmpty := func() bool {
		v, f, ok := s.SQS().Depth("SettleQueue.fifo")
		return ok && v+f == 0
	}

	in, _ := json.Marshal(map[string]string{"job": "plan", "day": string(day), "company": stack.DemoCompanyID})
	out, err := s.FireSchedule(ctx, "SettleFunction.Settle", string(in))
	var rep PlanReport
	if err != nil || json.Unmarshal(out, &rep) != nil || rep.Day != day || rep.Queued != len(approved) {
		t.Fatalf("plan: %s %v, want %d queued", out, err, len(approved))
	}
	stacktest.WaitFor(t, "every queued interface settled and the queue empty", 60*time.Second, func() bool {
		for _, i := range approved {
			if !runOf(i).Done {
				return false
			}
		}
		return queueEmpty()
	})
	var wx store.Interface
	for _, i := range approved {
		if i.ID == "demo-wechat" {
			wx = i
		}
	}
	run := runOf(wx)
	if st := run.Statements[""]; st.Count == 0 || st.GrossFen < 3100 || st.NetFen <= 0 {
		t.Fatalf("demo-wechat's statement after the fan-out: %+v", st)
	}
	ex, err := repo.Exceptions(ctx, stack.DemoCompanyID, day, day)
	if err != nil || len(ex) != 0 {
		t.Fatalf("exceptions %+v %v", ex, err)
	}

	// The sample of the trigger, for today: settled again, nothing handed back.
	sample := strings.ReplaceAll(string(stacktest.SampleEvent(t, "settle-queue.json")), "2026-11-29", string(day))
	resp, err := s.Invoke(ctx, "SettleFunction", []byte(sample))
	var r struct {
		Failures []json.RawMessage `json:"batchItemFailures"`
	}
	if err != nil || json.Unmarshal(resp, &r) != nil || len(r.Failures) != 0 {
		t.Fatalf("events/settle-queue.json: %s %v", resp, err)
	}
	if again := runOf(wx); again.Generation != run.Generation+1 || !again.Done || again.Statements[""].Count != run.Statements[""].Count {
		t.Fatalf("the sample's settlement: %+v after %+v", again, run)
	}
}

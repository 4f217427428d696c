package template_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/template"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// settleThroughTheQueue runs settlement's fan-out as the daily schedule
// does: the plan (SettleFunction: the parent index, then SendMessageBatch
// to SettleQueue) and the queue's event source mapping handing every
// interface × day back to SettleFunction, which settles and reconciles it
// with the DynamoDB calls the outer test holds to its policy. SettleQueue's
// SQS permissions, which the embedded DynamoDB cannot see, are held to what
// the fan-out needs here: SettleFunction alone, on SettleQueue alone, sends
// (the plan), receives, deletes and reads the attributes (the mapping, with
// its role) and changes a message's visibility (a hand-back).
func settleThroughTheQueue(t *testing.T, s *stack.Stack) {
	t.Helper()
	wantSQS := []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"}
	tm := loadProduct(t)
	for _, f := range tm.Functions() {
		sts, _ := statements(f)
		var onQueue []string
		for _, st := range sts {
			if !slices.Contains(dataResources(tm, tm.References(st["Resource"])), "SettleQueue") {
				continue
			}
			if len(list(st["Resource"])) != 1 {
				t.Errorf("%s: SettleQueue's statement names other resources too: %v", f.LogicalID, st["Resource"])
			}
			for _, a := range list(st["Action"]) {
				onQueue = append(onQueue, a.(string))
			}
		}
		sort.Strings(onQueue)
		switch {
		case f.LogicalID == "SettleFunction" && !slices.Equal(onQueue, wantSQS):
			t.Errorf("SettleFunction's actions on SettleQueue %v, want %v", onQueue, wantSQS)
		case f.LogicalID != "SettleFunction" && len(onQueue) > 0:
			t.Errorf("%s may %v on SettleQueue: only SettleFunction plans and consumes it", f.LogicalID, onQueue)
		}
		if f.LogicalID == "SettleFunction" {
			checkSettleMapping(t, tm, f)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	day := calendar.BusinessDay(time.Now())
	ifaces, err := s.Store().ListInterfaces(ctx, stack.DemoCompanyID)
	if err != nil {
		t.Fatal(err)
	}
	repo := &store.Settlements{DB: s.Store().DB, Table: s.Tables["StatsTable"]}
	runOf := func(i store.Interface) dsettle.Run {
		r, _ := repo.Run(ctx, dsettle.Key{Merchant: i.PaymentMerchant(), Channel: i.Channel, Day: day})
		return r
	}
	before := map[string]int64{}
	for _, i := range ifaces {
		if i.Status == domain.StatusApproved {
			before[i.ID] = runOf(i).Generation
		}
	}
	in, _ := json.Marshal(map[string]string{"job": "plan", "day": string(day), "company": stack.DemoCompanyID})
	out, err := s.FireSchedule(ctx, "SettleFunction.Settle", string(in))
	var plan struct {
		Queued int `json:"queued"`
	}
	if err != nil || json.Unmarshal(out, &plan) != nil || plan.Queued != len(before) || plan.Queued == 0 {
		t.Fatalf("plan: %s %v, want %d queued", out, err, len(before))
	}
	stacktest.WaitFor(t, "the queued interfaces settled by the queue's consumer", 60*time.Second, func() bool {
		for _, i := range ifaces {
			if gen, ok := before[i.ID]; ok {
				if r := runOf(i); !r.Done || r.Generation <= gen {
					return false
				}
			}
		}
		v, f, _ := s.SQS().Depth("SettleQueue.fifo")
		return v+f == 0
	})
}

// checkSettleMapping holds SettleFunction's SQS trigger to the fan-out's
// design: partial batch failures, and a visibility timeout over the
// function's (a message is not delivered twice while it is settled).
func checkSettleMapping(t *testing.T, tm *template.Template, f template.Function) {
	t.Helper()
	qs, err := tm.Queues()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range f.Events {
		if e.Type != "SQS" {
			continue
		}
		id, _, err := template.RefTarget(e.Properties["Queue"])
		if err != nil || id != "SettleQueue" {
			t.Errorf("SettleFunction.%s consumes %v", e.Name, e.Properties["Queue"])
			continue
		}
		found = true
		if !slices.Contains(list(e.Properties["FunctionResponseTypes"]), any("ReportBatchItemFailures")) {
			t.Errorf("SettleFunction.%s: no ReportBatchItemFailures", e.Name)
		}
		for _, q := range qs {
			if q.LogicalID == id && (q.VisibilityTimeoutSeconds <= f.Timeout || q.DeadLetterQueue == "" || !q.FifoQueue) {
				t.Errorf("SettleQueue %+v for a function of %d s", q, f.Timeout)
			}
		}
	}
	if !found {
		t.Error("SettleFunction has no SQS trigger on SettleQueue")
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// fakeDirectory lists companies and interfaces from memory.
type fakeDirectory struct {
	ifaces map[string][]store.Interface // by company
	err    error
}

func (d fakeDirectory) ListCompanies(context.Context) ([]store.Company, error) {
	var out []store.Company
	for id := range d.ifaces {
		out = append(out, store.Company{ID: id})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (d fakeDirectory) ListInterfaces(_ context.Context, company string) ([]store.Interface, error) {
	return d.ifaces[company], d.err
}

// fakeQueue records what is sent and handed back.
type fakeQueue struct {
	mu      sync.Mutex
	batches [][]Task
	retries map[string]time.Duration // receipt handle -> delay
	sendErr error
}

func (q *fakeQueue) Send(_ context.Context, ts []Task) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sendErr != nil {
		return q.sendErr
	}
	q.batches = append(q.batches, slices.Clone(ts))
	return nil
}

func (q *fakeQueue) Retry(_ context.Context, receipt string, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.retries == nil {
		q.retries = map[string]time.Duration{}
	}
	q.retries[receipt] = d
	return nil
}

// billProvider serves the trade bill: none (WeChat's NO_STATEMENT_EXIST,
// an empty bill) or an error.
type billProvider struct {
	pay.Provider
	err   error
	calls int
}

func (p *billProvider) TradeBill(context.Context, time.Time) ([]byte, error) {
	p.calls++
	if p.err != nil {
		return nil, p.err
	}
	return nil, wechatpay.ErrNoStatement
}

type fakeProviders map[string]*billProvider // by interface id

func (f fakeProviders) Provider(_ context.Context, iface store.Interface) (pay.Provider, error) {
	p, ok := f[iface.ID]
	if !ok {
		return nil, fmt.Errorf("no provider for %s", iface.ID)
	}
	return p, nil
}

// fakeClock is Clock and AfterFunc on a time that moves only when told.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the time on and runs the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// slowReader makes every settle index page take a minute of the fake clock.
type slowReader struct {
	settlement.OrderReader
	clock *fakeClock
	mu    sync.Mutex
	reads int
	rows  int
}

func (r *slowReader) SettledAfter(ctx context.Context, p, after string, limit int32) ([]order.Order, bool, error) {
	r.clock.Advance(time.Minute)
	os, more, err := r.OrderReader.SettledAfter(ctx, p, after, limit)
	r.mu.Lock()
	r.reads++
	r.rows += len(os)
	r.mu.Unlock()
	return os, more, err
}

const (
	testCompany = "c1"
	testMch     = "1900000001"
)

var wxIface = store.Interface{ID: "wx1", CompanyID: testCompany, Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct", MchID: testMch, AppID: "wxapp"}

type rig struct {
	start  time.Time // the fake clock's start
	h      *Handler
	st     *store.Store
	repo   *store.Settlements
	queue  *fakeQueue
	clock  *fakeClock
	reader *slowReader
	prov   fakeProviders
}

func newRig(t *testing.T, ifaces map[string][]store.Interface) rig {
	t.Helper()
	st := stacktest.NewStore(t)
	repo := &store.Settlements{DB: st.DB, Table: "StatsTable"}
	// The fake clock starts now: the deadlines the tests give are real
	// contexts' (far enough ahead never to fire), compared with this clock.
	start := time.Now().Truncate(time.Second)
	clock := &fakeClock{now: start}
	reader := &slowReader{OrderReader: st.OrderRepo(), clock: clock}
	q := &fakeQueue{}
	prov := fakeProviders{}
	for _, is := range ifaces {
		for _, i := range is {
			prov[i.ID] = &billProvider{}
		}
	}
	sched := dsettle.DefaultSchedule()
	h := &Handler{
		Directory: fakeDirectory{ifaces: ifaces}, Providers: prov, Clock: clock.Now, AfterFunc: clock.AfterFunc,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Queue: q, StopBefore: time.Minute,
		Settler:    &settlement.Settler{Orders: reader, Repo: repo, Schedule: sched, Holds: repo.Holds, PageSize: 3},
		Reconciler: &settlement.Reconciler{Orders: st.OrderRepo(), Exceptions: repo, Schedule: sched, Clock: clock.Now},
	}
	return rig{start: start, h: h, st: st, repo: repo, queue: q, clock: clock, reader: reader, prov: prov}
}

// pay stores n paid WeChat orders of the merchant on the day; it returns their gross.
func (r rig) pay(t *testing.T, day calendar.Day, n int) int64 {
	t.Helper()
	var gross int64
	for i := range n {
		at := day.Start().Add(8*time.Hour + time.Duration(i)*time.Minute)
		o := order.Order{ID: fmt.Sprintf("o%s%04d", day, i), CompanyID: testCompany, CommunityID: "m1", Channel: domain.WeChat, MerchantID: testMch,
			AppID: "wxapp", AmountFen: int64(100 + 37*i), Status: order.Paid, Version: 2, CreatedAt: at.Add(-time.Minute), ExpireAt: at.Add(time.Hour),
			PaidAt: at, BusinessDay: day}
		if _, err := r.st.OrderRepo().Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		gross += o.AmountFen
	}
	return gross
}

func message(id string, t Task) lambdaevents.SQSMessage {
	body, _ := json.Marshal(t)
	return lambdaevents.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: string(body), EventSource: "aws:sqs",
		Attributes: map[string]string{"MessageGroupId": t.Company + "/" + t.Interface, "ApproximateReceiveCount": "1"}}
}

func failures(resp lambdaevents.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// The plan queues one task per approved interface for the previous
// business day, ten to a batch, and settles nothing itself.
func TestPlanQueuesOneTaskPerApprovedInterface(t *testing.T) {
	ifaces := map[string][]store.Interface{}
	for c := range 3 {
		company := "co" + strconv.Itoa(c)
		for i := range 5 {
			status := domain.StatusApproved
			if i == 4 {
				status = domain.StatusDisabled
			}
			ifaces[company] = append(ifaces[company], store.Interface{ID: fmt.Sprintf("%s-if%d", company, i), CompanyID: company, Channel: domain.WeChat, Status: status})
		}
	}
	r := newRig(t, ifaces)
	raw, _ := json.Marshal(Input{Job: JobPlan})
	out, err := r.h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	yesterday := calendar.BusinessDay(r.clock.Now()).Prev()
	rep, ok := out.(PlanReport)
	if !ok || rep.Day != yesterday || rep.Queued != 12 {
		t.Fatalf("plan report %#v", out)
	}
	var got []Task
	for _, b := range r.queue.batches {
		if len(b) == 0 || len(b) > planBatch {
			t.Fatalf("a batch of %d", len(b))
		}
		got = append(got, b...)
	}
	if len(got) != 12 {
		t.Fatalf("queued %d tasks: %+v", len(got), got)
	}
	seen := map[string]bool{}
	for _, task := range got {
		if task.Day != yesterday || task.Interface == "" || task.Interface[:3] != task.Company || task.Interface[len(task.Interface)-1] == '4' || seen[task.Interface] {
			t.Fatalf("task %+v", task)
		}
		seen[task.Interface] = true
	}
	for _, p := range r.prov {
		if p.calls != 0 {
			t.Fatal("the plan fetched a bill: it must only plan")
		}
	}

	// A day, a company and an interface narrow it.
	r.queue.batches = nil
	rep, err = r.h.Plan(context.Background(), Input{Job: JobPlan, Day: "2026-02-27", Company: "co1", Interface: "co1-if2"})
	if err != nil || rep.Queued != 1 || len(r.queue.batches) != 1 || r.queue.batches[0][0] != (Task{Company: "co1", Interface: "co1-if2", Day: "2026-02-27"}) {
		t.Fatalf("narrowed plan %+v %v %+v", rep, err, r.queue.batches)
	}
	// A queue that refuses fails the invocation (the schedule retries; SQS drops what it already has).
	r.queue.sendErr = errors.New("throttled")
	if _, err := r.h.Plan(context.Background(), Input{Job: JobPlan}); err == nil {
		t.Fatal("a plan whose messages were not sent succeeded")
	}
	r.h.Queue = nil
	if _, err := r.h.Plan(context.Background(), Input{Job: JobPlan}); err == nil {
		t.Fatal("a plan without a queue succeeded")
	}
	if _, err := r.h.Plan(context.Background(), Input{Job: JobPlan, Day: "2026-02-30"}); err == nil {
		t.Fatal("a plan for no day succeeded")
	}
}

// A queued settlement that reaches StopBefore the Lambda deadline stops at
// its last checkpoint and hands its message back at once; the next
// delivery resumes from that checkpoint (the same generation, without
// reading the day again) and ends at the full statement.
func TestQueuedSettlementStopsBeforeTheDeadlineAndResumes(t *testing.T) {
	r := newRig(t, map[string][]store.Interface{testCompany: {wxIface}})
	day := calendar.Day("2026-03-02")
	gross := r.pay(t, day, 40)
	task := Task{Company: testCompany, Interface: wxIface.ID, Day: day}
	key := dsettle.Key{Merchant: testMch, Channel: domain.WeChat, Day: day}

	// 15 minutes to run, a minute a page: a step reads 8 pages, so the
	// settler is cut in its second step, at 14 minutes.
	ctx, cancel := context.WithDeadline(context.Background(), r.clock.Now().Add(15*time.Minute))
	defer cancel()
	resp, err := r.h.HandleSQS(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message("m1", task)}})
	if err != nil || !slices.Equal(failures(resp), []string{"m1"}) {
		t.Fatalf("cut-off delivery: %+v %v", resp, err)
	}
	if d, ok := r.queue.retries["rh-m1"]; !ok || d != 0 {
		t.Fatalf("the stopped message was not made visible at once: %v", r.queue.retries)
	}
	cut, err := r.repo.Run(context.Background(), key)
	if err != nil || cut.Done || cut.After == "" || cut.Statements[""].Count == 0 || cut.Statements[""].Count >= 40 {
		t.Fatalf("checkpoint after the stop: %+v %v", cut, err)
	}
	if got := r.clock.Now().Sub(r.start); got != 14*time.Minute {
		t.Fatalf("stopped after %v, want 14m (15m deadline - 1m StopBefore)", got)
	}

	// Each next delivery, with a fresh 15 minutes, resumes from the last
	// checkpoint (the same generation, further on) until the day is done.
	last, deliveries := cut, 1
	for !last.Done {
		deliveries++
		if deliveries > 20 {
			t.Fatalf("not done after 20 deliveries: %+v", last)
		}
		ctx, cancel := context.WithDeadline(context.Background(), r.clock.Now().Add(15*time.Minute))
		id := "m" + strconv.Itoa(deliveries)
		resp, err := r.h.HandleSQS(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message(id, task)}})
		cancel()
		run, rerr := r.repo.Run(context.Background(), key)
		if err != nil || rerr != nil || run.Generation != cut.Generation || run.After <= last.After {
			t.Fatalf("delivery %d: %+v %v; run %+v %v, before %+v: it did not continue the cut run", deliveries, resp, err, run, rerr, last)
		}
		if handedBack := slices.Equal(failures(resp), []string{id}); handedBack == run.Done || (handedBack && r.queue.retries["rh-"+id] != 0) {
			t.Fatalf("delivery %d: %+v with the run done=%v, retries %v", deliveries, resp, run.Done, r.queue.retries)
		}
		last = run
	}
	if st := last.Statements[""]; st.Count != 40 || st.GrossFen != gross {
		t.Fatalf("statement %+v, want 40 payments, %d fen", st, gross)
	}
	if len(r.queue.retries) != deliveries-1 {
		t.Fatalf("%d messages handed back over %d deliveries, the last finished: %v", len(r.queue.retries), deliveries, r.queue.retries)
	}
	// What the stops cost: at most the step each was cut in (8 pages of 3)
	// over one uninterrupted pass (the day settled again, a new generation).
	cutRows := r.reader.rows
	r.reader.rows = 0
	resp, err = r.h.HandleSQS(context.Background(), lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message("again", task)}})
	again, _ := r.repo.Run(context.Background(), key)
	if err != nil || len(resp.BatchItemFailures) != 0 || again.Generation != cut.Generation+1 || !reflect.DeepEqual(again.Statements, last.Statements) {
		t.Fatalf("settling the day again: %+v %v; %+v, want the statements of %+v", resp, err, again, last)
	}
	if waste := cutRows - r.reader.rows; waste > (deliveries-1)*8*3 {
		t.Fatalf("%d orders read over %d deliveries, %d in one pass: the stops cost more than the steps they cut", cutRows, deliveries, r.reader.rows)
	}
	t.Logf("%d deliveries read %d orders; one uninterrupted pass %d", deliveries, cutRows, r.reader.rows)
}

// A batch: a finished message is deleted; a failed one (the provider's bill
// not to be had) comes back after RetryAfter and holds back the later
// message of its group (FIFO: not attempted); a poison message and one not
// started because the deadline is near come back at once; an interface
// no longer approved is done with.
func TestBatchReportsItsFailures(t *testing.T) {
	down := store.Interface{ID: "wx2", CompanyID: testCompany, Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct", MchID: "1900000002"}
	off := store.Interface{ID: "wx3", CompanyID: testCompany, Channel: domain.WeChat, Status: domain.StatusDisabled, Mode: "direct", MchID: "1900000003"}
	r := newRig(t, map[string][]store.Interface{testCompany: {wxIface, down, off}})
	r.prov["wx2"].err = errors.New("渠道账单暂不可用")
	r.h.RetryAfter = 7 * time.Minute
	day := calendar.Day("2026-03-02")
	r.pay(t, day, 2)
	ev := lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		message("fail", Task{Company: testCompany, Interface: "wx2", Day: day}),
		message("blocked", Task{Company: testCompany, Interface: "wx2", Day: day.Prev()}),
		{MessageId: "poison", ReceiptHandle: "rh-poison", Body: `{"company":"c1"}`, Attributes: map[string]string{"MessageGroupId": "x"}},
		message("off", Task{Company: testCompany, Interface: "wx3", Day: day}),
		message("gone", Task{Company: "other", Interface: "wx1", Day: day}), // not that company's
		message("ok", Task{Company: testCompany, Interface: "wx1", Day: day}),
	}}
	resp, err := r.h.HandleSQS(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := failures(resp); !slices.Equal(got, []string{"fail", "blocked", "poison"}) {
		t.Fatalf("failures %v", got)
	}
	want := map[string]time.Duration{"rh-fail": 7 * time.Minute, "rh-blocked": 7 * time.Minute, "rh-poison": 0}
	if fmt.Sprint(r.queue.retries) != fmt.Sprint(want) {
		t.Fatalf("handed back %v, want %v", r.queue.retries, want)
	}
	if r.prov["wx2"].calls != 1 {
		t.Fatalf("the failed interface's bill was fetched %d times: the group's later message was attempted", r.prov["wx2"].calls)
	}
	if r.prov["wx3"].calls != 0 {
		t.Fatal("a disabled interface was reconciled")
	}
	run, err := r.repo.Run(context.Background(), dsettle.Key{Merchant: testMch, Channel: domain.WeChat, Day: day})
	if err != nil || !run.Done || run.Statements[""].Count != 2 {
		t.Fatalf("the good message's day: %+v %v", run, err)
	}

	// Past StopBefore the deadline, nothing is started: all handed back at once.
	r.queue.retries = nil
	ctx, cancel := context.WithDeadline(context.Background(), r.clock.Now().Add(30*time.Second))
	defer cancel()
	calls := r.prov["wx1"].calls
	resp, err = r.h.HandleSQS(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		message("late1", Task{Company: testCompany, Interface: "wx1", Day: day}),
		message("late2", Task{Company: testCompany, Interface: "wx2", Day: day}),
	}})
	if err != nil || !slices.Equal(failures(resp), []string{"late1", "late2"}) || r.prov["wx1"].calls != calls ||
		fmt.Sprint(r.queue.retries) != fmt.Sprint(map[string]time.Duration{"rh-late1": 0, "rh-late2": 0}) {
		t.Fatalf("near the deadline: %+v %v, retries %v", resp, err, r.queue.retries)
	}
}

// Handle tells the three invocations apart: an SQS batch, the plan, and an
// on-demand settlement (which answers its report).
func TestHandleDispatches(t *testing.T) {
	r := newRig(t, map[string][]store.Interface{testCompany: {wxIface}})
	day := calendar.Day("2026-03-02")
	r.pay(t, day, 1)
	body, _ := json.Marshal(lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message("m", Task{Company: testCompany, Interface: "wx1", Day: day})}})
	out, err := r.h.Handle(context.Background(), body)
	if resp, ok := out.(lambdaevents.SQSEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("SQS batch: %#v %v", out, err)
	}
	out, err = r.h.Handle(context.Background(), json.RawMessage(`{"job":"plan"}`))
	if rep, ok := out.(PlanReport); err != nil || !ok || rep.Queued != 1 {
		t.Fatalf("plan: %#v %v", out, err)
	}
	out, err = r.h.Handle(context.Background(), json.RawMessage(`{"day":"2026-03-02","company":"c1"}`))
	if rep, ok := out.(Report); err != nil || !ok || len(rep.Lines) != 1 || rep.Lines[0].Statements[0].Count != 1 {
		t.Fatalf("on demand: %#v %v", out, err)
	}
	if _, err := r.h.Handle(context.Background(), json.RawMessage(`{"day":"yesterday"}`)); err == nil {
		t.Fatal("a bad day was accepted")
	}
}

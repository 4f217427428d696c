package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/template"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

// DynamoResult is what one complete payment cost, per function and in total:
// invocations, DynamoDB / SQS / provider calls (the functions' EMF lines),
// billed Lambda time and log output (the stack's REPORT and function lines),
// the embedded DynamoDB's own request count, and the order's writes as its
// stream records show them (sizes, write units with the indexes).
type DynamoResult struct {
	Channel string `json:"channel"`
	// Caches is "warm" (the functions ran the flow before: directory and
	// provider caches filled, instances warm) or "cold" (the first payment
	// after the stack started: fresh instances, empty caches).
	Caches        string           `json:"caches"`
	Steps         []string         `json:"steps"`
	PerFunction   []FunctionCalls  `json:"per_function"` // from the functions' EMF lines
	EMFTotal      int64            `json:"emf_dynamodb_calls"`
	EMFWrites     int64            `json:"emf_dynamodb_writes"`
	SQSTotal      int64            `json:"emf_sqs_calls"`
	ProviderTotal int64            `json:"emf_provider_calls"`
	ServerTotal   int64            `json:"server_requests"` // embedded DynamoDB's own count
	ServerByOp    map[string]int64 `json:"server_requests_by_operation"`
	// Runs are the DynamoDB totals of every warm run; this result is the
	// run with the median total.
	Runs   []int64      `json:"runs_dynamodb_calls,omitempty"`
	Writes []OrderWrite `json:"order_writes"`
}

// invocations is the number of Lambda invocations of the flow.
func (d DynamoResult) invocations() int {
	n := 0
	for _, f := range d.PerFunction {
		n += f.Invocations
	}
	return n
}

// httpRequests is the number of HttpApi requests of the flow (the steps
// through the gateway; provider callbacks included).
func (d DynamoResult) httpRequests(tmpl map[string]bool) int {
	n := 0
	for _, f := range d.PerFunction {
		if tmpl[f.Function] {
			n += f.Invocations
		}
	}
	return n
}

// flowFunctions are the functions a payment of channel ch runs through, in
// flow order; RelayFunction is invoked by the stream mapping after each
// write of the order, StatsFunction and FanoutFunction by the
// StatsEventsQueue and NotifyEventsQueue mappings after the relay published
// the payment's event, and AnnounceFunction (收款播报) by AnnounceEventsQueue's.
// InvoiceFunction is not in it: the relay sends InvoiceEventsQueue the
// refund events only (EVENT_QUEUE_TYPES).
func flowFunctions(ch domain.Channel) []string {
	notify := "AlipayNotifyFunction"
	if ch == domain.WeChat {
		notify = "WechatNotifyFunction"
	}
	return []string{"LandingFunction", "OrdersFunction", notify, "RelayFunction", "StatsFunction", "FanoutFunction", "AnnounceFunction"}
}

// settle waits until the stack is quiet: every stream mapping delivered
// every record (RelayFunction runs asynchronously after each order write),
// every queue a function consumes is empty (StatsFunction counts the
// relay's events) and every invocation's metrics line arrived.
func (b *bench) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for !b.s.StreamsCaughtUp() || !b.consumedQueuesEmpty() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the stream mappings to catch up: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return b.cap.WaitSettled(ctx, helloID)
}

// consumedQueuesEmpty reports whether every queue with an SQS event source
// mapping has no message, visible or in flight.
func (b *bench) consumedQueuesEmpty() bool {
	qs, err := b.tmpl.Queues()
	if err != nil {
		return false
	}
	names := stack.QueueNames(qs)
	for _, f := range b.tmpl.Functions() {
		for _, e := range f.Events {
			if e.Type != "SQS" {
				continue
			}
			id, _, err := template.RefTarget(e.Properties["Queue"])
			if err != nil {
				return false
			}
			if v, inFlight, ok := b.s.SQS().Depth(names[id]); !ok || v+inFlight > 0 {
				return false
			}
		}
	}
	return true
}

// paymentFlow runs one complete payment of channel ch through code token:
// landing (WeChat: with the OAuth round trip), order creation, the
// provider's callback after the sandbox pays, one status poll; then waits
// for the stream relay. It counts everything the functions did meanwhile.
func (b *bench) paymentFlow(ctx context.Context, ch domain.Channel, token, caches string) (DynamoResult, error) {
	r := DynamoResult{Channel: string(ch), Caches: caches}
	if err := b.settle(ctx); err != nil {
		return r, err
	}
	mark := b.cap.MetricsCount()
	act := b.cap.Activity()
	before := b.s.DynamoDB().Requests()

	saved := b.fx.tokenBoth
	b.fx.tokenBoth = token
	defer func() { b.fx.tokenBoth = saved }()
	if ch == domain.WeChat {
		r.Steps = append(r.Steps, "GET /c/{token} (WeChat UA → OAuth redirect)", "GET /c/{token}?code=… (form, payer cookie)")
		payer, err := b.wechatLanding(ctx, newJar()) // a new payer
		if err != nil {
			return r, err
		}
		b.fx.payerCookie = payer
	} else {
		r.Steps = append(r.Steps, "GET /c/{token} (Alipay UA → form)")
		status, body, err := b.send(ctx, b.get("/c/"+token, AlipayUserAgent))
		if err != nil {
			return r, err
		}
		if err := expect(200, `data-channel="alipay"`)(status, body); err != nil {
			return r, err
		}
	}
	r.Steps = append(r.Steps, "POST /api/orders")
	o, err := b.createOrder(ctx, ch)
	if err != nil {
		return r, err
	}
	r.Steps = append(r.Steps, "provider callback (sandbox pays and notifies)")
	if _, err := b.payFresh(ctx, ch, o); err != nil {
		return r, err
	}
	r.Steps = append(r.Steps, "GET /api/orders/{id} (poll: PAID)")
	status, body, err := b.send(ctx, b.get("/api/orders/"+o.OrderID, ""))
	if err != nil {
		return r, err
	}
	if err := expect(200, `"status":"PAID"`)(status, body); err != nil {
		return r, err
	}
	r.Steps = append(r.Steps, "stream → RelayFunction (after each order write) → StatsEventsQueue → StatsFunction, NotifyEventsQueue → FanoutFunction, AnnounceEventsQueue → AnnounceFunction")
	if err := b.settle(ctx); err != nil {
		return r, err
	}
	after := b.s.DynamoDB().Requests()
	got := CountByFunction(b.cap.MetricsSince(mark))
	acts := ActivitySince(b.cap.Activity(), act)
	want := flowFunctions(ch)
	for fn := range got {
		if !slices.Contains(want, fn) {
			return r, fmt.Errorf("unexpected invocations during the payment: %s ×%d", fn, got[fn].Invocations)
		}
	}
	for _, fn := range want {
		fc := got[fn]
		if fc == nil {
			return r, fmt.Errorf("no metrics line of %s during the payment", fn)
		}
		a := acts[fn]
		if a.Invokes != fc.Invocations {
			return r, fmt.Errorf("%s: the stack invoked it %d times but it printed %d metrics lines", fn, a.Invokes, fc.Invocations)
		}
		fc.BilledMs, fc.LogBytes, fc.LogLines, fc.InitMs = a.BilledMs, a.LogBytes, a.LogLines, a.InitMs
		r.PerFunction = append(r.PerFunction, *fc)
		r.EMFTotal += fc.Calls["DynamoDB"]
		r.EMFWrites += fc.Calls["DynamoDBWrite"]
		r.SQSTotal += fc.Calls["SQS"]
		r.ProviderTotal += fc.Calls["Provider"]
	}
	r.ServerByOp = map[string]int64{}
	for op, n := range after {
		if d := n - before[op]; d != 0 {
			r.ServerByOp[op] = d
			r.ServerTotal += d
		}
	}
	r.Writes, err = b.orderWrites(o.OrderID)
	return r, err
}

// orderWrites are the stream records of order id: one per write.
func (b *bench) orderWrites(id string) ([]OrderWrite, error) {
	var tbl *tableInfo
	for i := range b.tables {
		if b.tables[i].Stream {
			tbl = &b.tables[i]
		}
	}
	if tbl == nil {
		return nil, errors.New("no table with a stream in the template")
	}
	var out []OrderWrite
	after := ""
	for {
		recs, err := b.s.DynamoDB().ReadStream(tbl.Name, after, 0)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if keyString(rec.Keys[tbl.HashKey]) == id {
				out = append(out, tbl.writeCost(rec))
			}
		}
		if len(recs) < 1000 {
			return out, nil
		}
		after = recs[len(recs)-1].SequenceNumber
	}
}

// keyString is the value of a DynamoDB JSON string attribute ("" otherwise).
func keyString(raw json.RawMessage) string {
	var v struct{ S string }
	_ = json.Unmarshal(raw, &v)
	return v.S
}

// newCodeToken is a fresh collection code token (128 random bits), as the
// console issues them.
func newCodeToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// measureFirstPayments runs the first payment of each channel right after
// the stack started: every function a fresh instance (cold start), every
// per-instance cache (directory records, providers, secrets) empty. The
// WeChat payment scans a code issued just now for the same community, so
// that the landing and order functions (warm since the Alipay payment) read
// its directory records again, as for any code not seen in the last 30 s.
func (b *bench) measureFirstPayments(ctx context.Context) error {
	fresh := newCodeToken()
	if err := b.s.Store().PutCode(ctx, store.Code{Token: fresh, CommunityID: b.fx.communityID, Kind: "community", Status: "active"}); err != nil {
		return err
	}
	for _, c := range []struct {
		ch    domain.Channel
		token string
	}{{domain.Alipay, b.fx.tokenBoth}, {domain.WeChat, fresh}} {
		r, err := b.paymentFlow(ctx, c.ch, c.token, "cold")
		if err != nil {
			return fmt.Errorf("first %s payment: %w", c.ch, err)
		}
		b.rep.FirstPayment = append(b.rep.FirstPayment, r)
	}
	return nil
}

// warmRuns is how many payments per channel the warm figure is the median of.
const warmRuns = 5

// measureDynamo runs warmRuns complete payments per channel on the warm
// stack and keeps the run with the median DynamoDB total.
func (b *bench) measureDynamo(ctx context.Context) error {
	b.rep.DynamoDBPerPayment = map[string]int64{}
	for _, ch := range []domain.Channel{domain.Alipay, domain.WeChat} {
		var runs []DynamoResult
		for i := 0; i < warmRuns; i++ {
			r, err := b.paymentFlow(ctx, ch, b.fx.tokenBoth, "warm")
			if err != nil {
				return fmt.Errorf("%s payment %d: %w", ch, i+1, err)
			}
			runs = append(runs, r)
		}
		totals := make([]int64, len(runs))
		for i, r := range runs {
			totals[i] = r.EMFTotal
		}
		sort.SliceStable(runs, func(i, j int) bool { return runs[i].EMFTotal < runs[j].EMFTotal })
		med := runs[len(runs)/2]
		med.Runs = totals
		b.rep.DynamoDB = append(b.rep.DynamoDB, med)
		b.rep.DynamoDBPerPayment[string(ch)] = med.EMFTotal
	}
	return nil
}

// OrderCreation is what POST /api/orders did per request, from the metrics
// lines of every timed creation: the critical path's DynamoDB writes and
// provider calls (goal: at most one of each).
type OrderCreation struct {
	Channel       string  `json:"channel"`
	Requests      int     `json:"requests"`
	MaxWrites     int64   `json:"max_dynamodb_writes"`
	MaxProvider   int64   `json:"max_provider_calls"`
	MaxDynamoDB   int64   `json:"max_dynamodb_calls"`
	MeanDynamoDB  float64 `json:"mean_dynamodb_calls"`
	MeanWrites    float64 `json:"mean_dynamodb_writes"`
	MeanProvider  float64 `json:"mean_provider_calls"`
	WithinLimits  bool    `json:"within_limits"` // <= 1 write and <= 1 provider call on every request
	HandlerMedian float64 `json:"handler_p50_ms"`
}

func orderCreation(ch domain.Channel, ms []Metrics) OrderCreation {
	oc := OrderCreation{Channel: string(ch), WithinLimits: true}
	var handler []time.Duration
	for _, m := range ms {
		if m.Function != "OrdersFunction" {
			continue
		}
		oc.Requests++
		d, w, p := m.Calls["DynamoDB"], m.Calls["DynamoDBWrite"], m.Calls["Provider"]
		oc.MaxDynamoDB, oc.MaxWrites, oc.MaxProvider = max(oc.MaxDynamoDB, d), max(oc.MaxWrites, w), max(oc.MaxProvider, p)
		oc.MeanDynamoDB += float64(d)
		oc.MeanWrites += float64(w)
		oc.MeanProvider += float64(p)
		handler = append(handler, time.Duration(m.HandlerMillis*float64(time.Millisecond)))
	}
	if oc.Requests > 0 {
		n := float64(oc.Requests)
		oc.MeanDynamoDB, oc.MeanWrites, oc.MeanProvider = round2(oc.MeanDynamoDB/n), round2(oc.MeanWrites/n), round2(oc.MeanProvider/n)
	}
	oc.WithinLimits = oc.MaxWrites <= 1 && oc.MaxProvider <= 1
	oc.HandlerMedian = Millis(Summarize(handler).P50)
	return oc
}

// httpFunctions are the template's functions with HttpApi events.
func (b *bench) httpFunctions() map[string]bool {
	out := map[string]bool{}
	for _, f := range b.tmpl.Functions() {
		for _, e := range f.Events {
			if e.Type == "HttpApi" {
				out[f.LogicalID] = true
			}
		}
	}
	return out
}

// streamRecordOf finds the stream record that moved order id to status.
func (b *bench) streamRecordOf(id, status string) (dynamo.StreamRecord, error) {
	for _, t := range b.tables {
		if !t.Stream {
			continue
		}
		after := ""
		for {
			recs, err := b.s.DynamoDB().ReadStream(t.Name, after, 0)
			if err != nil {
				return dynamo.StreamRecord{}, err
			}
			for _, rec := range recs {
				if keyString(rec.Keys[t.HashKey]) == id && keyString(rec.NewImage["status"]) == status {
					return rec, nil
				}
			}
			if len(recs) < 1000 {
				break
			}
			after = recs[len(recs)-1].SequenceNumber
		}
	}
	return dynamo.StreamRecord{}, fmt.Errorf("no stream record moving %s to %s", id, status)
}

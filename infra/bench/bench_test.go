package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/infra/template"
	"github.com/estatepay/estatepay/shared/domain"
)

func msec(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, msec(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0, msec(1)}, {1, msec(1)}, {50, msec(50)}, {90, msec(90)}, {99, msec(99)}, {99.5, msec(100)}, {100, msec(100)}, {150, msec(100)}} {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("Percentile(1..100ms, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	// 300 samples: p99 is the 297th smallest, p50 the 150th.
	s = s[:0]
	for i := 1; i <= 300; i++ {
		s = append(s, msec(i))
	}
	if got := Percentile(s, 99); got != msec(297) {
		t.Errorf("p99 of 300 = %v, want 297ms", got)
	}
	if got := Percentile(s, 50); got != msec(150) {
		t.Errorf("p50 of 300 = %v, want 150ms", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(empty) = %v", got)
	}
	if got := Percentile([]time.Duration{msec(7)}, 99); got != msec(7) {
		t.Errorf("Percentile(one sample) = %v", got)
	}
}

func TestSummarizeSortsACopy(t *testing.T) {
	in := []time.Duration{msec(5), msec(1), msec(9), msec(3), msec(7)}
	orig := append([]time.Duration(nil), in...)
	s := Summarize(in)
	if s.N != 5 || s.Min != msec(1) || s.Max != msec(9) || s.P50 != msec(5) || s.P99 != msec(9) {
		t.Fatalf("Summarize = %+v", s)
	}
	for i := range in {
		if in[i] != orig[i] {
			t.Fatalf("Summarize reordered its input: %v", in)
		}
	}
	if z := Summarize(nil); z.N != 0 || z.P50 != 0 {
		t.Fatalf("Summarize(nil) = %+v", z)
	}
}

func TestRatios(t *testing.T) {
	if r := Ratio(3, 2); r != 1.5 {
		t.Errorf("Ratio(3,2) = %v", r)
	}
	if r := DurationRatio(msec(9), msec(3)); r != 3 {
		t.Errorf("DurationRatio(9ms,3ms) = %v", r)
	}
	for _, b := range []float64{0, -1, math.NaN()} {
		if r := Ratio(1, b); !math.IsNaN(r) {
			t.Errorf("Ratio(1,%v) = %v, want NaN", b, r)
		}
	}
	if jsonRatio(math.NaN()) != nil {
		t.Error("jsonRatio(NaN) should be nil (JSON has no NaN)")
	}
	if p := jsonRatio(2.34567); p == nil || *p != 2.346 {
		t.Errorf("jsonRatio(2.34567) = %v", p)
	}
	for in, want := range map[float64]string{1: "×1.00", 1.844: "×1.84", 23.14: "×23.1", 512.4: "×512", math.NaN(): "-"} {
		if got := fmtRatio(in); got != want {
			t.Errorf("fmtRatio(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[time.Duration]string{840 * time.Microsecond: "0.84ms", 12340 * time.Microsecond: "12.3ms", msec(153): "153ms", 0: "-"} {
		if got := fmtMillis(in); got != want {
			t.Errorf("fmtMillis(%v) = %q, want %q", in, got, want)
		}
	}
	if got := Millis(1234567 * time.Nanosecond); got != 1.235 {
		t.Errorf("Millis = %v", got)
	}
}

const emfLine = `[OrdersFunction] {"DynamoDBCalls":4,"HandlerMillis":3.21,"SQSCalls":1,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["function"]],"Metrics":[{"Name":"HandlerMillis","Unit":"Milliseconds"}],"Namespace":"estatepay"}],"Timestamp":1700000000000},"function":"OrdersFunction"}`

func TestParseMetricsLine(t *testing.T) {
	m, ok := ParseMetricsLine(emfLine + "\n")
	if !ok || m.Function != "OrdersFunction" || m.Calls["DynamoDB"] != 4 || m.Calls["SQS"] != 1 || m.HandlerMillis != 3.21 {
		t.Fatalf("ParseMetricsLine = %+v, %v", m, ok)
	}
	// No calls at all: no *Calls keys, still a metrics line.
	m, ok = ParseMetricsLine(`[LandingFunction] {"HandlerMillis":0.5,"_aws":{},"function":"LandingFunction"}`)
	if !ok || m.Function != "LandingFunction" || len(m.Calls) != 0 {
		t.Fatalf("no-calls line = %+v, %v", m, ok)
	}
	for _, line := range []string{
		`[OrdersFunction] {"level":"INFO","msg":"order created","function":"OrdersFunction"}`, // a log line
		`[OrdersFunction] REPORT RequestId: x	Duration: 1.00 ms`,
		`invoke OrdersFunction 1ms warm ok`,
		`[sandbox] time=... msg="callback delivery"`,
		`[OrdersFunction] {"_aws": broken`,
	} {
		if m, ok := ParseMetricsLine(line); ok {
			t.Errorf("ParseMetricsLine(%q) = %+v, want not a metrics line", line, m)
		}
	}
}

func TestCaptureCountsAndWaits(t *testing.T) {
	c := NewCapture()
	mark := c.MetricsCount()
	// Split writes, as a pipe may deliver them.
	half := len(emfLine) / 2
	c.Write([]byte(emfLine[:half]))
	if c.MetricsCount() != 0 {
		t.Fatal("a partial line was parsed")
	}
	c.Write([]byte(emfLine[half:] + "\n[OrdersFunction] START RequestId: y\n"))
	c.Write([]byte(strings.Replace(emfLine, `"DynamoDBCalls":4`, `"DynamoDBCalls":2`, 1) + "\n"))
	got := CountByFunction(c.MetricsSince(mark))
	if fc := got["OrdersFunction"]; fc == nil || fc.Invocations != 2 || fc.Calls["DynamoDB"] != 6 || fc.Calls["SQS"] != 2 {
		t.Fatalf("CountByFunction = %+v", fc)
	}

	c.Write([]byte("[sandbox] msg=\"alipay sandbox: notify\" out_trade_no=EP2 acked=true\n"))
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if line, err := c.WaitSandboxLine(short, "out_trade_no=EP1", "acked="); err == nil {
		t.Fatalf("WaitSandboxLine matched another order's line %q", line)
	}
	// A waiter is woken by the line it waits for.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan string, 1)
	go func() {
		line, _ := c.WaitSandboxLine(ctx, "out_trade_no=EP1", "acked=")
		done <- line
	}()
	c.Write([]byte("[sandbox] msg=\"alipay sandbox: notify\" out_trade_no=EP1 acked=true\n"))
	if line := <-done; !strings.Contains(line, "EP1 acked=true") {
		t.Fatalf("WaitSandboxLine = %q", line)
	}
	// A condition that never holds ends with the context.
	short2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := c.WaitMetrics(short2, mark, func(ms []Metrics) bool { return len(ms) > 2 }); err == nil {
		t.Fatal("WaitMetrics for a third line succeeded")
	}
}

func repoRootT(t *testing.T) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// The cold-start payloads are the events the gateway builds for the template's routes.
func TestEventRecorderBuildsGatewayEvents(t *testing.T) {
	tmpl, err := template.Load(filepath.Join(repoRootT(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := newEventRecorder(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9/api/orders/EPABC?x=1", nil)
	req.Header.Set("User-Agent", AlipayUserAgent)
	fn, payload, err := rec.Event(req)
	if err != nil || fn != "OrdersFunction" {
		t.Fatalf("Event = %s, %v", fn, err)
	}
	var ev struct {
		RouteKey       string            `json:"routeKey"`
		RawPath        string            `json:"rawPath"`
		PathParameters map[string]string `json:"pathParameters"`
		Headers        map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.RouteKey != "GET /api/orders/{id}" || ev.RawPath != "/api/orders/EPABC" || ev.PathParameters["id"] != "EPABC" || ev.Headers["user-agent"] != AlipayUserAgent {
		t.Fatalf("event = %+v", ev)
	}
	body := strings.NewReader("a=1")
	post, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:9/notify/alipay/demo-alipay", body)
	if fn, _, err := rec.Event(post); err != nil || fn != "AlipayNotifyFunction" {
		t.Fatalf("notify Event = %s, %v", fn, err)
	}
	if fn, _, err := rec.Event(mustReq(t, "GET", "http://127.0.0.1:9/hello")); err != nil || fn != helloID {
		t.Fatalf("hello Event = %s, %v", fn, err)
	}
	// Unmatched requests take the template's $default route (LandingFunction's 404).
	if fn, payload, err := rec.Event(mustReq(t, "GET", "http://127.0.0.1:9/nope")); err != nil || fn != "LandingFunction" || !strings.Contains(string(payload), `"routeKey":"$default"`) {
		t.Fatalf("unmatched Event = %s, %v", fn, err)
	}
	status, out, err := httpResult([]byte(`{"statusCode":201,"body":"aGk=","isBase64Encoded":true}`))
	if err != nil || status != 201 || string(out) != "hi" {
		t.Fatalf("httpResult = %d %q %v", status, out, err)
	}
}

func mustReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReportPrintsRatiosToTheBaseline(t *testing.T) {
	b := &bench{rep: newReport(config{Cold: 2, Warm: 3, Orders: 1, Callbacks: 1})}
	b.functions = []*fnResult{
		{ID: helloID, HostBytes: 4 << 20, ArmBytes: 4 << 20, Cold: Summarize([]time.Duration{msec(4), msec(4)}),
			Warm: &routeResult{Function: helloID, Request: "GET /hello", Sum: Summarize([]time.Duration{msec(1), msec(1), msec(2)})}},
		{ID: "OrdersFunction", HostBytes: 8 << 20, ArmBytes: 10 << 20, Cold: Summarize([]time.Duration{msec(12), msec(12)}),
			Warm: &routeResult{Function: "OrdersFunction", Request: "GET /api/orders/{id}", Sum: Summarize([]time.Duration{msec(3), msec(3), msec(8)})}},
	}
	b.rep.routes = []*routeResult{b.functions[0].Warm, b.functions[1].Warm}
	b.rep.DynamoDB = []DynamoResult{{Channel: "alipay", EMFTotal: 3, ServerTotal: 4, ServerByOp: map[string]int64{"GetItem": 4},
		PerFunction: []FunctionCalls{{Function: "OrdersFunction", Invocations: 1, Calls: map[string]int64{"DynamoDB": 3}}}}}
	b.finishReport()
	f := b.rep.Functions[1]
	if *f.LambdaBytesRatio != 2.5 || *f.ColdP50Ratio != 3 || *f.WarmP50Ratio != 3 || *f.WarmP99Ratio != 4 {
		t.Fatalf("ratios = size %v cold %v warm %v/%v", *f.LambdaBytesRatio, *f.ColdP50Ratio, *f.WarmP50Ratio, *f.WarmP99Ratio)
	}
	var out bytes.Buffer
	printReport(&out, b.rep)
	for _, s := range []string{b.rep.Command, b.rep.Machine.GOOS + "/" + b.rep.Machine.GOARCH, "×2.50", "×3.00", "×4.00", "MISMATCH", "10.0 MiB"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
	if _, err := json.Marshal(b.rep); err != nil {
		t.Fatal(err)
	}
}

// The contract keys of .local/bench.json: "dynamodb_requests_per_payment"
// (warm, integers per channel), "cold_start_ratio" (every function but the
// baseline, 2 decimals) and "cost_per_million_payments".
func TestReportContractKeys(t *testing.T) {
	tmpl, err := template.Load(filepath.Join(repoRootT(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{tmpl: tmpl, rep: newReport(config{Cold: 3, Warm: 3, Orders: 1, Callbacks: 1})}
	b.functions = []*fnResult{
		{ID: helloID, Cold: Summarize([]time.Duration{msec(3), msec(3), msec(3)})},
		{ID: "OrdersFunction", Cold: Summarize([]time.Duration{msec(4), msec(4), msec(5)}), ColdRest: Summarize([]time.Duration{msec(3), msec(3), msec(3)})},
		{ID: "RelayFunction", Cold: Summarize([]time.Duration{3333 * time.Microsecond, 4 * time.Millisecond, 5 * time.Millisecond})},
	}
	flow := func(ch string, landing int) DynamoResult {
		return DynamoResult{Channel: ch, Caches: "warm", EMFTotal: 4, ServerTotal: 4, ServerByOp: map[string]int64{"GetItem": 2, "PutItem": 2},
			PerFunction: []FunctionCalls{
				{Function: "LandingFunction", Invocations: landing, Calls: map[string]int64{}, BilledMs: 2, LogBytes: 1000, LogLines: 8},
				{Function: "OrdersFunction", Invocations: 2, Calls: map[string]int64{"DynamoDB": 2, "DynamoDBWrite": 1}, BilledMs: 6, LogBytes: 1000, LogLines: 8},
				{Function: "AlipayNotifyFunction", Invocations: 1, Calls: map[string]int64{"DynamoDB": 2, "DynamoDBWrite": 1}, BilledMs: 3, LogBytes: 1000, LogLines: 6},
				{Function: "RelayFunction", Invocations: 2, Calls: map[string]int64{"SQS": 1}, BilledMs: 3, LogBytes: 1000, LogLines: 8},
			},
			Writes: []OrderWrite{{Event: "INSERT", Status: "PENDING", WRU: 3, TableWRU: 2}, {Event: "MODIFY", Status: "PAID", WRU: 7, TableWRU: 2}}}
	}
	b.rep.DynamoDB = []DynamoResult{flow("alipay", 1), flow("wechat", 2)}
	b.rep.DynamoDBPerPayment = map[string]int64{"alipay": 4, "wechat": 4}
	b.finishReport()
	raw, err := json.Marshal(b.rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		PerPayment map[string]json.Number `json:"dynamodb_requests_per_payment"`
		ColdRatio  map[string]json.Number `json:"cold_start_ratio"`
		Cost       *CostModel             `json:"cost_per_million_payments"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.PerPayment["alipay"].String() != "4" || doc.PerPayment["wechat"].String() != "4" {
		t.Fatalf("dynamodb_requests_per_payment = %v", doc.PerPayment)
	}
	if len(doc.ColdRatio) != 2 || doc.ColdRatio["OrdersFunction"].String() != "1.33" || doc.ColdRatio["RelayFunction"].String() != "1.33" {
		t.Fatalf("cold_start_ratio = %v (want every function but the baseline, 2 decimals)", doc.ColdRatio)
	}
	if _, ok := doc.ColdRatio[helloID]; ok {
		t.Fatal("the baseline has a cold_start_ratio")
	}
	if r := b.rep.Functions[1].ColdRestRatio; r == nil || *r != 1 {
		t.Fatalf("cold start without the handler: ratio %v, want 1 (3 ms of a 3 ms baseline)", r)
	}
	if doc.Cost == nil || len(doc.Cost.Channels) != 2 || doc.Cost.PricesTaken == "" || doc.Cost.Region == "" || len(doc.Cost.Prices) == 0 {
		t.Fatalf("cost_per_million_payments = %+v", doc.Cost)
	}
	ali := doc.Cost.Channels[0]
	item := func(c ChannelCost, name string) CostItem {
		for _, it := range c.Items {
			if it.Name == name {
				return it
			}
		}
		t.Fatalf("%s: no cost item %q", c.Channel, name)
		return CostItem{}
	}
	// 6 invocations × $0.20, 4 HTTP requests (landing, orders ×2, notify) × $1,
	// 10 WRU × $0.625, 2 RRU × $0.125, 1 SQS × $0.50 — per 1M payments.
	for name, want := range map[string]float64{"Lambda requests": 1.20, "HTTP API requests": 4, "DynamoDB writes": 6.25, "DynamoDB reads": 0.25, "SQS FIFO requests": 0.5} {
		if got := item(ali, name).USD; got != want {
			t.Errorf("alipay %s = $%v, want $%v", name, got, want)
		}
	}
	if got := item(doc.Cost.Channels[1], "HTTP API requests").USD; got != 5 {
		t.Errorf("wechat HTTP API = $%v, want $5 (two landing requests)", got)
	}
	// Logs: 4000 bytes + 30 events × 26 bytes per payment, $0.50/GB.
	if got, want := item(ali, "CloudWatch Logs ingestion").USD, round2(float64(4000+30*26)*1e6/1e9*0.5); got != want {
		t.Errorf("logs = $%v, want $%v", got, want)
	}
	var sum float64
	for _, it := range ali.Items {
		sum += it.USD
	}
	if math.Abs(sum-ali.TotalUSD) > 0.011 || ali.Dominant == "" || !strings.HasPrefix(ali.Dominant, "DynamoDB writes") {
		t.Fatalf("total %v (items sum %v), dominant %q", ali.TotalUSD, sum, ali.Dominant)
	}
	// Lambda GB-s: 256 MB; cloud estimate above the local billed time.
	if ali.Inputs.GBSecondsCloud <= ali.Inputs.GBSecondsLocal || ali.Inputs.GBSecondsLocal != round6(0.25*14/1000) {
		t.Fatalf("GB-s local %v cloud %v", ali.Inputs.GBSecondsLocal, ali.Inputs.GBSecondsCloud)
	}
	var out bytes.Buffer
	printReport(&out, b.rep)
	for _, s := range []string{"Cost per 1M payments", "DynamoDB writes", "cold start ratios (goal <= ×1.5)", "OrdersFunction ×1.33", "alipay 4, wechat 4"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

func img(kv ...string) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

// Item sizes follow DynamoDB's rules; a write is priced for the table and
// for every index entry it puts, deletes or rewrites.
func TestWriteCost(t *testing.T) {
	if n := itemSize(img("pk", `{"S":"abc"}`, "n", `{"N":"12345"}`, "b", `{"BOOL":true}`)); n != 2+3+1+4+1+1 {
		t.Fatalf("size = %d", n)
	}
	if n := itemSize(img("m", `{"M":{"ab":{"S":"x"}}}`, "l", `{"L":[{"N":"1"},{"S":"yz"}]}`)); n != 1+(3+1+2+1)+1+(3+1+2+1+2) {
		t.Fatalf("nested size = %d", n)
	}
	for in, want := range map[string]int{"0": 1, "7": 2, "12": 2, "123": 3, "-1.50": 2, "1000": 2} {
		if got := numberSize(in); got != want {
			t.Errorf("numberSize(%s) = %d, want %d", in, got, want)
		}
	}
	tbl := tableInfo{HashKey: "pk", GSIs: []template.Index{
		{Name: "work", HashKey: "work_pk", RangeKey: "work_at", ProjectionType: "KEYS_ONLY"},
		{Name: "records", HashKey: "rec_pk", RangeKey: "rec_sk", ProjectionType: "ALL"},
	}}
	big := `{"S":"` + strings.Repeat("x", 1500) + `"}`
	pending := img("pk", `{"S":"EP1"}`, "status", `{"S":"PENDING"}`, "prepay", big, "work_pk", `{"S":"W#3"}`, "work_at", `{"S":"t1"}`)
	ins := tbl.writeCost(dynamo.StreamRecord{EventName: "INSERT", NewImage: pending})
	if ins.TableWRU != 2 || len(ins.Indexes) != 1 || ins.Indexes[0].Index != "work" || ins.Indexes[0].Op != "put" || ins.WRU != 3 {
		t.Fatalf("insert = %+v", ins)
	}
	paid := img("pk", `{"S":"EP1"}`, "status", `{"S":"PAID"}`, "rec_pk", `{"S":"c"}`, "rec_sk", `{"S":"t2"}`)
	mod := tbl.writeCost(dynamo.StreamRecord{EventName: "MODIFY", OldImage: pending, NewImage: paid})
	ops := map[string]string{}
	for _, ix := range mod.Indexes {
		ops[ix.Index] = ix.Op
	}
	// The table write is priced on the larger (old) item: 2 WRU.
	if mod.Status != "PAID" || mod.TableWRU != 2 || ops["work"] != "delete" || ops["records"] != "put" || mod.WRU != 4 {
		t.Fatalf("paid = %+v", mod)
	}
	// Same index keys, a changed projected attribute: an ALL index rewrites its
	// entry, a KEYS_ONLY one does not.
	again := img("pk", `{"S":"EP1"}`, "status", `{"S":"REFUNDED"}`, "rec_pk", `{"S":"c"}`, "rec_sk", `{"S":"t2"}`)
	ref := tbl.writeCost(dynamo.StreamRecord{EventName: "MODIFY", OldImage: paid, NewImage: again})
	if len(ref.Indexes) != 1 || ref.Indexes[0].Index != "records" || ref.Indexes[0].Op != "update" || ref.WRU != 2 {
		t.Fatalf("refund = %+v", ref)
	}
}

// The capture counts invocations, metrics lines, log output and billed time
// per function, and knows when every invocation's metrics line arrived.
func TestCaptureActivity(t *testing.T) {
	c := NewCapture()
	mark := c.Activity()
	c.Write([]byte("[OrdersFunction] START RequestId: 1 Version: $LATEST\n"))
	c.Write([]byte("[OrdersFunction] REPORT RequestId: 1\tDuration: 2.40 ms\tBilled Duration: 3 ms\tMemory Size: 256 MB\tMax Memory Used: 16 MB\tInit Duration: 5.50 ms\n"))
	c.Write([]byte("invoke OrdersFunction           2.4ms  cold (init 6ms)  ok\n"))
	if got := c.Unsettled(); len(got) != 1 || got[0] != "OrdersFunction" {
		t.Fatalf("unsettled = %v", got)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.WaitSettled(short); err == nil || !strings.Contains(err.Error(), "OrdersFunction (1 invocations, 0 metrics lines)") {
		t.Fatalf("WaitSettled without the metrics line: %v", err)
	}
	c.Write([]byte(emfLine + "\n"))
	c.Write([]byte("invoke HelloFunction  1ms  warm  ok\n")) // the baseline prints no metrics
	ctx, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if err := c.WaitSettled(ctx, helloID); err != nil {
		t.Fatal(err)
	}
	a := ActivitySince(c.Activity(), mark)["OrdersFunction"]
	wantBytes := int64(len("START RequestId: 1 Version: $LATEST")+1) +
		int64(len("REPORT RequestId: 1\tDuration: 2.40 ms\tBilled Duration: 3 ms\tMemory Size: 256 MB\tMax Memory Used: 16 MB\tInit Duration: 5.50 ms")+1) +
		int64(len(strings.TrimPrefix(emfLine, "[OrdersFunction] "))+1)
	if a.Invokes != 1 || a.Metrics != 1 || a.LogLines != 3 || a.BilledMs != 3 || a.InitMs != 5.5 || a.LogBytes != wantBytes {
		t.Fatalf("activity = %+v (want %d log bytes)", a, wantBytes)
	}
	if got := ActivitySince(c.Activity(), c.Activity()); len(got) != 0 {
		t.Fatalf("nothing since now: %v", got)
	}
}

// Order creation meets its goal only if no request wrote twice or called the
// provider twice.
func TestOrderCreationLimits(t *testing.T) {
	ms := []Metrics{
		{Function: "OrdersFunction", HandlerMillis: 2, Calls: map[string]int64{"DynamoDB": 1, "DynamoDBWrite": 1, "Provider": 1}},
		{Function: "RelayFunction", Calls: map[string]int64{"SQS": 3}},
		{Function: "OrdersFunction", HandlerMillis: 4, Calls: map[string]int64{"DynamoDB": 5, "DynamoDBWrite": 1}},
	}
	oc := orderCreation(domain.WeChat, ms)
	if oc.Requests != 2 || oc.MaxDynamoDB != 5 || oc.MeanDynamoDB != 3 || oc.MaxWrites != 1 || oc.MaxProvider != 1 || oc.MeanProvider != 0.5 || !oc.WithinLimits {
		t.Fatalf("order creation = %+v", oc)
	}
	ms = append(ms, Metrics{Function: "OrdersFunction", Calls: map[string]int64{"DynamoDB": 2, "DynamoDBWrite": 2}})
	if oc := orderCreation(domain.WeChat, ms); oc.WithinLimits || oc.MaxWrites != 2 {
		t.Fatalf("two writes on one request = %+v", oc)
	}
}

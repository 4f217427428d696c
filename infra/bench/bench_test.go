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

	"github.com/estatepay/estatepay/infra/template"
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

package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what the run prints and writes to .local/bench.json.
type Report struct {
	Command     string           `json:"command"`
	Machine     Machine          `json:"machine"`
	StartedAt   time.Time        `json:"started_at"`
	TookSeconds float64          `json:"took_seconds"`
	Settings    config           `json:"settings"`
	Phases      []Phase          `json:"phases"`
	Functions   []FunctionReport `json:"functions"` // the baseline first
	Warm        []RouteReport    `json:"warm_requests"`
	Flows       []FlowReport     `json:"payment_flows"`

	// DynamoDBPerPayment is the warm figure per channel (the contract:
	// "dynamodb_requests_per_payment": {"alipay": N, "wechat": N}); DynamoDB
	// has the detail, FirstPayment the same for the first payment after start.
	DynamoDBPerPayment map[string]int64 `json:"dynamodb_requests_per_payment"`
	DynamoDB           []DynamoResult   `json:"dynamodb_per_payment"`
	FirstPayment       []DynamoResult   `json:"dynamodb_first_payment"`
	// ColdStartRatio is every template function's cold start p50 over the
	// baseline's, 2 decimals (the contract: "cold_start_ratio").
	ColdStartRatio map[string]float64 `json:"cold_start_ratio"`
	OrderCreation  []OrderCreation    `json:"order_creation"`
	Cost           *CostModel         `json:"cost_per_million_payments"`
	// Bills at scale (bills.go): importing 100k bills and paging through
	// them, time and peak live heap (-bills rows; the *_100k_* keys only when
	// it is 100,000).
	Bills             []BillsResult `json:"bills_at_scale,omitempty"`
	Import100kSeconds *float64      `json:"import_100k_bills_seconds,omitempty"`
	Import100kPeakMiB *float64      `json:"import_100k_peak_heap_mib,omitempty"`
	Paging100kSeconds *float64      `json:"records_100k_paging_seconds,omitempty"`
	Paging100kPeakMiB *float64      `json:"records_100k_peak_heap_mib,omitempty"`
	// Fanout is payment events through FanoutFunction (fanout.go).
	Fanout *FanoutResult `json:"fanout,omitempty"`
	// Settlement is one merchant × channel × day settled (settle.go, -big).
	Settlement *SyntheticSettleResult `json:"settlement,omitempty"`
	// SettlementDynamoDB is a smaller day settled against the embedded
	// DynamoDB (settle.go, -big or -only settlement-dynamodb).
	SettlementDynamoDB *SettleResult `json:"settlement_dynamodb,omitempty"`

	routes []*routeResult
	flows  []*flowResult
	fns    []*fnResult
}

// Machine is where the figures were measured.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	NumCPU    int    `json:"num_cpu"`
	GoVersion string `json:"go_version"`
	CPU       string `json:"cpu,omitempty"`
}

// Phase is how long one part of the run took.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Latency is a Summary in milliseconds.
type Latency struct {
	N     int     `json:"n"`
	MinMs float64 `json:"min_ms"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func latency(s Summary) *Latency {
	if s.N == 0 {
		return nil
	}
	return &Latency{N: s.N, MinMs: Millis(s.Min), P50Ms: Millis(s.P50), P99Ms: Millis(s.P99), MaxMs: Millis(s.Max)}
}

// FunctionReport is one function's row; ratios are to the baseline.
type FunctionReport struct {
	Function         string           `json:"function"`
	Baseline         bool             `json:"baseline,omitempty"`
	HostBytes        int64            `json:"binary_bytes_host"`
	LambdaBytes      int64            `json:"binary_bytes_linux_arm64"`
	LambdaBytesRatio *float64         `json:"binary_linux_arm64_ratio"`
	ColdRequest      string           `json:"cold_request,omitempty"`
	ColdStart        *Latency         `json:"cold_start,omitempty"`   // exec → first response
	ColdInit         *Latency         `json:"cold_init,omitempty"`    // exec → first /next
	ColdHandler      *Latency         `json:"cold_handler,omitempty"` // the first request's handler time
	ColdCalls        map[string]int64 `json:"cold_calls,omitempty"`   // what the first request called
	ColdRest         *Latency         `json:"cold_start_excluding_handler,omitempty"`
	ColdRestRatio    *float64         `json:"cold_start_excluding_handler_p50_ratio"`
	ColdP50Ratio     *float64         `json:"cold_start_p50_ratio"`
	WarmRequest      string           `json:"warm_request,omitempty"`
	Warm             *Latency         `json:"warm,omitempty"`
	WarmP50Ratio     *float64         `json:"warm_p50_ratio"`
	WarmP99Ratio     *float64         `json:"warm_p99_ratio"`
}

// RouteReport is one representative request, warm, through the gateway.
type RouteReport struct {
	Function string   `json:"function"`
	Request  string   `json:"request"`
	Latency  *Latency `json:"latency"`
	P50Ratio *float64 `json:"p50_ratio"`
	P99Ratio *float64 `json:"p99_ratio"`
}

type flowResult struct {
	Name, Request, Note string
	Sum                 Summary
	Handler             Summary // the function's own HandlerMillis (callbacks)
}

// FlowReport is one payment-flow measurement.
type FlowReport struct {
	Name     string   `json:"name"`
	Request  string   `json:"request"`
	Note     string   `json:"note"`
	Latency  *Latency `json:"latency"`
	P50Ratio *float64 `json:"p50_ratio"`
	P99Ratio *float64 `json:"p99_ratio"`
	Handler  *Latency `json:"handler,omitempty"` // the notify function's own HandlerMillis
}

func newReport(cfg config) *Report {
	return &Report{Command: command(), Machine: machine(), StartedAt: time.Now().UTC().Truncate(time.Second), Settings: cfg}
}

// finishReport fills the exported tables from the measurements.
func (b *bench) finishReport() {
	rep := b.rep
	rep.fns = b.functions
	base := b.fn(helloID)
	var baseWarm Summary
	if base != nil && base.Warm != nil {
		baseWarm = base.Warm.Sum
	}
	for _, f := range b.functions {
		fr := FunctionReport{Function: f.ID, Baseline: f.ID == helloID, HostBytes: f.HostBytes, LambdaBytes: f.ArmBytes,
			LambdaBytesRatio: jsonRatio(Ratio(float64(f.ArmBytes), float64(base.ArmBytes))),
			ColdRequest:      f.ColdRequest, ColdStart: latency(f.Cold), ColdInit: latency(f.Init), ColdHandler: latency(f.ColdHandler), ColdCalls: f.ColdCalls,
			ColdP50Ratio: jsonRatio(DurationRatio(f.Cold.P50, base.Cold.P50)),
			ColdRest:     latency(f.ColdRest), ColdRestRatio: jsonRatio(DurationRatio(f.ColdRest.P50, base.Cold.P50))}
		if f.Warm != nil {
			fr.WarmRequest, fr.Warm = f.Warm.Request, latency(f.Warm.Sum)
			fr.WarmP50Ratio = jsonRatio(DurationRatio(f.Warm.Sum.P50, baseWarm.P50))
			fr.WarmP99Ratio = jsonRatio(DurationRatio(f.Warm.Sum.P99, baseWarm.P99))
		}
		rep.Functions = append(rep.Functions, fr)
	}
	rep.ColdStartRatio = map[string]float64{}
	for _, f := range b.functions {
		if f.ID == helloID {
			continue
		}
		if r := DurationRatio(f.Cold.P50, base.Cold.P50); !math.IsNaN(r) {
			rep.ColdStartRatio[f.ID] = round2(r)
		}
	}
	if b.tmpl != nil && len(rep.DynamoDB) > 0 {
		memory := map[string]int{}
		for _, f := range b.tmpl.Functions() {
			memory[f.LogicalID] = f.MemorySize
		}
		rep.Cost = costModel(rep.DynamoDB, memory, b.httpFunctions())
	}
	for _, r := range rep.routes {
		rep.Warm = append(rep.Warm, RouteReport{Function: r.Function, Request: r.Request, Latency: latency(r.Sum),
			P50Ratio: jsonRatio(DurationRatio(r.Sum.P50, baseWarm.P50)), P99Ratio: jsonRatio(DurationRatio(r.Sum.P99, baseWarm.P99))})
	}
	for _, f := range rep.flows {
		rep.Flows = append(rep.Flows, FlowReport{Name: f.Name, Request: f.Request, Note: f.Note, Latency: latency(f.Sum), Handler: latency(f.Handler),
			P50Ratio: jsonRatio(DurationRatio(f.Sum.P50, baseWarm.P50)), P99Ratio: jsonRatio(DurationRatio(f.Sum.P99, baseWarm.P99))})
	}
}

func ratioOf(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmtRatio(*p)
}

func ms(l *Latency, f func(*Latency) float64) string {
	if l == nil {
		return "-"
	}
	return fmtMillis(time.Duration(f(l) * float64(time.Millisecond)))
}

func p50(l *Latency) float64 { return l.P50Ms }
func p99(l *Latency) float64 { return l.P99Ms }

// printReport writes the human-readable tables.
func printReport(w io.Writer, rep *Report) {
	m := rep.Machine
	fmt.Fprintf(w, "\nestatepay benchmark — %s\n", rep.Command)
	fmt.Fprintf(w, "machine: %s/%s, %d CPU", m.GOOS, m.GOARCH, m.NumCPU)
	if m.CPU != "" {
		fmt.Fprintf(w, " (%s)", m.CPU)
	}
	fmt.Fprintf(w, ", %s; started %s; took %.1fs\n", m.GoVersion, rep.StartedAt.Format(time.RFC3339), rep.TookSeconds)
	fmt.Fprintf(w, "ratios (×) are to %s, a hello-world aws-lambda-go function built and served the same way in this run\n", helloID)

	s := rep.Settings
	fmt.Fprintf(w, "\n1. Functions: size, cold start (exec → first response, fresh instance, median of %d; init = exec → first /next; handler = the first request's own time from its metrics line; w/o handler = cold start minus it, per sample), warm through the gateway (%d requests after %d warm-up)\n\n", s.Cold, s.Warm, s.Warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "function\thost bin\tarm64 bin\t×\tcold p50\t(init\thandler)\t×\tw/o handler ×\twarm p50\t×\twarm p99\t×")
	for _, f := range rep.Functions {
		name := f.Function
		if f.Baseline {
			name += " (baseline)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, fmtBytes(f.HostBytes), fmtBytes(f.LambdaBytes), ratioOf(f.LambdaBytesRatio),
			ms(f.ColdStart, p50), "("+ms(f.ColdInit, p50), ms(f.ColdHandler, p50)+")", ratioOf(f.ColdP50Ratio), ratioOf(f.ColdRestRatio), ms(f.Warm, p50), ratioOf(f.WarmP50Ratio), ms(f.Warm, p99), ratioOf(f.WarmP99Ratio))
	}
	tw.Flush()
	fmt.Fprintln(w, "\n   requests used (and what the cold one called):")
	for _, f := range rep.Functions {
		req := f.WarmRequest
		if req == "" {
			req = f.ColdRequest
		}
		if req != "" {
			fmt.Fprintf(w, "   %-22s %s%s\n", f.Function, req, fmtCalls(f.ColdCalls))
		}
	}

	fmt.Fprintf(w, "\n2. Every representative request, warm, one at a time (%d after %d warm-up)\n\n", s.Warm, s.Warmup)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "function\trequest\tp50\t×\tp99\t×")
	for _, r := range rep.Warm {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Function, r.Request, ms(r.Latency, p50), ratioOf(r.P50Ratio), ms(r.Latency, p99), ratioOf(r.P99Ratio))
	}
	tw.Flush()

	fmt.Fprintf(w, "\n3. Payment flows through the local stack (orders: %d per channel after %d warm-up; callbacks: %d fresh paid orders per channel)\n\n", s.Orders, s.Warmup, s.Callbacks)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "flow\tmeasured\tn\tp50\t×\tp99\t×\thandler p50/p99\tnote")
	for _, f := range rep.Flows {
		n := 0
		if f.Latency != nil {
			n = f.Latency.N
		}
		handler := "-"
		if f.Handler != nil {
			handler = ms(f.Handler, p50) + " / " + ms(f.Handler, p99)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Request, n, ms(f.Latency, p50), ratioOf(f.P50Ratio), ms(f.Latency, p99), ratioOf(f.P99Ratio), handler, f.Note)
	}
	tw.Flush()

	fmt.Fprintf(w, "\n4. DynamoDB requests per completed payment (functions' EMF \"DynamoDBCalls\"; cross-check: embedded DynamoDB's own count)\n")
	fmt.Fprintf(w, "   warm: the flow run %d times per channel on warm instances (directory cache filled), the median run shown\n", warmRuns)
	for _, d := range rep.DynamoDB {
		printPayment(w, d)
	}
	if len(rep.FirstPayment) > 0 {
		fmt.Fprintln(w, "\n   first payment after start: every function a fresh instance (cold start), every cache empty;")
		fmt.Fprintln(w, "   the WeChat one scans a code issued just before it (its directory records not cached yet)")
		for _, d := range rep.FirstPayment {
			printPayment(w, d)
		}
	}
	if len(rep.DynamoDBPerPayment) > 0 {
		keys := slices.Sorted(maps.Keys(rep.DynamoDBPerPayment))
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, rep.DynamoDBPerPayment[k]))
		}
		fmt.Fprintf(w, "\n   DynamoDB requests per completed payment (warm): %s (goal <= 6)\n", strings.Join(parts, ", "))
	}

	if len(rep.OrderCreation) > 0 {
		fmt.Fprintf(w, "\n5. Order creation critical path (POST /api/orders, every request of section 3, from OrdersFunction's metrics lines; goal: <= 1 DynamoDB write and <= 1 provider call)\n\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "   channel	requests	DynamoDB calls (mean/max)	writes (mean/max)	provider calls (mean/max)	handler p50	goal")
		for _, o := range rep.OrderCreation {
			ok := "met"
			if !o.WithinLimits {
				ok = "NOT MET"
			}
			fmt.Fprintf(tw, "   %s\t%d\t%.2f / %d\t%.2f / %d\t%.2f / %d\t%.2fms\t%s\n", o.Channel, o.Requests, o.MeanDynamoDB, o.MaxDynamoDB,
				o.MeanWrites, o.MaxWrites, o.MeanProvider, o.MaxProvider, o.HandlerMedian, ok)
		}
		tw.Flush()
	}

	printCost(w, rep.Cost)

	if len(rep.ColdStartRatio) > 0 {
		keys := slices.Sorted(maps.Keys(rep.ColdStartRatio))
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s ×%.2f", k, rep.ColdStartRatio[k]))
		}
		fmt.Fprintf(w, "\ncold start ratios (goal <= ×1.5): %s\n", strings.Join(parts, ", "))
	}
	if f := rep.Fanout; f != nil {
		fmt.Fprintf(w, "\nfan-out: %d payment events for %d opted-in recipient through FanoutFunction in %.2fs: %.0f events/s, %d messages sent (throttle: one per recipient per 10 minutes)\n",
			f.Events, f.Recipients, f.Seconds, f.EventsPerSecond, f.MessagesSent)
	}
	if st := rep.Settlement; st != nil {
		fmt.Fprintf(w, "\nsettlement: %d synthetic orders of one merchant × channel × day settled in %.2fs, peak heap %.1f MiB; read once with the settler's queries in %.2fs (%.1f MiB): ratio %.2f (goal <= 1.5); %d queries\n",
			st.Orders, st.Seconds, st.PeakMiB, st.ReadSeconds, st.ReadPeakMiB, st.RatioToRead, st.Queries)
	}
	if st := rep.SettlementDynamoDB; st != nil {
		fmt.Fprintf(w, "\nsettlement (embedded DynamoDB): %d orders of one merchant × channel × day settled in %.2fs, peak heap %.1f MiB; read once through the settle index in %.2fs (%.1f MiB): ratio %.2f (goal <= 1.5);\n   read with the settler's own queries (settle_sk > last key) in %.2fs: ratio %.2f; the settler's %d queries returned %d orders in %.2fs\n",
			st.Orders, st.Seconds, st.PeakMiB, st.ReadSeconds, st.ReadPeakMiB, st.RatioToRead, st.ReadAfterSeconds, st.RatioToReadAfter, st.Queries, st.OrdersRead, st.QuerySeconds)
	}
	fmt.Fprint(w, "\nphases:")
	for _, p := range rep.Phases {
		fmt.Fprintf(w, " %s %.1fs;", p.Name, p.Seconds)
	}
	fmt.Fprintln(w)
}

// printPayment writes one payment's table: per function its invocations and
// calls, the total, the embedded DynamoDB's count and the order's writes.
func printPayment(w io.Writer, d DynamoResult) {
	fmt.Fprintf(w, "\n   %s, %s caches: %s\n\n", d.Channel, d.Caches, strings.Join(d.Steps, " → "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   function\tinvocations\tDynamoDB calls\t(writes)\tSQS calls\tprovider calls\tbilled ms\tlog bytes")
	var inv int
	var billed, logs int64
	for _, fc := range d.PerFunction {
		fmt.Fprintf(tw, "   %s\t%d\t%d\t(%d)\t%d\t%d\t%d\t%d\n", fc.Function, fc.Invocations, fc.Calls["DynamoDB"], fc.Calls["DynamoDBWrite"],
			fc.Calls["SQS"], fc.Calls["Provider"], fc.BilledMs, fc.LogBytes)
		inv += fc.Invocations
		billed += fc.BilledMs
		logs += fc.LogBytes
	}
	fmt.Fprintf(tw, "   total\t%d\t%d\t(%d)\t%d\t%d\t%d\t%d\n", inv, d.EMFTotal, d.EMFWrites, d.SQSTotal, d.ProviderTotal, billed, logs)
	tw.Flush()
	check := "matches"
	if d.ServerTotal != d.EMFTotal {
		check = "MISMATCH"
	}
	ops := make([]string, 0, len(d.ServerByOp))
	for op, n := range d.ServerByOp {
		ops = append(ops, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "   embedded DynamoDB saw %d requests (%s): %s\n", d.ServerTotal, strings.Join(ops, ", "), check)
	if len(d.Runs) > 0 {
		fmt.Fprintf(w, "   DynamoDB calls of each run: %v\n", d.Runs)
	}
	for _, wr := range d.Writes {
		parts := []string{fmt.Sprintf("item %d→%d bytes: %d", wr.OldBytes, wr.NewBytes, wr.TableWRU)}
		for _, ix := range wr.Indexes {
			parts = append(parts, fmt.Sprintf("%s %s %d", ix.Index, ix.Op, ix.WRU))
		}
		fmt.Fprintf(w, "   order write %s → %s: %d WRU (%s)\n", wr.Event, wr.Status, wr.WRU, strings.Join(parts, ", "))
	}
}

// fmtCalls formats a metrics line's calls (" [DynamoDB 4, SecretsManager 1]").
func fmtCalls(calls map[string]int64) string {
	if len(calls) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(calls))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, calls[k])
	}
	return " [" + strings.Join(parts, ", ") + "]"
}

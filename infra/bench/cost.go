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
)

// Prices: AWS list prices, us-east-1 (N. Virginia) — the ap-southeast-1
// (Singapore) pricing pages could not be read when they were taken, so the
// model is in us-east-1 prices; Singapore's are higher for some services.
// Free tiers are left out (they do not scale with payments).
const (
	pricesRegion = "us-east-1"
	pricesTaken  = "2026-11-29"
)

// Price is one unit price of the model.
type Price struct {
	USD    float64 `json:"usd"`
	Per    string  `json:"per"`
	Source string  `json:"source"`
}

var prices = map[string]Price{
	"lambda_requests":     {0.20, "1M requests", "aws.amazon.com/lambda/pricing (arm64 and x86)"},
	"lambda_gb_s_arm64":   {0.0000133334, "GB-second", "aws.amazon.com/lambda/pricing (arm64, first 7.5 billion GB-s a month)"},
	"http_api_requests":   {1.00, "1M requests", "aws.amazon.com/api-gateway/pricing (HTTP APIs, first 300M a month, per 512 KB)"},
	"dynamodb_wru":        {0.625, "1M write request units", "aws.amazon.com/dynamodb/pricing/on-demand (standard table class)"},
	"dynamodb_rru":        {0.125, "1M read request units", "aws.amazon.com/dynamodb/pricing/on-demand (standard table class)"},
	"dynamodb_streams":    {0, "GetRecords by a Lambda trigger", "aws.amazon.com/dynamodb/pricing/on-demand (stream reads by Lambda triggers are free)"},
	"sqs_fifo_requests":   {0.50, "1M requests (64 KB chunks)", "aws.amazon.com/sqs/pricing (FIFO)"},
	"cloudwatch_logs_gb":  {0.50, "GB ingested", "aws.amazon.com/cloudwatch/pricing (Lambda logs, standard class, first 10 TB)"},
	"secrets_manager_api": {0.05, "10,000 API calls", "aws.amazon.com/secrets-manager/pricing (cached 5 min per instance: not per payment)"},
}

// Assumptions for the cloud estimate of Lambda duration: the local billed
// time scaled to the CPU share MemorySize buys (1,769 MB = one vCPU), plus
// the network time of each call, which is loopback-fast locally.
const (
	vcpuMB            = 1769.0
	cloudDynamoDBMs   = 5.0   // per DynamoDB request, same region
	cloudSQSMs        = 15.0  // per SQS FIFO SendMessage
	cloudProviderMs   = 150.0 // per WeChat Pay / Alipay / WeChat OAuth call from the region to mainland China
	cloudLogEventSize = 26    // bytes CloudWatch Logs counts per event on top of the message
)

// CostModel is the cost of 1M payments per channel.
type CostModel struct {
	Region      string            `json:"prices_region"`
	PricesTaken string            `json:"prices_taken"`
	Prices      map[string]Price  `json:"prices"`
	Assumptions map[string]string `json:"assumptions"`
	Channels    []ChannelCost     `json:"channels"`
}

// ChannelCost is one channel's inputs (per payment, measured in the warm
// flow) and its cost per 1M payments.
type ChannelCost struct {
	Channel  string     `json:"channel"`
	Inputs   CostInputs `json:"inputs_per_payment"`
	Items    []CostItem `json:"items"`
	TotalUSD float64    `json:"total_usd"`
	Dominant string     `json:"dominant"`
}

// CostInputs are one payment's billable quantities.
type CostInputs struct {
	LambdaInvocations map[string]int   `json:"lambda_invocations"`
	MemoryMB          map[string]int   `json:"memory_mb"`
	BilledMs          map[string]int64 `json:"billed_ms_local"`
	GBSecondsLocal    float64          `json:"gb_s_local"`
	GBSecondsCloud    float64          `json:"gb_s_cloud_estimate"`
	HTTPRequests      int              `json:"http_api_requests"`
	DynamoDBRequests  map[string]int64 `json:"dynamodb_requests_by_operation"`
	RRU               float64          `json:"rru"`
	WRU               int              `json:"wru"`
	WRUByWrite        []string         `json:"wru_by_write"`
	StreamRecords     int              `json:"stream_records"`
	SQSRequests       int64            `json:"sqs_requests"`
	ProviderCalls     int64            `json:"provider_calls"`
	LogBytes          int64            `json:"log_bytes"`
	LogEvents         int64            `json:"log_events"`
	ItemBytes         map[string]int   `json:"order_item_bytes"`
}

// CostItem is one line of the cost per 1M payments.
type CostItem struct {
	Name     string  `json:"name"`
	Quantity float64 `json:"quantity_per_million_payments"`
	Unit     string  `json:"unit"`
	USD      float64 `json:"usd"`
}

// costModel prices the warm payments of d with the template's memory sizes.
func costModel(d []DynamoResult, memory map[string]int, httpFns map[string]bool) *CostModel {
	m := &CostModel{Region: pricesRegion, PricesTaken: pricesTaken, Prices: prices, Assumptions: map[string]string{
		"lambda_duration":  fmt.Sprintf("cloud estimate = local billed ms × (%.0f MB / MemorySize) (CPU share) + %.0f ms per DynamoDB request + %.0f ms per SQS send + %.0f ms per provider call, rounded up to 1 ms per invocation", vcpuMB, cloudDynamoDBMs, cloudSQSMs, cloudProviderMs),
		"dynamodb_reads":   "strongly consistent GetItem of an item <= 4 KB = 1 RRU (order items are measured below 4 KB); BatchGetItem = 1 RRU per item (2 items: company and interface); Query = 1 RRU",
		"dynamodb_writes":  "per stream record of the order: the larger of old and new item per started KB, plus every GSI entry put, deleted or rewritten (entry = projected attributes + keys + 100 bytes); plus 4 WRU per stats transaction (two items < 1 KB, doubled as transactional)",
		"sqs":              "one SendMessage per event and consumer queue that receives its type (< 64 KB; RelayFunction's EVENT_QUEUE_TYPES); the Lambda pollers' ReceiveMessage/DeleteMessage (StatsEventsQueue) are not counted",
		"cloudwatch_logs":  fmt.Sprintf("every function output line (START/END/REPORT, JSON logs, EMF metrics) + %d bytes per event", cloudLogEventSize),
		"not_per_payment":  "sweeper schedule (1/min, 16 Query each), Secrets Manager (cached), EMF custom metrics, storage, alarms",
		"payment_includes": "one landing (WeChat: two, for OAuth), one order creation, one provider callback, one status poll, the relay's invocations, StatsFunction's",
	}}
	for _, r := range d {
		m.Channels = append(m.Channels, channelCost(r, memory, httpFns))
	}
	return m
}

func channelCost(r DynamoResult, memory map[string]int, httpFns map[string]bool) ChannelCost {
	in := CostInputs{LambdaInvocations: map[string]int{}, MemoryMB: map[string]int{}, BilledMs: map[string]int64{},
		DynamoDBRequests: r.ServerByOp, ItemBytes: map[string]int{}}
	for _, f := range r.PerFunction {
		mem := memory[f.Function]
		if mem == 0 {
			mem = 128
		}
		gb := float64(mem) / 1024
		in.LambdaInvocations[f.Function] = f.Invocations
		in.MemoryMB[f.Function] = mem
		in.BilledMs[f.Function] = f.BilledMs
		in.GBSecondsLocal += gb * float64(f.BilledMs) / 1000
		cloud := float64(f.BilledMs)*vcpuMB/float64(mem) +
			float64(f.Calls["DynamoDB"])*cloudDynamoDBMs + float64(f.Calls["SQS"])*cloudSQSMs + float64(f.Calls["Provider"])*cloudProviderMs
		// Billed per invocation, rounded up to the millisecond.
		cloud = math.Ceil(cloud) + float64(f.Invocations)
		in.GBSecondsCloud += gb * cloud / 1000
		if httpFns[f.Function] {
			in.HTTPRequests += f.Invocations
		}
		in.SQSRequests += f.Calls["SQS"]
		in.ProviderCalls += f.Calls["Provider"]
		in.LogBytes += f.LogBytes
		in.LogEvents += f.LogLines
	}
	for op, n := range r.ServerByOp {
		switch op {
		case "GetItem", "Query":
			in.RRU += float64(n)
		case "BatchGetItem":
			in.RRU += 2 * float64(n)
		}
	}
	for _, w := range r.Writes {
		in.WRU += w.WRU
		in.StreamRecords++
		parts := []string{fmt.Sprintf("table %d", w.TableWRU)}
		for _, ix := range w.Indexes {
			parts = append(parts, fmt.Sprintf("%s %s %d", ix.Index, ix.Op, ix.WRU))
		}
		in.WRUByWrite = append(in.WRUByWrite, fmt.Sprintf("%s → %s: %d WRU (%s)", w.Event, w.Status, w.WRU, strings.Join(parts, ", ")))
		in.ItemBytes[w.Status] = w.NewBytes
	}
	// StatsFunction's one transaction per event: the event marker (Put) and
	// the aggregate's ADD (Update), each under 1 KB; transactional writes
	// cost twice.
	if n := int(r.ServerByOp["TransactWriteItems"]); n > 0 {
		in.WRU += 4 * n
		in.WRUByWrite = append(in.WRUByWrite, fmt.Sprintf("stats TransactWriteItems ×%d: %d WRU (event marker + aggregate ADD, each < 1 KB, ×2 in a transaction)", n, 4*n))
	}
	in.GBSecondsLocal, in.GBSecondsCloud = round6(in.GBSecondsLocal), round6(in.GBSecondsCloud)
	const M = 1e6
	items := []CostItem{
		{"Lambda requests", float64(r.invocations()) * M, "requests", float64(r.invocations()) * prices["lambda_requests"].USD},
		{"Lambda duration (cloud estimate)", in.GBSecondsCloud * M, "GB-s", in.GBSecondsCloud * M * prices["lambda_gb_s_arm64"].USD},
		{"HTTP API requests", float64(in.HTTPRequests) * M, "requests", float64(in.HTTPRequests) * prices["http_api_requests"].USD},
		{"DynamoDB writes", float64(in.WRU) * M, "WRU", float64(in.WRU) * prices["dynamodb_wru"].USD},
		{"DynamoDB reads", in.RRU * M, "RRU", in.RRU * prices["dynamodb_rru"].USD},
		{"DynamoDB stream reads (Lambda trigger)", float64(in.StreamRecords) * M, "records", 0},
		{"SQS FIFO requests", float64(in.SQSRequests) * M, "requests", float64(in.SQSRequests) * prices["sqs_fifo_requests"].USD},
		{"CloudWatch Logs ingestion", float64(in.LogBytes+in.LogEvents*cloudLogEventSize) * M / 1e9, "GB", float64(in.LogBytes+in.LogEvents*cloudLogEventSize) * M / 1e9 * prices["cloudwatch_logs_gb"].USD},
	}
	c := ChannelCost{Channel: r.Channel, Inputs: in}
	var top CostItem
	for _, it := range items {
		it.USD, it.Quantity = round2(it.USD), math.Round(it.Quantity)
		c.TotalUSD += it.USD
		if it.USD > top.USD {
			top = it
		}
		c.Items = append(c.Items, it)
	}
	c.TotalUSD = round2(c.TotalUSD)
	sorted := append([]CostItem(nil), c.Items...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].USD > sorted[j].USD })
	if len(sorted) > 1 && c.TotalUSD > 0 {
		c.Dominant = fmt.Sprintf("%s ($%.2f, %.0f%%), then %s ($%.2f, %.0f%%)", sorted[0].Name, sorted[0].USD, 100*sorted[0].USD/c.TotalUSD,
			sorted[1].Name, sorted[1].USD, 100*sorted[1].USD/c.TotalUSD)
	}
	return c
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// printCost writes the cost model table.
func printCost(w io.Writer, m *CostModel) {
	if m == nil || len(m.Channels) == 0 {
		return
	}
	fmt.Fprintf(w, "\n6. Cost per 1M payments (warm flow above; %s list prices taken %s, free tiers left out)\n\n", m.Region, m.PricesTaken)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "   item"
	for _, c := range m.Channels {
		header += "\t" + c.Channel + " quantity\tUSD"
	}
	fmt.Fprintln(tw, header+"\tunit price")
	for i, it := range m.Channels[0].Items {
		line := "   " + it.Name
		for _, c := range m.Channels {
			q := c.Items[i]
			line += fmt.Sprintf("\t%s %s\t$%.2f", fmtQuantity(q.Quantity), q.Unit, q.USD)
		}
		fmt.Fprintln(tw, line+"\t"+unitPrice(it.Name))
	}
	line := "   total"
	for _, c := range m.Channels {
		line += fmt.Sprintf("\t\t$%.2f", c.TotalUSD)
	}
	fmt.Fprintln(tw, line+"\t")
	tw.Flush()
	for _, c := range m.Channels {
		in := c.Inputs
		fmt.Fprintf(w, "\n   %s per payment: %d Lambda invocations, %d HTTP API requests, %.4f GB-s (local billed %.4f), %.0f RRU, %d WRU, %d SQS, %d provider calls, %d log bytes in %d events; dominated by %s\n",
			c.Channel, sum(in.LambdaInvocations), in.HTTPRequests, in.GBSecondsCloud, in.GBSecondsLocal, in.RRU, in.WRU, in.SQSRequests, in.ProviderCalls, in.LogBytes, in.LogEvents, c.Dominant)
		for _, s := range in.WRUByWrite {
			fmt.Fprintf(w, "     %s\n", s)
		}
	}
	keys := slices.Sorted(maps.Keys(m.Assumptions))
	fmt.Fprintln(w, "\n   assumptions:")
	for _, k := range keys {
		fmt.Fprintf(w, "   - %s: %s\n", k, m.Assumptions[k])
	}
}

func unitPrice(item string) string {
	key := map[string]string{
		"Lambda requests": "lambda_requests", "Lambda duration (cloud estimate)": "lambda_gb_s_arm64", "HTTP API requests": "http_api_requests",
		"DynamoDB writes": "dynamodb_wru", "DynamoDB reads": "dynamodb_rru", "DynamoDB stream reads (Lambda trigger)": "dynamodb_streams",
		"SQS FIFO requests": "sqs_fifo_requests", "CloudWatch Logs ingestion": "cloudwatch_logs_gb",
	}[item]
	p, ok := prices[key]
	if !ok {
		return ""
	}
	return fmt.Sprintf("$%g per %s", p.USD, p.Per)
}

func fmtQuantity(q float64) string {
	switch {
	case q >= 1e6:
		return trimFloat(q/1e6, 2) + "M"
	case q >= 1e3:
		return trimFloat(q/1e3, 1) + "k"
	}
	return trimFloat(q, 2)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// Settlement of a million orders (issue 10, `make bench`): the embedded
// DynamoDB cannot hold a million orders in reasonable time (its inserts are
// O(n²), README "Benchmarks"), so the day is served by syntheticDay, a
// settle-index reader that answers the settler's query (SettledAfter: one
// shard, after a sort key, a page) the way the DynamoDB adapter does, minus
// the network: each order of the page is built, marshalled to the item it
// is stored as (store.EncodeOrder, index keys included) and unmarshalled as
// a Query's answer is (store.DecodeOrder). Orders are generated from their
// number, so the reader holds only each shard's order numbers (4 bytes an
// order), never the orders. "read" reads the day once through it; "settle"
// settles it with settlement.Settler as SettleFunction does, checkpoints in
// the bench stack's StatsTable (embedded DynamoDB). The ratio of the two is
// the settler's own cost over a read of the same orders from the same source.

const benchSyntheticMerchant = "2088000000synth"

// syntheticDay is one merchant × Alipay × business day of n paid orders.
type syntheticDay struct {
	n        int
	merchant string
	day      time.Time
	shards   [store.SettleShards][]int32 // each shard's order numbers, ascending
}

func newSyntheticDay(n int, merchant string) *syntheticDay {
	day, _ := time.ParseInLocation(calendar.DayLayout, benchSettleDay, calendar.Shanghai)
	d := &syntheticDay{n: n, merchant: merchant, day: day}
	for i := range n {
		s := store.SettleShardOf(benchSettleOrderID(merchant, i))
		d.shards[s] = append(d.shards[s], int32(i))
	}
	return d
}

// benchSettleOrderID is the id of order i of a bench day (ascending with i,
// so payment time then id order the settle index as i does).
func benchSettleOrderID(merchant string, i int) string {
	return fmt.Sprintf("EPBENCH%s%013d", merchant[len(merchant)-5:], i)
}

// benchSettleOrder is paid order i of n of one merchant's bench day: paid
// through the day at even intervals, 1.00–99.99 yuan.
func benchSettleOrder(day time.Time, merchant string, i, n int) order.Order {
	// i × 24h would overflow int64 nanoseconds beyond ~106,000 orders.
	whole, rest := int64(24*time.Hour)/int64(n), int64(24*time.Hour)%int64(n)
	paid := day.Add(time.Duration(int64(i)*whole + int64(i)*rest/int64(n)))
	return order.Order{ID: benchSettleOrderID(merchant, i), CommunityID: "bench-settle", CompanyID: benchBillsCompany, CodeToken: "bench",
		Channel: domain.Alipay, IfaceID: "bench-alipay", MerchantID: merchant, AppID: "bench-app", AmountFen: int64(100 + i%9900),
		Status: order.Paid, Version: 3, CreatedAt: paid.Add(-time.Minute), ExpireAt: paid.Add(14 * time.Minute), PaidAt: paid,
		ProviderTxnID: fmt.Sprintf("2026113022%014d", i), BusinessDay: calendar.BusinessDay(paid)}
}

// SettledAfter is settlement.OrderReader.
func (d *syntheticDay) SettledAfter(ctx context.Context, partition, after string, limit int32) ([]order.Order, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	cut := strings.LastIndexByte(partition, '#')
	s, err := strconv.Atoi(partition[cut+1:])
	if err != nil || s < 0 || s >= store.SettleShards || partition != store.SettlePartition(domain.Alipay, d.merchant, benchSettleDay, s) {
		return nil, false, nil // another partition: empty, as DynamoDB answers
	}
	list := d.shards[s]
	pos := 0
	if after != "" {
		id := after[strings.LastIndexByte(after, '#')+1:]
		i, err := strconv.Atoi(id[len(id)-13:])
		if err != nil {
			return nil, false, fmt.Errorf("synthetic: sort key %q", after)
		}
		pos = sort.Search(len(list), func(k int) bool { return int(list[k]) > i })
	}
	end := min(pos+int(limit), len(list))
	out := make([]order.Order, 0, end-pos)
	for _, i := range list[pos:end] {
		item, err := store.EncodeOrder(benchSettleOrder(d.day, d.merchant, int(i), d.n))
		if err != nil {
			return nil, false, err
		}
		o, err := store.DecodeOrder(item)
		if err != nil {
			return nil, false, err
		}
		out = append(out, o)
	}
	// DynamoDB returns a LastEvaluatedKey when the page filled up.
	return out, end-pos == int(limit), nil
}

// SyntheticSettleResult is the million (JSON "settlement"): Orders settled
// in Seconds with a peak heap of PeakMiB, and RatioToRead, the settlement
// time over ReadSeconds, reading the same orders once with the settler's
// query shape. Source says where the orders came from.
type SyntheticSettleResult struct {
	Orders       int     `json:"orders"`
	Seconds      float64 `json:"seconds"`
	PeakMiB      float64 `json:"peak_mib"`
	RatioToRead  float64 `json:"ratio_to_read"`
	ReadSeconds  float64 `json:"read_seconds"`
	ReadPeakMiB  float64 `json:"read_peak_mib"`
	NetFen       int64   `json:"net_fen"`
	Queries      int     `json:"queries"`
	OrdersRead   int     `json:"orders_read"`
	QuerySeconds float64 `json:"query_seconds"`
	Source       string  `json:"source"`
}

func (b *bench) measureSyntheticSettlement(ctx context.Context) error {
	n := b.cfg.SettleSynthetic
	read, err := runSettleWorker(ctx, "synthetic-read-after", b.s.URLs.DynamoDB, b.s.Tables["StatsTable"], n)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	set, err := runSettleWorker(ctx, "synthetic-settle", b.s.URLs.DynamoDB, b.s.Tables["StatsTable"], n)
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	if read.Orders != n || set.Orders != n {
		return fmt.Errorf("read %d, settled %d orders, want %d", read.Orders, set.Orders, n)
	}
	r := SyntheticSettleResult{Orders: n, Seconds: round2(set.Seconds), PeakMiB: set.PeakMiB, RatioToRead: round2(set.Seconds / read.Seconds),
		ReadSeconds: round2(read.Seconds), ReadPeakMiB: read.PeakMiB, NetFen: set.NetFen,
		Queries: set.Queries, OrdersRead: set.OrdersRead, QuerySeconds: round2(set.QuerySeconds),
		Source: "synthetic settle-index reader (orders generated, encoded and decoded as DynamoDB items in process); checkpoints in the embedded DynamoDB"}
	progress("  settled %d synthetic orders in %.2fs (peak heap %.1f MiB); read once in %.2fs (%.1f MiB): ratio %.2f; %d queries returned %d orders",
		n, r.Seconds, r.PeakMiB, r.ReadSeconds, r.ReadPeakMiB, r.RatioToRead, r.Queries, r.OrdersRead)
	b.rep.Settlement = &r
	return nil
}

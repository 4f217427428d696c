package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// Settlement at scale (issue 10): -settle-orders paid orders of one merchant ×
// channel × day are written (BatchWriteItem of store.EncodeOrder items) into
// a copy of the OrdersTable (same keys and indexes, no stream: the relay and
// the event consumers stay out of it), then two child processes
// (`settle-worker`, heap sampled as in bills.go) against the bench stack's
// embedded DynamoDB: one reads the N orders once through the settle index
// (store.Orders.Settled, every shard, pages of 200: the floor), the other
// settles the day with settlement.Settler as SettleFunction does (default
// fee schedule, checkpoints in the StatsTable). A third reads the orders
// with the settler's own query shape (SettledAfter: settle_sk > the last key
// read), which the embedded DynamoDB answers several times slower than
// ExclusiveStartKey paging, so the two ratios tell the settler's cost from
// the emulator's. The 1,000,000 orders
// cannot be seeded locally: the embedded DynamoDB re-sorts every key list on
// each insert (README, Benchmarks).

// SettleResult is the settlement measurement against the embedded DynamoDB
// (JSON "settlement_dynamodb").
type SettleResult struct {
	Orders      int     `json:"orders"`
	Seconds     float64 `json:"seconds"`
	PeakMiB     float64 `json:"peak_mib"`
	RatioToRead float64 `json:"ratio_to_read"`
	ReadSeconds float64 `json:"read_seconds"`
	ReadPeakMiB float64 `json:"read_peak_mib"`
	SeedSeconds float64 `json:"seed_seconds"`
	NetFen      int64   `json:"net_fen"`
	// The same reads as the settler makes (SettledAfter: settle_sk > the
	// last key, pages of 200 per shard), once, and settlement over them.
	ReadAfterSeconds float64 `json:"read_after_seconds"`
	RatioToReadAfter float64 `json:"ratio_to_read_after"`
	// The settler's queries, the orders they returned, their time.
	Queries      int     `json:"queries"`
	OrdersRead   int     `json:"orders_read"`
	QuerySeconds float64 `json:"query_seconds"`
}

const (
	benchSettleMerchant = "2088000000bench"
	benchSettleDay      = "2026-11-30"
	benchSettleTable    = "bench-settle-orders"
)

type settleWorkerResult struct {
	Orders  int     `json:"orders"`
	Seconds float64 `json:"seconds"`
	PeakMiB float64 `json:"peak_mib"`
	NetFen  int64   `json:"net_fen"`
	// What the settler's reads cost: queries, orders they returned, seconds.
	Queries      int     `json:"queries"`
	OrdersRead   int     `json:"orders_read"`
	QuerySeconds float64 `json:"query_seconds"`
}

// countingReader counts what the settler reads through the settle index.
type countingReader struct {
	r  settlement.OrderReader
	st *settleWorkerResult
}

func (c *countingReader) SettledAfter(ctx context.Context, partition, after string, limit int32) ([]order.Order, bool, error) {
	t := time.Now()
	os, more, err := c.r.SettledAfter(ctx, partition, after, limit)
	c.st.Queries++
	c.st.OrdersRead += len(os)
	c.st.QuerySeconds += time.Since(t).Seconds()
	return os, more, err
}

func (b *bench) measureSettlement(ctx context.Context) error {
	db := dynamo.Client(b.s.URLs.DynamoDB)
	src, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(b.s.Tables["OrdersTable"])})
	if err != nil {
		return err
	}
	td := src.Table
	in := &dynamodb.CreateTableInput{TableName: aws.String(benchSettleTable), KeySchema: td.KeySchema, BillingMode: types.BillingModePayPerRequest}
	keys := map[string]bool{}
	addKeys := func(ks []types.KeySchemaElement) {
		for _, k := range ks {
			if name := aws.ToString(k.AttributeName); !keys[name] {
				keys[name] = true // every key of the OrdersTable is a string
				in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: k.AttributeName, AttributeType: types.ScalarAttributeTypeS})
			}
		}
	}
	addKeys(td.KeySchema)
	for _, g := range td.GlobalSecondaryIndexes {
		addKeys(g.KeySchema)
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection})
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		return err
	}
	n := b.cfg.Settle
	t := time.Now()
	if err := seedSettleOrders(ctx, db, n); err != nil {
		return err
	}
	seed := time.Since(t)
	progress("  seeded %d orders in %s", n, seed.Round(time.Millisecond))
	read, err := runSettleWorker(ctx, "read", b.s.URLs.DynamoDB, b.s.Tables["StatsTable"], n)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	after, err := runSettleWorker(ctx, "read-after", b.s.URLs.DynamoDB, b.s.Tables["StatsTable"], n)
	if err != nil {
		return fmt.Errorf("read-after: %w", err)
	}
	set, err := runSettleWorker(ctx, "settle", b.s.URLs.DynamoDB, b.s.Tables["StatsTable"], n)
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	if read.Orders != n || after.Orders != n || set.Orders != n {
		return fmt.Errorf("read %d (%d), settled %d orders, want %d", read.Orders, after.Orders, set.Orders, n)
	}
	r := SettleResult{Orders: n, Seconds: round2(set.Seconds), PeakMiB: set.PeakMiB, RatioToRead: round2(set.Seconds / read.Seconds),
		ReadSeconds: round2(read.Seconds), ReadPeakMiB: read.PeakMiB, SeedSeconds: round2(seed.Seconds()), NetFen: set.NetFen,
		ReadAfterSeconds: round2(after.Seconds), RatioToReadAfter: round2(set.Seconds / after.Seconds),
		Queries: set.Queries, OrdersRead: set.OrdersRead, QuerySeconds: round2(set.QuerySeconds)}
	progress("  the settler: %d queries returned %d orders in %.2fs", set.Queries, set.OrdersRead, set.QuerySeconds)
	progress("  settled %d orders in %.2fs (peak heap %.1f MiB); read once in %.2fs (%.1f MiB): ratio %.2f; read as the settler does in %.2fs: ratio %.2f",
		n, r.Seconds, r.PeakMiB, r.ReadSeconds, r.ReadPeakMiB, r.RatioToRead, r.ReadAfterSeconds, r.RatioToReadAfter)
	b.rep.SettlementDynamoDB = &r
	return nil
}

// seedSettleOrders writes n paid orders of one merchant × channel × day,
// 25 to a BatchWriteItem, four writers at a time.
func seedSettleOrders(ctx context.Context, db *dynamodb.Client, n int) error {
	day, _ := time.ParseInLocation(calendar.DayLayout, benchSettleDay, calendar.Shanghai)
	jobs := make(chan []types.WriteRequest)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reqs := range jobs {
				for len(reqs) > 0 {
					out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{benchSettleTable: reqs}})
					if err != nil {
						errs <- err
						return
					}
					reqs = out.UnprocessedItems[benchSettleTable]
				}
			}
		}()
	}
	var err error
	var batch []types.WriteRequest
	for i := 0; i < n && err == nil; i++ {
		o := benchSettleOrder(day, benchSettleMerchant, i, n)
		item, e := store.EncodeOrder(o)
		if e != nil {
			err = e
			break
		}
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(batch) == 25 || i == n-1 {
			select {
			case jobs <- batch:
			case err = <-errs:
			}
			batch = nil
		}
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err = <-errs:
	default:
	}
	return err
}

func runSettleWorker(ctx context.Context, mode, endpoint, stats string, n int) (settleWorkerResult, error) {
	return runWorker[settleWorkerResult](ctx, "settle-worker", mode, endpoint, stats, strconv.Itoa(n))
}

// settleWorker is the child: `bench settle-worker read|settle <dynamodb> <stats table> <orders>`.
func settleWorker(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: settle-worker read|settle <dynamodb url> <stats table> <orders>")
	}
	db := dynamo.Client(args[1])
	orders := &store.Orders{DB: db, Table: benchSettleTable}
	var reader settlement.OrderReader = orders
	merchant := benchSettleMerchant
	mode := args[0]
	if m, ok := strings.CutPrefix(mode, "synthetic-"); ok { // the million: settle_synthetic.go
		n, err := strconv.Atoi(args[3])
		if err != nil || n < 1 {
			return fmt.Errorf("orders: %q", args[3])
		}
		merchant, mode = benchSyntheticMerchant, m
		reader = newSyntheticDay(n, merchant)
	}
	ctx := context.Background()
	runtime.GC()
	hp := startHeapSampler()
	t := time.Now()
	var r settleWorkerResult
	switch mode {
	case "read":
		for i := range store.SettleShards {
			var start map[string]types.AttributeValue
			for {
				p, err := orders.Settled(ctx, store.SettlePartition(domain.Alipay, merchant, benchSettleDay, i), start, 200)
				if err != nil {
					return err
				}
				r.Orders += len(p.Orders)
				if start = p.Next; start == nil {
					break
				}
			}
		}
	case "read-after": // the settler's own query shape: settle_sk > the last key read
		for i := range store.SettleShards {
			after := ""
			for {
				os, more, err := reader.SettledAfter(ctx, store.SettlePartition(domain.Alipay, merchant, benchSettleDay, i), after, 200)
				if err != nil {
					return err
				}
				r.Orders += len(os)
				if !more || len(os) == 0 {
					break
				}
				after = store.SettleSortKey(os[len(os)-1].PaidAt, os[len(os)-1].ID)
			}
		}
	case "settle":
		repo := &store.Settlements{DB: db, Table: args[2]}
		s := &settlement.Settler{Orders: &countingReader{r: reader, st: &r}, Repo: repo, Schedule: dsettle.DefaultSchedule(), Holds: repo.Holds}
		sts, err := s.Settle(ctx, settlement.Request{CompanyID: benchBillsCompany, Merchant: merchant, Channel: domain.Alipay, Day: benchSettleDay})
		if err != nil {
			return err
		}
		for _, st := range sts {
			r.Orders += int(st.Count)
			r.NetFen += st.NetFen
		}
	default:
		return fmt.Errorf("mode %q", args[0])
	}
	r.Seconds = time.Since(t).Seconds()
	r.PeakMiB = hp.Stop()
	return json.NewEncoder(os.Stdout).Encode(r)
}

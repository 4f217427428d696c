package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/store"
)

// Bills at scale (issue 8 "Done when": importing 100k bills and paging
// through 100k records, time and peak memory). Each measurement runs in a
// child process of its own (this binary, `bills-worker`), against the
// bench stack's embedded DynamoDB, so its heap is the importer's or the
// export's alone — the embedded DynamoDB, which holds the 100k items, stays
// in the parent. The child samples the live heap
// (runtime/metrics /memory/classes/heap/objects:bytes) every millisecond.
//
//   - import: a 100k-row bills CSV (5,000 houses × 20 months, amounts from
//     the fee items) through bills.Importer exactly as the console's 导入:
//     Start (read and check every row, keep the checked rows as gzipped
//     chunks), then Run in 5-second slices (one request each in the cloud)
//     until done. The houses are imported first, not measured.
//   - paging: the CSV export of all 100k bills (store.Bills.EachCommunityBill
//     page by page, bills.WriteCSV, gzip into memory) — the path of
//     GET /admin/api/communities/{id}/bills.csv.

// BillsResult is one measurement of the bills at scale.
type BillsResult struct {
	What        string  `json:"what"`
	Rows        int     `json:"rows"`
	Seconds     float64 `json:"seconds"`
	PeakHeapMiB float64 `json:"peak_heap_mib"`
	BaseHeapMiB float64 `json:"base_heap_mib"` // live heap when the measurement began
	Detail      string  `json:"detail,omitempty"`
}

const (
	benchBillsCompany   = "bench-company"
	benchBillsCommunity = "bench-bills"
	benchBillsMonths    = 20
)

// measureBills runs both measurements in child processes.
func (b *bench) measureBills(ctx context.Context) error {
	table := b.s.Tables["BillsTable"]
	if table == "" {
		return fmt.Errorf("no BillsTable in the stack")
	}
	for _, mode := range []string{"import", "page"} {
		t := time.Now()
		r, err := runBillsWorker(ctx, mode, b.s.URLs.DynamoDB, table, b.cfg.Bills)
		if err != nil {
			return fmt.Errorf("bills %s: %w", mode, err)
		}
		progress("  %s: %d rows in %.1fs, peak heap %.1f MiB (child ran %s)", r.What, r.Rows, r.Seconds, r.PeakHeapMiB, time.Since(t).Round(time.Millisecond))
		b.rep.Bills = append(b.rep.Bills, r)
		switch {
		case b.cfg.Bills != 100_000:
		case mode == "import":
			b.rep.Import100kSeconds, b.rep.Import100kPeakMiB = &r.Seconds, &r.PeakHeapMiB
		default:
			b.rep.Paging100kSeconds, b.rep.Paging100kPeakMiB = &r.Seconds, &r.PeakHeapMiB
		}
	}
	return nil
}

func runBillsWorker(ctx context.Context, mode, endpoint, table string, n int) (BillsResult, error) {
	return runWorker[BillsResult](ctx, "bills-worker", mode, endpoint, table, strconv.Itoa(n))
}

// runWorker runs this program again as a child measurement (`bench <args>`:
// its own heap, sampled alone) and decodes the JSON result it prints.
func runWorker[R any](ctx context.Context, args ...string) (R, error) {
	var r R
	exe, err := os.Executable()
	if err != nil {
		return r, err
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return r, fmt.Errorf("%w: %s", err, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("worker said %q: %w", out.String(), err)
	}
	return r, nil
}

// billsWorker is the child: `bench bills-worker import|page <dynamodb> <table> <rows>`.
func billsWorker(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: bills-worker import|page <dynamodb url> <table> <rows>")
	}
	n, err := strconv.Atoi(args[3])
	if err != nil || n < benchBillsMonths {
		return fmt.Errorf("rows: %q", args[3])
	}
	st := &store.Store{DB: dynamo.Client(args[1]), Bills: args[2]}
	ctx := context.Background()
	var r BillsResult
	switch args[0] {
	case "import":
		r, err = benchImport(ctx, st, n)
	case "page":
		r, err = benchPaging(ctx, st)
	default:
		return fmt.Errorf("mode %q", args[0])
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// heapSampler tracks the largest live heap while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	h.peak.Store(liveHeap())
	go func() {
		defer close(h.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				if v := liveHeap(); v > h.peak.Load() {
					h.peak.Store(v)
				}
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() float64 {
	close(h.stop)
	<-h.done
	if v := liveHeap(); v > h.peak.Load() {
		h.peak.Store(v)
	}
	return mib(h.peak.Load())
}

func mib(b uint64) float64 { return float64(b*10/(1<<20)) / 10 }

func runImport(ctx context.Context, im *bills.Importer, f bills.Files) (bills.Job, error) {
	j, err := im.Start(ctx, benchBillsCompany, benchBillsCommunity, f, "bench")
	if err != nil {
		return j, err
	}
	if j.State == bills.JobFailed {
		return j, fmt.Errorf("refused: %d errors, first %v", j.ErrorCount, j.Errors[:min(3, len(j.Errors))])
	}
	for j.State == bills.JobWriting {
		if j, err = im.Run(ctx, benchBillsCompany, j.ID, time.Now().Add(5*time.Second)); err != nil {
			return j, err
		}
	}
	return j, nil
}

func benchImport(ctx context.Context, st *store.Store, n int) (BillsResult, error) {
	houses := n / benchBillsMonths
	place := func(i int) string { return fmt.Sprintf("%d,%d,%d", 1+i/200, 1+i/100%2, 101+i%100) }
	var hs strings.Builder
	hs.WriteString("楼栋,单元,房号,业主姓名,手机号,面积\n")
	for i := range houses {
		fmt.Fprintf(&hs, "%s,业主%d,139%08d,%d.5\n", place(i), i, i, 60+i%80)
	}
	fee, err := bill.NewFeeItem(bill.FeeItem{CompanyID: benchBillsCompany, CommunityID: benchBillsCommunity, Name: "物业费", PerM2Fen: 250, Cycle: bill.Monthly}, time.Now())
	if err != nil {
		return BillsResult{}, err
	}
	if err := st.HouseRepo().PutFeeItem(ctx, fee); err != nil {
		return BillsResult{}, err
	}
	seq := 0
	im := &bills.Importer{Store: st.ImportRepo(), Now: time.Now, NewID: func() string { seq++; return fmt.Sprintf("imp-bench-%d-%d", time.Now().UnixNano(), seq) }}
	if _, err := runImport(ctx, im, bills.Files{Houses: []byte(hs.String()), HousesName: "houses.csv"}); err != nil {
		return BillsResult{}, fmt.Errorf("houses: %w", err)
	}
	var bs bytes.Buffer
	bs.WriteString("楼栋,单元,房号,收费项目,账期,金额,到期日\n")
	for m := range benchBillsMonths {
		for i := range houses {
			fmt.Fprintf(&bs, "%s,物业费,%d-%02d,,\n", place(i), 2025+m/12, 1+m%12)
		}
	}
	file := bs.Bytes()
	runtime.GC()
	base := liveHeap()
	hp := startHeapSampler()
	t := time.Now()
	j, err := runImport(ctx, im, bills.Files{Bills: file, BillsName: "bills.csv"})
	took := time.Since(t)
	peak := hp.Stop()
	if err != nil {
		return BillsResult{}, fmt.Errorf("bills: %w", err)
	}
	if j.Created != houses*benchBillsMonths {
		return BillsResult{}, fmt.Errorf("bills: created %d, want %d", j.Created, houses*benchBillsMonths)
	}
	return BillsResult{What: "import bills (CSV → bills.Importer → BillsTable)", Rows: j.Created, Seconds: round2(took.Seconds()), PeakHeapMiB: peak, BaseHeapMiB: mib(base),
		Detail: fmt.Sprintf("file %.1f MiB, %d chunks of %d rows, %d houses", float64(len(file))/(1<<20), j.Chunks, j.ChunkRows, houses)}, nil
}

func benchPaging(ctx context.Context, st *store.Store) (BillsResult, error) {
	runtime.GC()
	base := liveHeap()
	hp := startHeapSampler()
	t := time.Now()
	var body bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&body, gzip.BestSpeed)
	rows := 0
	err := bills.WriteCSV(zw, func(fn func(bill.Bill) error) error {
		return st.BillRepo().EachCommunityBill(ctx, benchBillsCompany, benchBillsCommunity, store.BillFilter{}, func(b bill.Bill) error { rows++; return fn(b) })
	}, func(s bill.Status) string { return string(s) }, func(s string) string { return s })
	if err == nil {
		err = zw.Close()
	}
	took := time.Since(t)
	peak := hp.Stop()
	if err != nil {
		return BillsResult{}, err
	}
	return BillsResult{What: "page through bills (bills.csv export: index pages → CSV → gzip)", Rows: rows, Seconds: round2(took.Seconds()), PeakHeapMiB: peak, BaseHeapMiB: mib(base),
		Detail: fmt.Sprintf("gzipped CSV %.2f MiB", float64(body.Len())/(1<<20))}, nil
}

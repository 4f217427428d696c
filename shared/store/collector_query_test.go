package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// collected creates and pays an order of collector in company co, made at
// created (so its place in the index), with payer fields.
func collected(t *testing.T, r *store.Orders, id, co, collector string, amount int64, created time.Time, fields map[string]string) order.Order {
	t.Helper()
	o := newOrder(t, id, "c1", amount, created)
	o.CompanyID, o.CollectorID, o.Fields = co, collector, fields
	mustCreate(t, r, o)
	paid, err := r.Update(context.Background(), id, func(o *order.Order) error { return o.Pay(payment(amount, created.Add(30*time.Second), "T"+id)) })
	if err != nil {
		t.Fatal(err)
	}
	return paid
}

// The collector index holds paid orders with a collector, under
// company#staff and created_at#id; an unpaid one, or one without a
// collector, is not in it.
func TestCollectorIndexKeys(t *testing.T) {
	s := newStore(t)
	r := s.OrderRepo()
	ctx := context.Background()
	o := newOrder(t, "EPCOLLKEYS0000000000000000001", "c1", 100, t0)
	o.CollectorID = "mgr-1"
	mustCreate(t, r, o)
	if got := attr(rawItem(t, s, o.ID), "coll_pk"); got != "" {
		t.Fatalf("unpaid order in the collector index under %q", got)
	}
	if _, err := r.Update(ctx, o.ID, func(o *order.Order) error { return o.Pay(payment(100, t0.Add(time.Minute), "T1")) }); err != nil {
		t.Fatal(err)
	}
	item := rawItem(t, s, o.ID)
	if got := attr(item, "coll_pk"); got != "co-1#mgr-1" {
		t.Errorf("coll_pk = %q", got)
	}
	if got, want := attr(item, "coll_sk"), "2025-03-01T08:00:00.000Z#"+o.ID; got != want {
		t.Errorf("coll_sk = %q, want %q", got, want)
	}
	if got, err := r.Get(ctx, o.ID); err != nil || got.CollectorID != "mgr-1" {
		t.Errorf("read back: %+v %v", got.CollectorID, err)
	}
	n := newOrder(t, "EPCOLLKEYS0000000000000000002", "c1", 100, t0)
	mustCreate(t, r, n)
	if _, err := r.Update(ctx, n.ID, func(o *order.Order) error { return o.Pay(payment(100, t0.Add(time.Minute), "T2")) }); err != nil {
		t.Fatal(err)
	}
	if got := attr(rawItem(t, s, n.ID), "coll_pk"); got != "" {
		t.Errorf("a community code's payment in the collector index under %q", got)
	}
}

// 收款记录 (M6): newest first, 15 a page, to the end with no empty last
// page; a cut-off date jumps to records on or before it (Asia/Shanghai); a
// keyword matches payer fields, the amount in yuan, the order id; another
// manager's (or company's) records never appear.
func TestQueryCollectedPagesCutOffKeyword(t *testing.T) {
	s := newStore(t)
	r := s.OrderRepo()
	ctx := context.Background()
	// 32 payments of mgr-1, one every 12 hours from 2025-03-01 08:00 UTC (16:00 in Shanghai).
	var all []order.Order
	for i := range 32 {
		fields := map[string]string{"company": fmt.Sprintf("客户%02d", i)}
		if i%10 == 3 {
			fields["company"] = "星光贸易有限公司"
		}
		all = append(all, collected(t, r, fmt.Sprintf("EPCOLLPAGE%018d", i), "co-1", "mgr-1", int64(1000+i), t0.Add(time.Duration(i)*12*time.Hour), fields))
	}
	// Someone else's: another manager of the company, the same staff id in another company, an unpaid order of mgr-1.
	collected(t, r, "EPCOLLOTHER00000000000000001", "co-1", "mgr-2", 1005, t0.Add(time.Hour), map[string]string{"company": "星光贸易有限公司"})
	collected(t, r, "EPCOLLOTHER00000000000000002", "co-2", "mgr-1", 1005, t0.Add(time.Hour), map[string]string{"company": "星光贸易有限公司"})
	unpaid := newOrder(t, "EPCOLLOTHER00000000000000003", "c1", 1005, t0.Add(500*time.Hour))
	unpaid.CollectorID = "mgr-1"
	mustCreate(t, r, unpaid)

	newestFirst := make([]string, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		newestFirst = append(newestFirst, all[i].ID)
	}
	walk := func(f store.CollectedFilter) ([]string, []int) {
		t.Helper()
		var got []string
		var sizes []int
		cur := ""
		for range 10 {
			p, err := r.QueryCollected(ctx, "co-1", "mgr-1", f, cur)
			if err != nil {
				t.Fatal(err)
			}
			got, sizes = append(got, ids(p.Orders)...), append(sizes, len(p.Orders))
			if cur = p.Next; cur == "" {
				return got, sizes
			}
		}
		t.Fatal("more than 10 pages")
		return nil, nil
	}
	got, sizes := walk(store.CollectedFilter{})
	if fmt.Sprint(sizes) != "[15 15 2]" || fmt.Sprint(got) != fmt.Sprint(newestFirst) {
		t.Fatalf("pages %v: %v", sizes, got)
	}
	// A cut-off at the day of the 29th record (16:00 in Shanghai: the 30th
	// is made the next morning).
	got, sizes = walk(store.CollectedFilter{Before: calendar.BusinessDay(all[28].CreatedAt)})
	if fmt.Sprint(sizes) != "[15 14]" || fmt.Sprint(got) != fmt.Sprint(newestFirst[3:]) {
		t.Fatalf("29 records: pages %v: %v", sizes, got)
	}
	// Exactly a page's worth: no second, empty page.
	for i := range 15 {
		collected(t, r, fmt.Sprintf("EPCOLLFULL%018d", i), "co-1", "mgr-3", 100, t0.Add(time.Duration(i)*time.Minute), nil)
	}
	if p, err := r.QueryCollected(ctx, "co-1", "mgr-3", store.CollectedFilter{}, ""); err != nil || len(p.Orders) != 15 || p.Next != "" {
		t.Fatalf("15 records: %d, next %q, %v", len(p.Orders), p.Next, err)
	}
	// Cut-off 2025-03-05 (Shanghai): records made on or before it, i.e. made before 2025-03-05T16:00Z.
	got, _ = walk(store.CollectedFilter{Before: "2025-03-05"})
	var want []string
	for _, id := range newestFirst {
		for _, o := range all {
			if o.ID == id && calendar.BusinessDay(o.CreatedAt) <= "2025-03-05" {
				want = append(want, id)
			}
		}
	}
	if len(want) != 9 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cut-off: %v, want %v", got, want)
	}
	// Keywords: a payer field (part of it), the amount, the order id.
	for _, tc := range []struct {
		kw   string
		want []string
	}{
		{"星光贸易", []string{all[23].ID, all[13].ID, all[3].ID}},
		{"10.07", []string{all[7].ID}},
		{"客户3", []string{all[31].ID, all[30].ID}},
		{"epcollpage000000000000000012", []string{all[12].ID}},
		{"没有这个", nil},
	} {
		got, _ := walk(store.CollectedFilter{Keyword: tc.kw})
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("keyword %q: %v, want %v", tc.kw, got, tc.want)
		}
	}
	// A keyword with a cut-off date.
	if got, _ := walk(store.CollectedFilter{Keyword: "星光", Before: "2025-03-07"}); fmt.Sprint(got) != fmt.Sprint([]string{all[3].ID}) {
		t.Errorf("keyword and cut-off: %v", got)
	}
	// The other manager sees only theirs.
	if p, err := r.QueryCollected(ctx, "co-1", "mgr-2", store.CollectedFilter{}, ""); err != nil || fmt.Sprint(ids(p.Orders)) != "[EPCOLLOTHER00000000000000001]" {
		t.Errorf("mgr-2: %v %v", ids(p.Orders), err)
	}
	// Bad input.
	first, _ := r.QueryCollected(ctx, "co-1", "mgr-1", store.CollectedFilter{}, "")
	for _, bad := range []string{"x", "eyJzIjoiYSIsImkiOiJiIn0"} {
		if _, err := r.QueryCollected(ctx, "co-1", "mgr-1", store.CollectedFilter{}, bad); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	// A cursor past the cut-off date is refused (DynamoDB would be too).
	if _, err := r.QueryCollected(ctx, "co-1", "mgr-1", store.CollectedFilter{Before: "2025-03-02"}, first.Next); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("cursor beyond the cut-off: %v", err)
	}
	for _, f := range []store.CollectedFilter{{Before: "2025-3-1"}, {Keyword: string(make([]rune, 51))}} {
		if _, err := r.QueryCollected(ctx, "co-1", "mgr-1", f, ""); !errors.Is(err, store.ErrBadFilter) {
			t.Errorf("filter %+v: %v", f, err)
		}
	}
}

// A keyword page reads at most 300 records in its one Query: when none of
// them match it is empty with a cursor, and the next page finds the match
// beyond them (the app keeps loading while next is set).
func TestQueryCollectedKeywordPageIsOneQuery(t *testing.T) {
	s := newStore(t)
	r := s.OrderRepo()
	ctx := context.Background()
	for i := range 310 {
		company := "乙"
		if i == 0 {
			company = "星光贸易"
		}
		collected(t, r, fmt.Sprintf("EPCOLLKW%020d", i), "co-1", "mgr-k", 100, t0.Add(time.Duration(i)*time.Minute), map[string]string{"company": company})
	}
	p, err := r.QueryCollected(ctx, "co-1", "mgr-k", store.CollectedFilter{Keyword: "星光"}, "")
	if err != nil || len(p.Orders) != 0 || p.Next == "" {
		t.Fatalf("first keyword page: %d records, next %q, %v", len(p.Orders), p.Next, err)
	}
	p, err = r.QueryCollected(ctx, "co-1", "mgr-k", store.CollectedFilter{Keyword: "星光"}, p.Next)
	if err != nil || len(p.Orders) != 1 || p.Orders[0].ID != "EPCOLLKW00000000000000000000" || p.Next != "" {
		t.Fatalf("second keyword page: %v, next %q, %v", ids(p.Orders), p.Next, err)
	}
}

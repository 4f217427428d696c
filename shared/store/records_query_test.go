package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// seedRecord stores a paid order of community paid at paidAt, refunded an
// hour later when refunded is set.
func seedRecord(t *testing.T, r *store.Orders, id, community string, ch domain.Channel, amount int64, paidAt time.Time, refunded bool, fields map[string]string) order.Order {
	t.Helper()
	ctx := context.Background()
	o, err := order.New(order.Order{
		ID: id, CommunityID: community, CompanyID: "co-1", CodeToken: "tok-" + community, Channel: ch,
		IfaceID: "if-" + string(ch), MerchantID: "M-" + string(ch), AppID: "APP-" + string(ch),
		AmountFen: amount, Description: "物业费", RequestHash: "h-" + id, Fields: fields, HouseID: fields["house"],
	}, paidAt.Add(-time.Minute), 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	p := order.Payment{ProviderTxnID: "TXN-" + id, AmountFen: amount, PaidAt: paidAt, MerchantID: o.MerchantID, AppID: o.AppID, PayerID: "payer-" + id}
	o, err = r.Update(ctx, id, func(x *order.Order) error { return x.Pay(p) })
	if err != nil {
		t.Fatal(err)
	}
	if refunded {
		o, err = r.Update(ctx, id, func(x *order.Order) error { return x.Refund(p, paidAt.Add(time.Hour)) })
		if err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// shanghai is a wall-clock time in Asia/Shanghai.
func shanghai(day string, hh, mm int) time.Time {
	return calendar.Day(day).Start().Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

// recordsFixture seeds 30 records of community "c-rec" over three business
// days, mixed channels, amounts, statuses and payer fields, plus records of
// another community, and returns c-rec's newest first.
func recordsFixture(t *testing.T) (*store.Orders, []order.Order) {
	t.Helper()
	r := newStore(t).OrderRepo()
	var all []order.Order
	days := []string{"2026-03-01", "2026-03-02", "2026-03-03"}
	for i := range 30 {
		day := days[i%3]
		// 00:00 and 23:59 Shanghai (the day's edges: 16:00 UTC the day before,
		// 15:59 UTC the day itself) and times in between.
		at := []time.Time{shanghai(day, 0, 0), shanghai(day, 23, 59), shanghai(day, 9, i)}[i%3]
		at = at.Add(time.Duration(i) * time.Second)
		ch := domain.Alipay
		if i%2 == 0 {
			ch = domain.WeChat
		}
		fields := map[string]string{"room": fmt.Sprintf("%d-%d0%d", i%4+1, i%3+1, i%5)}
		if i == 7 {
			fields["owner"] = "Zhang 张三"
		}
		if i%10 == 3 { // notice payments of one house
			fields["house"] = "H-3"
		}
		o := seedRecord(t, r, fmt.Sprintf("EPREC%02d", i), "c-rec", ch, int64(100*(i+1)), at, i%5 == 0, fields)
		all = append(all, o)
	}
	seedRecord(t, r, "EPOTHER1", "c-other", domain.WeChat, 500, shanghai("2026-03-02", 10, 0), false, map[string]string{"room": "1-101"})
	slices.SortFunc(all, func(a, b order.Order) int { return b.PaidAt.Compare(a.PaidAt) })
	return r, all
}

func ids(os []order.Order) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.ID
	}
	return out
}

// collect pages through a query with page size n and returns every record.
func collect(t *testing.T, r *store.Orders, f store.RecordFilter, n int) []order.Order {
	t.Helper()
	var got []order.Order
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		page, err := r.QueryRecords(context.Background(), "c-rec", f, cursor, n)
		if err != nil {
			t.Fatalf("QueryRecords(%+v, %q): %v", f, cursor, err)
		}
		if len(page.Orders) > n {
			t.Fatalf("page of %d records, limit %d", len(page.Orders), n)
		}
		if page.Next != "" && len(page.Orders) < n {
			t.Fatalf("short page (%d of %d) with a cursor: the query must read on until the page is full", len(page.Orders), n)
		}
		got = append(got, page.Orders...)
		if page.Next == "" {
			return got
		}
		cursor = page.Next
	}
}

func TestQueryRecordsFiltersAndPages(t *testing.T) {
	r, all := recordsFixture(t)
	want := func(f store.RecordFilter) []string {
		var out []order.Order
		for _, o := range all {
			if f.Matches(o) {
				out = append(out, o)
			}
		}
		return ids(out)
	}
	for _, tc := range []struct {
		name string
		f    store.RecordFilter
		n    int // expected count, checked against the fixture by hand
	}{
		{"everything", store.RecordFilter{}, 30},
		{"one day", store.RecordFilter{From: "2026-03-02", To: "2026-03-02"}, 10},
		{"from a day on", store.RecordFilter{From: "2026-03-02"}, 20},
		{"up to a day", store.RecordFilter{To: "2026-03-01"}, 10},
		{"days with nothing", store.RecordFilter{From: "2026-04-01", To: "2026-04-30"}, 0},
		{"channel", store.RecordFilter{Channel: domain.WeChat}, 15},
		{"refunded", store.RecordFilter{Status: order.Refunded}, 6},
		{"paid", store.RecordFilter{Status: order.Paid}, 24},
		{"amount range", store.RecordFilter{MinFen: 500, MaxFen: 1000}, 6},
		{"at least", store.RecordFilter{MinFen: 2501}, 5},
		{"keyword in a field", store.RecordFilter{Keyword: "张三"}, 1},
		{"keyword ignores case", store.RecordFilter{Keyword: "zhang"}, 1},
		{"keyword room", store.RecordFilter{Keyword: "1-10"}, 3},
		{"keyword order id", store.RecordFilter{Keyword: "eprec1"}, 10},
		{"keyword txn", store.RecordFilter{Keyword: "TXN-EPREC29"}, 1},
		{"house", store.RecordFilter{HouseID: "H-3"}, 3},
		{"house and channel", store.RecordFilter{HouseID: "H-3", Channel: domain.Alipay}, 3},
		{"everything at once", store.RecordFilter{From: "2026-03-01", To: "2026-03-02", Channel: domain.Alipay, Status: order.Paid, MinFen: 200, MaxFen: 2000}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := want(tc.f)
			if len(w) != tc.n {
				t.Fatalf("fixture: %d records match, the test expects %d", len(w), tc.n)
			}
			for _, n := range []int{1, 4, 7, 200} {
				got := ids(collect(t, r, tc.f, n))
				if !slices.Equal(got, w) {
					t.Fatalf("page size %d:\n got %v\nwant %v", n, got, w)
				}
			}
		})
	}
}

func TestQueryRecordsDaysAreShanghaiDays(t *testing.T) {
	r := newStore(t).OrderRepo()
	// 2026-03-01 16:00 UTC is 2026-03-02 00:00 in Shanghai: the 2nd, not the 1st.
	early := seedRecord(t, r, "EPEDGE1", "c-rec", domain.Alipay, 100, time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC), false, nil)
	late := seedRecord(t, r, "EPEDGE2", "c-rec", domain.Alipay, 100, time.Date(2026, 3, 1, 15, 59, 59, 999e6, time.UTC), false, nil)
	got := ids(collect(t, r, store.RecordFilter{From: "2026-03-02", To: "2026-03-02"}, 10))
	if !slices.Equal(got, []string{early.ID}) {
		t.Fatalf("2026-03-02: %v, want %v", got, []string{early.ID})
	}
	got = ids(collect(t, r, store.RecordFilter{To: "2026-03-01"}, 10))
	if !slices.Equal(got, []string{late.ID}) {
		t.Fatalf("up to 2026-03-01: %v, want %v", got, []string{late.ID})
	}
}

func TestQueryRecordsRefusesBadInput(t *testing.T) {
	r, all := recordsFixture(t)
	ctx := context.Background()
	for _, f := range []store.RecordFilter{
		{From: "2026-3-1"}, {To: "yesterday"}, {From: "2026-03-02", To: "2026-03-01"},
		{Channel: "unionpay"}, {Status: order.Pending}, {MinFen: -1}, {MinFen: 500, MaxFen: 100},
		{Keyword: string(make([]rune, store.MaxKeywordRunes+1))},
	} {
		_, err := r.QueryRecords(ctx, "c-rec", f, "", 10)
		if !errors.Is(err, store.ErrBadFilter) || store.FilterMessage(err) == "" {
			t.Errorf("%+v: %v, want ErrBadFilter", f, err)
		}
	}
	for _, n := range []int{0, store.MaxRecordsPage + 1} {
		if _, err := r.QueryRecords(ctx, "c-rec", store.RecordFilter{}, "", n); !errors.Is(err, store.ErrBadFilter) {
			t.Errorf("limit %d: %v", n, err)
		}
	}
	// Cursors: garbage, another community's, and one outside the days asked for.
	page, err := r.QueryRecords(ctx, "c-rec", store.RecordFilter{}, "", 3)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	for name, tc := range map[string]struct {
		community, cursor string
		f                 store.RecordFilter
	}{
		"garbage":         {"c-rec", "not-a-cursor", store.RecordFilter{}},
		"other community": {"c-other", page.Next, store.RecordFilter{}},
		"outside days":    {"c-rec", page.Next, store.RecordFilter{To: calendar.BusinessDay(all[len(all)-1].PaidAt)}},
	} {
		if _, err := r.QueryRecords(ctx, tc.community, tc.f, tc.cursor, 3); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: %v, want ErrBadCursor", name, err)
		}
	}
}

func TestEachRecordWalksEverythingThatMatches(t *testing.T) {
	r, all := recordsFixture(t)
	f := store.RecordFilter{Channel: domain.Alipay, Keyword: "-"}
	var want, got []string
	for _, o := range all {
		if f.Matches(o) {
			want = append(want, o.ID)
		}
	}
	err := r.EachRecord(context.Background(), "c-rec", f, func(o order.Order) error {
		got = append(got, o.ID)
		return nil
	})
	if err != nil || !slices.Equal(got, want) || len(want) != 15 {
		t.Fatalf("EachRecord: %v %v, want %v", got, err, want)
	}
	// fn's error stops the walk and comes back.
	stop := errors.New("stop")
	n := 0
	err = r.EachRecord(context.Background(), "c-rec", store.RecordFilter{}, func(order.Order) error {
		n++
		if n == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 4 {
		t.Fatalf("EachRecord after stop: %v, %d calls", err, n)
	}
}

package store_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/store"
)

var statsNow = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai

func newStats(t *testing.T) *store.Stats {
	t.Helper()
	st := stacktest.NewStore(t)
	return &store.Stats{DB: st.DB, Table: "StatsTable", Clock: func() time.Time { return statsNow }}
}

// statEvent is the event of order id reaching version v: payment.succeeded
// (from PENDING) or order.refunded (from `from`).
func statEvent(id string, v int64, typ string, from order.Status, company, community, channel string, amount int64, day calendar.Day) order.Event {
	status := order.Paid
	if typ == order.EventRefunded {
		status = order.Refunded
	}
	return order.Event{
		ID: id + ":" + strconv.FormatInt(v, 10), Type: typ, Aggregate: "order", OrderID: id, Version: v, From: from, Status: status,
		CompanyID: company, CommunityID: community, Channel: channel, AmountFen: amount, BusinessDay: day, At: statsNow,
	}
}

func paid(id, community, channel string, amount int64, day calendar.Day) order.Event {
	return statEvent(id, 3, order.EventPaid, order.Pending, "co1", community, channel, amount, day)
}

// refunded is a refund.succeeded of (part of) order id's payment.
func refunded(id, community, channel string, amount int64, day calendar.Day) order.Event {
	ev := statEvent(id, 4, refund.EventSucceeded, order.Paid, "co1", community, channel, amount, day)
	ev.ID, ev.Aggregate, ev.RefundID = "RF"+id+":2", "refund", "RF"+id
	return ev
}

func mustAdd(t *testing.T, s *store.Stats, ev order.Event, want store.StatResult) {
	t.Helper()
	got, err := s.Add(context.Background(), ev)
	if err != nil || got != want {
		t.Fatalf("Add(%s %s) = %q, %v; want %q", ev.Type, ev.ID, got, err, want)
	}
}

func daily(t *testing.T, s *store.Stats, company string, communities []string, from, to calendar.Day) []store.DailyStat {
	t.Helper()
	out, err := s.Daily(context.Background(), company, communities, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func cell(t *testing.T, s *store.Stats, community string, day calendar.Day, channel string) store.DailyStat {
	t.Helper()
	for _, d := range daily(t, s, "co1", []string{community}, day, day) {
		if d.Channel == channel {
			return d
		}
	}
	return store.DailyStat{}
}

func TestStatsPaymentCountedOnce(t *testing.T) {
	s := newStats(t)
	const day = calendar.Day("2026-11-29")
	mustAdd(t, s, paid("EP1", "c1", "alipay", 1234, day), store.StatCounted)
	mustAdd(t, s, paid("EP1", "c1", "alipay", 1234, day), store.StatDuplicate)
	mustAdd(t, s, paid("EP2", "c1", "alipay", 66, day), store.StatCounted)
	got := cell(t, s, "c1", day, "alipay")
	want := store.DailyStat{CompanyID: "co1", CommunityID: "c1", Day: day, Channel: "alipay", Count: 2, AmountFen: 1300}
	if got != want {
		t.Fatalf("aggregate = %+v, want %+v", got, want)
	}
	// The marker expires 7 days after it was written (the injected clock).
	res, err := s.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("StatsTable"), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "EVENT#EP1:3"}, "sk": &types.AttributeValueMemberS{Value: "A"}}})
	if err != nil || res.Item == nil {
		t.Fatalf("marker: %v %v", res, err)
	}
	exp, _ := res.Item["expires_at"].(*types.AttributeValueMemberN)
	if exp == nil || exp.Value != strconv.FormatInt(statsNow.Add(7*24*time.Hour).Unix(), 10) {
		t.Fatalf("marker expires_at = %v, want now + 7 days", res.Item["expires_at"])
	}
}

func TestStatsConcurrentDeliveriesCountOnce(t *testing.T) {
	s := newStats(t)
	const day = calendar.Day("2026-11-29")
	const n = 12
	results := make(chan store.StatResult, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			r, err := s.Add(context.Background(), paid("EPC", "c1", "wechat", 500, day))
			results <- r
			errs <- err
		}()
	}
	counted := 0
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if <-results == store.StatCounted {
			counted++
		}
	}
	if counted != 1 {
		t.Fatalf("%d of %d concurrent deliveries counted, want 1", counted, n)
	}
	if got := cell(t, s, "c1", day, "wechat"); got.Count != 1 || got.AmountFen != 500 {
		t.Fatalf("aggregate = %+v", got)
	}
}

func TestStatsRefundSemantics(t *testing.T) {
	s := newStats(t)
	const payDay, refundDay = calendar.Day("2026-11-28"), calendar.Day("2026-11-29")
	mustAdd(t, s, paid("EPR", "c1", "alipay", 1000, payDay), store.StatCounted)
	mustAdd(t, s, paid("EPK", "c1", "alipay", 250, payDay), store.StatCounted)
	// The refund moves the payment from held to refunded on the payment's
	// day (the event's business day), whenever it happens.
	r := refunded("EPR", "c1", "alipay", 1000, payDay)
	r.At = refundDay.Start().Add(time.Hour)
	mustAdd(t, s, r, store.StatRefunded)
	mustAdd(t, s, r, store.StatDuplicate)
	got := cell(t, s, "c1", payDay, "alipay")
	if got.Count != 2 || got.AmountFen != 250 || got.RefundedCount != 1 || got.RefundedFen != 1000 {
		t.Fatalf("after the refund: %+v, want 2 payments, 250 held and 1 refund of 1000", got)
	}
	// A partial refund of the other payment nets only its amount.
	part := refunded("EPK", "c1", "alipay", 50, payDay)
	mustAdd(t, s, part, store.StatRefunded)
	got = cell(t, s, "c1", payDay, "alipay")
	if got.Count != 2 || got.AmountFen != 200 || got.RefundedCount != 2 || got.RefundedFen != 1050 {
		t.Fatalf("after a partial refund: %+v", got)
	}
	if d := daily(t, s, "co1", []string{"c1"}, refundDay, refundDay); len(d) != 0 {
		t.Fatalf("the refund day got figures: %+v", d)
	}

	// order.refunded (the order after its refunds, or a trade refunded
	// before we ever saw it paid) counts nothing: the refunds did.
	mustAdd(t, s, statEvent("EPN", 3, order.EventRefunded, order.Pending, "co1", "c1", "alipay", 700, payDay), store.StatIgnored)
	mustAdd(t, s, statEvent("EPR", 5, order.EventRefunded, order.Paid, "co1", "c1", "alipay", 1000, payDay), store.StatIgnored)
	// Neither does a closed order.
	mustAdd(t, s, statEvent("EPX", 2, order.EventClosed, order.Pending, "co1", "c1", "alipay", 700, payDay), store.StatIgnored)
	if again := cell(t, s, "c1", payDay, "alipay"); again != got {
		t.Fatalf("uncounted events changed the aggregate: %+v → %+v", got, again)
	}

	// The refund handled before its payment (the payment redriven from the
	// DLQ later): ADDs commute, the end state is the same.
	mustAdd(t, s, refunded("EPL", "c2", "wechat", 300, payDay), store.StatRefunded)
	if mid := cell(t, s, "c2", payDay, "wechat"); mid.Count != 0 || mid.AmountFen != -300 || mid.RefundedCount != 1 {
		t.Fatalf("refund first: %+v", mid)
	}
	mustAdd(t, s, paid("EPL", "c2", "wechat", 300, payDay), store.StatCounted)
	if end := cell(t, s, "c2", payDay, "wechat"); end.Count != 1 || end.AmountFen != 0 || end.RefundedCount != 1 || end.RefundedFen != 300 {
		t.Fatalf("refund, then its payment: %+v", end)
	}
}

func TestStatsRefusesEventsItCannotCount(t *testing.T) {
	s := newStats(t)
	const day = calendar.Day("2026-11-29")
	for name, ev := range map[string]order.Event{
		"no community":  paid("EPB1", "", "alipay", 100, day),
		"no channel":    paid("EPB2", "c1", "", 100, day),
		"zero amount":   paid("EPB3", "c1", "alipay", 0, day),
		"bad day":       paid("EPB4", "c1", "alipay", 100, "2026-13-01"),
		"no day":        paid("EPB5", "c1", "alipay", 100, ""),
		"key separator": paid("EPB6", "c1#x", "alipay", 100, day),
	} {
		if r, err := s.Add(context.Background(), ev); !errors.Is(err, store.ErrBadStatEvent) {
			t.Errorf("%s: Add = %q, %v; want ErrBadStatEvent", name, r, err)
		}
	}
	// A payment event without a business day but with its payment time
	// counts on that time's Shanghai day.
	ev := paid("EPB7", "c1", "alipay", 100, "")
	at := time.Date(2026, 11, 28, 16, 30, 0, 0, time.UTC) // 00:30 on the 29th in Shanghai
	ev.PaidAt = &at
	mustAdd(t, s, ev, store.StatCounted)
	if got := cell(t, s, "c1", day, "alipay"); got.Count != 1 || got.AmountFen != 100 {
		t.Fatalf("aggregate = %+v", got)
	}
}

func TestStatsDaily(t *testing.T) {
	s := newStats(t)
	for _, ev := range []order.Event{
		paid("EPD1", "c1", "alipay", 100, "2026-11-01"),
		paid("EPD2", "c1", "wechat", 200, "2026-11-01"),
		paid("EPD3", "c1", "alipay", 300, "2026-11-15"),
		paid("EPD4", "c1", "alipay", 400, "2026-11-30"),
		paid("EPD5", "c1", "alipay", 999, "2026-10-31"), // before the range
		paid("EPD6", "c1", "alipay", 999, "2026-12-01"), // after it
		paid("EPD7", "c2", "wechat", 500, "2026-11-20"),
		paid("EPD8", "c3", "wechat", 999, "2026-11-20"), // not asked for
		statEvent("EPD9", 3, order.EventPaid, order.Pending, "co2", "c9", "alipay", 999, "2026-11-20"),
		statEvent("EPD10", 3, order.EventPaid, order.Pending, "co2", "c1", "alipay", 999, "2026-11-20"), // same community id, another company
	} {
		mustAdd(t, s, ev, store.StatCounted)
	}
	got := daily(t, s, "co1", []string{"c2", "c1", "c9", "missing"}, "2026-11-01", "2026-11-30")
	type row struct {
		community string
		day       calendar.Day
		channel   string
		count     int64
		amount    int64
	}
	want := []row{
		{"c2", "2026-11-20", "wechat", 1, 500},
		{"c1", "2026-11-01", "alipay", 1, 100},
		{"c1", "2026-11-01", "wechat", 1, 200},
		{"c1", "2026-11-15", "alipay", 1, 300},
		{"c1", "2026-11-30", "alipay", 1, 400},
	}
	if len(got) != len(want) {
		t.Fatalf("Daily = %+v, want %v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.CompanyID != "co1" || g.CommunityID != w.community || g.Day != w.day || g.Channel != w.channel || g.Count != w.count || g.AmountFen != w.amount {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
	if d := daily(t, s, "co1", []string{"c1"}, "2026-11-30", "2026-11-01"); len(d) != 0 {
		t.Errorf("reversed range: %+v", d)
	}
	if d := daily(t, s, "co1", nil, "2026-11-01", "2026-11-30"); len(d) != 0 {
		t.Errorf("no communities: %+v", d)
	}
}

// The query reads the aggregate partition only (the markers, one per event,
// sit in their own partitions): 40 events over 20 days give 40 aggregates.
func TestStatsDailyReadsAggregatesOnly(t *testing.T) {
	s := newStats(t)
	day := calendar.Day("2026-11-01")
	var total int64
	for i := range 40 {
		ch := []string{"alipay", "wechat"}[i%2]
		ev := paid("EPP"+strconv.Itoa(i), "c1", ch, int64(i+1), day)
		mustAdd(t, s, ev, store.StatCounted)
		total += int64(i + 1)
		if i%2 == 1 {
			day = day.Next()
		}
	}
	got := daily(t, s, "co1", []string{"c1"}, "2026-11-01", "2026-11-30")
	if len(got) != 40 {
		t.Fatalf("%d aggregates, want 40 (20 days × 2 channels)", len(got))
	}
	var sum int64
	for _, d := range got {
		sum += d.AmountFen
	}
	if sum != total {
		t.Fatalf("sum %d, want %d", sum, total)
	}
}

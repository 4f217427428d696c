package store_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func order(id, community string, amount int64, created time.Time) store.Order {
	return store.Order{
		ID: id, CommunityID: community, CompanyID: "co-1", CodeToken: "tok-" + community,
		Channel: domain.Alipay, IfaceID: "ali-1", MerchantID: "2088000000000001", AppID: "2021000000000001",
		AmountFen: amount, Description: "test", RequestHash: "hash-" + id,
		CreatedAt: created, ExpireAt: created.Add(10 * time.Minute),
	}
}

func mustCreate(t *testing.T, s *store.Store, o store.Order) store.Order {
	t.Helper()
	got, created, err := s.CreateOrder(context.Background(), o)
	if err != nil || !created {
		t.Fatalf("CreateOrder(%s) = created %v, %v", o.ID, created, err)
	}
	return got
}

func mustGet(t *testing.T, s *store.Store, id string) store.Order {
	t.Helper()
	o, err := s.GetOrder(context.Background(), id)
	if err != nil {
		t.Fatalf("GetOrder(%s): %v", id, err)
	}
	return o
}

func pay(amount int64, at time.Time, txn string) store.Payment {
	return store.Payment{ProviderTxnID: txn, AmountFen: amount, PaidAt: at, PayerID: "buyer-" + txn}
}

func TestCreateOrderIdempotency(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	first := order("EPAAAA", "com-1", 1234, t0)
	got := mustCreate(t, s, first)
	if got.Status != domain.OrderCreated || got.WorkPK == "" || got.WorkAt == "" {
		t.Fatalf("created order = status %q work %q/%q", got.Status, got.WorkPK, got.WorkAt)
	}
	stored := mustGet(t, s, first.ID)
	if stored.Status != domain.OrderCreated || stored.AmountFen != 1234 || stored.RequestHash != first.RequestHash || !stored.CreatedAt.Equal(t0) {
		t.Fatalf("stored order = %+v", stored)
	}

	// The same request again (a client retry, later): the existing order, not a new one.
	retry := first
	retry.CreatedAt = t0.Add(time.Minute)
	again, created, err := s.CreateOrder(ctx, retry)
	if err != nil || created {
		t.Fatalf("retry: created %v, err %v", created, err)
	}
	if again.ID != first.ID || !again.CreatedAt.Equal(t0) || again.Status != domain.OrderCreated {
		t.Fatalf("retry returned %+v, want the original order", again)
	}

	// The retry also sees the current state (e.g. PENDING after prepay).
	if err := s.SetPrepay(ctx, first.ID, `{"redirect_url":"x"}`); err != nil {
		t.Fatal(err)
	}
	again, created, err = s.CreateOrder(ctx, retry)
	if err != nil || created || again.Status != domain.OrderPending || again.Prepay != `{"redirect_url":"x"}` {
		t.Fatalf("retry after prepay: %+v created=%v err=%v", again, created, err)
	}

	// Same key, different request.
	other := first
	other.AmountFen = 999
	other.RequestHash = "different"
	_, created, err = s.CreateOrder(ctx, other)
	if !errors.Is(err, store.ErrIdempotencyConflict) || created {
		t.Fatalf("different request: created %v, err %v; want ErrIdempotencyConflict", created, err)
	}
	if o := mustGet(t, s, first.ID); o.AmountFen != 1234 || o.RequestHash != first.RequestHash || o.Status != domain.OrderPending {
		t.Fatalf("conflicting request changed the order: %+v", o)
	}
	if n := len(scanOrders(t, s)); n != 1 {
		t.Fatalf("orders table holds %d items, want 1", n)
	}
}

func TestGetOrderNotFound(t *testing.T) {
	s := newStore(t)
	if _, err := s.GetOrder(context.Background(), "EPNOPE"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetOrder(unknown) = %v, want ErrNotFound", err)
	}
}

func TestSetPrepayTransitions(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, order("EPPRE1", "com-1", 100, t0))
	if err := s.SetPrepay(ctx, "EPPRE1", "p1"); err != nil {
		t.Fatalf("CREATED -> PENDING: %v", err)
	}
	if o := mustGet(t, s, "EPPRE1"); o.Status != domain.OrderPending || o.Prepay != "p1" {
		t.Fatalf("after SetPrepay: %q %q", o.Status, o.Prepay)
	}
	if err := s.SetPrepay(ctx, "EPPRE1", "p2"); err != nil {
		t.Fatalf("PENDING again: %v", err)
	}
	if o := mustGet(t, s, "EPPRE1"); o.Status != domain.OrderPending || o.Prepay != "p2" {
		t.Fatalf("after second SetPrepay: %q %q", o.Status, o.Prepay)
	}

	// PAID: not payable; the prepay stays.
	if _, err := s.MarkPaid(ctx, mustGet(t, s, "EPPRE1"), pay(100, t0, "T1"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPrepay(ctx, "EPPRE1", "p3"); !errors.Is(err, store.ErrNotPayable) {
		t.Fatalf("SetPrepay on PAID = %v, want ErrNotPayable", err)
	}
	if o := mustGet(t, s, "EPPRE1"); o.Status != domain.OrderPaid || o.Prepay != "p2" {
		t.Fatalf("SetPrepay changed a paid order: %q %q", o.Status, o.Prepay)
	}

	// CLOSED: not payable either.
	mustCreate(t, s, order("EPPRE2", "com-1", 100, t0))
	if err := s.MarkClosed(ctx, "EPPRE2", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPrepay(ctx, "EPPRE2", "p"); !errors.Is(err, store.ErrNotPayable) {
		t.Fatalf("SetPrepay on CLOSED = %v, want ErrNotPayable", err)
	}
	if o := mustGet(t, s, "EPPRE2"); o.Status != domain.OrderClosed || o.Prepay != "" {
		t.Fatalf("SetPrepay changed a closed order: %q %q", o.Status, o.Prepay)
	}

	// Unknown order: refused, and no item appears.
	if err := s.SetPrepay(ctx, "EPGHOST", "p"); !errors.Is(err, store.ErrNotPayable) {
		t.Fatalf("SetPrepay on unknown = %v, want ErrNotPayable", err)
	}
	if _, err := s.GetOrder(ctx, "EPGHOST"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetPrepay on unknown created an item: %v", err)
	}
}

func TestMarkPaidExactlyOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	o := mustCreate(t, s, order("EPPAY1", "com-1", 1234, t0))
	if err := s.SetPrepay(ctx, o.ID, "p"); err != nil {
		t.Fatal(err)
	}
	before := mustGet(t, s, o.ID)

	// Wrong amount: refused, nothing changed.
	for _, amt := range []int64{1233, 1235, 0, -1234} {
		if _, err := s.MarkPaid(ctx, o, pay(amt, t0.Add(time.Minute), "TBAD"), t0.Add(2*time.Minute)); !errors.Is(err, store.ErrNotPayable) {
			t.Fatalf("MarkPaid amount %d = %v, want ErrNotPayable", amt, err)
		}
	}
	if after := mustGet(t, s, o.ID); after.Status != domain.OrderPending || after.ProviderTxnID != "" || after.PaidAt != nil ||
		after.RecPK != "" || after.EventLease != 0 || after.WorkAt != before.WorkAt {
		t.Fatalf("wrong-amount MarkPaid changed the order: %+v", after)
	}

	paidAt := t0.Add(3 * time.Minute)
	lease := t0.Add(4 * time.Minute)
	paid, err := s.MarkPaid(ctx, o, pay(1234, paidAt, "T1"), lease)
	if err != nil {
		t.Fatalf("MarkPaid: %v", err)
	}
	if paid.Status != domain.OrderPaid || paid.ProviderTxnID != "T1" || paid.PaidAt == nil || !paid.PaidAt.Equal(paidAt) ||
		paid.PayerID != "buyer-T1" || paid.RecPK != "com-1" || !strings.HasSuffix(paid.RecSK, "#"+o.ID) ||
		paid.EventLease != lease.UnixMilli() || paid.EventSent || paid.WorkPK == "" {
		t.Fatalf("paid order = %+v", paid)
	}
	if got := mustGet(t, s, o.ID); got.Status != domain.OrderPaid || got.ProviderTxnID != "T1" {
		t.Fatalf("stored paid order = %+v", got)
	}

	// A second report (same or another transaction) is refused and changes nothing.
	for _, txn := range []string{"T1", "T2"} {
		if _, err := s.MarkPaid(ctx, o, pay(1234, paidAt.Add(time.Hour), txn), lease.Add(time.Hour)); !errors.Is(err, store.ErrNotPayable) {
			t.Fatalf("second MarkPaid(%s) = %v, want ErrNotPayable", txn, err)
		}
	}
	if got := mustGet(t, s, o.ID); got.ProviderTxnID != "T1" || !got.PaidAt.Equal(paidAt) || got.EventLease != lease.UnixMilli() || got.RecSK != paid.RecSK {
		t.Fatalf("second MarkPaid changed the order: %+v", got)
	}

	// Unknown order: refused, no item created.
	if _, err := s.MarkPaid(ctx, store.Order{ID: "EPGHOST", CommunityID: "com-1"}, pay(1, t0, "TX"), lease); !errors.Is(err, store.ErrNotPayable) {
		t.Fatalf("MarkPaid unknown = %v", err)
	}
	if n := len(scanOrders(t, s)); n != 1 {
		t.Fatalf("orders table holds %d items, want 1", n)
	}
}

func TestMarkPaidConcurrent(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	o := mustCreate(t, s, order("EPRACE", "com-1", 500, t0))
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.MarkPaid(ctx, o, pay(500, t0.Add(time.Minute), fmt.Sprintf("T%d", i)), t0.Add(2*time.Minute))
			errs <- err
		}()
	}
	wins := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrNotPayable):
		default:
			t.Fatalf("MarkPaid: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent MarkPaid calls succeeded, want exactly 1", wins)
	}
}

func TestMarkClosedAndClosedToPaid(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	o := mustCreate(t, s, order("EPCLS1", "com-1", 800, t0))
	closedAt := t0.Add(11 * time.Minute)
	if err := s.MarkClosed(ctx, o.ID, closedAt); err != nil {
		t.Fatalf("MarkClosed CREATED: %v", err)
	}
	c := mustGet(t, s, o.ID)
	if c.Status != domain.OrderClosed || c.ClosedAt == nil || !c.ClosedAt.Equal(closedAt) || c.WorkPK != "" || c.WorkAt != "" {
		t.Fatalf("closed order = %+v", c)
	}
	if err := s.MarkClosed(ctx, o.ID, closedAt); !errors.Is(err, store.ErrNotPayable) {
		t.Fatalf("MarkClosed twice = %v, want ErrNotPayable", err)
	}

	// PENDING closes too.
	p := mustCreate(t, s, order("EPCLS2", "com-1", 800, t0))
	if err := s.SetPrepay(ctx, p.ID, "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkClosed(ctx, p.ID, closedAt); err != nil {
		t.Fatalf("MarkClosed PENDING: %v", err)
	}

	// CLOSED -> PAID: the provider's verified report wins over our expiry.
	paid, err := s.MarkPaid(ctx, c, pay(800, t0.Add(12*time.Minute), "TLATE"), t0.Add(13*time.Minute))
	if err != nil {
		t.Fatalf("MarkPaid on CLOSED = %v, want success", err)
	}
	if paid.Status != domain.OrderPaid || paid.RecPK != "com-1" || paid.WorkPK == "" {
		t.Fatalf("late-paid order = %+v", paid)
	}
	// A PAID order never closes.
	if err := s.MarkClosed(ctx, o.ID, closedAt); !errors.Is(err, store.ErrNotPayable) {
		t.Fatalf("MarkClosed PAID = %v, want ErrNotPayable", err)
	}
	if got := mustGet(t, s, o.ID); got.Status != domain.OrderPaid {
		t.Fatalf("status after MarkClosed on PAID = %q", got.Status)
	}
	// Unknown: refused, nothing created.
	if err := s.MarkClosed(ctx, "EPGHOST", closedAt); !errors.Is(err, store.ErrNotPayable) {
		t.Fatalf("MarkClosed unknown = %v", err)
	}
	if _, err := s.GetOrder(ctx, "EPGHOST"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MarkClosed on unknown created an item: %v", err)
	}
}

func TestEventLease(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	o := mustCreate(t, s, order("EPEVT1", "com-1", 300, t0))

	// Unpaid orders have no event to claim.
	if err := s.ClaimEvent(ctx, o.ID, t0, t0.Add(time.Minute)); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("ClaimEvent on unpaid = %v, want ErrLeaseHeld", err)
	}

	lease := t0.Add(30 * time.Second)
	if _, err := s.MarkPaid(ctx, o, pay(300, t0, "T1"), lease); err != nil {
		t.Fatal(err)
	}
	// MarkPaid took the lease: nobody else can claim before it runs out.
	if err := s.ClaimEvent(ctx, o.ID, t0.Add(10*time.Second), t0.Add(40*time.Second)); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("ClaimEvent during the lease = %v, want ErrLeaseHeld", err)
	}
	if got := mustGet(t, s, o.ID); got.EventLease != lease.UnixMilli() {
		t.Fatalf("refused claim changed the lease: %d", got.EventLease)
	}
	// After it expires, a claim succeeds and extends it.
	lease2 := t0.Add(2 * time.Minute)
	if err := s.ClaimEvent(ctx, o.ID, lease.Add(time.Millisecond), lease2); err != nil {
		t.Fatalf("ClaimEvent after expiry: %v", err)
	}
	if got := mustGet(t, s, o.ID); got.EventLease != lease2.UnixMilli() {
		t.Fatalf("lease = %d, want %d", got.EventLease, lease2.UnixMilli())
	}
	if err := s.ClaimEvent(ctx, o.ID, lease.Add(time.Second), lease2); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("second claim = %v, want ErrLeaseHeld", err)
	}

	// Release: a retry can claim at once.
	if err := s.ReleaseEvent(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, o.ID); got.EventLease != 0 {
		t.Fatalf("lease after release = %d", got.EventLease)
	}
	if err := s.ClaimEvent(ctx, o.ID, t0, t0.Add(time.Minute)); err != nil {
		t.Fatalf("claim after release: %v", err)
	}

	// Sent: never claimable again, out of the work index, release is a no-op.
	if err := s.EventSent(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	sent := mustGet(t, s, o.ID)
	if !sent.EventSent || sent.EventLease != 0 || sent.WorkPK != "" || sent.WorkAt != "" {
		t.Fatalf("after EventSent: %+v", sent)
	}
	if err := s.ClaimEvent(ctx, o.ID, t0.Add(time.Hour), t0.Add(2*time.Hour)); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("claim after sent = %v, want ErrLeaseHeld", err)
	}
	if err := s.ReleaseEvent(ctx, o.ID); err != nil {
		t.Fatalf("release after sent: %v", err)
	}
	if got := mustGet(t, s, o.ID); !got.EventSent || got.Status != domain.OrderPaid {
		t.Fatalf("release after sent changed the order: %+v", got)
	}

	// EventSent on an unpaid order is refused.
	u := mustCreate(t, s, order("EPEVT2", "com-1", 300, t0))
	if err := s.EventSent(ctx, u.ID); err == nil {
		t.Fatal("EventSent on an unpaid order succeeded")
	}
	if got := mustGet(t, s, u.ID); got.EventSent || got.WorkPK == "" {
		t.Fatalf("EventSent on unpaid changed it: %+v", got)
	}
}

func TestClaimEventConcurrent(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	o := mustCreate(t, s, order("EPEVT3", "com-1", 300, t0))
	if _, err := s.MarkPaid(ctx, o, pay(300, t0, "T1"), t0); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() { errs <- s.ClaimEvent(ctx, o.ID, t0.Add(time.Second), t0.Add(time.Minute)) }()
	}
	wins := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrLeaseHeld):
		default:
			t.Fatal(err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent claims won, want 1", wins)
	}
}

func TestDueWork(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// Five unpaid orders a minute apart.
	for i := range 5 {
		mustCreate(t, s, order(fmt.Sprintf("EPW%d", i), "com-1", 100, t0.Add(time.Duration(i)*time.Minute)))
	}
	ids, err := s.DueWork(ctx, t0.Add(2*time.Minute+30*time.Second), 100)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[EPW0 EPW1 EPW2]" {
		t.Fatalf("DueWork = %v, want the three oldest, oldest first", ids)
	}
	// "before" is exclusive.
	ids, _ = s.DueWork(ctx, t0.Add(2*time.Minute), 100)
	if fmt.Sprint(ids) != "[EPW0 EPW1]" {
		t.Fatalf("DueWork(exactly EPW2's time) = %v", ids)
	}
	ids, _ = s.DueWork(ctx, t0, 100)
	if len(ids) != 0 {
		t.Fatalf("DueWork(t0) = %v, want none", ids)
	}
	// The limit holds.
	ids, _ = s.DueWork(ctx, t0.Add(time.Hour), 2)
	if fmt.Sprint(ids) != "[EPW0 EPW1]" {
		t.Fatalf("DueWork limit 2 = %v", ids)
	}

	// Closed orders leave; paid ones move to their payment time; sent ones leave.
	if err := s.MarkClosed(ctx, "EPW0", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkPaid(ctx, mustGet(t, s, "EPW1"), pay(100, t0.Add(10*time.Minute), "T1"), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkPaid(ctx, mustGet(t, s, "EPW2"), pay(100, t0.Add(2*time.Minute+10*time.Second), "T2"), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.EventSent(ctx, "EPW2"); err != nil {
		t.Fatal(err)
	}
	ids, _ = s.DueWork(ctx, t0.Add(5*time.Minute), 100)
	if fmt.Sprint(ids) != "[EPW3 EPW4]" {
		t.Fatalf("DueWork after close/pay/sent = %v, want [EPW3 EPW4]", ids)
	}
	ids, _ = s.DueWork(ctx, t0.Add(time.Hour), 100)
	if fmt.Sprint(ids) != "[EPW3 EPW4 EPW1]" {
		t.Fatalf("DueWork(later) = %v, want [EPW3 EPW4 EPW1] (paid, event unsent, at its payment time)", ids)
	}
}

// seedRecords creates and pays n orders in community, paid a minute apart
// starting at start; it returns their ids newest first.
func seedRecords(t *testing.T, s *store.Store, community string, n int, start time.Time) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("EP%s%02d", strings.ToUpper(strings.ReplaceAll(community, "-", "")), i)
		o := mustCreate(t, s, order(id, community, int64(100+i), start))
		if _, err := s.MarkPaid(ctx, o, pay(int64(100+i), start.Add(time.Duration(i)*time.Minute), "T"+id), start); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{id}, ids...)
	}
	return ids
}

func TestListRecordsNewestFirstPaged(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	want := seedRecords(t, s, "com-a", 7, t0)
	seedRecords(t, s, "com-b", 3, t0.Add(30*time.Second)) // interleaved in time, other community
	// An unpaid and a closed order in com-a are not records.
	mustCreate(t, s, order("EPUNPAID", "com-a", 1, t0.Add(time.Hour)))
	mustCreate(t, s, order("EPCLOSED", "com-a", 1, t0.Add(time.Hour)))
	if err := s.MarkClosed(ctx, "EPCLOSED", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}

	all, err := s.ListRecords(ctx, "com-a", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := orderIDs(all.Orders); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListRecords = %v, want %v", got, want)
	}
	if all.Next != "" {
		t.Fatalf("single page has a cursor %q", all.Next)
	}
	for i := 1; i < len(all.Orders); i++ {
		if !all.Orders[i-1].PaidAt.After(*all.Orders[i].PaidAt) {
			t.Fatalf("records not newest first at %d", i)
		}
	}

	var seen []string
	cursor := ""
	pages := 0
	for {
		page, err := s.ListRecords(ctx, "com-a", cursor, 3)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(page.Orders) > 3 {
			t.Fatalf("page of %d > limit", len(page.Orders))
		}
		seen = append(seen, orderIDs(page.Orders)...)
		if page.Next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = page.Next
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("paged records = %v, want %v", seen, want)
	}
	if pages != 3 {
		t.Fatalf("7 records at 3 a page took %d pages, want 3", pages)
	}

	// Unknown community: empty.
	empty, err := s.ListRecords(ctx, "com-none", "", 10)
	if err != nil || len(empty.Orders) != 0 || empty.Next != "" {
		t.Fatalf("unknown community: %+v %v", empty, err)
	}
}

func orderIDs(os []store.Order) []string {
	var ids []string
	for _, o := range os {
		ids = append(ids, o.ID)
	}
	return ids
}

func TestListRecordsBadCursor(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for name, c := range map[string]string{
		"garbage":         "!!!not-a-cursor!!!",
		"not base64 json": base64.RawURLEncoding.EncodeToString([]byte("hello")),
		"std base64":      base64.StdEncoding.EncodeToString([]byte(`{"s":"x","i":"y"}`)) + "==",
		"json array":      enc([]string{"a", "b"}),
		"empty object":    enc(map[string]string{}),
		"missing id":      enc(map[string]string{"s": "2025-03-01T08:00:00.000Z#EPX"}),
		"missing sk":      enc(map[string]string{"i": "EPX"}),
	} {
		if _, err := s.ListRecords(ctx, "com-a", c, 2); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s cursor: err = %v, want ErrBadCursor", name, err)
		}
	}

}

// TestListRecordsForeignCursor: a cursor ListRecords did not produce for this
// community (another community's, or a hand-made one) is ErrBadCursor, as the
// ErrBadCursor doc promises, instead of silently starting a page elsewhere.
func TestListRecordsForeignCursor(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	seedRecords(t, s, "com-a", 4, t0)
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for name, c := range map[string]string{
		// Exactly what ListRecords emits for a page of com-b ending at EPCOMB01.
		"other community's cursor": enc(map[string]string{"s": "2025-03-01T08:01:00.000Z#EPCOMB01", "i": "EPCOMB01"}),
		"forged cursor":            enc(map[string]string{"s": "9999-12-31T00:00:00.000Z#EPFORGED", "i": "EPFORGED"}),
		"sk and id disagree":       enc(map[string]string{"s": "2025-03-01T08:01:00.000Z#EPCOMA01", "i": "EPCOMA03"}),
	} {
		page, err := s.ListRecords(ctx, "com-a", c, 2)
		if !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: err = %v (page %v), want ErrBadCursor", name, err, orderIDs(page.Orders))
		}
	}
}

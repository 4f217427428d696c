package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// The payer index holds paid orders with a payer key, under
// company#community#key and paid_at#id; an unpaid order, or one without a
// key, is not in it.
func TestPayerIndexKeys(t *testing.T) {
	s := newStore(t)
	r := s.OrderRepo()
	ctx := context.Background()
	key := order.PayerKeyOf(domain.Alipay, "2021000000000001", "buyer-a")

	o := newOrder(t, "EPPAYERKEYS000000000000000001", "c1", 100, t0)
	o.PayerKey = key
	mustCreate(t, r, o)
	if got := attr(rawItem(t, s, o.ID), "payer_pk"); got != "" {
		t.Fatalf("unpaid order in the payer index under %q", got)
	}
	if _, err := r.Update(ctx, o.ID, func(o *order.Order) error { return o.Pay(payment(100, t0.Add(time.Minute), "T1")) }); err != nil {
		t.Fatal(err)
	}
	item := rawItem(t, s, o.ID)
	if got, want := attr(item, "payer_pk"), "co-1#c1#alipay:2021000000000001:buyer-a"; got != want {
		t.Errorf("payer_pk = %q, want %q", got, want)
	}
	if got, want := attr(item, "payer_sk"), "2025-03-01T08:01:00.000Z#"+o.ID; got != want {
		t.Errorf("payer_sk = %q, want %q", got, want)
	}
	if got := attr(item, "payer_key"); got != key {
		t.Errorf("payer_key = %q, want the key set at creation", got)
	}

	// Paid without a key: the report's payer key is taken (Alipay paid
	// without our OAuth step) ...
	n := newOrder(t, "EPPAYERKEYS000000000000000002", "c1", 100, t0)
	mustCreate(t, r, n)
	p := payment(100, t0.Add(time.Minute), "T2")
	p.PayerKey = order.PayerKeyOf(domain.Alipay, "2021000000000001", "buyer-b")
	if _, err := r.Update(ctx, n.ID, func(o *order.Order) error { return o.Pay(p) }); err != nil {
		t.Fatal(err)
	}
	if got := attr(rawItem(t, s, n.ID), "payer_pk"); got != "co-1#c1#"+p.PayerKey {
		t.Errorf("reported payer: payer_pk = %q", got)
	}
	// ... but never over the identity we issued.
	m := newOrder(t, "EPPAYERKEYS000000000000000003", "c1", 100, t0)
	m.PayerKey = key
	mustCreate(t, r, m)
	p = payment(100, t0.Add(time.Minute), "T3")
	p.PayerKey = order.PayerKeyOf(domain.Alipay, "2021000000000001", "someone-else")
	got, err := r.Update(ctx, m.ID, func(o *order.Order) error { return o.Pay(p) })
	if err != nil {
		t.Fatal(err)
	}
	if got.PayerKey != key || attr(rawItem(t, s, m.ID), "payer_pk") != "co-1#c1#"+key {
		t.Errorf("the report replaced the issued payer key: %q", got.PayerKey)
	}
	// No key at all: not in the index.
	z := newOrder(t, "EPPAYERKEYS000000000000000004", "c1", 100, t0)
	mustCreate(t, r, z)
	zp := payment(100, t0.Add(time.Minute), "T4")
	if _, err := r.Update(ctx, z.ID, func(o *order.Order) error { return o.Pay(zp) }); err != nil {
		t.Fatal(err)
	}
	if got := attr(rawItem(t, s, z.ID), "payer_pk"); got != "" {
		t.Errorf("order without a payer key indexed under %q", got)
	}
}

// PayerOrders lists one payer's payments in one community, newest first,
// page by page; another payer's, another community's or another company's
// never appear, and a cursor cannot leave the partition.
func TestPayerOrdersNewestFirstPaged(t *testing.T) {
	s := newStore(t)
	r := s.OrderRepo()
	ctx := context.Background()
	mine := order.PayerKeyOf(domain.WeChat, "wxapp", "openid-mine")
	other := order.PayerKeyOf(domain.WeChat, "wxapp", "openid-other")
	pay := func(id, community, company, key string, at time.Time) {
		o := newOrder(t, id, community, 100, t0)
		o.CompanyID, o.PayerKey = company, key
		mustCreate(t, r, o)
		if _, err := r.Update(ctx, id, func(o *order.Order) error { return o.Pay(payment(100, at, "T"+id)) }); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("EPPAYERLIST00000000000000%04d", i)
		pay(id, "c1", "co-1", mine, t0.Add(time.Duration(i)*time.Hour))
		want = append([]string{id}, want...)
	}
	pay("EPPAYERLISTOTHERPAYER0000000", "c1", "co-1", other, t0.Add(10*time.Hour))
	pay("EPPAYERLISTOTHERCOMMUNITY000", "c2", "co-1", mine, t0.Add(10*time.Hour))
	pay("EPPAYERLISTOTHERCOMPANY00000", "c1", "co-2", mine, t0.Add(10*time.Hour))
	unpaid := newOrder(t, "EPPAYERLISTUNPAID00000000000", "c1", 100, t0.Add(11*time.Hour))
	unpaid.PayerKey = mine
	mustCreate(t, r, unpaid)

	var got []string
	after := ""
	pages := 0
	for {
		page, err := r.PayerOrders(ctx, "co-1", "c1", mine, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range page.Orders {
			got = append(got, o.ID)
			if o.AmountFen != 100 || o.Status != order.Paid || o.PaidAt.IsZero() || o.CodeToken == "" {
				t.Errorf("row %s lacks what a history row shows: %+v", o.ID, o)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("PayerOrders = %v, want %v", got, want)
	}
	if pages < 3 {
		t.Errorf("%d pages of 2 for 5 rows", pages)
	}
	// Empty key: nothing (never "everyone without a key").
	if page, err := r.PayerOrders(ctx, "co-1", "c1", "", "", 10); err != nil || len(page.Orders) != 0 {
		t.Errorf("empty payer key listed %d (err %v)", len(page.Orders), err)
	}
	for _, bad := range []string{"%%%", "eyJ4IjoxfQ", "eyJzIjoiYSIsImkiOiJiIn0"} {
		if _, err := r.PayerOrders(ctx, "co-1", "c1", mine, bad, 2); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("cursor %q: err %v, want ErrBadCursor", bad, err)
		}
	}
	// Another payer's cursor only positions within my partition.
	first, _ := r.PayerOrders(ctx, "co-1", "c1", other, "", 1)
	if len(first.Orders) != 1 {
		t.Fatal("other payer has no row")
	}
	page, err := r.PayerOrders(ctx, "co-1", "c1", mine, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range page.Orders {
		if o.PayerKey != "" && o.PayerKey != mine {
			t.Errorf("row of another payer: %s", o.ID)
		}
		if o.ID == first.Orders[0].ID {
			t.Errorf("another payer's order listed")
		}
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

func settledRefunds(t *testing.T, r *store.Orders, ch domain.Channel, merchant string, day calendar.Day) map[string]refund.Refund {
	t.Helper()
	out := map[string]refund.Refund{}
	for shard := range store.SettleShards {
		rfs, more, err := r.RefundsSettledAfter(context.Background(), store.SettleRefundPartition(ch, merchant, day, shard), "", 100)
		if err != nil || more {
			t.Fatalf("shard %d: %v (more %v)", shard, err, more)
		}
		for _, rf := range rfs {
			out[rf.ID] = rf
		}
	}
	return out
}

// A refund enters the settle index when it SUCCEEDS, under its merchant ×
// channel × the Asia/Shanghai day it succeeded, with what a statement needs
// (read through the index's projection); a refund stored before refunds
// carried their merchant takes it from its order when it succeeds.
func TestRefundsInTheSettleIndexOnTheDayTheySucceed(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	orders, ledger := st.OrderRepo(), st.LedgerRepo()
	paidAt := time.Date(2026, 3, 1, 15, 59, 59, 999_000_000, time.UTC) // 23:59:59.999 in Shanghai
	o := stacktest.SeedOrder(t, st, order.Order{ID: fmt.Sprintf("EPSETTLEREFUND%013d", time.Now().UnixNano()%1e13), CommunityID: "cm", CompanyID: "co",
		CodeToken: "tok", Channel: domain.WeChat, Method: settlement.MethodFenfu, IfaceID: "if", MerchantID: "1900000777", AppID: "wx1",
		AmountFen: 9000}, paidAt.Add(-time.Minute), paidAt)
	start := func(key string, amount int64, legacy bool) (order.Order, refund.Refund) {
		t.Helper()
		before, err := orders.Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		after := before
		id := refund.ID(o.ID, key)
		if err := after.StartRefund(id, amount); err != nil {
			t.Fatal(err)
		}
		rf, err := refund.New(id, after, amount, "退款", "staff:s1", nil, paidAt, paidAt)
		if err != nil {
			t.Fatal(err)
		}
		if legacy {
			rf.MerchantID, rf.Method = "", ""
		}
		if err := ledger.Commit(ctx, store.Unit{Orders: []store.OrderChange{{Before: &before, After: after}}, Refunds: []store.RefundChange{{After: rf}}}); err != nil {
			t.Fatal(err)
		}
		return after, rf
	}
	succeed := func(rf refund.Refund, at time.Time) refund.Refund {
		t.Helper()
		before, err := orders.Get(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		after := before
		if err := after.RefundSucceeded(rf.AmountFen, at); err != nil {
			t.Fatal(err)
		}
		done := rf
		if err := done.Succeed("P"+rf.ID, at); err != nil {
			t.Fatal(err)
		}
		if err := ledger.Commit(ctx, store.Unit{Orders: []store.OrderChange{{Before: &before, After: after}}, Refunds: []store.RefundChange{{Before: &rf, After: done}}}); err != nil {
			t.Fatal(err)
		}
		return done
	}
	_, r1 := start("key-1", 1000, false)
	_, r2 := start("key-2", 2000, true) // stored without its merchant, as before
	if got := settledRefunds(t, orders, domain.WeChat, o.MerchantID, "2026-03-02"); len(got) != 0 {
		t.Fatalf("requested refunds in the index: %+v", got)
	}
	midnight := time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC) // 00:00:00.000 on 2026-03-02 in Shanghai
	r1 = succeed(r1, midnight)
	r2 = succeed(r2, midnight.Add(24*time.Hour-time.Millisecond)) // 23:59:59.999 on 2026-03-02
	got := settledRefunds(t, orders, domain.WeChat, o.MerchantID, "2026-03-02")
	if len(got) != 2 {
		t.Fatalf("the day's refunds %+v", got)
	}
	for _, want := range []refund.Refund{r1, r2} {
		g := got[want.ID]
		if g.AmountFen != want.AmountFen || g.Method != settlement.MethodFenfu || g.MerchantID != o.MerchantID || g.Status != refund.Succeeded ||
			!g.SucceededAt.Equal(want.SucceededAt) || g.CompanyID != "co" || g.Channel != domain.WeChat {
			t.Errorf("index entry %+v\nof %+v", g, want)
		}
	}
	if d, _ := got[r2.ID].SettleDay(); d != "2026-03-02" {
		t.Errorf("23:59:59.999 settles on %s", d)
	}
	for _, day := range []calendar.Day{"2026-03-01", "2026-03-03"} {
		if n := settledRefunds(t, orders, domain.WeChat, o.MerchantID, day); len(n) != 0 {
			t.Errorf("refunds on %s: %+v", day, n)
		}
	}
	if stored, err := orders.GetRefund(ctx, r2.ID); err != nil || stored.MerchantID != o.MerchantID || stored.Method != settlement.MethodFenfu {
		t.Fatalf("legacy refund after success %+v %v", stored, err)
	}
}

// A hold is placed once; on a payment of a past day only while the day has
// no settlement run (one transaction); released under its version.
func TestPlaceAndReleaseHolds(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	repo := &store.Settlements{DB: st.DB, Table: "StatsTable"}
	at := time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)
	hold := func(id string, day calendar.Day) settlement.Hold {
		return settlement.Hold{OrderID: id, CompanyID: "co", Merchant: "m1", Channel: domain.WeChat, AmountFen: 100, PaidDay: day, Reason: "风控", By: "staff:s1", HeldAt: at}
	}
	today := calendar.Day("2026-03-03")
	if err := repo.PlaceHold(ctx, hold("o-today", today), today); err != nil {
		t.Fatal(err)
	}
	if err := repo.PlaceHold(ctx, hold("o-today", today), today); !errors.Is(err, store.ErrHoldExists) {
		t.Fatalf("holding today's payment twice: %v", err)
	}
	if err := repo.PlaceHold(ctx, hold("o-yesterday", "2026-03-02"), today); err != nil {
		t.Fatalf("a payment of a day not settled yet: %v", err)
	}
	if err := repo.PlaceHold(ctx, hold("o-yesterday", "2026-03-02"), today); !errors.Is(err, store.ErrHoldExists) {
		t.Fatalf("holding yesterday's payment twice: %v", err)
	}
	// The day is settled (its run exists): too late for a hold.
	run := settlement.Run{Key: settlement.Key{Merchant: "m1", Channel: domain.WeChat, Day: "2026-03-01"}, Statements: map[string]settlement.Statement{}}
	if err := repo.SaveRun(ctx, &run); err != nil {
		t.Fatal(err)
	}
	if err := repo.PlaceHold(ctx, hold("o-settled", "2026-03-01"), today); !errors.Is(err, store.ErrDaySettled) {
		t.Fatalf("a payment of a settled day: %v", err)
	}
	if _, err := repo.Hold(ctx, domain.WeChat, "m1", "o-settled"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused hold was stored: %v", err)
	}
	h, err := repo.Hold(ctx, domain.WeChat, "m1", "o-yesterday")
	if err != nil || h.Version != 1 || h.PaidDay != "2026-03-02" || !h.HeldAt.Equal(at) || h.Reason != "风控" || !h.Held() {
		t.Fatalf("hold %+v %v", h, err)
	}
	stale := h
	if err := h.Release(today, "staff:s2"); err != nil {
		t.Fatal(err)
	}
	if err := repo.PutHold(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := stale.Release("2026-03-04", "staff:s3"); err != nil {
		t.Fatal(err)
	}
	if err := repo.PutHold(ctx, stale); !errors.Is(err, store.ErrSettleConflict) {
		t.Fatalf("a stale release: %v", err)
	}
	back, _ := repo.Hold(ctx, domain.WeChat, "m1", "o-yesterday")
	if back.ReleasedDay != today || back.ReleasedBy != "staff:s2" || back.Version != 2 {
		t.Fatalf("released %+v", back)
	}
}

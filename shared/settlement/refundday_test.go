package settlement_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/settlement"
	"github.com/estatepay/estatepay/shared/store"
)

// businessClock is the sandbox's and the services' clock, set by the test.
type businessClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *businessClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *businessClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type oneProvider struct{ p pay.Provider }

func (o oneProvider) Provider(context.Context, store.Interface) (pay.Provider, error) {
	return o.p, nil
}

// sandboxDay is a WeChat Pay sandbox (direct merchant `merchant`), its
// adapter, and the payments service refunding through it.
type sandboxDay struct {
	f     fixture
	clock *businessClock
	sb    *wechat.Server
	p     *wechatpay.Provider
	svc   *payments.Service
	n     int
}

const (
	sbAppID  = "wxd678efh567hg6787"
	sbSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	sbAPIv3  = "0123456789abcdef0123456789abcdef"
	sbPubID  = "PUB_KEY_ID_0114232134912410000000000000000001"
)

func newSandboxDay(t *testing.T, start time.Time) *sandboxDay {
	t.Helper()
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	platform, merchantKey := gen(), gen()
	d := &sandboxDay{f: newFixture(t), clock: &businessClock{t: start}}
	log := slog.New(slog.DiscardHandler)
	d.sb = wechat.New(wechat.Config{PlatformKey: platform, PlatformKeyID: sbPubID,
		Merchants: []wechat.Merchant{{MchID: merchant, SerialNo: sbSerial, PublicKey: &merchantKey.PublicKey, APIv3Key: sbAPIv3, AppIDs: []string{sbAppID}}},
		Apps:      []wechat.App{{AppID: sbAppID, Secret: "secret-of-the-official-account-1"}}, RetrySchedule: []time.Duration{time.Hour},
		Now: d.clock.Now, Logger: log})
	srv := httptest.NewServer(d.sb.Handler())
	d.sb.SetBaseURL(srv.URL)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(func() {
		d.sb.Close()
		receiver.Close()
		srv.Close()
	})
	p, err := wechatpay.New(wechatpay.Config{Mode: wechatpay.ModeDirect, AppID: sbAppID, MchID: merchant, MerchantSerialNo: sbSerial,
		MerchantPrivateKey: merchantKey, APIv3Key: sbAPIv3, PlatformPublicKeyID: sbPubID, PlatformPublicKey: &platform.PublicKey, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	d.p = p
	if err := d.f.st.CreateInterface(context.Background(), store.Interface{ID: "if-wx", CompanyID: "c1", Channel: domain.WeChat,
		Status: domain.StatusApproved, Mode: "direct", AppID: sbAppID, MchID: merchant, SecretRef: "file:///x", OAuthSecretRef: "file:///y"}); err != nil {
		t.Fatal(err)
	}
	d.svc = &payments.Service{Orders: d.f.orders, Billing: d.f.st.LedgerRepo(), Directory: d.f.st, Providers: oneProvider{p}, Log: log,
		Now: d.clock.Now, PublicBaseURL: receiver.URL}
	return d
}

// pay pays amount at the sandbox now and stores our order as the provider
// reports it (paid at its success_time).
func (d *sandboxDay) pay(t *testing.T, amount int64) order.Order {
	t.Helper()
	ctx := context.Background()
	d.n++
	id := fmt.Sprintf("EPREFUNDDAY%016d", d.n)
	if _, err := d.p.Prepay(ctx, pay.PrepayRequest{OrderID: id, AmountFen: amount, Description: "物业费", ExpireAt: d.clock.Now().Add(30 * time.Minute),
		NotifyURL: "https://pay.example.com/notify/wechat/if-wx", PayerID: "oRefundDayPayer", ClientIP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := d.sb.PayWithoutCallback(id); err != nil {
		t.Fatal(err)
	}
	tr, err := d.p.Query(ctx, id)
	if err != nil || tr.State != pay.TradePaid {
		t.Fatalf("query %s: %+v %v", id, tr, err)
	}
	o, err := order.New(order.Order{ID: id, CompanyID: "c1", CommunityID: "m1", CodeToken: "tok", Channel: domain.WeChat, IfaceID: "if-wx",
		MerchantID: merchant, AppID: sbAppID, AmountFen: amount, RequestHash: "h"}, d.clock.Now(), 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.f.orders.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	paid, err := d.f.orders.Update(ctx, id, func(x *order.Order) error {
		return x.Pay(order.Payment{ProviderTxnID: tr.ProviderTxnID, AmountFen: tr.AmountFen, PaidAt: tr.PaidAt, MerchantID: tr.MerchantID, AppID: tr.AppID, PayerID: tr.PayerID})
	})
	if err != nil {
		t.Fatal(err)
	}
	return paid
}

// refund refunds amount of o at the sandbox now, as the console and the
// sweeper do: requested, submitted, SUCCEEDED at the provider's success_time.
func (d *sandboxDay) refund(t *testing.T, o order.Order, amount int64) refund.Refund {
	t.Helper()
	ctx := context.Background()
	d.n++
	rf, err := d.svc.RequestRefund(ctx, payments.RefundRequest{CompanyID: "c1", OrderID: o.ID, AmountFen: amount, Reason: "多收了", By: "staff:s1",
		Key: fmt.Sprintf("refund-day-key-%08d", d.n)})
	if err != nil {
		t.Fatal(err)
	}
	if rf, err = d.svc.CheckRefund(ctx, rf.ID); err != nil || rf.Status != refund.Succeeded {
		t.Fatalf("refund %+v %v", rf, err)
	}
	return rf
}

// reconcile fetches the sandbox's bill of day and reconciles it (without
// the lines drop names).
func (d *sandboxDay) reconcile(t *testing.T, day calendar.Day, drop func(settlement.BillLine) bool) settlement.Report {
	t.Helper()
	b, err := d.p.TradeBill(context.Background(), day.Start())
	if err != nil {
		t.Fatalf("bill of %s: %v", day, err)
	}
	rows, _, err := wechatpay.ParseTradeBill(b)
	if err != nil {
		t.Fatalf("bill of %s: %v\n%s", day, err, b)
	}
	var lines []settlement.BillLine
	for _, l := range settlement.WeChatLines(rows) {
		if drop == nil || !drop(l) {
			lines = append(lines, l)
		}
	}
	r := &settlement.Reconciler{Orders: d.f.orders, Exceptions: d.f.repo, Schedule: dsettle.DefaultSchedule(), Clock: d.clock.Now}
	rep, err := r.Reconcile(context.Background(), settlement.Request{CompanyID: "c1", Merchant: merchant, Channel: domain.WeChat, Day: day}, lines)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A refund is on the statement of the day it succeeded (Asia/Shanghai), and
// the reconciliation of that day matches the sandbox's refund row: a
// payment at D 23:59:59.999 refunded at D+1 00:00:00.000 is on D's
// statement without its refund, and the refund on D+1's; one at D+1
// 00:00:00.000 refunded at D+1 23:59:59.999 is netted on D+1; a refund at
// D+2 00:00:00.000 is D+2's.
func TestRefundOnItsDayAgainstTheSandboxBill(t *testing.T) {
	const d0, d1, d2 = "2026-03-01", "2026-03-02", "2026-03-03"
	d := newSandboxDay(t, shanghai(d0, 23, 59, 59, 999))
	a := d.pay(t, 30000)
	if a.BusinessDay != d0 {
		t.Fatalf("payment at 23:59:59.999 on %s", a.BusinessDay)
	}
	d.clock.Set(shanghai(d1, 0, 0, 0, 0))
	ra := d.refund(t, a, 10000)
	b := d.pay(t, 20000)
	d.clock.Set(shanghai(d1, 23, 59, 59, 999))
	rb := d.refund(t, b, 5000)
	d.clock.Set(shanghai(d2, 0, 0, 0, 0))
	ra2 := d.refund(t, a, 2000)
	for rf, day := range map[string]calendar.Day{ra.ID: d1, rb.ID: d1, ra2.ID: d2} {
		got, err := d.f.orders.GetRefund(context.Background(), rf)
		if sd, ok := got.SettleDay(); err != nil || !ok || sd != day || got.MerchantID != merchant {
			t.Fatalf("refund %s settles on %s (%v), want %s: %+v", rf, sd, err, day, got)
		}
	}
	d.clock.Set(shanghai("2026-03-04", 10, 30, 0, 0)) // the bills are out
	for _, c := range []struct {
		day                                       calendar.Day
		matched                                   int
		count, gross, refundCount, refundFen, fee int64
	}{
		{d0, 1, 1, 30000, 0, 0, 180},
		{d1, 3, 1, 20000, 2, 15000, 120},
		{d2, 1, 0, 0, 1, 2000, 0},
	} {
		rep := d.reconcile(t, c.day, nil)
		if rep.Matched != c.matched || len(rep.Exceptions) != 0 {
			t.Errorf("reconcile %s: matched %d, exceptions %+v", c.day, rep.Matched, rep.Exceptions)
		}
		sts := settle(t, d.f.s, domain.WeChat, c.day)
		st := sts[0]
		if len(sts) != 1 || st.Count != c.count || st.GrossFen != c.gross || st.RefundCount != c.refundCount || st.RefundFen != c.refundFen ||
			st.FeeFen != c.fee || st.NetFen != c.gross-c.refundFen-c.fee {
			t.Errorf("statement of %s: %+v", c.day, sts)
		}
	}
	// The refund rows are matched, not passed over: without ra's row, D+1
	// finds exactly that refund missing at the provider.
	rep := d.reconcile(t, d1, func(l settlement.BillLine) bool { return l.RefundID == ra.ID })
	if len(rep.Exceptions) != 1 || rep.Exceptions[0].Kind != dsettle.MissingProvider || rep.Exceptions[0].OrderID != ra.ID ||
		rep.Exceptions[0].OurFen != 10000 || rep.Matched != 2 {
		t.Fatalf("refund row dropped: matched %d, %+v", rep.Matched, rep.Exceptions)
	}
}

// A refund still processing at midnight is the next day's, at the provider
// as here: created at D 23:59:59 and succeeding at D+1 00:00:01, its row is
// on D+1's bill (WeChat lists refunds by success_time), and both days
// reconcile without exceptions.
func TestRefundProcessingOverMidnightIsTheNextDays(t *testing.T) {
	const d0, d1 = "2026-04-10", "2026-04-11"
	d := newSandboxDay(t, shanghai(d0, 12, 0, 0, 0))
	ctx := context.Background()
	a := d.pay(t, 30000)
	d.clock.Set(shanghai(d0, 23, 59, 59, 0))
	d.n++
	key := fmt.Sprintf("refund-day-key-%08d", d.n)
	d.sb.SetRefundOutcome(refund.ID(a.ID, key), wechat.RefundProcessing)
	rf, err := d.svc.RequestRefund(ctx, payments.RefundRequest{CompanyID: "c1", OrderID: a.ID, AmountFen: 10000, Reason: "多收了", By: "staff:s1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if rf, err = d.svc.CheckRefund(ctx, rf.ID); err != nil || rf.Status != refund.Processing {
		t.Fatalf("refund before midnight: %+v %v", rf, err)
	}
	d.clock.Set(shanghai(d1, 0, 0, 1, 0))
	if err := d.sb.SettleRefund(rf.ID, "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	if rf, err = d.svc.CheckRefund(ctx, rf.ID); err != nil || rf.Status != refund.Succeeded {
		t.Fatalf("refund after midnight: %+v %v", rf, err)
	}
	if sd, ok := rf.SettleDay(); !ok || sd != d1 {
		t.Fatalf("refund settles on %s (%v), want %s", sd, ok, d1)
	}
	d.clock.Set(shanghai("2026-04-12", 10, 30, 0, 0))
	for day, matched := range map[calendar.Day]int{d0: 1, d1: 1} {
		if rep := d.reconcile(t, day, nil); rep.Matched != matched || len(rep.Exceptions) != 0 {
			t.Errorf("reconcile %s: matched %d, exceptions %+v", day, rep.Matched, rep.Exceptions)
		}
	}
}

package invoicing_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/einvoice"
	"github.com/estatepay/estatepay/shared/invoicing"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/store"
)

// platform is a fake einvoice.Platform: it records submissions and answers
// queries from what the test says was issued.
type platform struct {
	mu      sync.Mutex
	issued  []einvoice.IssueRequest
	reds    []einvoice.RedRequest
	serials map[string]string // orderNo → serial
	fail    error
}

func (p *platform) serial(orderNo string) string {
	if p.serials == nil {
		p.serials = map[string]string{}
	}
	if s, ok := p.serials[orderNo]; ok {
		return s
	}
	s := fmt.Sprintf("SER%03d", len(p.serials)+1)
	p.serials[orderNo] = s
	return s
}

func (p *platform) Issue(_ context.Context, r einvoice.IssueRequest) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return "", p.fail
	}
	p.issued = append(p.issued, r)
	return p.serial(r.OrderNo), nil
}

func (p *platform) Red(_ context.Context, r einvoice.RedRequest) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reds = append(p.reds, r)
	return p.serial(r.OrderNo), nil
}

func (p *platform) Query(context.Context, []string) ([]einvoice.Result, error) { return nil, nil }

func (p *platform) ParseCallback(http.Header, map[string]string, []byte, time.Time) (einvoice.Result, error) {
	return einvoice.Result{}, errors.New("unused")
}

type mailbox struct {
	mu   sync.Mutex
	sent []notify.EmailMessage
	fail error
}

func (m *mailbox) SendEmail(_ context.Context, e notify.EmailMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, e)
	return nil
}

type orders map[string]order.Order

func (o orders) Get(_ context.Context, id string) (order.Order, error) {
	if v, ok := o[id]; ok {
		return v, nil
	}
	return order.Order{}, order.ErrNotFound
}

var t0 = time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)

type env struct {
	svc    *invoicing.Service
	repo   *store.Invoices
	plat   *platform
	mail   *mailbox
	orders orders
	now    time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := stacktest.NewStore(t)
	repo := &store.Invoices{DB: st.DB, Table: "InvoicesTable"}
	if _, err := repo.PutInvoiceSettings(context.Background(), invoice.Settings{CompanyID: "co1", Enabled: true, SellerName: "示例物业服务有限公司", SellerTaxNo: "91310000MA1FL0000X",
		Items:   []invoice.ItemSetting{{FeeItem: "物业费", Name: "物业管理服务", TaxCode: "3040502020200000000", Rate: 600}},
		Default: invoice.ItemSetting{Name: "物业管理服务", TaxCode: "3040502020200000000", Rate: 600}}); err != nil {
		t.Fatal(err)
	}
	e := &env{repo: repo, plat: &platform{}, mail: &mailbox{}, orders: orders{}, now: t0}
	e.svc = &invoicing.Service{Invoices: repo, Orders: e.orders, Platform: e.plat, Email: e.mail, CallbackURL: "http://gw/notify/einvoice",
		Now: func() time.Time { return e.now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return e
}

func (e *env) paid(id string, fen int64) order.Order {
	o := order.Order{ID: id, CompanyID: "co1", CommunityID: "cm1", NoticeID: "N1", AmountFen: fen, Status: order.Paid, PaidAt: t0}
	e.orders[id] = o
	return o
}

var company = invoice.Title{Kind: invoice.Company, Name: "某某科技有限公司", TaxNo: "91110108MA00000001"}

// issue requests, submits (Sweep) and calls back an invoice of o.
func (e *env) issue(t *testing.T, o order.Order) invoice.Invoice {
	t.Helper()
	ctx := context.Background()
	if _, _, err := e.svc.Request(ctx, o, []invoice.Part{{FeeItem: "物业费", Fen: o.AmountFen}}, company, "buyer@example.com"); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	inv, _ := e.repo.Get(ctx, o.ID, 1)
	if inv.Status != invoice.Submitted || inv.PlatformSerial == "" {
		t.Fatalf("after sweep: %+v", inv)
	}
	if err := e.svc.Apply(ctx, einvoice.Result{OrderNo: inv.ID, Serial: inv.PlatformSerial, State: einvoice.Issued, Number: "26310000000000000001", PDFURL: "http://sb/invoices/" + inv.PlatformSerial + ".pdf"}); err != nil {
		t.Fatal(err)
	}
	inv, _ = e.repo.Get(ctx, o.ID, 1)
	return inv
}

func TestRequestIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := e.paid("ORD1", 37630)
	inv, created, err := e.svc.Request(ctx, o, []invoice.Part{{FeeItem: "物业费", Fen: 37630}}, company, "buyer@example.com")
	if err != nil || !created || inv.TaxFen != 2130 || inv.ExclFen != 35500 {
		t.Fatalf("first: %v %v %+v", created, err, inv)
	}
	other := invoice.Title{Kind: invoice.Personal, Name: "张三"}
	again, created, err := e.svc.Request(ctx, o, nil, other, "x@example.com")
	if err != nil || created || again.ID != inv.ID || again.Title != inv.Title {
		t.Fatalf("second: %v %v %+v", created, err, again)
	}
	// Many concurrent requests: still one invoice, all see the same.
	var wg sync.WaitGroup
	o2 := e.paid("ORD2", 100)
	ids := make(chan string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv, _, err := e.svc.Request(ctx, o2, []invoice.Part{{Fen: 100}}, invoice.Title{Kind: invoice.Personal, Name: fmt.Sprint("p", i)}, "a@example.com")
			if err != nil {
				t.Error(err)
			}
			ids <- inv.Title.Name
		}()
	}
	wg.Wait()
	close(ids)
	first := ""
	for n := range ids {
		if first == "" {
			first = n
		}
		if n != first {
			t.Errorf("concurrent requests saw %s and %s", first, n)
		}
	}
	list, _ := e.repo.OfOrder(ctx, "ORD2")
	if len(list) != 1 {
		t.Errorf("%d invoices for one order", len(list))
	}
	unpaid := o
	unpaid.ID, unpaid.Status = "ORD3", order.Pending
	if _, _, err := e.svc.Request(ctx, unpaid, nil, company, "a@example.com"); !errors.Is(err, invoicing.ErrNotPaid) {
		t.Errorf("unpaid: %v", err)
	}
}

func TestEmailOnceUnderDuplicateCallbacks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	inv := e.issue(t, e.paid("ORD1", 10000))
	if inv.Status != invoice.Issued || !inv.Emailed || len(e.mail.sent) != 1 {
		t.Fatalf("issued: %+v, %d mails", inv, len(e.mail.sent))
	}
	res := einvoice.Result{OrderNo: inv.ID, Serial: inv.PlatformSerial, State: einvoice.Issued, Number: inv.Number, PDFURL: inv.PDFURL}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.svc.Apply(ctx, res) }()
	}
	wg.Wait()
	if len(e.mail.sent) != 1 {
		t.Fatalf("%d mails after duplicate callbacks", len(e.mail.sent))
	}
	m := e.mail.sent[0]
	if m.To != "buyer@example.com" || !strings.Contains(m.Text, inv.PDFURL) || !strings.Contains(m.Text, "26310000000000000001") || !strings.Contains(m.Text, "¥100.00") {
		t.Errorf("mail: %+v", m)
	}
	// A forged serial for our orderNo changes nothing.
	if err := e.svc.Apply(ctx, einvoice.Result{OrderNo: "ORD1-1", Serial: "OTHER", State: einvoice.Issued, Number: "9", PDFURL: "http://evil"}); err == nil {
		got, _ := e.repo.Get(ctx, "ORD1", 1)
		if got.PDFURL != inv.PDFURL {
			t.Error("link replaced")
		}
	}
}

func TestEmailFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mail.fail = errors.New("ses down")
	o := e.paid("ORD1", 10000)
	_, _, _ = e.svc.Request(ctx, o, []invoice.Part{{FeeItem: "物业费", Fen: 10000}}, company, "b@example.com")
	_, _ = e.svc.Sweep(ctx)
	inv, _ := e.repo.Get(ctx, "ORD1", 1)
	res := einvoice.Result{OrderNo: inv.ID, Serial: inv.PlatformSerial, State: einvoice.Issued, Number: "N1", PDFURL: "http://sb/a.pdf"}
	if err := e.svc.Apply(ctx, res); err == nil {
		t.Fatal("a failed e-mail must fail the callback (the platform calls again)")
	}
	if got, _ := e.repo.Get(ctx, "ORD1", 1); got.Emailed || got.Status != invoice.Issued {
		t.Fatalf("claim kept after failure: %+v", got)
	}
	e.mail.fail = nil
	if err := e.svc.Apply(ctx, res); err != nil || len(e.mail.sent) != 1 {
		t.Fatalf("retry: %v %d", err, len(e.mail.sent))
	}
}

func TestTransientSubmitFailureRetriedLater(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.plat.fail = errors.New("connection reset")
	_, _, _ = e.svc.Request(ctx, e.paid("ORD1", 500), []invoice.Part{{FeeItem: "物业费", Fen: 500}}, company, "b@example.com")
	_, _ = e.svc.Sweep(ctx)
	inv, _ := e.repo.Get(ctx, "ORD1", 1)
	if inv.Status != invoice.Requested || inv.Attempts != 1 || !inv.NextCheckAt.After(t0) {
		t.Fatalf("after a failure: %+v", inv)
	}
	if n, _ := e.svc.Sweep(ctx); n != 0 {
		t.Error("retried before its backoff")
	}
	e.plat.fail = nil
	e.now = t0.Add(invoicing.Backoff(0))
	if n, _ := e.svc.Sweep(ctx); n != 1 {
		t.Error("not retried after its backoff")
	}
	if got, _ := e.repo.Get(ctx, "ORD1", 1); got.Status != invoice.Submitted {
		t.Errorf("%+v", got)
	}
	e.plat.fail = fmt.Errorf("%w: E9106 购方税号格式错误", einvoice.ErrRefused)
	_, _, _ = e.svc.Request(ctx, e.paid("ORD2", 500), nil, company, "b@example.com")
	_, _ = e.svc.Sweep(ctx)
	if got, _ := e.repo.Get(ctx, "ORD2", 1); got.Status != invoice.Failed || !strings.Contains(got.FailReason, "购方税号") {
		t.Errorf("refused: %+v", got)
	}
}

func refundEvent(id, orderID string) order.Event {
	return order.Event{ID: id, Type: "refund.succeeded", OrderID: orderID, CompanyID: "co1"}
}

func TestFullRefundReversesOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := e.paid("ORD1", 10000)
	inv := e.issue(t, o)
	o.Status, o.RefundedFen = order.Refunded, 10000
	e.orders["ORD1"] = o
	for _, ev := range []string{"RF1:2", "RF1:2", "ORD1:5"} { // the refund event twice, then order.refunded
		if err := e.svc.Refund(ctx, refundEvent(ev, "ORD1")); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.plat.reds) != 1 || e.plat.reds[0].BlueSerial != inv.PlatformSerial || e.plat.reds[0].OrderNo != "ORD1-1R" || e.plat.reds[0].BlueNumber != inv.Number {
		t.Fatalf("reds: %+v", e.plat.reds)
	}
	got, _ := e.repo.Get(ctx, "ORD1", 1)
	if got.Status != invoice.RedRequested || got.RedSerial == "" {
		t.Fatalf("%+v", got)
	}
	red := einvoice.Result{OrderNo: "ORD1-1R", Serial: got.RedSerial, State: einvoice.Issued, Red: true, Number: "26310000000000000002", PDFURL: "http://sb/r.pdf"}
	for range 2 {
		if err := e.svc.Apply(ctx, red); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = e.repo.Get(ctx, "ORD1", 1)
	list, _ := e.repo.OfOrder(ctx, "ORD1")
	if got.Status != invoice.Reversed || got.RedNumber != "26310000000000000002" || len(list) != 1 {
		t.Fatalf("reversed: %+v, %d invoices", got, len(list))
	}
}

func TestPartialRefundReversesAndReissues(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := e.paid("ORD1", 10000)
	e.issue(t, o)
	o.RefundedFen = 3000
	e.orders["ORD1"] = o
	for range 2 {
		if err := e.svc.Refund(ctx, refundEvent("RF1:2", "ORD1")); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := e.repo.Get(ctx, "ORD1", 1)
	if got.RedKeepFen != 7000 || len(e.plat.reds) != 1 {
		t.Fatalf("%+v %d", got, len(e.plat.reds))
	}
	red := einvoice.Result{OrderNo: "ORD1-1R", Serial: got.RedSerial, State: einvoice.Issued, Red: true, Number: "N2", PDFURL: "http://sb/r.pdf"}
	for range 2 {
		if err := e.svc.Apply(ctx, red); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := e.repo.OfOrder(ctx, "ORD1")
	if len(list) != 2 || list[1].TotalFen != 7000 || list[1].Replaces != "ORD1-1" || list[1].Status != invoice.Requested || list[1].Title != company {
		t.Fatalf("re-issue: %+v", list)
	}
	if list[1].TaxFen != 396 || list[1].ExclFen != 6604 { // 70.00 at 6%: 3.962 → 3.96
		t.Errorf("re-issue tax: %+v", list[1])
	}
	// The re-issue goes the blue way: submitted, issued, e-mailed.
	if n, _ := e.svc.Sweep(ctx); n != 1 || len(e.plat.issued) != 2 || e.plat.issued[1].OrderNo != "ORD1-2" {
		t.Fatalf("re-issue submit: %d %+v", n, e.plat.issued)
	}
}

func TestRefundBeforeIssue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Not yet submitted: cancelled; what was kept re-requested.
	o := e.paid("ORD1", 10000)
	_, _, _ = e.svc.Request(ctx, o, []invoice.Part{{FeeItem: "物业费", Fen: 10000}}, company, "b@example.com")
	o.RefundedFen = 4000
	e.orders["ORD1"] = o
	if err := e.svc.Refund(ctx, refundEvent("RF1:2", "ORD1")); err != nil {
		t.Fatal(err)
	}
	list, _ := e.repo.OfOrder(ctx, "ORD1")
	if len(list) != 2 || list[0].Status != invoice.Cancelled || list[1].TotalFen != 6000 || list[1].Status != invoice.Requested {
		t.Fatalf("%+v", list)
	}
	// At the platform: reversed as soon as it is issued, and not e-mailed.
	o2 := e.paid("ORD2", 10000)
	_, _, _ = e.svc.Request(ctx, o2, []invoice.Part{{FeeItem: "物业费", Fen: 10000}}, company, "b@example.com")
	e.now = t0.Add(time.Second)
	_, _ = e.svc.Sweep(ctx)
	o2.Status, o2.RefundedFen = order.Refunded, 10000
	e.orders["ORD2"] = o2
	if err := e.svc.Refund(ctx, refundEvent("RF2:2", "ORD2")); err != nil {
		t.Fatal(err)
	}
	inv, _ := e.repo.Get(ctx, "ORD2", 1)
	if inv.Status != invoice.Submitted || !inv.RedPending || len(e.plat.reds) != 0 {
		t.Fatalf("deferred: %+v", inv)
	}
	sent := len(e.mail.sent)
	if err := e.svc.Apply(ctx, einvoice.Result{OrderNo: "ORD2-1", Serial: inv.PlatformSerial, State: einvoice.Issued, Number: "N9", PDFURL: "http://sb/9.pdf"}); err != nil {
		t.Fatal(err)
	}
	inv, _ = e.repo.Get(ctx, "ORD2", 1)
	if inv.Status != invoice.RedRequested || len(e.plat.reds) != 1 || len(e.mail.sent) != sent {
		t.Fatalf("issued with a refund waiting: %+v reds %d mails %d", inv, len(e.plat.reds), len(e.mail.sent)-sent)
	}
}

// A sender that died between its claim and SES leaves the claim
// unconfirmed: the schedule sends the e-mail after the grace, once.
func TestClaimedButUnsentEmailIsSentBySchedule(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.Email = nil // the "dying" sender: issues but never e-mails
	o := e.paid("ORD1", 10000)
	_, _, _ = e.svc.Request(ctx, o, []invoice.Part{{FeeItem: "物业费", Fen: 10000}}, company, "b@example.com")
	_, _ = e.svc.Sweep(ctx)
	inv, _ := e.repo.Get(ctx, "ORD1", 1)
	_ = e.svc.Apply(ctx, einvoice.Result{OrderNo: inv.ID, Serial: inv.PlatformSerial, State: einvoice.Issued, Number: "N1", PDFURL: "http://sb/a.pdf"})
	if _, err := e.repo.Update(ctx, "ORD1", 1, func(i *invoice.Invoice) error { return i.ClaimEmail(e.now) }); err != nil {
		t.Fatal(err)
	}
	e.svc.Email = e.mail
	if n, _ := e.svc.Sweep(ctx); n != 0 || len(e.mail.sent) != 0 {
		t.Fatalf("sent within the grace: %d %d", n, len(e.mail.sent))
	}
	e.now = e.now.Add(invoice.EmailGrace)
	if n, _ := e.svc.Sweep(ctx); n != 1 || len(e.mail.sent) != 1 {
		t.Fatalf("after the grace: handled %d, %d mails", n, len(e.mail.sent))
	}
	e.now = e.now.Add(time.Hour)
	if n, _ := e.svc.Sweep(ctx); n != 0 || len(e.mail.sent) != 1 {
		t.Fatalf("sent again: %d %d", n, len(e.mail.sent))
	}
	if got, _ := e.repo.Get(ctx, "ORD1", 1); !got.Emailed || !got.NextCheckAt.IsZero() {
		t.Errorf("%+v", got)
	}
}

// SubmitNew (the stream's path) submits only a request nobody has tried:
// not one a refund cancelled before the stream came, not one already
// submitted (a concurrent schedule run), not a re-delivery after a failed
// attempt (its backoff is the schedule's) — and the re-request for what a
// partial refund kept, yes.
func TestSubmitNewOnlyUntriedRequests(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	o := e.paid("ORD1", 10000)
	_, _, _ = e.svc.Request(ctx, o, []invoice.Part{{FeeItem: "物业费", Fen: 10000}}, company, "b@example.com")
	o.RefundedFen = 4000
	e.orders["ORD1"] = o
	if err := e.svc.Refund(ctx, refundEvent("RF1:2", "ORD1")); err != nil {
		t.Fatal(err)
	}
	if did, err := e.svc.SubmitNew(ctx, "ORD1", 1); did || err != nil || len(e.plat.issued) != 0 {
		t.Fatalf("cancelled request submitted: %v %v", did, err)
	}
	if did, err := e.svc.SubmitNew(ctx, "ORD1", 2); !did || err != nil || len(e.plat.issued) != 1 || e.plat.issued[0].OrderNo != "ORD1-2" {
		t.Fatalf("the re-request: %v %v %+v", did, err, e.plat.issued)
	}
	if did, err := e.svc.SubmitNew(ctx, "ORD1", 2); did || err != nil || len(e.plat.issued) != 1 {
		t.Fatalf("submitted twice: %v %v", did, err)
	}
	e.plat.fail = errors.New("timeout")
	_, _, _ = e.svc.Request(ctx, e.paid("ORD2", 500), nil, company, "b@example.com")
	if did, err := e.svc.SubmitNew(ctx, "ORD2", 1); !did || err == nil {
		t.Fatalf("a failed submission: %v %v", did, err)
	}
	e.plat.fail = nil
	if did, err := e.svc.SubmitNew(ctx, "ORD2", 1); did || err != nil {
		t.Fatalf("re-delivered after a failure: %v %v (the schedule's, after its backoff)", did, err)
	}
	if n, _ := e.svc.Sweep(ctx); n != 0 {
		t.Error("the schedule retried before the backoff")
	}
	e.now = t0.Add(invoicing.Backoff(0))
	if n, _ := e.svc.Sweep(ctx); n != 1 {
		t.Error("the schedule did not take over the failed one")
	}
	if did, err := e.svc.SubmitNew(ctx, "ORD9", 1); did || err != nil {
		t.Fatalf("unknown invoice: %v %v", did, err)
	}
}

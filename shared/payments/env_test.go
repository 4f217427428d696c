package payments_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/store/memory"
)

func newStore(t *testing.T) *store.Store { return stacktest.NewStore(t) }

// Directory fixture.
const (
	tokBoth    = "tok-both-0123456789abcdef"
	tokAliOnly = "tok-ali-0123456789abcdef"
	tokNone    = "tok-none-0123456789abcdef"
	tokRevoked = "tok-revoked-0123456789abcd"
	aliSeller  = "2088000000000009"
	aliApp     = "2021000000000009"
	wxMch      = "1900000009"
	wxApp      = "wx0000000000000009"
)

func seed(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutInterface(ctx, store.Interface{ID: "ali-1", CompanyID: "co-1", Channel: domain.Alipay, Status: domain.StatusApproved, Mode: "app", AppID: aliApp, SellerID: aliSeller, SecretRef: "file://x"}))
	must(s.PutInterface(ctx, store.Interface{ID: "wx-1", CompanyID: "co-1", Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct", AppID: wxApp, MchID: wxMch, SecretRef: "file://y"}))
	must(s.PutCompany(ctx, store.Company{ID: "co-1", Name: "物业", AlipayIfaceID: "ali-1"}))
	must(s.PutCompany(ctx, store.Company{ID: "co-2", Name: "未开通"}))
	must(s.PutCommunity(ctx, store.Community{ID: "com-both", CompanyID: "co-1", Name: "阳光花园", WeChatIfaceID: "wx-1"}))
	must(s.PutCommunity(ctx, store.Community{ID: "com-ali", CompanyID: "co-1", Name: "翠湖", MaxAmountFen: 1000}))
	must(s.PutCommunity(ctx, store.Community{ID: "com-none", CompanyID: "co-2", Name: "未开通小区"}))
	must(s.PutCode(ctx, store.Code{Token: tokBoth, CommunityID: "com-both", Kind: "community", Status: "active"}))
	must(s.PutCode(ctx, store.Code{Token: tokAliOnly, CommunityID: "com-ali", Kind: "community", Status: "active"}))
	must(s.PutCode(ctx, store.Code{Token: tokNone, CommunityID: "com-none", Kind: "community", Status: "active"}))
	must(s.PutCode(ctx, store.Code{Token: tokRevoked, CommunityID: "com-both", Kind: "community", Status: "revoked"}))
}

// fakeProvider records prepay calls; everything else is unused here.
type fakeProvider struct {
	ch pay.Channel
	f  *fakeProviders
}

func (p *fakeProvider) Channel() pay.Channel { return p.ch }

func (p *fakeProvider) Prepay(ctx context.Context, req pay.PrepayRequest) (pay.PrepayResult, error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.prepays = append(p.f.prepays, req)
	if p.f.onPrepay != nil {
		p.f.onPrepay(req)
	}
	if p.f.prepayErr != nil {
		return pay.PrepayResult{}, p.f.prepayErr
	}
	if p.ch == pay.WeChat {
		return pay.PrepayResult{JSAPI: map[string]string{"appId": wxApp, "package": "prepay_id=wx" + req.OrderID}, ProviderRef: "wx" + req.OrderID}, nil
	}
	return pay.PrepayResult{RedirectURL: "https://alipay.test/gateway.do?out_trade_no=" + req.OrderID}, nil
}

func (p *fakeProvider) ParseNotification(ctx context.Context, r *http.Request) (pay.Notification, error) {
	return pay.Notification{}, errors.New("not used")
}
func (p *fakeProvider) Query(ctx context.Context, orderID string) (pay.Trade, error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.queries = append(p.f.queries, orderID)
	if p.f.query == nil {
		return pay.Trade{}, errors.New("not used")
	}
	return p.f.query(orderID)
}
func (p *fakeProvider) Close(ctx context.Context, orderID string) error {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.closed = append(p.f.closed, orderID)
	return nil
}
func (p *fakeProvider) Refund(ctx context.Context, req pay.RefundRequest) (pay.RefundResult, error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.refunds = append(p.f.refunds, req)
	if p.f.refund == nil {
		return pay.RefundResult{}, errors.New("not used")
	}
	return p.f.refund(req)
}
func (p *fakeProvider) QueryRefund(ctx context.Context, orderID, refundID string) (pay.RefundResult, error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	if p.f.queryRefund == nil {
		return pay.RefundResult{}, errors.New("not used")
	}
	return p.f.queryRefund(orderID, refundID)
}
func (p *fakeProvider) ParseRefundNotification(ctx context.Context, r *http.Request) (pay.RefundNotification, error) {
	return pay.RefundNotification{}, errors.New("not used")
}
func (p *fakeProvider) TradeBill(ctx context.Context, day time.Time) ([]byte, error) {
	return nil, errors.New("not used")
}

type fakeProviders struct {
	mu        sync.Mutex
	prepays   []pay.PrepayRequest
	prepayErr error
	onPrepay  func(pay.PrepayRequest)
	queries   []string                        // order ids queried, in order
	closed    []string                        // order ids closed at the provider
	query     func(string) (pay.Trade, error) // Query's answer; nil: an error
	// refunds asked, Refund's answer and QueryRefund's (nil: an error)
	refunds     []pay.RefundRequest
	refund      func(pay.RefundRequest) (pay.RefundResult, error)
	queryRefund func(orderID, refundID string) (pay.RefundResult, error)
}

func (f *fakeProviders) Provider(ctx context.Context, iface store.Interface) (pay.Provider, error) {
	return &fakeProvider{ch: pay.Channel(iface.Channel), f: f}, nil
}

func (f *fakeProviders) calls() []pay.PrepayRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pay.PrepayRequest(nil), f.prepays...)
}

type env struct {
	st     *store.Store
	orders *memory.Orders
	prov   *fakeProviders
	svc    *payments.Service
	mu     sync.Mutex
	now    time.Time
	events []order.Event // what the relay would publish: one per state change
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *env) published() []order.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]order.Event(nil), e.events...)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := newStore(t)
	seed(t, st)
	e := &env{st: st, orders: memory.NewOrders(), prov: &fakeProviders{}, now: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
	e.orders.Changes = func(before *order.Order, after order.Order) {
		if ev, ok := order.Change(before, after); ok {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		}
	}
	e.svc = &payments.Service{
		Orders: e.orders, Directory: st, Providers: e.prov,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:           e.clock,
		PublicBaseURL: "https://pay.example.test",
		MaxAmountFen:  5_000_000,
	}
	return e
}

// all returns every order in the repository.
func (e *env) all(t *testing.T) []order.Order {
	t.Helper()
	var out []order.Order
	ids, _ := e.orders.Due(context.Background(), 0, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 1000)
	for _, id := range ids {
		o, _ := e.orders.Get(context.Background(), id)
		out = append(out, o)
	}
	return out
}

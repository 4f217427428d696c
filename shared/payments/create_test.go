package payments_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
)

const key = "idem-key-0123456789"

func TestCreateOrderRejects(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ok := payments.CreateRequest{Token: tokBoth, Channel: domain.Alipay, AmountFen: 100, IdempotencyKey: key}
	type want int
	const (
		invalid want = iota
		unknown
		unavailable
	)
	cases := []struct {
		name   string
		mutate func(*payments.CreateRequest)
		want   want
	}{
		{"no idempotency key", func(r *payments.CreateRequest) { r.IdempotencyKey = "" }, invalid},
		{"short idempotency key", func(r *payments.CreateRequest) { r.IdempotencyKey = strings.Repeat("a", 15) }, invalid},
		{"long idempotency key", func(r *payments.CreateRequest) { r.IdempotencyKey = strings.Repeat("a", 65) }, invalid},
		{"idempotency key with spaces", func(r *payments.CreateRequest) { r.IdempotencyKey = "abcdefgh ijklmnop" }, invalid},
		{"idempotency key with unicode", func(r *payments.CreateRequest) { r.IdempotencyKey = "abcdefghijklmnop键" }, invalid},
		{"no channel", func(r *payments.CreateRequest) { r.Channel = "" }, invalid},
		{"unknown channel", func(r *payments.CreateRequest) { r.Channel = "unionpay" }, invalid},
		{"zero amount", func(r *payments.CreateRequest) { r.AmountFen = 0 }, invalid},
		{"negative amount", func(r *payments.CreateRequest) { r.AmountFen = -100 }, invalid},
		{"above deployment max", func(r *payments.CreateRequest) { r.AmountFen = 5_000_001 }, invalid},
		{"above community max", func(r *payments.CreateRequest) { r.Token, r.AmountFen = tokAliOnly, 1001 }, invalid},
		{"wechat without openid", func(r *payments.CreateRequest) { r.Channel = domain.WeChat }, invalid},
		{"unknown token", func(r *payments.CreateRequest) { r.Token = "tok-unknown-0123456789abc" }, unknown},
		{"empty token", func(r *payments.CreateRequest) { r.Token = "" }, unknown},
		{"oversized token", func(r *payments.CreateRequest) { r.Token = strings.Repeat("a", 4096) }, unknown},
		{"revoked token", func(r *payments.CreateRequest) { r.Token = tokRevoked }, unknown},
		{"wechat on alipay-only", func(r *payments.CreateRequest) { r.Token, r.Channel, r.PayerID = tokAliOnly, domain.WeChat, "oX" }, unavailable},
		{"alipay on none", func(r *payments.CreateRequest) { r.Token = tokNone }, unavailable},
		{"wechat on none", func(r *payments.CreateRequest) { r.Token, r.Channel, r.PayerID = tokNone, domain.WeChat, "oX" }, unavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ok
			c.mutate(&r)
			_, err := e.svc.CreateOrder(ctx, r)
			var inv *payments.InvalidError
			switch c.want {
			case invalid:
				if !errors.As(err, &inv) || inv.Msg == "" {
					t.Fatalf("err = %v, want an InvalidError with a message", err)
				}
			case unknown:
				if !errors.Is(err, payments.ErrUnknownCode) {
					t.Fatalf("err = %v, want ErrUnknownCode", err)
				}
			case unavailable:
				if !errors.Is(err, payments.ErrChannelUnavailable) || err.Error() != domain.MsgNotOpen {
					t.Fatalf("err = %v, want ErrChannelUnavailable (%q)", err, domain.MsgNotOpen)
				}
			}
		})
	}
	if n := len(e.all(t)); n != 0 {
		t.Fatalf("rejected requests wrote %d orders", n)
	}
	if n := len(e.prov.calls()); n != 0 {
		t.Fatalf("rejected requests reached the provider %d times", n)
	}
}

func TestCreateOrderBounds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, c := range []struct {
		tok    string
		amount int64
	}{{tokBoth, 1}, {tokBoth, 5_000_000}, {tokAliOnly, 1000}} {
		r := payments.CreateRequest{Token: c.tok, Channel: domain.Alipay, AmountFen: c.amount, IdempotencyKey: key + string(rune('a'+i))}
		if _, err := e.svc.CreateOrder(ctx, r); err != nil {
			t.Errorf("amount %d on %s: %v", c.amount, c.tok, err)
		}
	}
}

func TestCreateOrderAlipayIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := payments.CreateRequest{Token: tokBoth, Channel: domain.Alipay, AmountFen: 1234, IdempotencyKey: key, ClientIP: "203.0.113.7"}
	c1, err := e.svc.CreateOrder(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !c1.New || c1.Order.Status != order.Pending || c1.Prepay.RedirectURL == "" {
		t.Fatalf("created = %+v", c1)
	}
	if c1.Order.ID != payments.OrderID(tokBoth, key) || !regexp.MustCompile(`^EP[A-Z2-7]{26}$`).MatchString(c1.Order.ID) {
		t.Fatalf("order id %q", c1.Order.ID)
	}
	o, err := e.orders.Get(ctx, c1.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != order.Pending || o.Version != 2 || o.AmountFen != 1234 || o.IfaceID != "ali-1" || o.MerchantID != aliSeller || o.AppID != aliApp ||
		o.CommunityID != "com-both" || o.CompanyID != "co-1" || o.Prepay == "" || o.Channel != domain.Alipay || !o.NextCheckAt.Equal(e.clock().Add(2*time.Minute)) {
		t.Fatalf("stored order = %+v", o)
	}
	calls := e.prov.calls()
	if len(calls) != 1 {
		t.Fatalf("%d prepay calls", len(calls))
	}
	p := calls[0]
	if p.OrderID != o.ID || p.AmountFen != 1234 || p.NotifyURL != "https://pay.example.test/notify/alipay/ali-1" ||
		p.ReturnURL != "https://pay.example.test/c/"+tokBoth+"/orders/"+o.ID || p.QuitURL != "https://pay.example.test/c/"+tokBoth ||
		p.ClientIP != "203.0.113.7" || !p.ExpireAt.Equal(e.clock().Add(10*time.Minute)) {
		t.Fatalf("prepay request = %+v", p)
	}

	// Same key, same body: the same order and the prepay stored with it.
	c2, err := e.svc.CreateOrder(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if c2.New || c2.Order.ID != c1.Order.ID || c2.Prepay.RedirectURL != c1.Prepay.RedirectURL || c2.Order.Version != 2 {
		t.Fatalf("retry = %+v", c2)
	}

	// Same key, different body.
	for _, mut := range []func(*payments.CreateRequest){
		func(r *payments.CreateRequest) { r.AmountFen = 1235 },
		func(r *payments.CreateRequest) {
			r.Channel, r.PayerID, r.PayerIface, r.PayerApp = domain.WeChat, "oPayer", "wx-1", wxApp
		},
		func(r *payments.CreateRequest) { r.Fields = map[string]string{"room": "1-101"} },
	} {
		r2 := r
		mut(&r2)
		if _, err := e.svc.CreateOrder(ctx, r2); !errors.Is(err, payments.ErrIdempotencyConflict) {
			t.Fatalf("different body: %v, want ErrIdempotencyConflict", err)
		}
	}
	if got, _ := e.orders.Get(ctx, c1.Order.ID); got.AmountFen != 1234 || got.Channel != domain.Alipay || got.Version != 2 {
		t.Fatalf("conflict changed the order: %+v", got)
	}
	// The same key at another code is another order.
	r3 := r
	r3.Token = tokAliOnly
	r3.AmountFen = 500
	c3, err := e.svc.CreateOrder(ctx, r3)
	if err != nil || !c3.New || c3.Order.ID == c1.Order.ID {
		t.Fatalf("same key, other code: %+v %v", c3, err)
	}

	// A paid order is returned as it is, without prepay.
	if _, err := e.svc.ApplyTrade(ctx, aliIface(t, e), paidTrade(o, "T")); err != nil {
		t.Fatal(err)
	}
	c4, err := e.svc.CreateOrder(ctx, r)
	if err != nil || c4.New || c4.Order.Status != order.Paid || c4.Prepay.RedirectURL != "" {
		t.Fatalf("retry of a paid order = %+v %v", c4, err)
	}
}

// Order creation writes once: the prepay goes into the creating write.
func TestCreateOrderOneWrite(t *testing.T) {
	e := newEnv(t)
	var writes []order.Order
	e.orders.Changes = func(before *order.Order, after order.Order) { writes = append(writes, after) }
	e.prov.onPrepay = func(req pay.PrepayRequest) {
		if _, err := e.orders.Get(context.Background(), req.OrderID); err == nil {
			t.Error("the order was stored before the provider call")
		}
	}
	if _, err := e.svc.CreateOrder(context.Background(), payments.CreateRequest{Token: tokBoth, Channel: domain.Alipay, AmountFen: 1, IdempotencyKey: key}); err != nil {
		t.Fatal(err)
	}
	if len(writes) != 1 || writes[0].Status != order.Pending || writes[0].Prepay == "" || len(e.prov.calls()) != 1 {
		t.Fatalf("writes %+v, prepay calls %d: want one write of a PENDING order with its prepay, one call", writes, len(e.prov.calls()))
	}
}

// Bug 2: retrying with the same key after the order expired (or closed)
// answers ErrOrderExpired; it never re-prepays with an expiry in the past nor
// hands back an expired prepay.
func TestCreateOrderExpired(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := payments.CreateRequest{Token: tokBoth, Channel: domain.WeChat, AmountFen: 300, PayerID: "oPayer", IdempotencyKey: key}
	c, err := e.svc.CreateOrder(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	e.advance(10*time.Minute - time.Second)
	if again, err := e.svc.CreateOrder(ctx, r); err != nil || again.Prepay.JSAPI["package"] == "" {
		t.Fatalf("retry within the window = %+v %v", again, err)
	}
	e.advance(time.Second)
	if _, err := e.svc.CreateOrder(ctx, r); !errors.Is(err, payments.ErrOrderExpired) {
		t.Fatalf("retry at expiry: %v, want ErrOrderExpired", err)
	}
	for _, p := range e.prov.calls() {
		if !p.ExpireAt.After(e.clock().Add(-10 * time.Minute)) {
			t.Fatalf("prepay with expiry %v in the past", p.ExpireAt)
		}
	}
	// Closed (by the sweeper): the same.
	r.IdempotencyKey = key + "b"
	c, err = e.svc.CreateOrder(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.orders.Update(ctx, c.Order.ID, func(o *order.Order) error { return o.Close(e.clock()) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateOrder(ctx, r); !errors.Is(err, payments.ErrOrderExpired) {
		t.Fatalf("retry of a closed order: %v, want ErrOrderExpired", err)
	}
	// A new key is a new order.
	r.IdempotencyKey = key + "c"
	if c, err := e.svc.CreateOrder(ctx, r); err != nil || !c.New {
		t.Fatalf("new key = %+v %v", c, err)
	}
}

func TestCreateOrderWeChat(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, err := e.svc.CreateOrder(ctx, payments.CreateRequest{Token: tokBoth, Channel: domain.WeChat, AmountFen: 88, PayerID: "oPayer", PayerIface: "wx-1", PayerApp: wxApp, IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if c.Prepay.JSAPI["package"] == "" || c.Order.IfaceID != "wx-1" || c.Order.MerchantID != wxMch || c.Order.AppID != wxApp || c.Order.PayerID != "oPayer" {
		t.Fatalf("wechat order = %+v", c)
	}
	if calls := e.prov.calls(); len(calls) != 1 || calls[0].PayerID != "oPayer" || calls[0].NotifyURL != "https://pay.example.test/notify/wechat/wx-1" {
		t.Fatalf("prepay = %+v", calls)
	}
}

// A failed prepay stores nothing; the retry with the same key succeeds.
func TestCreateOrderPrepayFailureRetry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.prov.prepayErr = errors.Join(pay.ErrProvider, errors.New("SYSTEMERROR"))
	r := payments.CreateRequest{Token: tokBoth, Channel: domain.Alipay, AmountFen: 700, IdempotencyKey: key}
	if _, err := e.svc.CreateOrder(ctx, r); !errors.Is(err, pay.ErrProvider) {
		t.Fatalf("err = %v, want it to wrap pay.ErrProvider", err)
	}
	if _, err := e.orders.Get(ctx, payments.OrderID(tokBoth, key)); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("after failed prepay: %v, want no order", err)
	}
	e.prov.prepayErr = nil
	c, err := e.svc.CreateOrder(ctx, r)
	if err != nil || c.Order.Status != order.Pending || c.Prepay.RedirectURL == "" {
		t.Fatalf("retry after failed prepay = %+v %v", c, err)
	}
	if n := len(e.all(t)); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

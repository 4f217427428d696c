package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// fakeOrders answers CreateOrder with err (or a new pending order) and keeps
// the last request.
type fakeOrders struct {
	err  error
	last *payments.CreateRequest
}

func (f *fakeOrders) CreateOrder(_ context.Context, r payments.CreateRequest) (payments.Created, error) {
	f.last = &r
	if f.err != nil {
		return payments.Created{}, f.err
	}
	return payments.Created{New: true, Order: order.Order{ID: payments.OrderID(r.Token, r.IdempotencyKey), CodeToken: r.Token,
		Channel: r.Channel, AmountFen: r.AmountFen, Status: order.Pending}, Prepay: pay.PrepayResult{RedirectURL: "https://cashier"}}, nil
}

func (f *fakeOrders) CreateNoticeOrder(_ context.Context, r payments.NoticeOrderRequest) (payments.Created, error) {
	if f.err != nil {
		return payments.Created{}, f.err
	}
	return payments.Created{New: true, Order: order.Order{ID: payments.NoticeOrderID(r.NoticeID, r.IdempotencyKey), NoticeID: r.NoticeID,
		Channel: r.Channel, AmountFen: r.ExpectFen, Status: order.Pending}, Prepay: pay.PrepayResult{RedirectURL: "https://cashier"}}, nil
}

func (f *fakeOrders) Order(context.Context, string) (order.Order, error) {
	return order.Order{}, payments.ErrUnknownOrder
}

const unitToken = "UnitTestToken0123456789ab"

var unitKey = []byte("unit-test-key-unit-test-key-0123")

func createEvent(body string, cookies ...string) web.Request {
	return web.Request{RouteKey: "POST /api/orders", Body: body, Cookies: cookies,
		Headers: map[string]string{"content-type": "application/json", "idempotency-key": "unit-key-0123456789"}}
}

func errorOf(t *testing.T, r web.Response) (string, string) {
	t.Helper()
	var e web.ErrorBody
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("not a JSON error: %s", r.Body)
	}
	return e.Error.Code, e.Error.Message
}

// Each outcome of CreateOrder maps to its status, code and Chinese message;
// an expired order is 409 order_expired (bug 2) so the page starts a new order.
func TestCreateErrorMapping(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	cookies := web.PayerCookies{Key: unitKey}
	set, err := cookies.Issue(web.Payer{Iface: "wx-1", AppID: "wxapp", OpenID: "oPayer"}, now)
	if err != nil {
		t.Fatal(err)
	}
	ck := strings.SplitN(set[1], ";", 2)[0]
	cases := []struct {
		err       error
		status    int
		code, msg string
	}{
		{payments.ErrOrderExpired, 409, "order_expired", "订单已过期，请重新支付"},
		{fmt.Errorf("wrapped: %w", payments.ErrOrderExpired), 409, "order_expired", "订单已过期，请重新支付"},
		{payments.ErrPayerMismatch, 401, "payer_required", "微信授权已过期，请刷新页面后重试"},
		{payments.ErrIdempotencyConflict, 409, "idempotency_conflict", "订单信息已变更，请刷新页面后重试"},
		{payments.ErrUnknownCode, 404, "unknown_code", "收款码不存在或已停用"},
		{payments.ErrCodeExpired, 410, "code_expired", "此收款码已失效，请向收款人索取新的收款码"},
		{payments.ErrChannelUnavailable, 403, "channel_unavailable", domain.MsgNotOpen},
		{&payments.InvalidError{Msg: "金额至少 0.01 元"}, 400, "invalid", "金额至少 0.01 元"},
		{fmt.Errorf("prepay: %w", pay.ErrProvider), 502, "provider_error", "支付渠道暂不可用，请稍后重试"},
		{errors.New("boom"), 500, "internal", "下单失败，请稍后重试"},
	}
	for _, c := range cases {
		f := &fakeOrders{err: c.err}
		h := &Handler{Payments: f, Payers: cookies, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
		r, _ := h.Handle(context.Background(), createEvent(`{"token":"`+unitToken+`","channel":"wechat","amount_fen":100,"fields":{"room":"3-201"}}`, ck))
		code, msg := errorOf(t, r)
		if r.StatusCode != c.status || code != c.code || msg != c.msg {
			t.Errorf("%v: %d %s %q, want %d %s %q", c.err, r.StatusCode, code, msg, c.status, c.code, c.msg)
		}
		if f.last == nil || f.last.PayerID != "oPayer" || f.last.PayerIface != "wx-1" || f.last.PayerApp != "wxapp" || f.last.Fields["room"] != "3-201" {
			t.Errorf("%v: request %+v, want the cookie's payer and the fields", c.err, f.last)
		}
	}
}

// The payer comes from the cookie only; Alipay orders need none.
func TestCreatePayerFromCookieOnly(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	f := &fakeOrders{}
	h := &Handler{Payments: f, Payers: web.PayerCookies{Key: unitKey}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	r, _ := h.Handle(context.Background(), createEvent(`{"token":"`+unitToken+`","channel":"alipay","amount_fen":100,"payer_id":""}`))
	if r.StatusCode != 201 || f.last == nil || f.last.PayerID != "" {
		t.Fatalf("alipay without cookie: %d %s", r.StatusCode, r.Body)
	}
	f.last = nil
	r, _ = h.Handle(context.Background(), createEvent(`{"token":"`+unitToken+`","channel":"wechat","amount_fen":100}`))
	if code, _ := errorOf(t, r); r.StatusCode != 401 || code != "payer_required" || f.last != nil {
		t.Fatalf("wechat without cookie: %d %s (service called: %v)", r.StatusCode, r.Body, f.last != nil)
	}
	r, _ = h.Handle(context.Background(), createEvent(`{"token":"`+unitToken+`","channel":"alipay","amount_fen":100,"payer_id":"oX"}`))
	if code, _ := errorOf(t, r); r.StatusCode != 400 || code != "payer_id_not_accepted" || f.last != nil {
		t.Fatalf("payer_id in body: %d %s", r.StatusCode, r.Body)
	}
}

package payments_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

// A WeChat openid is accepted only with the interface and app it was issued
// for (bug 9): an openid obtained through another company's official account
// must not be sent to this merchant's prepay.
func TestCreateOrderPayerBinding(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := payments.CreateRequest{Token: tokBoth, Channel: domain.WeChat, AmountFen: 100, PayerID: "oPayer", PayerIface: "wx-1", PayerApp: wxApp}
	for name, mut := range map[string]func(*payments.CreateRequest){
		"other app":         func(r *payments.CreateRequest) { r.PayerApp = "wx-other" },
		"other interface":   func(r *payments.CreateRequest) { r.PayerIface = "wx-2" },
		"no binding at all": func(r *payments.CreateRequest) { r.PayerIface, r.PayerApp = "", "" },
	} {
		r := base
		r.IdempotencyKey = "binding-key-" + name[:2] + "-0123456789"
		mut(&r)
		if _, err := e.svc.CreateOrder(ctx, r); !errors.Is(err, payments.ErrPayerMismatch) {
			t.Errorf("%s: %v, want ErrPayerMismatch", name, err)
		}
	}
	if n := len(e.prov.calls()); n != 0 {
		t.Fatalf("%d prepays for mismatched payers", n)
	}
	r := base
	r.IdempotencyKey = "binding-key-ok-0123456789"
	if _, err := e.svc.CreateOrder(ctx, r); err != nil {
		t.Fatalf("matching binding: %v", err)
	}
}

// Payer fields (M5) are validated against the code's definitions and stored
// cleaned on the order.
func TestCreateOrderPayerFields(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	room := domain.PayerFields{{Key: "room", Label: "房号", Type: domain.FieldText, Required: true, MaxLen: 10}}
	if err := e.st.PutCommunity(ctx, store.Community{ID: "com-both", CompanyID: "co-1", Name: "阳光花园", WeChatIfaceID: "wx-1", PayerFields: room}); err != nil {
		t.Fatal(err)
	}
	r := payments.CreateRequest{Token: tokBoth, Channel: domain.Alipay, AmountFen: 100, IdempotencyKey: "fields-key-missing-0123"}
	_, err := e.svc.CreateOrder(ctx, r)
	var inv *payments.InvalidError
	if !errors.As(err, &inv) || inv.Msg != "请填写房号" {
		t.Fatalf("missing 房号: %v", err)
	}
	r.IdempotencyKey, r.Fields = "fields-key-unknown-0123", map[string]string{"room": "1", "x": "y"}
	if _, err := e.svc.CreateOrder(ctx, r); !errors.As(err, &inv) || inv.Msg != "不支持的填写项：x" {
		t.Fatalf("unknown field: %v", err)
	}
	if n := len(e.prov.calls()); n != 0 {
		t.Fatalf("%d prepays for invalid fields", n)
	}
	r.IdempotencyKey, r.Fields = "fields-key-ok-0123456789", map[string]string{"room": " 3-201 "}
	c, err := e.svc.CreateOrder(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.orders.Get(ctx, c.Order.ID)
	if err != nil || !maps.Equal(got.Fields, map[string]string{"room": "3-201"}) {
		t.Fatalf("stored fields %v (%v), want room=3-201", got.Fields, err)
	}
	// The same key with other field values is another request.
	r.Fields = map[string]string{"room": "3-202"}
	if _, err := e.svc.CreateOrder(ctx, r); !errors.Is(err, payments.ErrIdempotencyConflict) {
		t.Fatalf("same key, other 房号: %v, want ErrIdempotencyConflict", err)
	}
}

// An Alipay payer identity (issued at 我的缴费记录) is recorded as the
// order's payer and history key when it was issued for this collection's
// Alipay interface and app; any other, or none, records nothing and the
// payment goes ahead. A retry without the (lapsed) identity is the same
// request. WeChat orders get the openid's key.
func TestCreateOrderAlipayPayerKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := payments.CreateRequest{Token: tokBoth, Channel: domain.Alipay, AmountFen: 100, PayerID: "buyer-open-1", PayerIface: "ali-1", PayerApp: aliApp}
	for name, c := range map[string]struct {
		mut  func(*payments.CreateRequest)
		want string
	}{
		"issued for it":   {func(*payments.CreateRequest) {}, "alipay:" + aliApp + ":buyer-open-1"},
		"other interface": {func(r *payments.CreateRequest) { r.PayerIface = "ali-2" }, ""},
		"other app":       {func(r *payments.CreateRequest) { r.PayerApp = "2021000000000001" }, ""},
		"none":            {func(r *payments.CreateRequest) { r.PayerID, r.PayerIface, r.PayerApp = "", "", "" }, ""},
	} {
		r := base
		r.IdempotencyKey = "alipay-payer-" + name[:4] + "-0123456789"
		c.mut(&r)
		created, err := e.svc.CreateOrder(ctx, r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := e.orders.Get(ctx, created.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PayerKey != c.want || (c.want == "" && got.PayerID != "") {
			t.Errorf("%s: payer key %q id %q, want key %q", name, got.PayerKey, got.PayerID, c.want)
		}
	}
	// The retry of the first request, its identity lapsed meanwhile: the same order.
	r := base
	r.IdempotencyKey = "alipay-payer-issu-0123456789"
	r.PayerID, r.PayerIface, r.PayerApp = "", "", ""
	if _, err := e.svc.CreateOrder(ctx, r); err != nil {
		t.Fatalf("retry without the identity: %v", err)
	}
	w := payments.CreateRequest{Token: tokBoth, Channel: domain.WeChat, AmountFen: 100, PayerID: "oPayer", PayerIface: "wx-1", PayerApp: wxApp, IdempotencyKey: "wechat-payer-key-0123456789"}
	created, err := e.svc.CreateOrder(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.orders.Get(ctx, created.Order.ID); got.PayerKey != "wechat:"+wxApp+":oPayer" {
		t.Errorf("WeChat payer key %q", got.PayerKey)
	}
}

package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// fakeCodes answers LoadCollection with one code.
type fakeCodes struct{ code store.Code }

func (f fakeCodes) LoadCollection(_ context.Context, token string) (store.Collection, error) {
	if token != f.code.Token {
		return store.Collection{}, store.ErrNotFound
	}
	return store.Collection{Code: f.code}, nil
}

// A screen code's order (F7): the form's token is accepted for
// dyncode.FormMinutes after its minute and refused after (410
// dynamic_expired), an altered or another code's token is 403
// dynamic_invalid, and a 动态码 only code refuses an order without one (403
// dynamic_required) — in every refusal CreateOrder is never called.
func TestCreateDynamicToken(t *testing.T) {
	m := time.Date(2026, 12, 6, 15, 4, 0, 0, time.UTC)
	now := m
	signer := &dyncode.Signer{Key: []byte("orders-test-key-orders-test-key-0")}
	codes := fakeCodes{code: store.Code{Token: unitToken, Status: "active"}}
	f := &fakeOrders{}
	h := &Handler{Payments: f, Payers: web.PayerCookies{Key: unitKey}, Dyn: signer, Codes: codes,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}
	post := func(dyn string) web.Response {
		t.Helper()
		f.last = nil
		body := `{"token":"` + unitToken + `","channel":"alipay","amount_fen":100`
		if dyn != "" {
			body += `,"dyn":"` + dyn + `"`
		}
		r, _ := h.Handle(context.Background(), createEvent(body+"}"))
		return r
	}
	refused := func(r web.Response, status int, code, msg string) {
		t.Helper()
		c, got := errorOf(t, r)
		if r.StatusCode != status || c != code || got != msg || f.last != nil {
			t.Fatalf("%d %s %q (service called: %v), want %d %s %q", r.StatusCode, c, got, f.last != nil, status, code, msg)
		}
	}
	tok := signer.TokenAt(unitToken, m)
	for _, at := range []time.Duration{0, time.Minute, (dyncode.FormMinutes+1)*time.Minute - time.Second} {
		now = m.Add(at)
		if r := post(tok); r.StatusCode != 201 || f.last == nil {
			t.Fatalf("m+%s: %d %s", at, r.StatusCode, r.Body)
		}
	}
	now = m.Add((dyncode.FormMinutes + 1) * time.Minute)
	refused(post(tok), 410, "dynamic_expired", "此动态码已过期，请重新扫描屏幕上的收款码")
	now = m
	refused(post(tok[:len(tok)-1]+"x"), 403, "dynamic_invalid", dyncode.MsgInvalid)
	refused(post(signer.TokenAt("AnotherToken0123456789ab", m)), 403, "dynamic_invalid", dyncode.MsgInvalid)
	refused(post(`x"}`), 400, "bad_json", "请求须为一个 JSON 对象：token（或 notice）、channel、amount_fen，可选 fields")

	// No token: the printed code pays until 动态码 only.
	if r := post(""); r.StatusCode != 201 {
		t.Fatalf("printed code: %d %s", r.StatusCode, r.Body)
	}
	h.Codes = fakeCodes{code: store.Code{Token: unitToken, Status: "active", DynamicOnly: true}}
	refused(post(""), 403, "dynamic_required", dyncode.MsgRequired)
	if r := post(tok); r.StatusCode != 201 {
		t.Fatalf("screen code of a 动态码 only code: %d %s", r.StatusCode, r.Body)
	}
	// Without a key every token is refused.
	h.Dyn = nil
	refused(post(tok), 403, "dynamic_invalid", dyncode.MsgInvalid)
}

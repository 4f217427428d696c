package main

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// The screen code (F7): the landing page takes a minute token of the
// current or the previous minute, refuses it from the minute after (410,
// 此动态码已过期…) and refuses an altered one (403); the form carries the
// token on to the order. A code an admin set to 动态码 only refuses the
// printed code's scan (no token).
func TestDynamicCodeLanding(t *testing.T) {
	st := stacktest.NewStore(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateInterface(ctx, store.Interface{ID: "ali-d", CompanyID: "co-d", Channel: domain.Alipay, Status: domain.StatusApproved, Mode: "app", AppID: "2021010", SellerID: "2088010", SecretRef: "file:///x"}))
	must(st.CreateCompany(ctx, store.Company{ID: "co-d", Name: "动码物业", AlipayIfaceID: "ali-d"}))
	must(st.CreateCommunity(ctx, store.Community{ID: "cm-d", CompanyID: "co-d", Name: "动码广场"}))
	m := time.Date(2026, 12, 6, 15, 4, 0, 0, time.UTC) // minute m starts
	set, err := managercode.New("mgr-d", "co-d", "cm-d", "tokDynamicDefault00000001", m)
	must(err)
	must(st.CreateManagerCodes(ctx, set, "李经理"))
	token := set.Default.Token
	signer := &dyncode.Signer{Key: []byte("landing-test-key-landing-test-key")}
	now := m
	h := &Handler{Directory: st, Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicBaseURL: "https://pay.example.com",
		MaxAmountFen: 5_000_000, Dyn: signer, Now: func() time.Time { return now }}
	open := func(dyn string) web.Response {
		t.Helper()
		req := web.Request{RouteKey: "GET /c/{token}", PathParameters: map[string]string{"token": token}, Headers: map[string]string{"user-agent": uaAlipay}}
		if dyn != "" {
			req.QueryStringParameters = map[string]string{"d": dyn}
		}
		r, err := h.Handle(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tok := signer.TokenAt(token, m.Add(30*time.Second))
	for _, at := range []time.Duration{0, 59 * time.Second, time.Minute, 2*time.Minute - time.Second} {
		now = m.Add(at)
		r := open(tok)
		if r.StatusCode != 200 || !strings.Contains(r.Body, `id="payform"`) || !strings.Contains(r.Body, `data-dyn="`+tok+`"`) {
			t.Fatalf("m+%s: %d, want the form carrying the token; %s", at, r.StatusCode, r.Body)
		}
	}
	now = m.Add(2 * time.Minute)
	r := open(tok)
	if r.StatusCode != 410 || strings.Contains(r.Body, `id="payform"`) || !strings.Contains(r.Body, "此动态码已过期，请重新扫描屏幕上的收款码") || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("m+2: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	now = m
	bad := tok[:len(tok)-2] + "AA"
	if bad == tok {
		bad = tok[:len(tok)-2] + "BB"
	}
	if r := open(bad); r.StatusCode != 403 || strings.Contains(r.Body, `id="payform"`) || !strings.Contains(r.Body, dyncode.MsgInvalid) {
		t.Fatalf("altered token: %d %s", r.StatusCode, r.Body)
	}
	if r := open(signer.TokenAt("tokSomeOtherCode000000001", m)); r.StatusCode != 403 {
		t.Fatalf("another code's token: %d", r.StatusCode)
	}
	// The printed code (no token) pays until the admin sets 动态码 only.
	if r := open(""); r.StatusCode != 200 || !strings.Contains(r.Body, `id="payform"`) || strings.Contains(r.Body, "data-dyn") {
		t.Fatalf("printed code: %d", r.StatusCode)
	}
	code, err := st.GetCode(ctx, token)
	must(err)
	code.DynamicOnly = true
	must(st.PutCode(ctx, code))
	if r := open(""); r.StatusCode != 403 || strings.Contains(r.Body, `id="payform"`) || !strings.Contains(r.Body, dyncode.MsgRequired) {
		t.Fatalf("printed code of a 动态码 only code: %d %s", r.StatusCode, r.Body)
	}
	if r := open(signer.TokenAt(token, now)); r.StatusCode != 200 {
		t.Fatalf("screen code of a 动态码 only code: %d", r.StatusCode)
	}
}

// The OAuth round trip keeps the token: WeChat sends the payer back to the
// screen form's URL, with ?d=, and a retry appends to it.
func TestWithDyn(t *testing.T) {
	if got := withDyn("/c/abc", ""); got != "/c/abc" {
		t.Fatal(got)
	}
	got := withDyn("/c/abc", "x1.ab-_")
	u, err := url.Parse(got)
	if err != nil || u.Path != "/c/abc" || u.Query().Get("d") != "x1.ab-_" {
		t.Fatalf("%q", got)
	}
}

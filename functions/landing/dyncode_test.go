package main

import (
	"context"
	"errors"
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
	"github.com/estatepay/estatepay/shared/pay/alipay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
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

// fakeOAuth is a WeChat OAuth client that only builds authorize URLs.
type fakeOAuth struct{}

func (fakeOAuth) OAuth(context.Context, store.Interface) (wechatpay.OAuth, error) {
	return wechatpay.OAuth{AppID: "wxdyn", OpenBaseURL: "https://open.example.com"}, nil
}
func (fakeOAuth) AlipayOAuth(context.Context, store.Interface) (*alipay.OAuth, error) {
	return nil, errors.New("no alipay")
}

// In WeChat the screen code's scan goes through OAuth first: WeChat is asked
// to send the payer back to the same screen URL, token included; an expired
// token never starts the round trip.
func TestDynamicCodeWeChatRoundTrip(t *testing.T) {
	st := stacktest.NewStore(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateInterface(ctx, store.Interface{ID: "wx-d", CompanyID: "co-w", Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct",
		AppID: "wxdyn", MchID: "1900009", SecretRef: "file:///x", OAuthSecretRef: "file:///y"}))
	must(st.CreateCompany(ctx, store.Company{ID: "co-w", Name: "微信物业"}))
	must(st.CreateCommunity(ctx, store.Community{ID: "cm-w", CompanyID: "co-w", Name: "微信小区", WeChatIfaceID: "wx-d"}))
	token := "tokDynamicWeChat000000001"
	must(st.CreateCode(ctx, store.Code{Token: token, CommunityID: "cm-w", Kind: "community", Status: "active"}))
	m := time.Date(2026, 12, 6, 15, 4, 0, 0, time.UTC)
	now := m
	signer := &dyncode.Signer{Key: []byte("landing-test-key-landing-test-key")}
	h := &Handler{Directory: st, Store: st, OAuth: fakeOAuth{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicBaseURL: "https://pay.example.com",
		MaxAmountFen: 5_000_000, Dyn: signer, Payers: web.PayerCookies{Key: []byte("payer-key-payer-key-payer-key-012")}, Now: func() time.Time { return now }}
	tok := signer.TokenAt(token, m)
	open := func(q map[string]string) web.Response {
		t.Helper()
		r, err := h.Handle(ctx, web.Request{RouteKey: "GET /c/{token}", PathParameters: map[string]string{"token": token}, QueryStringParameters: q,
			Headers: map[string]string{"user-agent": uaWeChat, "host": "pay.example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open(map[string]string{"d": tok})
	loc, err := url.Parse(r.Headers["Location"])
	if r.StatusCode != 302 || err != nil {
		t.Fatalf("first scan: %d %v", r.StatusCode, r.Headers)
	}
	back, err := url.Parse(loc.Query().Get("redirect_uri"))
	if err != nil || back.Path != "/c/"+token || back.Query().Get("d") != tok {
		t.Fatalf("WeChat sends the payer back to %q, want the screen URL with its token", loc.Query().Get("redirect_uri"))
	}
	// A failed code exchange retries once: the retry mark joins the token.
	r = open(map[string]string{"d": tok, "code": "bad", "state": "nope"})
	loc, _ = url.Parse(r.Headers["Location"])
	back, _ = url.Parse(loc.Query().Get("redirect_uri"))
	if r.StatusCode != 302 || back.Query().Get("d") != tok || back.Query().Get("oauth_retry") != "1" {
		t.Fatalf("retry: %d back to %q", r.StatusCode, back)
	}
	now = m.Add(2 * time.Minute)
	if r := open(map[string]string{"d": tok}); r.StatusCode != 410 || r.Headers["Location"] != "" {
		t.Fatalf("expired token in WeChat: %d %v", r.StatusCode, r.Headers)
	}
}

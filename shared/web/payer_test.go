package web

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func cookieRequest(setCookies ...string) Request {
	var req Request
	for _, sc := range setCookies {
		nv, _, _ := strings.Cut(sc, ";")
		req.Cookies = append(req.Cookies, nv)
	}
	return req
}

func TestPayerCookieRoundTripAndAttributes(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	c := PayerCookies{Key: testKey, Secure: true}
	p := Payer{Iface: "demo-wechat", AppID: "wx8888888888888888", OpenID: "oAbCdEfGhIjKlMnOpQrStUvWxYz0"}
	set, err := c.Issue(p, now)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, sc := range set {
		h := http.Header{"Set-Cookie": {sc}}
		ck := (&http.Response{Header: h}).Cookies()
		if len(ck) != 1 || ck[0].Name != PayerCookieName || !ck[0].HttpOnly || !ck[0].Secure || ck[0].SameSite != http.SameSiteLaxMode ||
			ck[0].MaxAge != int(PayerCookieTTL/time.Second) {
			t.Fatalf("Set-Cookie %q parsed as %+v", sc, ck)
		}
		paths[ck[0].Path] = true
	}
	if len(paths) != 3 || !paths["/c/"] || !paths["/n/"] || !paths["/api/orders"] {
		t.Fatalf("cookie paths %v, want /c/, /n/ and /api/orders", paths)
	}
	got, err := c.Read(cookieRequest(set[0]), now.Add(PayerCookieTTL-time.Second))
	if err != nil || got.OpenID != p.OpenID || got.AppID != p.AppID || got.Iface != p.Iface || !got.Expires.Equal(now.Add(PayerCookieTTL)) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if _, err := c.Read(cookieRequest(set[0]), now.Add(PayerCookieTTL)); !errors.Is(err, ErrPayerExpired) {
		t.Fatalf("at expiry: %v, want ErrPayerExpired", err)
	}
	if set, _ := (PayerCookies{Key: testKey}).Issue(p, now); strings.Contains(set[0], "Secure") {
		t.Fatalf("Secure set on an http deployment: %q", set[0])
	}
}

func TestPayerCookieRejectsForgeries(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	c := PayerCookies{Key: testKey}
	set, _ := c.Issue(Payer{Iface: "wx", AppID: "wxapp", OpenID: "oPayer"}, now)
	value := strings.TrimPrefix(strings.SplitN(set[0], ";", 2)[0], PayerCookieName+"=")
	enc, sig, _ := strings.Cut(value, ".")
	other, _ := PayerCookies{Key: []byte(strings.Repeat("k", 32))}.Issue(Payer{Iface: "wx", AppID: "wxapp", OpenID: "oPayer"}, now)
	flip := []byte(sig)
	flip[3] ^= 1
	cases := map[string]string{
		"other key":       strings.SplitN(other[0], ";", 2)[0],
		"tampered mac":    PayerCookieName + "=" + enc + "." + string(flip),
		"payload swapped": PayerCookieName + "=" + b64("1|9999999999|wx|wxapp|oAttacker") + "." + sig,
		"no signature":    PayerCookieName + "=" + enc,
		"empty":           PayerCookieName + "=",
		"huge":            PayerCookieName + "=" + strings.Repeat("A", 60000),
		"script":          PayerCookieName + "=<script>alert(1)</script>",
	}
	for name, ck := range cases {
		if _, err := c.Read(Request{Cookies: []string{ck}}, now); !errors.Is(err, ErrBadPayer) {
			t.Errorf("%s: %v, want ErrBadPayer", name, err)
		}
	}
	if _, err := c.Read(Request{Cookies: []string{"other=1"}}, now); !errors.Is(err, ErrNoPayer) {
		t.Errorf("no cookie: %v", err)
	}
	// A valid cookie next to a forged one is still found.
	if p, err := c.Read(Request{Cookies: []string{cases["tampered mac"], strings.SplitN(set[1], ";", 2)[0]}}, now); err != nil || p.OpenID != "oPayer" {
		t.Errorf("valid among forged: %+v %v", p, err)
	}
	// Components that could smuggle markup or separators are never issued.
	for _, bad := range []Payer{{Iface: "wx", AppID: "wxapp", OpenID: "<script>"}, {Iface: "w|x", AppID: "a", OpenID: "o"}, {Iface: "wx", AppID: "a", OpenID: strings.Repeat("o", 65)}, {}} {
		if _, err := c.Issue(bad, now); err == nil {
			t.Errorf("issued a cookie for %+v", bad)
		}
	}
	if _, err := (PayerCookies{Key: []byte("short")}).Issue(Payer{Iface: "wx", AppID: "a", OpenID: "o"}, now); err == nil {
		t.Error("issued with a short key")
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

type mapSecrets map[string]string

func (m mapSecrets) Load(_ context.Context, ref string) ([]byte, error) {
	v, ok := m[ref]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return []byte(v), nil
}

func TestLoadPayerKey(t *testing.T) {
	s := mapSecrets{"ok": "  " + strings.Repeat("ab", 32) + "\n", "short": strings.Repeat("a", 31)}
	if k, err := LoadPayerKey(context.Background(), s, "ok"); err != nil || len(k) != 64 {
		t.Fatalf("ok: %d bytes, %v", len(k), err)
	}
	for _, ref := range []string{"", "short", "missing"} {
		if _, err := LoadPayerKey(context.Background(), s, ref); err == nil {
			t.Errorf("%q: no error", ref)
		}
	}
}

func TestWantsJSONAndNotFound(t *testing.T) {
	cases := []struct {
		path, accept string
		json         bool
	}{
		{"/", "text/html,application/xhtml+xml,*/*;q=0.8", false},
		{"/nope", "text/html", false},
		{"/nope", "", true},
		{"/nope", "*/*", true},
		{"/nope", "application/json", true},
		{"/api/nothing", "text/html", true},
		{"/api", "text/html", true},
		{"/admin/api/x", "text/html", true},
		{"/notify/other/x", "text/html", true},
	}
	for _, c := range cases {
		req := Request{RawPath: c.path, Headers: map[string]string{}}
		if c.accept != "" {
			req.Headers["accept"] = c.accept
		}
		if got := WantsJSON(req); got != c.json {
			t.Errorf("%s (Accept %q): WantsJSON %v", c.path, c.accept, got)
		}
		r := NotFound(req)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d", c.path, r.StatusCode)
		}
		if c.json != strings.HasPrefix(r.Headers["Content-Type"], "application/json") {
			t.Errorf("%s: content type %q", c.path, r.Headers["Content-Type"])
		}
		if !c.json && (!strings.Contains(r.Body, MsgPageNotFound) || !strings.Contains(r.Body, `lang="zh-CN"`)) {
			t.Errorf("%s: not the Chinese page: %s", c.path, r.Body)
		}
		if c.json && !strings.Contains(r.Body, `"not_found"`) {
			t.Errorf("%s: body %s", c.path, r.Body)
		}
	}
}

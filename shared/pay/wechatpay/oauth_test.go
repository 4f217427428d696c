package wechatpay_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core"

	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

// browser follows the authorize URL like WeChat's web view and returns the
// code and state handed to the redirect URI.
func authorize(t *testing.T, hc *http.Client, o wechatpay.OAuth, redirect, state string) (string, string) {
	t.Helper()
	u := o.AuthorizeURL(redirect, state)
	if !strings.HasSuffix(u, "#wechat_redirect") || !strings.Contains(u, "scope=snsapi_base") {
		t.Fatalf("authorize url %s", u)
	}
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: HTTP %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("redirected to %v", loc)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

func TestOAuthRoundTrip(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	o := wechatpay.OAuth{AppID: directAppID, Secret: appSecret, OpenBaseURL: e.url, APIBaseURL: e.url}
	ctx := context.Background()
	const redirect = "https://pay.example.com/wx/callback?o=1"

	code, state := authorize(t, hc, o, redirect, "st-42")
	if code == "" || state != "st-42" {
		t.Fatalf("code %q state %q", code, state)
	}
	openid, err := o.OpenID(ctx, code)
	if err != nil || !strings.HasPrefix(openid, "o") || len(openid) != 28 {
		t.Fatalf("openid %q %v", openid, err)
	}
	var oe *wechatpay.OAuthError
	if _, err := o.OpenID(ctx, code); !errors.As(err, &oe) || oe.Code != 40163 {
		t.Fatalf("code reuse: %v", err)
	}
	if _, err := o.OpenID(ctx, "nonsense"); !errors.As(err, &oe) || oe.Code != 40029 {
		t.Fatalf("invalid code: %v", err)
	}

	// Same browser: same openid. Another browser: another openid.
	code2, _ := authorize(t, hc, o, redirect, "s")
	if again, err := o.OpenID(ctx, code2); err != nil || again != openid {
		t.Fatalf("same browser got %q, want %q (%v)", again, openid, err)
	}
	jar2, _ := cookiejar.New(nil)
	hc2 := &http.Client{Jar: jar2, CheckRedirect: hc.CheckRedirect}
	code3, _ := authorize(t, hc2, o, redirect, "s")
	if other, err := o.OpenID(ctx, code3); err != nil || other == openid {
		t.Fatalf("second browser got %q (%v)", other, err)
	}

	bad := o
	bad.Secret = "wrong"
	code4, _ := authorize(t, hc, o, redirect, "s")
	if _, err := bad.OpenID(ctx, code4); !errors.As(err, &oe) || oe.Code != 40125 || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong secret: %v", err)
	}

	// The openid pays through the adapter.
	res := e.prepay(t, "OAUTH_00001", 100, openid)
	if res.ProviderRef == "" {
		t.Fatal("no prepay id")
	}
	// An openid issued for another appid is refused, as in production.
	o2 := wechatpay.OAuth{AppID: subAppID, Secret: appSecret, OpenBaseURL: e.url, APIBaseURL: e.url}
	code5, _ := authorize(t, hc, o2, redirect, "s")
	foreign, err := o2.OpenID(ctx, code5)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.p.Prepay(ctx, e.prepayReq("OAUTH_00002", 100, foreign))
	var ae *core.APIError
	if !errors.Is(err, pay.ErrProvider) || !errors.As(err, &ae) || ae.Code != "PARAM_ERROR" {
		t.Fatalf("foreign openid: %v", err)
	}
}

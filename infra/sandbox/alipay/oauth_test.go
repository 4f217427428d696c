package alipay

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	adapter "github.com/estatepay/estatepay/shared/pay/alipay"
)

// browser is a cookie-keeping client that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authorize opens the authorize URL u in b and returns the auth_code Alipay
// sent back (checking the state and the redirect's own query survive).
func authorize(t *testing.T, b *http.Client, u string) string {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if loc.Host != "estate.example" || loc.Path != "/c/tok/history" || q.Get("keep") != "1" || q.Get("state") != "st-1" || q.Get("app_id") != "2021001" || q.Get("scope") != "auth_base" {
		t.Fatalf("redirect %s", loc)
	}
	return q.Get("auth_code")
}

// The auth_base round trip through our adapter and the real SDK: the
// authorize page sends the browser back with an auth_code, which
// alipay.system.oauth.token (signed, verified) exchanges once for the user;
// the same browser authorises as the same user every time, and pays as
// them: the notification names the buyer the OAuth step named.
func TestOAuthRoundTripThroughSDK(t *testing.T) {
	h := newHarness(t, nil)
	der, _ := x509.MarshalPKCS8PrivateKey(appKey)
	pub, _ := x509.MarshalPKIXPublicKey(&aliKey.PublicKey)
	o, err := adapter.NewOAuth(adapter.OAuthConfig{AppID: "2021001",
		PrivateKey:      string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		AlipayPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		GatewayURL:      h.ts.URL + "/gateway.do", AuthorizeURL: h.ts.URL + "/oauth2/publicAppAuthorize.htm", HTTPClient: h.ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := browser(t)
	u := o.AuthorizeURL("https://estate.example/c/tok/history?keep=1", "st-1")
	code := authorize(t, b, u)
	id, err := o.UserID(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "0") || len(id) != 40 {
		t.Fatalf("open_id %q", id)
	}
	// The raw SDK sees both ids.
	code2 := authorize(t, b, u)
	rsp, err := h.client.SystemOauthToken(ctx, sdk.SystemOauthToken{GrantType: "authorization_code", Code: code2})
	if err != nil || rsp.OpenId != id || !strings.HasPrefix(rsp.UserId, "2088") || len(rsp.UserId) != 16 || rsp.AccessToken == "" {
		t.Fatalf("SDK: %+v %v", rsp, err)
	}
	// Used, unknown and expired codes are refused with Alipay's sub codes.
	if _, err := o.UserID(ctx, code); err == nil || !strings.Contains(err.Error(), "isv.code-used") {
		t.Errorf("replayed code: %v", err)
	}
	if _, err := o.UserID(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "isv.code-invalid") {
		t.Errorf("unknown code: %v", err)
	}
	late := authorize(t, b, u)
	h.advance(6 * time.Minute)
	if _, err := o.UserID(ctx, late); err == nil || !strings.Contains(err.Error(), "isv.code-invalid") {
		t.Errorf("expired code: %v", err)
	}
	// Another browser is another user.
	other, err := o.UserID(ctx, authorize(t, browser(t), u))
	if err != nil || other == id {
		t.Fatalf("other browser: %q %v", other, err)
	}
	// Unknown app: no code.
	resp, err := b.Get(strings.Replace(u, "app_id=2021001", "app_id=2021999", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown app: %d", resp.StatusCode)
	}

	// The browser pays at the cashier: the buyer is the user OAuth named.
	pu, err := h.client.TradeWapPay(wap("T1", "1.00"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := b.Get(pu.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`name="ticket" value="([0-9a-f]+)"`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no ticket: %s", body)
	}
	resp, err = b.PostForm(h.ts.URL+"/cashier/pay", url.Values{"ticket": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	n, err := h.s.NotificationFor("T1")
	if err != nil {
		t.Fatal(err)
	}
	if n.BuyerOpenID != id || n.BuyerID != rsp.UserId {
		t.Fatalf("notification buyer %q/%q, OAuth named %q/%q", n.BuyerOpenID, n.BuyerID, id, rsp.UserId)
	}
}

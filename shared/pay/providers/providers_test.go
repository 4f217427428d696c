package providers

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

type mapSecrets map[string][]byte

func (m mapSecrets) Load(_ context.Context, ref string) ([]byte, error) { return m[ref], nil }

func alipaySecret(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(AlipaySecret{
		AppPrivateKey:   string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		AlipayPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	})
	return b
}

// A cached adapter must follow its interface record: an edited seller id (which
// the adapter checks on every notification) must not keep the old one for the
// cache's lifetime.
func TestRegistryRebuildsOnAnyInterfaceChange(t *testing.T) {
	r := &Registry{Secrets: mapSecrets{"file:///k.json": alipaySecret(t)}}
	ctx := context.Background()
	iface := store.Interface{ID: "ali-1", CompanyID: "co-1", Channel: domain.Alipay, Status: domain.StatusApproved,
		Mode: "app", AppID: "2021000000000001", SellerID: "2088000000000001", SecretRef: "file:///k.json"}
	p1, err := r.Provider(ctx, iface)
	if err != nil {
		t.Fatal(err)
	}
	if p2, err := r.Provider(ctx, iface); err != nil || p2 != p1 {
		t.Fatalf("same record: got a new adapter (%v)", err)
	}
	iface.SellerID = "2088000000000002"
	p3, err := r.Provider(ctx, iface)
	if err != nil {
		t.Fatal(err)
	}
	if p3 == p1 {
		t.Fatal("seller id changed but the cached adapter (checking the old seller id) was reused")
	}
}

// recordingSecrets remembers every reference loaded.
type recordingSecrets struct {
	m      map[string][]byte
	loaded []string
}

func (r *recordingSecrets) Load(_ context.Context, ref string) ([]byte, error) {
	r.loaded = append(r.loaded, ref)
	b, ok := r.m[ref]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return b, nil
}

// The landing page's OAuth step reads the interface's OAuth secret and nothing
// else: the merchant keys (private key, APIv3 key) stay out of its reach.
func TestOAuthReadsOnlyTheOAuthSecret(t *testing.T) {
	const merchantRef, oauthRef = "file:///merchant-wechat.json", "file:///oauth-wechat.json"
	src := &recordingSecrets{m: map[string][]byte{
		merchantRef: []byte(`{"merchant_private_key":"x","apiv3_key":"y","platform_public_key":"z"}`),
		oauthRef:    []byte(`{"oauth_app_secret":"s3cret"}`),
	}}
	r := &Registry{Secrets: src, WeChatOpenBase: "http://open", WeChatAPIBase: "http://api"}
	iface := store.Interface{ID: "wx-1", Channel: domain.WeChat, Mode: "direct", AppID: "wx8888888888888888",
		MchID: "1900000001", SecretRef: merchantRef, OAuthSecretRef: oauthRef}
	o, err := r.OAuth(context.Background(), iface)
	if err != nil {
		t.Fatal(err)
	}
	if o.Secret != "s3cret" || o.AppID != "wx8888888888888888" {
		t.Fatalf("OAuth = app %q secret %q", o.AppID, o.Secret)
	}
	if len(src.loaded) != 1 || src.loaded[0] != oauthRef {
		t.Fatalf("loaded %v, want only %s", src.loaded, oauthRef)
	}

	// No OAuth reference: an error, and the merchant secret is still not read.
	src.loaded = nil
	iface.OAuthSecretRef = ""
	if _, err := r.OAuth(context.Background(), iface); err == nil {
		t.Fatal("OAuth without an OAuth secret reference succeeded")
	}
	if len(src.loaded) != 0 {
		t.Fatalf("loaded %v without an OAuth reference", src.loaded)
	}
	// An OAuth secret without the app secret is refused.
	src.m[oauthRef] = []byte(`{"merchant_private_key":"x"}`)
	iface.OAuthSecretRef = oauthRef
	if _, err := r.OAuth(context.Background(), iface); err == nil {
		t.Fatal("OAuth secret without oauth_app_secret accepted")
	}
}

// The interface record's Alipay mode and its secret must agree, and an ISV
// interface names the authorising merchant's app, which is what its payments
// must report (not the ISV's own app id).
func TestAlipayModeMustMatchSecret(t *testing.T) {
	plain := alipaySecret(t)
	var withToken AlipaySecret
	if err := json.Unmarshal(plain, &withToken); err != nil {
		t.Fatal(err)
	}
	withToken.AppAuthToken = "202503BB1234567890"
	tokenJSON, _ := json.Marshal(withToken)
	r := &Registry{Secrets: mapSecrets{"file:///plain.json": plain, "file:///isv.json": tokenJSON}}
	ctx := context.Background()
	isv := store.Interface{ID: "ali-isv", Channel: domain.Alipay, Mode: "isv", AppID: "2021000000000002",
		SellerID: "2088000000000099", AuthAppID: "2021000000000077", SecretRef: "file:///isv.json"}
	if _, err := r.Provider(ctx, isv); err != nil {
		t.Fatalf("ISV interface: %v", err)
	}
	if got := isv.PaymentApp(); got != "2021000000000077" {
		t.Errorf("ISV PaymentApp = %q, want the merchant's auth_app_id", got)
	}
	for name, i := range map[string]store.Interface{
		"isv without a token":   func() store.Interface { c := isv; c.ID, c.SecretRef = "a", "file:///plain.json"; return c }(),
		"isv without auth app":  func() store.Interface { c := isv; c.ID, c.AuthAppID = "b", ""; return c }(),
		"app mode with a token": func() store.Interface { c := isv; c.ID, c.Mode = "c", "app"; return c }(),
		"no seller":             func() store.Interface { c := isv; c.ID, c.SellerID = "d", ""; return c }(),
	} {
		if _, err := r.Provider(ctx, i); err == nil {
			t.Errorf("%s: built a provider", name)
		}
	}
}

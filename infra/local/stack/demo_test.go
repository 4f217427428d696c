package stack_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// The demo WeChat interface keeps its OAuth app secret apart from its merchant
// keys, as in Secrets Manager (estatepay/<stage>/oauth/… and …/merchant/…): the
// landing function reads the first only.
func TestDemoWeChatOAuthSecretIsSeparate(t *testing.T) {
	s := stacktest.Start(t)
	iface, err := s.Store().GetInterface(context.Background(), "demo-wechat")
	if err != nil {
		t.Fatal(err)
	}
	read := func(ref string) map[string]any {
		t.Helper()
		u, err := url.Parse(ref)
		if err != nil || u.Scheme != "file" {
			t.Fatalf("reference %q is not a file URL", ref)
		}
		b, err := os.ReadFile(u.Path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if iface.OAuthSecretRef == "" || iface.OAuthSecretRef == iface.SecretRef {
		t.Fatalf("OAuth secret ref %q (merchant secret ref %q)", iface.OAuthSecretRef, iface.SecretRef)
	}
	oauth := read(iface.OAuthSecretRef)
	if len(oauth) != 1 || oauth["oauth_app_secret"] != s.Keys().OAuthSecret {
		t.Errorf("OAuth secret holds %d fields (want only oauth_app_secret matching the sandbox's)", len(oauth))
	}
	merchant := read(iface.SecretRef)
	if _, ok := merchant["oauth_app_secret"]; ok {
		t.Error("the merchant secret still carries oauth_app_secret")
	}
	if merchant["apiv3_key"] == nil || merchant["merchant_private_key"] == nil {
		t.Error("the merchant secret lacks its keys")
	}
}

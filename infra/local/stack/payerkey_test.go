package stack_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
)

// The payer cookie key is a secret of its own under .local/keys, created once
// (256 bits, owner-only) and kept across restarts so issued cookies stay valid.
func TestPayerCookieKeyFile(t *testing.T) {
	dir := t.TempDir()
	k1, err := stack.LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(k1.PayerCookieKey) {
		t.Fatalf("payer cookie key %q, want 64 hex characters", k1.PayerCookieKey)
	}
	path := filepath.Join(dir, stack.PayerCookieKeyFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want mode 0600", path, fi, err)
	}
	k2, err := stack.LoadOrCreateKeys(dir)
	if err != nil || k2.PayerCookieKey != k1.PayerCookieKey || k2.APIv3Key != k1.APIv3Key || k2.OAuthSecret != k1.OAuthSecret {
		t.Fatalf("restart changed the keys (%v)", err)
	}
	// A truncated key file is replaced by a fresh key.
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k3, err := stack.LoadOrCreateKeys(dir)
	if err != nil || len(k3.PayerCookieKey) != 64 || k3.PayerCookieKey == k1.PayerCookieKey {
		t.Fatalf("short key file: %q %v", k3.PayerCookieKey, err)
	}
}

// A keys directory from before the console's sessions (sandbox-secrets.json
// with the retired admin_token, and an admin-token file) keeps its sandbox
// keys; the bearer token file is gone and nothing writes it again.
func TestKeysFromBeforeSessions(t *testing.T) {
	dir := t.TempDir()
	old := `{"apiv3_key":"0123456789abcdef0123456789abcdef","oauth_app_secret":"0123456789abcdef0123456789abcdef","admin_token":"feedfacefeedfacefeedfacefeedfacefeedfacefeedface"}`
	if err := os.WriteFile(filepath.Join(dir, "sandbox-secrets.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(token, []byte("feedfacefeedfacefeedfacefeedfacefeedfacefeedface\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		k, err := stack.LoadOrCreateKeys(dir)
		if err != nil {
			t.Fatal(err)
		}
		if k.APIv3Key != "0123456789abcdef0123456789abcdef" || k.OAuthSecret != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("the older file's keys were replaced: %q %q", k.APIv3Key, k.OAuthSecret)
		}
		if _, err := os.Stat(token); !os.IsNotExist(err) {
			t.Fatalf("%s is still there (%v)", token, err)
		}
	}
}

// The demo's payer fields are valid definitions.
func TestDemoPayerFields(t *testing.T) {
	if err := stack.DemoPayerFields.Check(); err != nil {
		t.Fatal(err)
	}
	if len(stack.DemoPayerFields) == 0 || stack.DemoPayerFields[0].Label != "房号" || !stack.DemoPayerFields[0].Required {
		t.Fatalf("demo fields %+v: 房号 must be required", stack.DemoPayerFields)
	}
}

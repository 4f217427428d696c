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
	if err != nil || k2.PayerCookieKey != k1.PayerCookieKey || k2.AdminToken != k1.AdminToken {
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

// The demo's payer fields are valid definitions.
func TestDemoPayerFields(t *testing.T) {
	if err := stack.DemoPayerFields.Check(); err != nil {
		t.Fatal(err)
	}
	if len(stack.DemoPayerFields) == 0 || stack.DemoPayerFields[0].Label != "房号" || !stack.DemoPayerFields[0].Required {
		t.Fatalf("demo fields %+v: 房号 must be required", stack.DemoPayerFields)
	}
}

package stack_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/shared/fieldcrypt"
	"github.com/estatepay/estatepay/shared/secrets"
)

// The local stack's 分付 keyring is created once, kept across restarts (values
// sealed before a restart still open) and never silently replaced.
func TestFenfuKeyringFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := stack.LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, stack.FenfuKeyringFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want mode 0600", path, fi, err)
	}
	ref := "file://" + path
	src, err := fieldcrypt.FromRef(ref, nil, (&secrets.Loader{}).Load)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := fieldcrypt.NewEnvelope(src).Seal([]byte("oUpF8uMuAJO"), "fenfu/order/o1/payer_openid")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stack.LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	src2, _ := fieldcrypt.FromRef(ref, nil, (&secrets.Loader{}).Load)
	if got, err := fieldcrypt.NewEnvelope(src2).Open(sealed, "fenfu/order/o1/payer_openid"); err != nil || string(got) != "oUpF8uMuAJO" {
		t.Fatalf("after a restart: %q %v", got, err)
	}
	if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.LoadOrCreateKeys(dir); err == nil {
		t.Fatal("a broken keyring was accepted (or replaced)")
	}
	if b, _ := os.ReadFile(path); string(b) != "{}" {
		t.Fatalf("the broken keyring was overwritten: %q", b)
	}
}

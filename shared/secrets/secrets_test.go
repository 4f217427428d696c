package secrets

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A secret name (what the template passes for the admin token) and an ARN both
// go to Secrets Manager; file:// reads a file; anything else is refused.
func TestLoadRoutesReferences(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(path, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &Loader{} // no Secrets Manager client: SM references fail with a recognisable error
	ctx := context.Background()
	if b, err := l.Load(ctx, "file://"+path); err != nil || string(b) != "tok\n" {
		t.Fatalf("file ref = %q, %v", b, err)
	}
	for _, ref := range []string{
		"estatepay/prod/admin-token",
		"arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:estatepay/prod/admin-token-AbCdEf",
	} {
		if _, err := l.Load(ctx, ref); err == nil || !strings.Contains(err.Error(), "no Secrets Manager client") {
			t.Errorf("%s: err = %v, want it routed to Secrets Manager", ref, err)
		}
	}
	for _, ref := range []string{"", "http://example.com/secret", "name with spaces", "file-but-not-url:/x"} {
		if _, err := l.Load(ctx, ref); err == nil || !strings.Contains(err.Error(), "unsupported reference") {
			t.Errorf("%q: err = %v, want unsupported", ref, err)
		}
	}
}

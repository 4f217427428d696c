package secrets

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
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

// isSecretName accepts exactly what the regexp of Secrets Manager's name
// rule accepts.
func TestIsSecretNameMatchesTheNameRule(t *testing.T) {
	rule := regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	cases := []string{"", "a", "estatepay/prod/admin-token", "name with space", "x\n", "ünï", "a:b", "a*b",
		strings.Repeat("a", 512), strings.Repeat("a", 513), "/_+=.@-", "file:///x"}
	alphabet := "aZ09/_+=.@- :*\n\x00é"
	for i := 0; i < 2000; i++ {
		n := i % 40
		b := make([]byte, 0, n)
		for j := 0; j < n; j++ {
			b = append(b, alphabet[(i*7+j*13)%len(alphabet)])
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if got, want := isSecretName(c), rule.MatchString(c); got != want {
			t.Errorf("isSecretName(%q) = %v, the rule says %v", c, got, want)
		}
	}
}

package web

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

// Every inline script a rendered page carries is allowed by its CSP by hash, and
// the CSP allows no other inline script ('unsafe-inline').
func TestPagesCSPAllowsExactlyTheirScripts(t *testing.T) {
	pagesData := map[string]any{
		"pay.html":     PayPage{Title: "t", Community: "c", Company: "co", Token: "tok", Channel: "alipay", MaxFen: 100},
		"result.html":  ResultPage{Title: "t", Community: "c", OrderID: "EP1"},
		"message.html": MessagePage{Title: "t", Community: "c", Message: "m"},
	}
	scriptRE := regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	for name, data := range pagesData {
		r := Render(200, name, data)
		policy := r.Headers["Content-Security-Policy"]
		var scriptSrc string
		for _, d := range strings.Split(policy, ";") {
			if f := strings.Fields(d); len(f) > 0 && f[0] == "script-src" {
				scriptSrc = d
			}
		}
		if scriptSrc == "" || strings.Contains(scriptSrc, "unsafe-inline") || !strings.Contains(policy, "default-src 'self'") {
			t.Fatalf("%s: CSP %q", name, policy)
		}
		scripts := scriptRE.FindAllStringSubmatch(r.Body, -1)
		if name != "message.html" && len(scripts) == 0 {
			t.Fatalf("%s: no inline script rendered", name)
		}
		for _, s := range scripts {
			sum := sha256.Sum256([]byte(s[1]))
			if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(scriptSrc, h) {
				t.Fatalf("%s: rendered script's hash %s not in %q", name, h, scriptSrc)
			}
		}
	}
}

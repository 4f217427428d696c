package web

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
)

// Every inline script a rendered page carries is allowed by its CSP by hash, and
// the CSP allows no other inline script ('unsafe-inline').
func TestPagesCSPAllowsExactlyTheirScripts(t *testing.T) {
	pagesData := map[string]any{
		"pay.html": PayPage{Title: "t", Community: "c", Company: "co", Token: "tok", Channel: "alipay", MaxFen: 100,
			Fields: []domain.PayerField{{Key: "room", Label: "房号", Type: domain.FieldText, Required: true}}},
		"result.html":  ResultPage{Title: "t", Community: "c", OrderID: "EP1", State: "pending", Fields: []ReceiptField{{"房号", "3-201"}}},
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

// Payer fields render as inputs carrying their rules, escaped.
func TestPayPageFields(t *testing.T) {
	r := Render(200, "pay.html", PayPage{Token: "tok", Channel: "wechat", MaxFen: 100, Fields: []domain.PayerField{
		{Key: "room", Label: "房号<b>", Type: domain.FieldText, Required: true, MinLen: 1, MaxLen: 20},
		{Key: "phone", Label: "手机号", Type: domain.FieldPhone},
	}})
	for _, want := range []string{
		`id="field-room"`, `data-label="房号&lt;b&gt;"`, `data-required="1"`, `data-min="1" data-max="20"`, `maxlength="20"`,
		`id="field-phone"`, `inputmode="tel"`, `data-max="20"`, `（选填）`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("pay page lacks %s", want)
		}
	}
	if strings.Contains(r.Body, "房号<b>") || strings.Contains(r.Body, "data-payer") {
		t.Error("unescaped label or a payer id in the page")
	}
	if n := strings.Count(r.Body, `data-required="1"`); n != 1 {
		t.Errorf("%d required fields, want 1", n)
	}
}

// Prepare leaves every page ready: rendering afterwards gives the same page
// and the same policy as rendering first.
func TestPrepareThenRender(t *testing.T) {
	Prepare()
	for name, data := range map[string]any{"pay.html": PayPage{Token: "tok", Channel: "alipay", MaxFen: 100}, "result.html": ResultPage{OrderID: "EP1", State: "paid"}, "message.html": MessagePage{Message: "m"}} {
		r := Render(200, name, data)
		if r.StatusCode != 200 || r.Headers["Content-Security-Policy"] == "" {
			t.Fatalf("%s after Prepare: %d %v", name, r.StatusCode, r.Headers)
		}
		v, _ := cspByPage.Load(name)
		if v != r.Headers["Content-Security-Policy"] {
			t.Fatalf("%s: policy %q, prepared %q", name, r.Headers["Content-Security-Policy"], v)
		}
	}
}

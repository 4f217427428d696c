// Package console has the property companies' web console pages (zh-CN,
// html/template: every value is escaped). The pages carry no script: every
// action is a plain form, so the console works without JavaScript; the one
// stylesheet is inlined and allowed by its hash, so the Content-Security-Policy
// allows no inline code at all. One exception: 收款播报 (announce.html) loads
// its script file from our origin (its page's policy allows 'self').
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
)

//go:embed pages/*.html
var pageFS embed.FS

//go:embed console.css
var css string

// funcs are the helpers templates use.
var funcs = template.FuncMap{
	// css is the page's stylesheet (allowed by hash in the CSP).
	"css":  func() template.CSS { return template.CSS(css) },
	"when": When,
	"join": strings.Join,
}

// When formats an instant in Asia/Shanghai, as people read times
// ("2026-11-29 10:00:05"); "" for the zero time.
func When(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return calendar.FormatReadable(t)
}

var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(funcs).ParseFS(pageFS, "pages/*.html"))
})

// CSP is the console pages' Content-Security-Policy: no script at all, the
// inlined stylesheet by hash, images from our origin or data: URLs (QR
// previews), forms posting only to our origin, no framing.
var CSP = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(css))
	return "default-src 'none'; script-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
})

// Render renders page name ("login.html", …) with data.
func Render(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := pages().ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("console: render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

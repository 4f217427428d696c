package wechat

import (
	"bytes"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
)

// WeChatUserAgent is the User-Agent of WeChat's in-app browser (iOS).
const WeChatUserAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"

// WebView returns a reverse proxy to target that behaves like WeChat's in-app
// browser: it sends a MicroMessenger User-Agent when the browser's lacks one,
// keeps the proxy's Host header (so the target's redirects come back through
// it) and injects <script src=shimURL></script> into HTML responses.
func WebView(target *url.URL, shimURL string) http.Handler {
	tag := []byte(`<script src="` + template.HTMLEscapeString(shimURL) + `"></script>`)
	targetOrigin := target.Scheme + "://" + target.Host
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			if !strings.Contains(pr.In.UserAgent(), "MicroMessenger") {
				pr.Out.Header.Set("User-Agent", WeChatUserAgent)
			}
			// Ask for an identity-encoded body so HTML can be rewritten.
			pr.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: func(resp *http.Response) error {
			if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, targetOrigin) && resp.Request != nil {
				scheme := "http"
				if resp.Request.Header.Get("X-Forwarded-Proto") == "https" {
					scheme = "https"
				}
				resp.Header.Set("Location", scheme+"://"+resp.Request.Host+strings.TrimPrefix(loc, targetOrigin))
			}
			// WeChat injects WeixinJSBridge natively, beyond the page's CSP; an
			// injected <script> from the sandbox origin must not be blocked by it.
			resp.Header.Del("Content-Security-Policy")
			mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if mt != "text/html" || resp.Header.Get("Content-Encoding") != "" {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return err
			}
			body = injectScript(body, tag)
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
	}
}

// injectScript puts tag right after <head ...> (or at the very start), so the
// bridge exists before the page's own scripts run.
func injectScript(body, tag []byte) []byte {
	lower := bytes.ToLower(body)
	if i := bytes.Index(lower, []byte("<head")); i >= 0 {
		if j := bytes.IndexByte(body[i:], '>'); j >= 0 {
			at := i + j + 1
			return append(append(append([]byte{}, body[:at]...), tag...), body[at:]...)
		}
	}
	return append(append([]byte{}, tag...), body...)
}

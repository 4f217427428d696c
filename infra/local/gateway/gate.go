package gateway

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Gate serves a listener before what it fronts is ready: until Open it
// answers every request at once with 503 Service Unavailable and a
// Retry-After header (a browser gets a Chinese page, any other client a JSON
// error), so a client polling for readiness neither hangs nor reaches a
// half-started service. After Open every request goes to the opened handler.
type Gate struct {
	h          atomic.Pointer[http.Handler]
	retryAfter time.Duration
}

// NewGate returns a closed gate advising clients to retry after retryAfter
// (rounded up to whole seconds, at least 1).
func NewGate(retryAfter time.Duration) *Gate {
	return &Gate{retryAfter: retryAfter}
}

// Open sends every later request to h.
func (g *Gate) Open(h http.Handler) { g.h.Store(&h) }

// IsOpen reports whether Open has been called.
func (g *Gate) IsOpen() bool { return g.h.Load() != nil }

func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	secs := int((g.retryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	w.Header().Set("Cache-Control", "no-store")
	if wantsHTML(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(startingPage))
		return
	}
	b, _ := json.Marshal(map[string]string{"error": "starting", "message": startingMessage})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(b)
}

const startingMessage = "服务正在启动，请稍后重试"

const startingPage = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="3">
<title>服务正在启动</title></head>
<body><p>服务正在启动，请稍候，页面会自动刷新。</p></body></html>
`

// wantsHTML reports whether the request comes from a browser navigating to
// a page: its Accept header names text/html.
func wantsHTML(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/html" {
			return true
		}
	}
	return false
}

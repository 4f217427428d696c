package wechatpay

import (
	"net/http"
	"net/url"
	"time"
)

// redirectClient returns a copy of hc whose transport sends every request to
// base's scheme and host (wechatpay-go hard-codes api.mch.weixin.qq.com).
// The request path is kept, so the signed canonical URL stays valid.
func redirectClient(hc *http.Client, base *url.URL) *http.Client {
	var out http.Client
	if hc != nil {
		out = *hc
	} else {
		out.Timeout = 30 * time.Second
	}
	next := out.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = &hostRewriter{scheme: base.Scheme, host: base.Host, next: next}
	return &out
}

type hostRewriter struct {
	scheme, host string
	next         http.RoundTripper
}

func (h *hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Scheme = h.scheme
	r2.URL.Host = h.host
	r2.Host = h.host
	return h.next.RoundTrip(r2)
}

package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// requestTimeFormat is requestContext.time's layout.
const requestTimeFormat = "02/Jan/2006:15:04:05 -0700"

// buildEvent builds the payload format 2.0 event API Gateway sends for r.
func (g *gateway) buildEvent(r *http.Request, rt *route, params map[string]string, body []byte, requestID string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers, cookies := eventHeaders(r, now)
	domain := g.opt.DomainName
	if domain == "" {
		domain = r.Host
	}
	rawPath := r.URL.EscapedPath()
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.key,
		RawPath:               rawPath,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.key,
			AccountID:    g.opt.AccountID,
			Stage:        g.opt.Stage,
			RequestID:    requestID,
			APIID:        g.opt.APIID,
			DomainName:   domain,
			DomainPrefix: domainPrefix(domain),
			Time:         now.UTC().Format(requestTimeFormat),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      rawPath,
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r),
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isTextContent(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// eventHeaders lower-cases header names and comma-joins repeated values.
// Cookie headers become the cookies list instead. Like API Gateway it adds
// host and the x-forwarded-* and x-amzn-trace-id headers.
func eventHeaders(r *http.Request, now time.Time) (map[string]string, []string) {
	headers := make(map[string]string, len(r.Header)+5)
	var cookies []string
	for name, values := range r.Header {
		key := strings.ToLower(name)
		if key == "cookie" {
			for _, v := range values {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[key] = strings.Join(values, ",")
	}
	headers["host"] = r.Host
	ip := sourceIP(r)
	if prior := headers["x-forwarded-for"]; prior != "" {
		headers["x-forwarded-for"] = prior + ", " + ip
	} else {
		headers["x-forwarded-for"] = ip
	}
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(addr.String()); err == nil {
			port = p
		}
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = port
	if headers["x-amzn-trace-id"] == "" {
		headers["x-amzn-trace-id"] = newTraceID(now)
	}
	return headers, cookies
}

// queryParameters decodes the query string; repeated keys are
// comma-joined. Nil when there are none.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	values, _ := url.ParseQuery(raw) // keeps what parses, like API Gateway
	if len(values) == 0 {
		return nil
	}
	m := make(map[string]string, len(values))
	for k, vs := range values {
		m[k] = strings.Join(vs, ",")
	}
	return m
}

// isTextContent reports whether API Gateway passes a body of this content
// type as text rather than base64. HTTP APIs base64-encode everything else,
// including form posts (application/x-www-form-urlencoded, e.g. Alipay's
// async notifications) and bodies without a content type.
func isTextContent(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(strings.ToLower(contentType), ";")
		mt = strings.TrimSpace(mt)
	}
	switch {
	case mt == "":
		return false
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		strings.Contains(mt, "xml"),
		strings.Contains(mt, "javascript"):
		return true
	}
	return false
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func domainPrefix(domain string) string {
	host := domain
	if h, _, err := net.SplitHostPort(domain); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	return prefix
}

// newRequestID returns an id shaped like API Gateway's ("JKJaXmPLvHcESHA=").
func newRequestID() string {
	var b [11]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b[:])
}

func newTraceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(b[:]))
}

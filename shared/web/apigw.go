// Package web has the API Gateway (HTTP API, payload 2.0) request/response
// helpers and the zh-CN pages. All HTML goes through html/template, so every
// value is escaped.
package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Request and Response are API Gateway HTTP API payload 2.0 events.
type (
	Request  = events.APIGatewayV2HTTPRequest
	Response = events.APIGatewayV2HTTPResponse
)

// MaxBody is the largest request body the functions accept (bytes).
const MaxBody = 64 << 10

// ErrBodyTooLarge is returned by Body for oversized bodies.
var ErrBodyTooLarge = errors.New("request body too large")

// Body returns the decoded request body, refusing bodies over MaxBody.
func Body(req Request) ([]byte, error) {
	var b []byte
	if req.IsBase64Encoded {
		d, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return nil, errors.New("invalid base64 body")
		}
		b = d
	} else {
		b = []byte(req.Body)
	}
	if len(b) > MaxBody {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}

// Header returns a request header (API Gateway lower-cases names).
func Header(req Request, name string) string {
	return req.Headers[strings.ToLower(name)]
}

// Cookie returns a request cookie's value.
func Cookie(req Request, name string) string {
	for _, c := range req.Cookies {
		if k, v, ok := strings.Cut(c, "="); ok && strings.TrimSpace(k) == name {
			return v
		}
	}
	return ""
}

// HTTPRequest rebuilds a net/http request from the event, for SDKs that verify
// webhooks from an *http.Request.
func HTTPRequest(ctx context.Context, req Request) (*http.Request, error) {
	body, err := Body(req)
	if err != nil {
		return nil, err
	}
	u := req.RawPath
	if req.RawQueryString != "" {
		u += "?" + req.RawQueryString
	}
	r, err := http.NewRequestWithContext(ctx, req.RequestContext.HTTP.Method, "https://"+req.RequestContext.DomainName+u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	r.ContentLength = int64(len(body))
	return r, nil
}

var securityHeaders = map[string]string{
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-store",
}

func respond(status int, contentType string, body string) Response {
	h := map[string]string{"Content-Type": contentType}
	for k, v := range securityHeaders {
		h[k] = v
	}
	return Response{StatusCode: status, Headers: h, Body: body}
}

// JSON responds with v as JSON.
func JSON(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		return Error(http.StatusInternalServerError, "internal", "internal error")
	}
	return respond(status, "application/json; charset=utf-8", string(b))
}

// ErrorBody is the JSON shape of every API error.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Error responds with {"error":{"code":..,"message":..}}.
func Error(status int, code, message string) Response {
	var e ErrorBody
	e.Error.Code, e.Error.Message = code, message
	b, _ := json.Marshal(e)
	return respond(status, "application/json; charset=utf-8", string(b))
}

// Text responds with plain text.
func Text(status int, body string) Response {
	return respond(status, "text/plain; charset=utf-8", body)
}

// Redirect responds 302 to location.
func Redirect(location string) Response {
	r := respond(http.StatusFound, "text/plain; charset=utf-8", "")
	r.Headers["Location"] = location
	return r
}

// ClientIP is the caller's address as API Gateway saw it.
func ClientIP(req Request) string {
	return req.RequestContext.HTTP.SourceIP
}

// apiPrefixes are the paths whose callers are programs: they get JSON errors
// whatever they accept.
var apiPrefixes = []string{"/api/", "/admin/api/", "/notify/"}

// WantsJSON reports whether req comes from a program rather than a person's
// browser: API paths always, elsewhere any caller that does not accept
// text/html (browsers send it with every navigation).
func WantsJSON(req Request) bool {
	p := req.RawPath
	if p == "" {
		p = req.RequestContext.HTTP.Path
	}
	for _, prefix := range apiPrefixes {
		if strings.HasPrefix(p, prefix) || p == strings.TrimSuffix(prefix, "/") {
			return true
		}
	}
	return !strings.Contains(strings.ToLower(Header(req, "Accept")), "text/html")
}

// Messages of the not-found answers.
const (
	MsgPageNotFound = "您访问的页面不存在，请检查链接或重新扫码。"
	MsgNoSuchRoute  = "请求的地址不存在"
)

// NotFound answers a request for something that does not exist: a Chinese
// page for browsers, a JSON error for programs.
func NotFound(req Request) Response {
	if WantsJSON(req) {
		return Error(http.StatusNotFound, "not_found", MsgNoSuchRoute)
	}
	return Render(http.StatusNotFound, "message.html", MessagePage{Title: "页面不存在", Community: "页面不存在", Message: MsgPageNotFound})
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// DefaultMaxBodyBytes is API Gateway's 10 MiB payload limit.
const DefaultMaxBodyBytes = 10 << 20

// DefaultIntegrationTimeout is API Gateway's 30 s integration timeout.
const DefaultIntegrationTimeout = 30 * time.Second

// Invoker invokes a function synchronously and returns its raw response.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, function string, payload []byte) ([]byte, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	return f(ctx, function, payload)
}

// InvokeError classifies an Invoker error. Handled reports true when the
// function itself returned the error (the gateway answers 500) and false
// when the platform failed, e.g. crash or timeout (502). Errors that do not
// implement InvokeError are treated as unhandled (502).
// lambdaemu's *FunctionError and *RuntimeError implement it.
type InvokeError interface {
	error
	Handled() bool
}

// TooLargeError is an Invoker error saying the platform refused the
// invocation payload as too large, before the function ran (Lambda's
// RequestEntityTooLargeException: the event JSON is over 6 MB). API Gateway
// answers the client 413, as for a body over its own 10 MB limit.
// lambdaemu's *PayloadTooLargeError implements it.
type TooLargeError interface {
	error
	RequestEntityTooLarge() bool
}

// Options configures the gateway. Zero values get API Gateway's defaults.
type Options struct {
	MaxBodyBytes       int64         // request body limit; default 10 MiB; larger → 413
	IntegrationTimeout time.Duration // default 30s; exceeded → 503
	APIID              string        // requestContext.apiId; default "local"
	Stage              string        // requestContext.stage; default "$default"
	AccountID          string        // requestContext.accountId; default "123456789012"
	DomainName         string        // requestContext.domainName; default: the request's Host
	// Logger gets integration failures at Error; requests, and clients that
	// went away before their answer, at Debug. Default slog.Default().
	Logger *slog.Logger
	Now    func() time.Time
}

type gateway struct {
	router *router
	inv    Invoker
	opt    Options
	log    *slog.Logger
}

// New returns an http.Handler serving routes through inv. It fails on
// invalid or conflicting routes.
func New(routes []Route, inv Invoker, opt Options) (http.Handler, error) {
	if inv == nil {
		return nil, errors.New("gateway: nil Invoker")
	}
	rtr, err := newRouter(routes)
	if err != nil {
		return nil, err
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opt.IntegrationTimeout <= 0 {
		opt.IntegrationTimeout = DefaultIntegrationTimeout
	}
	if opt.APIID == "" {
		opt.APIID = "local"
	}
	if opt.Stage == "" {
		opt.Stage = "$default"
	}
	if opt.AccountID == "" {
		opt.AccountID = "123456789012"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	return &gateway{router: rtr, inv: inv, opt: opt, log: log}, nil
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := g.opt.Now()
	requestID := newRequestID()
	w.Header().Set("Apigw-Requestid", requestID)

	rt, params := g.router.find(r.Method, r.URL.EscapedPath())
	if rt == nil {
		writeMessage(w, http.StatusNotFound, "Not Found")
		g.log.Debug("gateway: no route", "requestId", requestID, "method", r.Method, "path", r.URL.Path)
		return
	}
	if r.ContentLength > g.opt.MaxBodyBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.opt.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	payload, err := json.Marshal(g.buildEvent(r, rt, params, body, requestID, now))
	if err != nil { // cannot happen: the event holds only strings and maps
		g.fail(w, http.StatusInternalServerError, requestID, rt, "marshal event", err)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), g.opt.IntegrationTimeout)
	defer cancel()
	out, err := g.inv.Invoke(ctx, rt.Function, payload)
	if err != nil {
		var ie InvokeError
		var tl TooLargeError
		switch {
		case r.Context().Err() != nil:
			// The client went away (closed the connection or gave up): nobody
			// is left to answer and nothing failed on our side.
			g.log.Debug("gateway: client went away", "requestId", requestID, "routeKey", rt.key,
				"function", rt.Function, "error", err.Error())
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			g.logFailure(requestID, rt, "integration timeout", err)
			writeMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
		case errors.As(err, &tl) && tl.RequestEntityTooLarge():
			g.log.Info("gateway: invocation payload too large", "requestId", requestID, "routeKey", rt.key,
				"function", rt.Function, "bytes", len(payload), "error", err.Error())
			writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		case errors.As(err, &ie) && ie.Handled():
			g.fail(w, http.StatusInternalServerError, requestID, rt, "function error", err)
		default:
			g.fail(w, http.StatusBadGateway, requestID, rt, "invocation failed", err)
		}
		return
	}
	resp, err := parseResponse(out)
	if err != nil {
		g.fail(w, http.StatusInternalServerError, requestID, rt, "invalid function response", err)
		return
	}
	resp.write(w)
	g.log.Debug("gateway: request", "requestId", requestID, "routeKey", rt.key,
		"function", rt.Function, "status", resp.status, "duration", time.Since(now))
}

// fail logs a failed integration and answers with API Gateway's generic
// error body.
func (g *gateway) fail(w http.ResponseWriter, status int, requestID string, rt *route, what string, err error) {
	g.logFailure(requestID, rt, what, err)
	writeMessage(w, status, "Internal Server Error")
}

func (g *gateway) logFailure(requestID string, rt *route, what string, err error) {
	g.log.Error("gateway: "+what, "requestId", requestID, "routeKey", rt.key,
		"function", rt.Function, "error", err.Error())
}

// writeMessage writes API Gateway's {"message": ...} error body.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

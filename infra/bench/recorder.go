package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/infra/local/gateway"
	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/template"
)

// eventRecorder turns an HTTP request into the exact Lambda event the local
// gateway would invoke its function with (same gateway package, same routes as
// the stack), so cold starts can be measured with representative payloads on
// fresh pools.
type eventRecorder struct {
	h    http.Handler
	mu   sync.Mutex
	last recorded
}

type recorded struct {
	function string
	payload  []byte
}

func newEventRecorder(t *template.Template) (*eventRecorder, error) {
	r := &eventRecorder{}
	routes := append(stack.Routes(t), gateway.Route{Method: http.MethodGet, Path: helloRoute, Function: helloID})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := gateway.New(routes, gateway.InvokerFunc(func(_ context.Context, fn string, payload []byte) ([]byte, error) {
		r.mu.Lock()
		r.last = recorded{fn, append([]byte(nil), payload...)}
		r.mu.Unlock()
		return []byte(`{"statusCode":200,"body":"recorded"}`), nil
	}), gateway.Options{AccountID: stack.AccountID, Logger: quiet})
	if err != nil {
		return nil, err
	}
	r.h = h
	return r, nil
}

// Event returns the function req routes to and the event it would receive.
func (r *eventRecorder) Event(req *http.Request) (string, []byte, error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	if req.RemoteAddr == "" {
		req.RemoteAddr = "127.0.0.1:40000"
	}
	r.mu.Lock()
	r.last = recorded{}
	r.mu.Unlock()
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last.function == "" {
		return "", nil, fmt.Errorf("no route for %s %s (gateway answered %d)", req.Method, req.URL.Path, w.Code)
	}
	return r.last.function, r.last.payload, nil
}

// httpResult decodes a function's API Gateway v2 response.
func httpResult(out []byte) (int, []byte, error) {
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, nil, fmt.Errorf("function response is not an API Gateway response: %w", err)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return 0, nil, err
		}
		body = b
	}
	return resp.StatusCode, body, nil
}

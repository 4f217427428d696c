package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// fakeInvoker records every invocation and answers with respond.
type fakeInvoker struct {
	mu      sync.Mutex
	calls   []fakeCall
	respond func(function string, ev events.APIGatewayV2HTTPRequest) ([]byte, error)
}

type fakeCall struct {
	function string
	event    events.APIGatewayV2HTTPRequest
	raw      []byte
}

func (f *fakeInvoker) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{function, ev, payload})
	f.mu.Unlock()
	if f.respond == nil {
		return jsonResp(events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: function}), nil
	}
	return f.respond(function, ev)
}

func (f *fakeInvoker) last(t *testing.T) fakeCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("function not invoked")
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeInvoker) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func jsonResp(r events.APIGatewayV2HTTPResponse) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return b
}

func newGateway(t *testing.T, routes []Route, inv Invoker, opt Options) http.Handler {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := New(routes, inv, opt)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func do(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRoutingPrecedence(t *testing.T) {
	routes := []Route{
		{"GET", "/pets/dog/1", "exact"},
		{"GET", "/pets/dog/{id}", "param"},
		{"ANY", "/pets/dog/{id}", "anyParam"},
		{"GET", "/pets/{proxy+}", "petsGreedy"},
		{"ANY", "/{proxy+}", "rootGreedy"},
		{"POST", "/orders", "postOrders"},
		{"GET", "/", "root"},
		{"", "$default", "default"},
	}
	inv := &fakeInvoker{}
	h := newGateway(t, routes, inv, Options{})
	cases := []struct{ method, path, function, routeKey string }{
		{"GET", "/pets/dog/1", "exact", "GET /pets/dog/1"},
		{"GET", "/pets/dog/2", "param", "GET /pets/dog/{id}"},
		{"POST", "/pets/dog/1", "anyParam", "ANY /pets/dog/{id}"},
		{"GET", "/pets/cat/1", "petsGreedy", "GET /pets/{proxy+}"},
		{"GET", "/pets/dog/1/toys", "petsGreedy", "GET /pets/{proxy+}"},
		{"DELETE", "/pets/cat", "rootGreedy", "ANY /{proxy+}"},
		{"GET", "/orders", "rootGreedy", "ANY /{proxy+}"},
		{"POST", "/orders", "postOrders", "POST /orders"},
		{"GET", "/", "root", "GET /"},
		{"POST", "/", "default", "$default"},
	}
	for _, tc := range cases {
		w := do(h, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != 200 || w.Body.String() != tc.function {
			t.Errorf("%s %s: %d %q, want %s", tc.method, tc.path, w.Code, w.Body, tc.function)
			continue
		}
		ev := inv.last(t).event
		if ev.RouteKey != tc.routeKey || ev.RequestContext.RouteKey != tc.routeKey {
			t.Errorf("%s %s: routeKey %q, want %q", tc.method, tc.path, ev.RouteKey, tc.routeKey)
		}
	}
}

func TestNotFound(t *testing.T) {
	inv := &fakeInvoker{}
	h := newGateway(t, []Route{{"GET", "/c/{token}", "pay"}, {"GET", "/static/{proxy+}", "static"}}, inv, Options{})
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/nope", nil),
		httptest.NewRequest("POST", "/c/abc", nil),
		httptest.NewRequest("GET", "/c/abc/extra", nil),
		httptest.NewRequest("GET", "/c/", nil),
		httptest.NewRequest("GET", "/static/", nil),
	} {
		w := do(h, r)
		if w.Code != 404 || w.Body.String() != `{"message":"Not Found"}` || w.Header().Get("Apigw-Requestid") == "" {
			t.Errorf("%s %s: %d %s", r.Method, r.URL, w.Code, w.Body)
		}
	}
	if n := inv.count(); n != 0 {
		t.Errorf("invoked %d times", n)
	}
}

func TestPathParameters(t *testing.T) {
	inv := &fakeInvoker{}
	h := newGateway(t, []Route{
		{"GET", "/api/orders/{id}/items/{item}", "items"},
		{"GET", "/static/{proxy+}", "static"},
	}, inv, Options{})

	do(h, httptest.NewRequest("GET", "/api/orders/ord%2F7/items/%E4%B8%AD", nil))
	ev := inv.last(t).event
	if want := map[string]string{"id": "ord/7", "item": "中"}; !reflect.DeepEqual(ev.PathParameters, want) {
		t.Errorf("params = %v, want %v", ev.PathParameters, want)
	}
	if ev.RawPath != "/api/orders/ord%2F7/items/%E4%B8%AD" {
		t.Errorf("rawPath = %q", ev.RawPath)
	}

	do(h, httptest.NewRequest("GET", "/static/css/site%20main.css", nil))
	ev = inv.last(t).event
	if ev.PathParameters["proxy"] != "css/site main.css" {
		t.Errorf("greedy = %q", ev.PathParameters["proxy"])
	}
}

func TestQueryStrings(t *testing.T) {
	inv := &fakeInvoker{}
	h := newGateway(t, []Route{{"GET", "/q", "q"}}, inv, Options{})
	do(h, httptest.NewRequest("GET", "/q?a=1&b=x%20y&a=2&flag&name=%E5%BC%A0", nil))
	c := inv.last(t)
	want := map[string]string{"a": "1,2", "b": "x y", "flag": "", "name": "张"}
	if !reflect.DeepEqual(c.event.QueryStringParameters, want) {
		t.Errorf("query = %v, want %v", c.event.QueryStringParameters, want)
	}
	if c.event.RawQueryString != "a=1&b=x%20y&a=2&flag&name=%E5%BC%A0" {
		t.Errorf("rawQueryString = %q", c.event.RawQueryString)
	}

	do(h, httptest.NewRequest("GET", "/q", nil))
	c = inv.last(t)
	if c.event.QueryStringParameters != nil || bytes.Contains(c.raw, []byte("queryStringParameters")) {
		t.Errorf("empty query produced %s", c.raw)
	}
}

func TestHeadersCookiesAndContext(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.FixedZone("CST", 8*3600))
	inv := &fakeInvoker{respond: func(string, events.APIGatewayV2HTTPRequest) ([]byte, error) {
		return jsonResp(events.APIGatewayV2HTTPResponse{
			StatusCode:        201,
			Headers:           map[string]string{"content-type": "text/html; charset=utf-8", "x-one": "1"},
			MultiValueHeaders: map[string][]string{"x-many": {"a", "b"}},
			Cookies:           []string{"sid=abc; Path=/; HttpOnly", "lang=zh; Path=/"},
			Body:              "<p>ok</p>",
		}), nil
	}}
	h := newGateway(t, []Route{{"POST", "/c/{token}", "pay"}}, inv, Options{
		APIID: "api123", AccountID: "000011112222", Now: func() time.Time { return now },
	})
	r := httptest.NewRequest("POST", "/c/t1?x=1", strings.NewReader(`{"a":1}`))
	r.RemoteAddr = "192.0.2.7:5555"
	r.Host = "pay.example.com"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "MicroMessenger/8.0")
	r.Header.Add("X-Multi", "v1")
	r.Header.Add("X-Multi", "v2")
	r.Header.Add("Cookie", "a=1; b=2")
	r.Header.Add("Cookie", "c=3")
	w := do(h, r)

	if w.Code != 201 || w.Body.String() != "<p>ok</p>" || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("response %d %q %v", w.Code, w.Body, w.Header())
	}
	if got := w.Header().Values("Set-Cookie"); !slices.Equal(got, []string{"sid=abc; Path=/; HttpOnly", "lang=zh; Path=/"}) {
		t.Errorf("Set-Cookie = %q", got)
	}
	if got := w.Header().Values("X-Many"); !slices.Equal(got, []string{"a", "b"}) || w.Header().Get("X-One") != "1" {
		t.Errorf("headers = %v", w.Header())
	}

	ev := inv.last(t).event
	if ev.Version != "2.0" || ev.Body != `{"a":1}` || ev.IsBase64Encoded {
		t.Errorf("event basics: %+v", ev)
	}
	if !slices.Equal(ev.Cookies, []string{"a=1", "b=2", "c=3"}) {
		t.Errorf("cookies = %q", ev.Cookies)
	}
	if _, ok := ev.Headers["cookie"]; ok {
		t.Error("cookie header passed through")
	}
	for k, v := range map[string]string{
		"x-multi": "v1,v2", "content-type": "application/json", "user-agent": "MicroMessenger/8.0",
		"host": "pay.example.com", "x-forwarded-for": "192.0.2.7", "x-forwarded-proto": "http",
	} {
		if ev.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, ev.Headers[k], v)
		}
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header %q not lower-case", k)
		}
	}
	rc := ev.RequestContext
	if rc.AccountID != "000011112222" || rc.APIID != "api123" || rc.Stage != "$default" ||
		rc.DomainName != "pay.example.com" || rc.DomainPrefix != "pay" {
		t.Errorf("requestContext = %+v", rc)
	}
	if rc.Time != "03/Mar/2026:21:06:07 +0000" || rc.TimeEpoch != now.UnixMilli() {
		t.Errorf("time = %q epoch %d", rc.Time, rc.TimeEpoch)
	}
	if rc.HTTP != (events.APIGatewayV2HTTPRequestContextHTTPDescription{
		Method: "POST", Path: "/c/t1", Protocol: "HTTP/1.1", SourceIP: "192.0.2.7", UserAgent: "MicroMessenger/8.0",
	}) {
		t.Errorf("http = %+v", rc.HTTP)
	}
	if rc.RequestID == "" || w.Header().Get("Apigw-Requestid") != rc.RequestID {
		t.Errorf("request id %q vs header %q", rc.RequestID, w.Header().Get("Apigw-Requestid"))
	}
}

func TestBodiesBase64BothWays(t *testing.T) {
	binary := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}
	inv := &fakeInvoker{respond: func(_ string, ev events.APIGatewayV2HTTPRequest) ([]byte, error) {
		return jsonResp(events.APIGatewayV2HTTPResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"},
			Body: base64.StdEncoding.EncodeToString(binary), IsBase64Encoded: true,
		}), nil
	}}
	h := newGateway(t, []Route{{"ANY", "/u", "u"}}, inv, Options{})
	cases := []struct {
		contentType string
		body        []byte
		wantB64     bool
	}{
		{"application/octet-stream", binary, true},
		{"image/png", binary, true},
		{"", []byte("no type"), true},
		{"text/plain; charset=utf-8", []byte("纯文本"), false},
		{"application/json", []byte(`{"x":1}`), false},
		{"application/x-www-form-urlencoded", []byte("a=1&b=2"), true}, // as real HTTP APIs do
		{"application/xml", []byte("<xml/>"), false},
		{"text/xml", []byte("<xml/>"), false},
		{"application/javascript", []byte("f()"), false},
		{"application/octet-stream", nil, false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("POST", "/u", bytes.NewReader(tc.body))
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		w := do(h, r)
		if !bytes.Equal(w.Body.Bytes(), binary) || w.Header().Get("Content-Type") != "image/png" {
			t.Errorf("%s: response %q %v", tc.contentType, w.Body.Bytes(), w.Header())
		}
		ev := inv.last(t).event
		if ev.IsBase64Encoded != tc.wantB64 {
			t.Errorf("%q: isBase64Encoded = %v", tc.contentType, ev.IsBase64Encoded)
		}
		got := []byte(ev.Body)
		if ev.IsBase64Encoded {
			var err error
			if got, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, tc.body) {
			t.Errorf("%q: body %q, want %q", tc.contentType, got, tc.body)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	inv := &fakeInvoker{}
	h := newGateway(t, []Route{{"POST", "/u", "u"}}, inv, Options{MaxBodyBytes: 16})
	ok := do(h, httptest.NewRequest("POST", "/u", strings.NewReader(strings.Repeat("x", 16))))
	if ok.Code != 200 {
		t.Fatalf("16 bytes: %d", ok.Code)
	}
	big := httptest.NewRequest("POST", "/u", strings.NewReader(strings.Repeat("x", 17)))
	chunked := httptest.NewRequest("POST", "/u", io.MultiReader(strings.NewReader(strings.Repeat("x", 17))))
	chunked.ContentLength = -1
	for _, r := range []*http.Request{big, chunked} {
		w := do(h, r)
		if w.Code != 413 || w.Body.String() != `{"message":"Request Entity Too Large"}` {
			t.Errorf("content-length %d: %d %s", r.ContentLength, w.Code, w.Body)
		}
	}
	if inv.count() != 1 {
		t.Errorf("invoked %d times", inv.count())
	}

	// The default limit is API Gateway's 10 MiB.
	h = newGateway(t, []Route{{"POST", "/u", "u"}}, inv, Options{})
	w := do(h, httptest.NewRequest("POST", "/u", bytes.NewReader(make([]byte, DefaultMaxBodyBytes+1))))
	if w.Code != 413 {
		t.Errorf("10 MiB + 1: %d", w.Code)
	}
}

func TestInferredResponses(t *testing.T) {
	cases := []struct {
		out, wantBody string
		wantStatus    int
		wantType      string
	}{
		{`{"ok":true,"amountFen":1999}`, `{"ok":true,"amountFen":1999}`, 200, "application/json"},
		{`"Hello from Lambda!"`, "Hello from Lambda!", 200, "application/json"},
		{`[1,2]`, `[1,2]`, 200, "application/json"},
		{`{"statusCode":204}`, "", 204, ""},
		{`{"statusCode":302,"headers":{"Location":"/x"}}`, "", 302, ""},
		{`not json`, `{"message":"Internal Server Error"}`, 500, "application/json"},
		{`{"statusCode":"200"}`, `{"message":"Internal Server Error"}`, 500, "application/json"},
		{`{"statusCode":700}`, `{"message":"Internal Server Error"}`, 500, "application/json"},
		{`{"statusCode":200,"body":"%%%","isBase64Encoded":true}`, `{"message":"Internal Server Error"}`, 500, "application/json"},
	}
	for _, tc := range cases {
		inv := InvokerFunc(func(context.Context, string, []byte) ([]byte, error) { return []byte(tc.out), nil })
		h := newGateway(t, []Route{{"GET", "/", "f"}}, inv, Options{})
		w := do(h, httptest.NewRequest("GET", "/", nil))
		if w.Code != tc.wantStatus || w.Body.String() != tc.wantBody || w.Header().Get("Content-Type") != tc.wantType {
			t.Errorf("%s: %d %q %q", tc.out, w.Code, w.Body, w.Header().Get("Content-Type"))
		}
	}
}

type classified struct {
	msg     string
	handled bool
}

func (e *classified) Error() string { return e.msg }
func (e *classified) Handled() bool { return e.handled }

func TestInvokeErrorMapping(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{&classified{"fixtureError: card declined", true}, 500},
		{fmtWrap(&classified{"wrapped handled", true}), 500},
		{&classified{"Runtime.ExitError: exit status 3", false}, 502},
		{&classified{"Sandbox.Timedout: Task timed out after 3.00 seconds", false}, 502},
		{errors.New("function not found"), 502},
	}
	for _, tc := range cases {
		var logs bytes.Buffer
		inv := InvokerFunc(func(context.Context, string, []byte) ([]byte, error) { return nil, tc.err })
		h := newGateway(t, []Route{{"GET", "/f", "fn"}}, inv, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		w := do(h, httptest.NewRequest("GET", "/f", nil))
		if w.Code != tc.status || w.Body.String() != `{"message":"Internal Server Error"}` {
			t.Errorf("%v: %d %s", tc.err, w.Code, w.Body)
		}
		var entry map[string]any
		if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
			t.Fatalf("log %q: %v", logs.String(), err)
		}
		if entry["level"] != "ERROR" || entry["function"] != "fn" || entry["error"] != tc.err.Error() ||
			entry["requestId"] != w.Header().Get("Apigw-Requestid") {
			t.Errorf("log entry = %v", entry)
		}
	}
}

func fmtWrap(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "invoke: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestIntegrationTimeout(t *testing.T) {
	inv := InvokerFunc(func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	h := newGateway(t, []Route{{"GET", "/slow", "slow"}}, inv, Options{IntegrationTimeout: 20 * time.Millisecond})
	w := do(h, httptest.NewRequest("GET", "/slow", nil))
	if w.Code != 503 || w.Body.String() != `{"message":"Service Unavailable"}` {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestInvalidRoutes(t *testing.T) {
	inv := &fakeInvoker{}
	for _, routes := range [][]Route{
		{{"GET", "/a/{x}", "f"}, {"GET", "/a/{y}", "g"}},
		{{"GET", "/a/{p+}/b", "f"}},
		{{"FETCH", "/a", "f"}},
		{{"GET", "a", "f"}},
		{{"GET", "/a/x{y}", "f"}},
		{{"GET", "/a//b", "f"}},
		{{"GET", "/a", ""}},
		{{"", "$default", "f"}, {"", "$default", "g"}},
	} {
		if _, err := New(routes, inv, Options{}); err == nil {
			t.Errorf("routes %v accepted", routes)
		}
	}
	if _, err := New([]Route{{"get", "/a", "f"}, {"ANY", "/a", "g"}}, inv, Options{}); err != nil {
		t.Errorf("GET and ANY on one path rejected: %v", err)
	}
}

func TestOverRealHTTP(t *testing.T) {
	inv := &fakeInvoker{}
	h := newGateway(t, []Route{{"GET", "/c/{token}", "pay"}}, inv, Options{DomainName: "pay.local"})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/c/abc")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "pay" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	ev := inv.last(t).event
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	if ev.RequestContext.HTTP.SourceIP != "127.0.0.1" || ev.Headers["x-forwarded-port"] != port ||
		ev.RequestContext.DomainName != "pay.local" || ev.PathParameters["token"] != "abc" ||
		!strings.HasPrefix(ev.Headers["x-amzn-trace-id"], "Root=1-") {
		t.Errorf("event = %+v", ev)
	}
}

type tooLarge struct{}

func (tooLarge) Error() string               { return "RequestEntityTooLargeException: 7000000 byte payload" }
func (tooLarge) RequestEntityTooLarge() bool { return true }

// Lambda refusing the invoke payload (over 6 MB) is the client's fault, not
// the integration's: 413 like API Gateway, never 502, and no error logged.
func TestInvokePayloadTooLarge(t *testing.T) {
	var logs bytes.Buffer
	inv := InvokerFunc(func(context.Context, string, []byte) ([]byte, error) { return nil, fmtWrap(tooLarge{}) })
	h := newGateway(t, []Route{{"POST", "/u", "u"}}, inv, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	w := do(h, httptest.NewRequest("POST", "/u", strings.NewReader("x")))
	if w.Code != 413 || w.Body.String() != `{"message":"Request Entity Too Large"}` || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("logged as an error: %s", logs.String())
	}
}

// A client that goes away while its function runs is not a failure: the
// gateway logs it at Debug only and writes nothing.
func TestClientGoneIsNotAnError(t *testing.T) {
	var logs bytes.Buffer
	invoked := make(chan struct{})
	inv := InvokerFunc(func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		close(invoked)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	h := newGateway(t, []Route{{"GET", "/slow", "slow"}}, inv,
		Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/slow", nil).WithContext(ctx)
	go func() {
		<-invoked
		cancel()
	}()
	w := do(h, r)
	if w.Body.Len() != 0 {
		t.Errorf("wrote %d %s to a client that went away", w.Code, w.Body)
	}
	var entries []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	if len(entries) != 1 || entries[0]["level"] != "DEBUG" || entries[0]["msg"] != "gateway: client went away" ||
		entries[0]["error"] != context.Canceled.Error() {
		t.Errorf("log = %v, want one DEBUG line", entries)
	}
}

func TestGate(t *testing.T) {
	g := NewGate(1500 * time.Millisecond)
	for _, accept := range []string{"", "application/json", "*/*"} {
		r := httptest.NewRequest("GET", "/healthz", nil)
		r.Header.Set("Accept", accept)
		w := do(g, r)
		var body struct{ Error, Message string }
		if w.Code != 503 || w.Header().Get("Retry-After") != "2" || w.Header().Get("Content-Type") != "application/json" ||
			json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error != "starting" || body.Message != "服务正在启动，请稍后重试" {
			t.Errorf("Accept %q: %d %v %s", accept, w.Code, w.Header(), w.Body)
		}
	}
	r := httptest.NewRequest("GET", "/c/abc", nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	w := do(g, r)
	if w.Code != 503 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), "服务正在启动") {
		t.Errorf("browser: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if g.IsOpen() {
		t.Error("open before Open")
	}
	g.Open(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	if w := do(g, httptest.NewRequest("GET", "/healthz", nil)); w.Code != http.StatusTeapot || !g.IsOpen() {
		t.Errorf("after Open: %d", w.Code)
	}
}

package gateway

import (
	"net/http/httptest"
	"testing"
)

// SAM's form of the catch-all (Method ANY, Path /$default) is the $default
// route: it takes every unmatched request and reports routeKey "$default".
func TestSAMDefaultRoute(t *testing.T) {
	inv := &fakeInvoker{}
	h := newGateway(t, []Route{{"GET", "/c/{token}", "landing"}, {"ANY", "/$default", "fallback"}}, inv, Options{})
	for _, tc := range []struct{ method, path, function, routeKey string }{
		{"GET", "/c/abc", "landing", "GET /c/{token}"},
		{"GET", "/", "fallback", "$default"},
		{"POST", "/c/abc", "fallback", "$default"},
		{"GET", "/no/such/path", "fallback", "$default"},
		{"GET", "/$default", "fallback", "$default"},
	} {
		w := do(h, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != 200 || w.Body.String() != tc.function {
			t.Errorf("%s %s: %d %q, want %s", tc.method, tc.path, w.Code, w.Body, tc.function)
			continue
		}
		if ev := inv.last(t).event; ev.RouteKey != tc.routeKey || len(ev.PathParameters) != 0 && tc.routeKey == "$default" {
			t.Errorf("%s %s: routeKey %q params %v", tc.method, tc.path, ev.RouteKey, ev.PathParameters)
		}
	}
	if _, err := newRouter([]Route{{"ANY", "/$default", "a"}, {"", "$default", "b"}}); err == nil {
		t.Error("two default routes accepted")
	}
}

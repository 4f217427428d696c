package gateway

import (
	"net/http/httptest"
	"testing"
)

// The console's route pair (template.yaml AdminFunction): ANY /admin and
// ANY /admin/{proxy+}. The greedy variable takes the rest of the path, any
// depth; /admin itself needs its own route (a greedy variable matches at
// least one segment), and a longer literal prefix is not /admin.
func TestConsoleRoutePair(t *testing.T) {
	routes := []Route{
		{"ANY", "/admin", "admin"},
		{"ANY", "/admin/{proxy+}", "admin"},
		{"GET", "/c/{token}", "landing"},
		{"", "$default", "default"},
	}
	inv := &fakeInvoker{}
	h := newGateway(t, routes, inv, Options{})
	cases := []struct{ method, path, function, routeKey, proxy string }{
		{"GET", "/admin", "admin", "ANY /admin", ""},
		{"POST", "/admin/login", "admin", "ANY /admin/{proxy+}", "login"},
		{"DELETE", "/admin/api/session", "admin", "ANY /admin/{proxy+}", "api/session"},
		{"GET", "/admin/api/communities/c-1/code.png", "admin", "ANY /admin/{proxy+}", "api/communities/c-1/code.png"},
		{"GET", "/admin/communities/%E5%B0%8F", "admin", "ANY /admin/{proxy+}", "communities/小"},
		{"GET", "/administrator", "default", "$default", ""},
		{"GET", "/c/tok", "landing", "GET /c/{token}", ""},
	}
	for _, tc := range cases {
		w := do(h, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != 200 || w.Body.String() != tc.function {
			t.Errorf("%s %s: %d %q, want %s", tc.method, tc.path, w.Code, w.Body, tc.function)
			continue
		}
		ev := inv.last(t).event
		if ev.RouteKey != tc.routeKey || ev.PathParameters["proxy"] != tc.proxy {
			t.Errorf("%s %s: route %q proxy %q, want %q %q", tc.method, tc.path, ev.RouteKey, ev.PathParameters["proxy"], tc.routeKey, tc.proxy)
		}
		if tc.function == "admin" && ev.RawPath != tc.path {
			t.Errorf("%s: rawPath %q", tc.path, ev.RawPath)
		}
	}
}

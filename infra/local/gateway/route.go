package gateway

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// DefaultRoute is the route key that catches requests no other route
// matches.
const DefaultRoute = "$default"

// Route integrates one route key with a function.
type Route struct {
	Method   string // GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY; ignored for $default
	Path     string // e.g. /c/{token}, /api/orders/{id}, /static/{proxy+}, or "$default" (also "/$default", SAM's form)
	Function string // function name passed to the Invoker
}

type segKind int

// Ordered from most to least specific.
const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string // literal text or parameter name
}

// route is a parsed Route.
type route struct {
	Route
	key    string // routeKey as API Gateway reports it
	method string // upper case, "ANY" matches all
	segs   []segment
}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}

func parseRoute(r Route) (*route, error) {
	if r.Function == "" {
		return nil, fmt.Errorf("gateway: route %s %s: no function", r.Method, r.Path)
	}
	// SAM declares the catch-all as Path /$default (Method ANY), as its
	// generated OpenAPI does; API Gateway reports the route key "$default".
	if r.Path == DefaultRoute || r.Path == "/"+DefaultRoute {
		return &route{Route: r, key: DefaultRoute, method: "ANY"}, nil
	}
	method := strings.ToUpper(r.Method)
	if !slices.Contains(methods, method) {
		return nil, fmt.Errorf("gateway: route %s %s: unsupported method", r.Method, r.Path)
	}
	if !strings.HasPrefix(r.Path, "/") {
		return nil, fmt.Errorf("gateway: route %s %s: path must start with /", r.Method, r.Path)
	}
	rt := &route{Route: r, key: method + " " + r.Path, method: method}
	if r.Path == "/" {
		return rt, nil
	}
	parts := strings.Split(r.Path[1:], "/")
	seen := map[string]bool{}
	for i, part := range parts {
		switch {
		case part == "":
			return nil, fmt.Errorf("gateway: route %s: empty path segment", rt.key)
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			name := part[1 : len(part)-1]
			kind := segParam
			if n, ok := strings.CutSuffix(name, "+"); ok {
				if i != len(parts)-1 {
					return nil, fmt.Errorf("gateway: route %s: greedy variable must be last", rt.key)
				}
				name, kind = n, segGreedy
			}
			if name == "" || strings.ContainsAny(name, "{}/+") || seen[name] {
				return nil, fmt.Errorf("gateway: route %s: bad path variable %q", rt.key, part)
			}
			seen[name] = true
			rt.segs = append(rt.segs, segment{kind: kind, text: name})
		case strings.ContainsAny(part, "{}"):
			return nil, fmt.Errorf("gateway: route %s: path variables must span a whole segment", rt.key)
		default:
			rt.segs = append(rt.segs, segment{kind: segLiteral, text: part})
		}
	}
	return rt, nil
}

// shape identifies routes that would match exactly the same requests.
func (rt *route) shape() string {
	var b strings.Builder
	b.WriteString(rt.method)
	for _, s := range rt.segs {
		switch s.kind {
		case segLiteral:
			b.WriteString("/" + s.text)
		case segParam:
			b.WriteString("/{}")
		case segGreedy:
			b.WriteString("/{+}")
		}
	}
	return b.String()
}

// match matches the escaped request path segments (rawPath without its
// leading slash, split on "/") and returns the decoded path parameters.
func (rt *route) match(method string, raw []string) (map[string]string, bool) {
	if rt.method != "ANY" && rt.method != method {
		return nil, false
	}
	if len(rt.segs) == 0 { // "/"
		return nil, len(raw) == 1 && raw[0] == ""
	}
	var params map[string]string
	for i, s := range rt.segs {
		if i >= len(raw) {
			return nil, false
		}
		switch s.kind {
		case segGreedy:
			rest := strings.Join(raw[i:], "/")
			if rest == "" {
				return nil, false
			}
			v, err := url.PathUnescape(rest)
			if err != nil {
				return nil, false
			}
			params = setParam(params, s.text, v)
			return params, true
		default:
			v, err := url.PathUnescape(raw[i])
			if err != nil {
				return nil, false
			}
			if s.kind == segLiteral {
				if v != s.text {
					return nil, false
				}
				continue
			}
			if v == "" {
				return nil, false
			}
			params = setParam(params, s.text, v)
		}
	}
	return params, len(raw) == len(rt.segs)
}

func setParam(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = make(map[string]string)
	}
	m[k] = v
	return m
}

// moreSpecific reports whether a should win over b when both match: the
// first differing segment decides (literal, then {param}, then {proxy+}),
// then a specific method beats ANY.
func moreSpecific(a, b *route) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return a.method != "ANY" && b.method == "ANY"
}

// router selects routes as API Gateway does.
type router struct {
	routes []*route
	def    *route
}

func newRouter(routes []Route) (*router, error) {
	rtr := &router{}
	shapes := map[string]string{}
	for _, r := range routes {
		rt, err := parseRoute(r)
		if err != nil {
			return nil, err
		}
		if rt.key == DefaultRoute {
			if rtr.def != nil {
				return nil, fmt.Errorf("gateway: duplicate %s route", DefaultRoute)
			}
			rtr.def = rt
			continue
		}
		if prev, ok := shapes[rt.shape()]; ok {
			return nil, fmt.Errorf("gateway: route %s conflicts with %s", rt.key, prev)
		}
		shapes[rt.shape()] = rt.key
		rtr.routes = append(rtr.routes, rt)
	}
	return rtr, nil
}

// find returns the route for a request and its path parameters, or nil.
func (rtr *router) find(method, rawPath string) (*route, map[string]string) {
	raw := strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
	var best *route
	var bestParams map[string]string
	for _, rt := range rtr.routes {
		params, ok := rt.match(method, raw)
		if ok && (best == nil || moreSpecific(rt, best)) {
			best, bestParams = rt, params
		}
	}
	if best == nil && rtr.def != nil {
		return rtr.def, nil
	}
	return best, bestParams
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/web"
)

// fakeManagerCodes is a manager's codes: the default one and an extra one with
// preset values; anything else is not the caller's.
type fakeManagerCodes struct {
	mu    sync.Mutex
	calls []string // "<staff>/<id>"
	base  string
}

func (f *fakeManagerCodes) Code(_ context.Context, p Principal, id string) (ManagerCode, error) {
	f.mu.Lock()
	f.calls = append(f.calls, p.StaffID+"/"+id)
	f.mu.Unlock()
	fields := domain.PayerFields{{Key: "company", Label: "公司名称", Type: domain.FieldText, Required: true}, {Key: "contract", Label: "合同号", Type: domain.FieldText}}
	switch id {
	case "":
		return ManagerCode{URL: f.base + "/c/tok-default-aaaaaaaaaaaaaaaaaa", Code: ManagerCodeInfo{ID: "mc-default", Name: "我的收款码", Kind: "personal"}, PayerFields: fields}, nil
	case "mc-extra":
		exp := "2026-11-29T13:00:00+08:00"
		return ManagerCode{URL: f.base + "/c/tok-extra-bbbbbbbbbbbbbbbbbbbb", ExpiresAt: &exp,
			Code:        ManagerCodeInfo{ID: "mc-extra", Name: "<b>老客户</b>", Kind: "extra", Preset: map[string]string{"company": "星光<贸易>", "contract": "HT-2026-01", "zone": "东区"}},
			PayerFields: fields}, nil
	case "mc-outside":
		return ManagerCode{URL: "http://169.254.169.254/latest", Code: ManagerCodeInfo{ID: "mc-outside"}}, nil
	}
	return ManagerCode{}, ErrNotFound
}

func mobileFixture(t *testing.T) (*fixture, *fakeManagerCodes) {
	f := newFixture(t)
	fc := &fakeManagerCodes{base: f.h.PublicBaseURL}
	f.h.Mobile.Codes = fc
	return f, fc
}

// mobileAPI sends an /m/api request in session s (the CSRF token in the
// header for a state change).
func (f *fixture) mobileAPI(s session, method, path, body string) web.Response {
	f.t.Helper()
	r := rq{method: method, path: path, cookies: []string{SessionCookie + "=" + s.id}, headers: map[string]string{}}
	if method != http.MethodGet {
		r.headers["X-CSRF-Token"] = s.csrf
		r.json = body
	}
	return f.do(r)
}

func TestMobileWithoutSession(t *testing.T) {
	f, _ := mobileFixture(t)
	for path, want := range map[string]string{
		"/m":                 "/m/login?next=%2Fm",
		"/m/":                "/m/login?next=%2Fm",
		"/m/records?x=1":     "/m/login?next=%2Fm%2Frecords%3Fx%3D1",
		"/m/diagnose?code=a": "/m/login?next=%2Fm%2Fdiagnose%3Fcode%3Da",
	} {
		if r := f.do(get(path)); r.StatusCode != http.StatusFound || r.Headers["Location"] != want {
			t.Errorf("GET %s: %d %q, want 302 %s", path, r.StatusCode, r.Headers["Location"], want)
		}
	}
	for _, path := range []string{"/m/api/settings", "/m/api/diagnose", "/m/api/nope/"} {
		r := f.do(get(path))
		if path == "/m/api/nope/" {
			if r.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %d", path, r.StatusCode)
			}
			continue
		}
		if r.StatusCode != http.StatusUnauthorized || errorCode(t, r) != "unauthorized" {
			t.Errorf("GET %s: %d %s, want 401 JSON", path, r.StatusCode, r.Body)
		}
	}
}

func TestMobileSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/m": "/m", "/m/records": "/m/records", "/m?code=mc-1": "/m?code=mc-1", "/m/diagnose?code=x": "/m/diagnose?code=x",
		"": "/m", "/admin": "/m", "https://evil.example/m": "/m", "//evil.example": "/m", "/m//evil.example": "/m",
		"/mx": "/m", "/m/../admin": "/m", "/m/login": "/m", "/m/api/code": "/m", "/m\r\nX: y": "/m", "/m\\evil": "/m",
	} {
		if got := mobileSafeNext(in); got != want {
			t.Errorf("mobileSafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// scriptAndStyle checks that a page's CSP allows exactly its inline script
// and stylesheet (by hash) and nothing inline besides.
func checkMobileCSP(t *testing.T, r web.Response) {
	t.Helper()
	csp := r.Headers["Content-Security-Policy"]
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "default-src 'none'") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || r.Headers["X-Frame-Options"] != "DENY" {
		t.Fatalf("CSP %q, X-Frame-Options %q", csp, r.Headers["X-Frame-Options"])
	}
	for _, tag := range []string{"script", "style"} {
		m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(r.Body, -1)
		if len(m) != 1 {
			t.Fatalf("%d inline <%s> elements, want 1", len(m), tag)
		}
		sum := sha256.Sum256([]byte(m[0][1]))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, tag+"-src "+h) {
			t.Fatalf("CSP %q does not allow the page's <%s> (%s)", csp, tag, h)
		}
	}
	if regexp.MustCompile(`\son[a-z]+=|\sstyle=|javascript:`).MatchString(r.Body) {
		t.Fatalf("inline handler or style attribute in the page")
	}
}

func TestMobileLoginSetsAnAppSession(t *testing.T) {
	f, _ := mobileFixture(t)
	r := f.do(get("/m/login?next=%2Fm%2Frecords"))
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `action="/m/login"`) || !strings.Contains(r.Body, `name="next" value="/m/records"`) {
		t.Fatalf("login page: %d %.1500s", r.StatusCode, r.Body)
	}
	checkMobileCSP(t, r)
	pre, preCookieLine, ok := cookieValue(r, preCookie)
	if !ok || !strings.Contains(preCookieLine, "Path=/m;") || !strings.Contains(preCookieLine, "SameSite=Strict") {
		t.Fatalf("pre cookie: %q", preCookieLine)
	}
	form := url.Values{"csrf": {pre}, "next": {"/m/records"}, "phone": {"13800000003"}, "password": {"wrong"}}
	r = f.do(rq{method: "POST", path: "/m/login", form: form, cookies: []string{preCookie + "=" + pre}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Body, "手机号或密码错误") || !strings.Contains(r.Body, `value="13800000003"`) {
		t.Fatalf("bad password: %d %.1500s", r.StatusCode, r.Body)
	}
	form.Set("password", "pw-manager-a")
	r = f.do(rq{method: "POST", path: "/m/login", form: form, cookies: []string{preCookie + "=" + pre}})
	sid, line, ok := cookieValue(r, SessionCookie)
	if r.StatusCode != http.StatusFound || r.Headers["Location"] != "/m/records" || !ok ||
		!strings.Contains(line, "Path=/m;") || !strings.Contains(line, "HttpOnly") || !strings.Contains(line, "SameSite=Lax") {
		t.Fatalf("login: %d %v %q", r.StatusCode, r.Headers, line)
	}
	if _, err := f.acc.Authenticate(context.Background(), sid); err != nil {
		t.Fatalf("the cookie is not a session: %v", err)
	}
	// Signed in, the login page sends the manager on.
	if r = f.do(rq{method: "GET", path: "/m/login", cookies: []string{SessionCookie + "=" + sid}}); r.StatusCode != http.StatusFound || r.Headers["Location"] != "/m" {
		t.Fatalf("login page when signed in: %d %v", r.StatusCode, r.Headers)
	}
	// A login form without its pre token is refused.
	if r = f.do(rq{method: "POST", path: "/m/login", form: form}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("login without the pre cookie: %d", r.StatusCode)
	}
}

func TestMobileSqueezedOut(t *testing.T) {
	f, _ := mobileFixture(t)
	first := f.login("manager-a")
	f.login("manager-a") // the same account on another device
	r := f.as(first, get("/m"))
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Body, "您的账号已在其他设备登录") || !strings.Contains(r.Body, `id="squeezed"`) ||
		!strings.Contains(r.Body, `name="next" value="/m"`) {
		t.Fatalf("squeezed-out page: %d %.2000s", r.StatusCode, r.Body)
	}
	if _, line, ok := cookieValue(r, SessionCookie); !ok || !strings.Contains(line, "Max-Age=0") || !strings.Contains(line, "Path=/m;") {
		t.Fatalf("session cookie not cleared: %q", line)
	}
	r = f.mobileAPI(first, "GET", "/m/api/settings", "")
	var e web.ErrorBody
	if json.Unmarshal([]byte(r.Body), &e); r.StatusCode != http.StatusUnauthorized || e.Error.Code != "squeezed_out" || e.Error.Message != "您的账号已在其他设备登录" {
		t.Fatalf("squeezed-out API: %d %s", r.StatusCode, r.Body)
	}
}

func TestMobileSMSStep(t *testing.T) {
	f, _ := mobileFixture(t)
	f.acc.staff["manager-a"].sms = true
	pre := "pre-token-123"
	r := f.do(rq{method: "POST", path: "/m/login", cookies: []string{preCookie + "=" + pre},
		form: url.Values{"csrf": {pre}, "phone": {"13800000003"}, "password": {"pw-manager-a"}, "next": {"/m/settings"}}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `action="/m/login/sms"`) || !strings.Contains(r.Body, "138****0003") {
		t.Fatalf("sms page: %d %.1500s", r.StatusCode, r.Body)
	}
	if _, _, ok := cookieValue(r, SessionCookie); ok {
		t.Fatal("a session before the SMS code")
	}
	pre2, _, _ := cookieValue(r, preCookie)
	form := url.Values{"csrf": {pre2}, "challenge": {"ch-manager-a"}, "next": {"/m/settings"}, "code": {"000000"}}
	if r = f.do(rq{method: "POST", path: "/m/login/sms", form: form, cookies: []string{preCookie + "=" + pre2}}); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "验证码错误") {
		t.Fatalf("wrong code: %d %.1000s", r.StatusCode, r.Body)
	}
	pre3, _, _ := cookieValue(r, preCookie)
	form.Set("csrf", pre3)
	form.Set("code", "123456")
	r = f.do(rq{method: "POST", path: "/m/login/sms", form: form, cookies: []string{preCookie + "=" + pre3}})
	if _, line, ok := cookieValue(r, SessionCookie); r.StatusCode != http.StatusFound || r.Headers["Location"] != "/m/settings" || !ok || !strings.Contains(line, "Path=/m;") {
		t.Fatalf("after the code: %d %v %q", r.StatusCode, r.Headers, line)
	}
}

func TestMobileHomeRendersTheCodeInTheFirstAnswer(t *testing.T) {
	f, fc := mobileFixture(t)
	s := f.login("manager-a")
	r := f.as(s, get("/m"))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("home: %d %.1000s", r.StatusCode, r.Body)
	}
	checkMobileCSP(t, r)
	want, _ := qrprint.Symbol(f.h.PublicBaseURL+"/c/tok-default-aaaaaaaaaaaaaaaaaa", "qr")
	for _, s := range []string{string(want), "我的收款码", `data-code="mc-default"`, "展开", "刷新", "切换", "诊断", `href="/m/diagnose?code=mc-default"`, `class="on" aria-current="page"`} {
		if !strings.Contains(r.Body, s) {
			t.Errorf("home lacks %.80q", s)
		}
	}
	if len(fc.calls) != 1 || fc.calls[0] != "manager-a/" {
		t.Fatalf("code queries: %v", fc.calls)
	}
	// A picked code: its preset values, escaped, in its fields' order; its expiry.
	r = f.as(s, get("/m?code=mc-extra"))
	for _, s := range []string{"&lt;b&gt;老客户&lt;/b&gt;", "<dt>公司名称</dt><dd>星光&lt;贸易&gt;</dd></div><div><dt>合同号</dt><dd>HT-2026-01</dd></div><div><dt>zone</dt><dd>东区</dd>",
		"此收款码将于 2026-11-29 13:00:00 失效", `data-picked="1"`} {
		if !strings.Contains(r.Body, s) {
			t.Errorf("extra code page lacks %q", s)
		}
	}
	if strings.Contains(r.Body, "<b>老客户</b>") || strings.Contains(r.Body, "星光<贸易>") {
		t.Error("unescaped code name or preset")
	}
	// A code that is not (or no longer) the caller's: back to the default one, with a word.
	if r = f.as(s, get("/m?code=mc-other")); r.StatusCode != http.StatusFound || r.Headers["Location"] != "/m?done=gone" {
		t.Fatalf("unknown code: %d %v", r.StatusCode, r.Headers)
	}
	if r = f.as(s, get("/m?done=gone")); !strings.Contains(r.Body, "您选择的收款码已不可用") {
		t.Error("gone notice missing")
	}
	// After 刷新: when the previous code stops working.
	r = f.as(s, get("/m?refreshed="+url.QueryEscape("2026-11-29T05:00:00Z")))
	if !strings.Contains(r.Body, "已刷新收款码，之前的收款码将于 2026-11-29 13:00:00 失效") {
		t.Errorf("refreshed notice: %.3000s", r.Body)
	}
	if r = f.as(s, get("/m?refreshed=%3Cscript%3E")); !strings.Contains(r.Body, ">已刷新收款码</div>") || strings.Contains(r.Body, "<script>x") {
		t.Errorf("refreshed notice with a bad time")
	}
}

func TestMobileHomeWithoutCodes(t *testing.T) {
	f := newFixture(t)
	s := f.login("manager-a")
	// No code query wired and (on a branch without it) no /m/api/code route.
	if rt, _, _ := match("GET", "/m/api/code"); rt == nil {
		if r := f.as(s, get("/m")); r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "收款码服务暂未开通") {
			t.Fatalf("home without codes: %d %.500s", r.StatusCode, r.Body)
		}
	}
	// The operator and the company-wide roles collect with no codes of their
	// own: told to use the console; the API has nothing of theirs.
	for _, who := range []string{"op", "admin-a", "cashier-a"} {
		s := f.login(who)
		for _, path := range []string{"/m", "/m/records", "/m/settings", "/m/diagnose"} {
			if r := f.as(s, get(path)); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "没有个人收款码，请使用管理后台") || !strings.Contains(r.Body, `href="/admin"`) {
				t.Fatalf("%s %s: %d %.500s", who, path, r.StatusCode, r.Body)
			}
		}
		for _, path := range []string{"/m/api/settings", "/m/api/diagnose"} {
			if r := f.mobileAPI(s, "GET", path, ""); r.StatusCode != http.StatusNotFound {
				t.Fatalf("%s %s: %d", who, path, r.StatusCode)
			}
		}
		if r := f.mobileAPI(s, "PUT", "/m/api/settings", `{"notify_payments":true}`); r.StatusCode != http.StatusNotFound {
			t.Fatalf("%s PUT settings: %d", who, r.StatusCode)
		}
	}
}

// The home page reads the code through the JSON API's own route when no
// query is wired: in process, as the caller, with the route's permission.
func TestInProcessRoute(t *testing.T) {
	f := newFixture(t)
	const path = "/m/api/test-in-process"
	var seen *call
	saved := routes
	t.Cleanup(func() { routes = saved })
	register(route{method: "GET", pattern: path, action: ActRecordsView, handle: func(h *Handler, ctx context.Context, c *call) web.Response {
		seen = c
		switch c.req.QueryStringParameters["code"] {
		case "gone":
			return web.Error(http.StatusNotFound, "not_found", "收款码不存在")
		case "broken":
			return web.Error(http.StatusInternalServerError, "internal", "坏了")
		case "none":
			return web.Error(http.StatusConflict, "no_community", "公司还没有可收款的小区，请联系管理员")
		}
		return web.JSON(http.StatusOK, map[string]any{"url": "https://pay.example.com/c/x", "expires_at": nil,
			"code":         map[string]any{"id": c.req.QueryStringParameters["code"], "name": "码", "kind": "personal", "preset": map[string]string{"a": "b"}},
			"payer_fields": []map[string]any{{"key": "a", "label": "甲", "type": "text"}}})
	}})
	admin := f.login("admin-a")
	c := &call{req: web.Request{Cookies: []string{"x=y"}, QueryStringParameters: map[string]string{"code": "outer"}}, path: "/m", p: f.acc.principal(f.acc.staff["admin-a"], admin.csrf), sessionID: admin.id}
	var got ManagerCode
	if err := f.h.inProcess(context.Background(), c, path, url.Values{"code": {"mc-1"}}, &got); err != nil {
		t.Fatal(err)
	}
	if got.URL != "https://pay.example.com/c/x" || got.ExpiresAt != nil || got.Code.ID != "mc-1" || got.Code.Preset["a"] != "b" || len(got.PayerFields) != 1 || got.PayerFields[0].Label != "甲" {
		t.Fatalf("decoded %+v", got)
	}
	if !seen.api || seen.p.StaffID != "admin-a" || seen.path != path || seen.req.RawQueryString != "code=mc-1" {
		t.Fatalf("the route saw %+v", seen)
	}
	if err := f.h.inProcess(context.Background(), c, path, url.Values{"code": {"gone"}}, &got); !errors.Is(err, ErrNotFound) {
		t.Fatalf("404: %v", err)
	}
	if err := f.h.inProcess(context.Background(), c, path, url.Values{"code": {"broken"}}, &got); err == nil || !strings.Contains(err.Error(), "坏了") {
		t.Fatalf("500: %v", err)
	}
	var ae *apiError
	if err := f.h.inProcess(context.Background(), c, path, url.Values{"code": {"none"}}, &got); !errors.As(err, &ae) || ae.status != http.StatusConflict || ae.msg != "公司还没有可收款的小区，请联系管理员" {
		t.Fatalf("409: %v", err)
	}
	// A page says what the API said when it is for people to act on; a 500 it does not.
	if r := f.h.mobileFail(context.Background(), c, ae, "test"); r.StatusCode != http.StatusConflict || !strings.Contains(r.Body, "公司还没有可收款的小区") {
		t.Fatalf("page for a 409: %d %.500s", r.StatusCode, r.Body)
	}
	if r := f.h.mobileFail(context.Background(), c, &apiError{status: 500, code: "internal", msg: "坏了"}, "test"); r.StatusCode != 500 || strings.Contains(r.Body, "坏了") {
		t.Fatalf("page for a 500: %d %.500s", r.StatusCode, r.Body)
	}
	mgr := f.login("manager-a")
	c.p = f.acc.principal(f.acc.staff["manager-a"], mgr.csrf)
	if err := f.h.inProcess(context.Background(), c, path, nil, &got); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a role the route refuses: %v", err)
	}
	if err := f.h.inProcess(context.Background(), c, "/m/api/none", nil, &got); !errors.Is(err, errNoCodes) {
		t.Fatalf("no route: %v", err)
	}
}

// ---------------------------------------------------------------- 诊断

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// stepClock advances by step on every reading.
func stepClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

func TestProbeOutcomes(t *testing.T) {
	var gotUA, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotPath = r.Header.Get("User-Agent"), r.URL.Path
		switch r.URL.Path {
		case "/c/ok":
			io.WriteString(w, "<!doctype html><html><body>付款</body></html>")
		case "/c/partial":
			io.WriteString(w, "<!doctype html><html><body>")
		case "/c/gone":
			w.WriteHeader(http.StatusGone)
			io.WriteString(w, "<html>此收款码已失效</html>")
		case "/c/missing":
			http.NotFound(w, r)
		case "/c/oauth":
			http.Redirect(w, r, "https://open.weixin.qq.com/connect/oauth2/authorize", http.StatusFound)
		default:
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	m := Mobile{Now: stepClock(150 * time.Millisecond)}
	for path, want := range map[string]struct {
		ok      bool
		status  int
		problem string
		msg     string
	}{
		"/c/ok":      {true, 200, "", "付款页面正常打开（用时 150 毫秒）"},
		"/c/partial": {false, 200, probeServerError, "付款页面不完整"},
		"/c/gone":    {false, 410, probeCodeInvalid, "付款页面提示此收款码无效或已失效"},
		"/c/missing": {false, 404, probeCodeInvalid, "付款页面提示此收款码无效或已失效"},
		"/c/oauth":   {true, 302, "", "付款页面正常（跳转授权，用时 150 毫秒）"},
		"/c/broken":  {false, 502, probeServerError, "付款页面出错（HTTP 502）"},
	} {
		d := m.probe(context.Background(), srv.URL+path)
		if d.OK != want.ok || d.Status != want.status || d.Problem != want.problem || d.Message != want.msg || d.Ms != 150 || d.URL != srv.URL+path {
			t.Errorf("%s: %+v, want %+v", path, d, want)
		}
		if gotPath != path || !strings.Contains(gotUA, "AlipayClient/") {
			t.Errorf("%s: fetched %s as %q", path, gotPath, gotUA)
		}
	}
	// No answer in time; no connection.
	m.Client = &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) { return nil, timeoutErr{} })}
	if d := m.probe(context.Background(), srv.URL+"/c/ok"); d.OK || d.Problem != probeTimeout || !strings.Contains(d.Message, "超时") {
		t.Errorf("timeout: %+v", d)
	}
	m.Client = &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) { return nil, errors.New("connection refused") })}
	if d := m.probe(context.Background(), srv.URL+"/c/ok"); d.OK || d.Problem != probeUnreachable || d.Message != "服务器无法连接付款页面" {
		t.Errorf("unreachable: %+v", d)
	}
}

func TestAdviceKey(t *testing.T) {
	ok, fail, invalid := diagnosis{OK: true}, diagnosis{Problem: probeServerError}, diagnosis{Problem: probeCodeInvalid}
	for _, c := range []struct {
		server  diagnosis
		phoneOK bool
		want    string
	}{
		{ok, true, "ok"}, {ok, false, "phone"}, {fail, true, "server"}, {fail, false, "both"}, {invalid, true, "invalid"}, {invalid, false, "invalid"},
	} {
		if got := adviceKey(c.server, c.phoneOK); got != c.want {
			t.Errorf("adviceKey(%+v, %v) = %s, want %s", c.server, c.phoneOK, got, c.want)
		}
	}
	// The seed's advice: the customer's network, or the administrator.
	if !strings.Contains(diagnoseAdvices["ok"], "客户手机的网络") || !strings.Contains(diagnoseAdvices["both"], "联系后台管理员") {
		t.Error("advice texts")
	}
}

func TestMobileDiagnoseFetchesThePublicPage(t *testing.T) {
	var hits []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.URL.Path)
		mu.Unlock()
		if strings.Contains(r.URL.Path, "extra") {
			w.WriteHeader(http.StatusGone)
			return
		}
		io.WriteString(w, "<html><body>付款</body></html>")
	}))
	defer srv.Close()
	f, fc := mobileFixture(t)
	f.h.PublicBaseURL, fc.base = srv.URL, srv.URL
	f.h.Mobile.Now = stepClock(40 * time.Millisecond)
	s := f.login("manager-a")
	r := f.mobileAPI(s, "GET", "/m/api/diagnose", "")
	var d diagnosis
	if err := json.Unmarshal([]byte(r.Body), &d); err != nil || r.StatusCode != 200 || !d.OK || d.Ms != 40 || d.URL != srv.URL+"/c/tok-default-aaaaaaaaaaaaaaaaaa" ||
		d.Advice["phone_ok"] != diagnoseAdvices["ok"] || d.Advice["phone_failed"] != diagnoseAdvices["phone"] {
		t.Fatalf("diagnose: %d %s", r.StatusCode, r.Body)
	}
	r = f.mobileAPI(s, "GET", "/m/api/diagnose?code=mc-extra", "")
	if json.Unmarshal([]byte(r.Body), &d); d.OK || d.Problem != probeCodeInvalid || d.Advice["phone_ok"] != diagnoseAdvices["invalid"] {
		t.Fatalf("expired code: %s", r.Body)
	}
	// Someone else's code, and a code whose URL is not the public route: nothing fetched.
	if r = f.mobileAPI(s, "GET", "/m/api/diagnose?code=mc-other", ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("other code: %d %s", r.StatusCode, r.Body)
	}
	if r = f.mobileAPI(s, "GET", "/m/api/diagnose?code=mc-outside", ""); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("outside URL: %d %s", r.StatusCode, r.Body)
	}
	if len(hits) != 2 {
		t.Fatalf("fetched %v", hits)
	}
	// The page: the code's URL for the phone's own check; the CSP lets it fetch there.
	r = f.as(s, get("/m/diagnose?code=mc-extra"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, `data-url="`+srv.URL+`/c/tok-extra-bbbbbbbbbbbbbbbbbbbb"`) || !strings.Contains(r.Body, "诊断：&lt;b&gt;老客户&lt;/b&gt;") {
		t.Fatalf("diagnose page: %d %.1500s", r.StatusCode, r.Body)
	}
	checkMobileCSP(t, r)
	if csp := r.Headers["Content-Security-Policy"]; !strings.Contains(csp, "connect-src 'self' "+srv.URL+";") {
		t.Fatalf("connect-src: %q", csp)
	}
}

// ---------------------------------------------------------------- 设置

func TestMobileSettings(t *testing.T) {
	f, _ := mobileFixture(t)
	ctx := context.Background()
	s := f.login("manager-a")
	get := func() mobileSettingsJSON {
		t.Helper()
		r := f.mobileAPI(s, "GET", "/m/api/settings", "")
		var out mobileSettingsJSON
		if err := json.Unmarshal([]byte(r.Body), &out); err != nil || r.StatusCode != 200 {
			t.Fatalf("GET settings: %d %s", r.StatusCode, r.Body)
		}
		return out
	}
	if got := get(); got.NotifyPayments || got.Channel != "wechat_oa" || got.ChannelName != "微信公众号" || got.WeChatBound {
		t.Fatalf("default settings: %+v", got)
	}
	page := f.as(s, rq{method: "GET", path: "/m/settings"})
	if page.StatusCode != 200 || !strings.Contains(page.Body, `id="notify">`) || !strings.Contains(page.Body, `id="bind-hint"`) || !strings.Contains(page.Body, "接收收款成功通知") {
		t.Fatalf("settings page: %d %.2000s", page.StatusCode, page.Body)
	}
	checkMobileCSP(t, page)

	before := f.acc.recordCount()
	r := f.mobileAPI(s, "PUT", "/m/api/settings", `{"notify_payments":true}`)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `"notify_payments":true`) {
		t.Fatalf("PUT on: %d %s", r.StatusCode, r.Body)
	}
	p, ok, err := f.st.NotificationRepo().Preference(ctx, coA, notification.OwnCodes, "manager-a")
	if err != nil || !ok || !p.Payments || p.Channel != notification.WeChatOA {
		t.Fatalf("stored: %+v %v %v", p, ok, err)
	}
	if f.acc.recordCount() != before+1 {
		t.Fatal("the change was not audited")
	}
	// The same choice again changes (and audits) nothing; community subscribers are untouched.
	f.mobileAPI(s, "PUT", "/m/api/settings", `{"notify_payments":true}`)
	if f.acc.recordCount() != before+1 {
		t.Fatal("an unchanged choice was audited")
	}
	if subs, _ := f.st.NotificationRepo().Subscribers(ctx, coA, cmA); len(subs) != 0 {
		t.Fatalf("community subscribers: %+v", subs)
	}
	if page = f.as(s, rq{method: "GET", path: "/m/settings"}); !strings.Contains(page.Body, `id="notify" checked>`) {
		t.Fatalf("page after switching on: %.2000s", page.Body)
	}
	// A channel chosen elsewhere, a bound openid and a delivery problem are kept and shown.
	p.Channel, p.OpenID = notification.SMS, "oMANAGER"
	if err := f.st.NotificationRepo().PutPreference(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := f.st.NotificationRepo().SetProblem(ctx, coA, notification.OwnCodes, "manager-a", "请先关注公众号"); err != nil {
		t.Fatal(err)
	}
	if got := get(); !got.NotifyPayments || got.Channel != "sms" || !got.WeChatBound || got.Problem != "请先关注公众号" {
		t.Fatalf("settings: %+v", got)
	}
	if page = f.as(s, rq{method: "GET", path: "/m/settings"}); strings.Contains(page.Body, `id="bind-hint"`) || !strings.Contains(page.Body, "请先关注公众号") {
		t.Fatalf("page with a bound identity: %.2000s", page.Body)
	}
	r = f.mobileAPI(s, "PUT", "/m/api/settings", `{"notify_payments":false}`)
	p, _, _ = f.st.NotificationRepo().Preference(ctx, coA, notification.OwnCodes, "manager-a")
	if r.StatusCode != 200 || p.Payments || p.Channel != notification.SMS || p.OpenID != "oMANAGER" || p.Problem != "" {
		t.Fatalf("switched off: %d %s, stored %+v", r.StatusCode, r.Body, p)
	}
	// Refused: not JSON, no choice, no CSRF token.
	for _, body := range []string{"", `{}`, `{"notify_payments":"yes"}`} {
		if r = f.mobileAPI(s, "PUT", "/m/api/settings", body); r.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT %q: %d", body, r.StatusCode)
		}
	}
	r = f.do(rq{method: "PUT", path: "/m/api/settings", json: `{"notify_payments":true}`, cookies: []string{SessionCookie + "=" + s.id}})
	if p, _, _ = f.st.NotificationRepo().Preference(ctx, coA, notification.OwnCodes, "manager-a"); r.StatusCode != http.StatusForbidden || p.Payments {
		t.Fatalf("without CSRF: %d, stored %+v", r.StatusCode, p)
	}
	// Each manager has their own.
	f.acc.add("manager-a2", coA, RoleManager, "13800000005")
	other := f.login("manager-a2")
	if r = f.mobileAPI(other, "GET", "/m/api/settings", ""); !strings.Contains(r.Body, `"notify_payments":false`) || strings.Contains(r.Body, "oMANAGER") {
		t.Fatalf("another manager: %s", r.Body)
	}
}

func TestMobileRecordsPageAndLogout(t *testing.T) {
	f, _ := mobileFixture(t)
	ctx := context.Background()
	co, err := f.st.GetCompany(ctx, coA)
	if err != nil {
		t.Fatal(err)
	}
	co.PayerFields = domain.PayerFields{{Key: "room", Label: `房号"<x>`, Type: domain.FieldText}}
	if err := f.st.PutCompany(ctx, co); err != nil {
		t.Fatal(err)
	}
	s := f.login("manager-a")
	r := f.as(s, get("/m/records"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, `data-labels="{&#34;company&#34;:&#34;公司名称&#34;,&#34;contract&#34;:&#34;合同号&#34;,&#34;room&#34;:&#34;房号\&#34;\u003cx\u003e&#34;}"`) ||
		!strings.Contains(r.Body, `id="q"`) || !strings.Contains(r.Body, `type="date"`) {
		t.Fatalf("records page: %d %.3000s", r.StatusCode, r.Body)
	}
	checkMobileCSP(t, r)
	r = f.as(s, rq{method: "POST", path: "/m/logout"})
	if _, line, _ := cookieValue(r, SessionCookie); r.StatusCode != http.StatusFound || r.Headers["Location"] != "/m/login" || !strings.Contains(line, "Max-Age=0") {
		t.Fatalf("logout: %d %v %q", r.StatusCode, r.Headers, line)
	}
	if _, err := f.acc.Authenticate(ctx, s.id); err == nil {
		t.Fatal("session alive after logout")
	}
}

// Opened from the official account's menu, the app's login takes the same
// snsapi_base round trip as the console's, back to /m/login, and the login
// carries the exchanged openid (a new identity then gets the SMS step).
func TestMobileLoginInsideWeChat(t *testing.T) {
	f, _ := mobileFixture(t)
	f.h.WeChatLogin = fakeWeChat{codes: map[string]string{"CODE1": "oOpenID1"}}
	ua := map[string]string{"User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50", "Host": "127.0.0.1:8081"}
	r := f.do(rq{method: "GET", path: "/m/login", query: map[string]string{"next": "/m/records"}, headers: ua})
	state, line, ok := cookieValue(r, wxStateCookie)
	want := url.QueryEscape("https://127.0.0.1:8081/m/login?next=%2Fm%2Frecords&wx=1")
	if r.StatusCode != 302 || !ok || !strings.Contains(r.Headers["Location"], want) || !strings.Contains(line, "Path=/m/login;") {
		t.Fatalf("WeChat login page: %d %s %q", r.StatusCode, r.Headers["Location"], line)
	}
	// An address outside the app is not carried through the round trip.
	if r := f.do(rq{method: "GET", path: "/m/login", query: map[string]string{"next": "https://evil.example/"}, headers: ua}); !strings.Contains(r.Headers["Location"], url.QueryEscape("next=%2Fm&")) {
		t.Fatalf("foreign next: %s", r.Headers["Location"])
	}
	r = f.do(rq{method: "GET", path: "/m/login", query: map[string]string{"wx": "1", "code": "CODE1", "state": state, "next": "/m/records"},
		headers: ua, cookies: []string{wxStateCookie + "=" + state}})
	tok, _, _ := cookieValue(r, preCookie)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `name="wxcode" value="CODE1"`) {
		t.Fatalf("form after the round trip: %d %.1000s", r.StatusCode, r.Body)
	}
	r = f.do(rq{method: "POST", path: "/m/login", headers: ua, cookies: []string{preCookie + "=" + tok},
		form: url.Values{"csrf": {tok}, "phone": {"13800000003"}, "password": {"pw-manager-a"}, "wxcode": {"CODE1"}, "next": {"/m/records"}}})
	if r.StatusCode != 302 || r.Headers["Location"] != "/m/records" || len(f.acc.openIDs) != 1 || f.acc.openIDs[0] != "oOpenID1" {
		t.Fatalf("login: %d %v, openids %q", r.StatusCode, r.Headers, f.acc.openIDs)
	}
}

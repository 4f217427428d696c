package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/web"
)

// ---------------------------------------------------------------- routing

func TestRouting(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	op := f.login("op")
	cases := []struct {
		s        session
		r        rq
		status   int
		location string
	}{
		{admin, get("/admin"), 302, "/admin/communities"},
		{admin, get("/admin/"), 302, "/admin/communities"},
		{op, get("/admin"), 302, "/admin/companies"},
		{f.login("risk-a"), get("/admin"), 302, "/admin/communities"},
		{f.login("manager-a"), get("/admin"), 200, ""}, // a welcome page, not 没有权限
		{admin, get("/admin/communities/"), 200, ""},
		{admin, get("/admin/nope"), 404, ""},
		{admin, get("/admin/communities/cm-a/nope"), 404, ""},
		{admin, get("/admin/api/nope"), 404, ""},
		{admin, rq{method: "PUT", path: "/admin/communities"}, 405, ""},
		{admin, get("/admin/interfaces/new?channel=alipay"), 200, ""},
		{admin, get("/admin/interfaces/if-ali-a"), 200, ""},
		{admin, get("/admin/communities/cm%2Fa"), 404, ""},
	}
	for _, tc := range cases {
		r := f.as(tc.s, tc.r)
		if r.StatusCode != tc.status || (tc.location != "" && r.Headers["Location"] != tc.location) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.r.method, tc.r.path, r.StatusCode, r.Headers["Location"], tc.status, tc.location)
		}
	}
	// A business manager: welcomed, and no company-wide records (theirs are
	// their own codes', in the managers' app).
	manager := f.login("manager-a")
	if r := f.as(manager, get("/admin")); !strings.Contains(r.Body, "业务经理") || strings.Contains(r.Body, "没有权限") {
		t.Errorf("manager's start page: %s", r.Body)
	}
	if r := f.as(manager, get("/admin/api/communities/"+cmA+"/payments")); r.StatusCode != 403 {
		t.Errorf("manager reads the company's records: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(admin, rq{method: "PUT", path: "/admin/communities"}); !strings.Contains(r.Headers["Allow"], "GET") || !strings.Contains(r.Headers["Allow"], "POST") {
		t.Errorf("405 Allow %q", r.Headers["Allow"])
	}
	// The new-interface page is not taken for an interface called "new".
	if r := f.as(admin, get("/admin/interfaces/new?channel=wechat")); !strings.Contains(r.Body, "添加微信支付接口") {
		t.Errorf("new interface page: %s", r.Body)
	}
	// Without a session: pages go to the login page (keeping where they were
	// going), the API answers 401 JSON.
	r := f.do(get("/admin/communities/cm-a"))
	if r.StatusCode != 302 || r.Headers["Location"] != "/admin/login?next=%2Fadmin%2Fcommunities%2Fcm-a" {
		t.Errorf("no session page: %d %v", r.StatusCode, r.Headers)
	}
	if r := f.do(get("/admin/api/communities")); r.StatusCode != 401 || errorCode(t, r) != "unauthorized" {
		t.Errorf("no session API: %d %s", r.StatusCode, r.Body)
	}
}

// paramValues are resources of company B, for the tenancy checks, and of
// company A, for the permission checks.
func paramValues(company string) map[string]string {
	if company == coB {
		return map[string]string{"{id}": cmB, "{iid}": "if-ali-b", "{token}": codeB, "{cid}": coB, "{sid}": "admin-b", "{nid}": noticeB}
	}
	return map[string]string{"{id}": cmA, "{iid}": "if-ali-a", "{token}": codeA, "{cid}": coA, "{sid}": "cashier-a", "{nid}": noticeA}
}

func fill(pattern string, values map[string]string) string {
	for k, v := range values {
		pattern = strings.ReplaceAll(pattern, k, v)
	}
	return pattern
}

// ---------------------------------------------------------------- CSRF

// Every state-changing route refuses a request without the session's CSRF
// token, or with another one, and changes nothing.
func TestCSRFRefusedOnEveryStateChangingRoute(t *testing.T) {
	f := newFixture(t)
	op := f.login("op")
	other := f.login("admin-a") // a real token, of another session
	n := 0
	for _, rt := range routes {
		if rt.method == http.MethodGet {
			continue
		}
		n++
		path := fill(rt.pattern, paramValues(coA))
		before := f.acc.recordCount()
		for name, tok := range map[string]string{"none": "", "other session's": other.csrf, "wrong": "x" + op.csrf} {
			r := rq{method: rt.method, path: path, form: url.Values{"name": {"改名"}, "company": {coA}}, cookies: []string{SessionCookie + "=" + op.id}}
			if rt.public {
				// Forms before login: the ep_pre double submit.
				r.cookies = []string{preCookie + "=" + other.csrf}
				if tok == other.csrf {
					tok = "y" + other.csrf
				}
			}
			if strings.HasPrefix(path, "/admin/api/") {
				if rt.public {
					continue // the JSON login: see TestAPILoginNeedsJSON
				}
				r.form, r.headers = nil, map[string]string{"X-CSRF-Token": tok}
			} else if tok != "" {
				r.form.Set("csrf", tok)
			}
			resp := f.do(r)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %s token: %d, want 403", rt.method, path, name, resp.StatusCode)
			}
		}
		if f.acc.recordCount() != before {
			t.Errorf("%s %s: refused requests wrote %d audit records", rt.method, path, f.acc.recordCount()-before)
		}
	}
	if n < 20 {
		t.Fatalf("only %d state-changing routes checked", n)
	}
	// The operator's session is still usable: nothing was logged out.
	if r := f.as(op, get("/admin/companies")); r.StatusCode != 200 {
		t.Fatalf("after the refusals: %d", r.StatusCode)
	}
	if c, _ := f.st.GetCompany(context.Background(), coA); c.Name != "物业A" {
		t.Fatalf("company renamed by a refused request: %+v", c)
	}
}

func TestAPILoginNeedsJSON(t *testing.T) {
	f := newFixture(t)
	r := f.do(rq{method: "POST", path: "/admin/api/session", form: url.Values{"phone": {"13800000001"}, "password": {"pw-admin-a"}}})
	if r.StatusCode != 400 {
		t.Fatalf("form-encoded API login: %d %s", r.StatusCode, r.Body)
	}
	if _, _, ok := cookieValue(r, SessionCookie); ok {
		t.Fatal("a session cookie for a form-encoded API login")
	}
}

// ---------------------------------------------------------------- tenancy

// Company A's admin gets 404 for every route naming a resource of company B,
// exactly as for a resource that does not exist.
func TestOtherCompanysResourcesAre404(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	before := f.acc.recordCount()
	n := 0
	for _, rt := range routes {
		if rt.public || !strings.Contains(rt.pattern, "{") || strings.Contains(rt.pattern, "{cid}") || ownActions[rt.action] {
			continue // {cid}: operator only (403 for an admin; see the permission test); the managers' own routes: mobile_api_test.go
		}
		if !can(RoleAdmin, rt.action) {
			continue // operator only (分付 review): 403 for an admin, as {cid}
		}
		n++
		for _, vals := range []map[string]string{paramValues(coB), {"{id}": "nope", "{iid}": "nope", "{token}": "nope", "{sid}": "nope", "{nid}": "nope"}} {
			path := fill(rt.pattern, vals)
			r := f.as(admin, rq{method: rt.method, path: path, form: url.Values{"name": {"x"}, "iface": {"if-wx-b"}, "status": {"approved"}}})
			if r.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", rt.method, path, r.StatusCode)
			}
			if strings.Contains(r.Body, "小区B") || strings.Contains(r.Body, "物业B") {
				t.Errorf("%s %s leaks company B: %s", rt.method, path, r.Body)
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d routes with resources checked", n)
	}
	if f.acc.recordCount() != before {
		t.Fatal("a refused request was audited as a change")
	}
	// Company-level routes act on the caller's company whatever ?company= says.
	r := f.as(admin, get("/admin/api/communities?company="+coB))
	if r.StatusCode != 200 || strings.Contains(r.Body, cmB) || !strings.Contains(r.Body, cmA) {
		t.Fatalf("communities with ?company=B: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(admin, post("/admin/communities", "name", "越权小区", "company", coB))
	cms, _ := f.st.ListCommunities(context.Background(), coB)
	if r.StatusCode != 302 || len(cms) != 1 {
		t.Fatalf("create with company=B: %d, company B now has %d communities", r.StatusCode, len(cms))
	}
	// Associating another company's WeChat interface is refused.
	if r := f.as(admin, post("/admin/communities/"+cmA+"/wechat", "iface", "if-wx-b")); r.StatusCode != 400 {
		t.Fatalf("foreign interface association: %d", r.StatusCode)
	}
	if cm, _ := f.st.GetCommunity(context.Background(), cmA); cm.WeChatIfaceID != "if-wx-a" {
		t.Fatalf("association changed: %+v", cm)
	}
}

// ---------------------------------------------------------------- permissions

// Each role may use exactly the routes its permissions allow: a refused
// route answers 403 (and writes nothing); an allowed one anything but 403.
func TestPermissionsPerRole(t *testing.T) {
	for _, who := range []struct {
		id   string
		role Role
	}{{"op", RoleOperator}, {"admin-a", RoleAdmin}, {"cashier-a", RoleCashier}, {"manager-a", RoleManager}, {"risk-a", RoleRiskOfficer}} {
		t.Run(string(who.role), func(t *testing.T) {
			f := newFixture(t)
			s := f.login(who.id)
			for _, rt := range routes {
				if rt.public || (rt.method == "POST" && strings.HasSuffix(rt.pattern, "/logout")) || rt.method == "DELETE" {
					continue // signing out is everyone's
				}
				path := fill(rt.pattern, paramValues(coA))
				if who.role == RoleOperator {
					path += "?company=" + coA
				}
				before := f.acc.recordCount()
				r := f.as(s, rq{method: rt.method, path: path, form: url.Values{"company": {coA}}})
				allowed := can(who.role, rt.action)
				if allowed && r.StatusCode == http.StatusForbidden {
					t.Errorf("%s %s: 403 for %s, which may %s", rt.method, rt.pattern, who.role, rt.action)
				}
				if !allowed {
					if r.StatusCode != http.StatusForbidden {
						t.Errorf("%s %s: %d for %s, which may not %s", rt.method, rt.pattern, r.StatusCode, who.role, rt.action)
					}
					if f.acc.recordCount() != before {
						t.Errorf("%s %s: a refused request was audited", rt.method, rt.pattern)
					}
				}
			}
		})
	}
}

// What the console's route actions come to for each role through the
// domain's permission table (shared/domain/staff): the operator onboards
// companies and their staff but reads no company's money; managers see only
// their own collections (their app, issue 11), not the console's pages.
func TestCanTable(t *testing.T) {
	all := []Action{ActCompanyManage, ActCommunityView, ActCommunityManage, ActInterfaceManage, ActRecordsView, ActDashboardView, ActStaffManage, ActAuditView,
		ActBillsCollect, ActNoticesIssue, ActNoticesPrint}
	want := map[Role][]Action{
		RoleOperator:    {ActCompanyManage, ActCommunityView, ActCommunityManage, ActInterfaceManage, ActStaffManage, ActAuditView},
		RoleAdmin:       all[1:],
		RoleCashier:     {ActCommunityView, ActRecordsView, ActDashboardView, ActBillsCollect, ActNoticesIssue, ActNoticesPrint},
		RoleManager:     nil, // own records only: none of the console's company-wide routes
		RoleRiskOfficer: {ActCommunityView, ActRecordsView, ActDashboardView},
		"":              nil,
		"bogus":         nil,
	}
	for r, acts := range want {
		for _, a := range all {
			exp := false
			for _, x := range acts {
				exp = exp || x == a
			}
			if can(r, a) != exp {
				t.Errorf("can(%q, %s) = %v", r, a, !exp)
			}
		}
		if can(r, actSignedIn) != (r != "") {
			t.Errorf("can(%q, signed in)", r)
		}
	}
}

// ---------------------------------------------------------------- sessions

// A second login squeezes the first session out: its next page shows
// 您的账号已在其他地方登录 (and clears the cookie), its API calls get
// 401 squeezed_out; an expired session says so.
func TestSqueezedOutSession(t *testing.T) {
	f := newFixture(t)
	first := f.login("cashier-a")
	second := f.login("cashier-a")
	r := f.as(first, get("/admin/communities"))
	if r.StatusCode != 401 || !strings.Contains(r.Body, "您的账号已在其他地方登录") || !strings.Contains(r.Body, `action="/admin/login"`) {
		t.Fatalf("squeezed page: %d %s", r.StatusCode, r.Body)
	}
	if _, c, ok := cookieValue(r, SessionCookie); !ok || !strings.Contains(c, "Max-Age=0") {
		t.Errorf("squeezed page does not clear the cookie: %v", r.Cookies)
	}
	r = f.as(first, get("/admin/api/communities"))
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal([]byte(r.Body), &e); r.StatusCode != 401 || e.Error.Code != "squeezed_out" || e.Error.Message != "您的账号已在其他地方登录" {
		t.Fatalf("squeezed API: %d %s", r.StatusCode, r.Body)
	}
	// A state change of the squeezed session is refused before its CSRF is looked at.
	if r := f.as(first, post("/admin/logout")); r.StatusCode != 401 {
		t.Fatalf("squeezed POST: %d", r.StatusCode)
	}
	if r := f.as(second, get("/admin/communities")); r.StatusCode != 200 {
		t.Fatalf("the new session: %d", r.StatusCode)
	}
	f.acc.sessions[second.id].expired = true
	r = f.as(second, get("/admin/api/communities"))
	if r.StatusCode != 401 || errorCode(t, r) != "session_expired" {
		t.Fatalf("expired API: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(second, get("/admin/communities")); r.StatusCode != 401 || !strings.Contains(r.Body, "登录已过期，请重新登录") {
		t.Fatalf("expired page: %d %s", r.StatusCode, r.Body)
	}
}

// loginForm fetches the login page and returns its ep_pre token.
func loginForm(t *testing.T, f *fixture) string {
	t.Helper()
	r := f.do(get("/admin/login"))
	tok, c, ok := cookieValue(r, preCookie)
	if r.StatusCode != 200 || !ok || !strings.Contains(r.Body, `name="csrf" value="`+tok+`"`) {
		t.Fatalf("login page: %d %v %s", r.StatusCode, r.Cookies, r.Body)
	}
	if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "Path=/admin") {
		t.Errorf("ep_pre cookie %q", c)
	}
	return tok
}

func TestLoginPage(t *testing.T) {
	f := newFixture(t)
	tok := loginForm(t, f)
	submit := func(phone, pw, next string) web.Response {
		return f.do(rq{method: "POST", path: "/admin/login", cookies: []string{preCookie + "=" + tok},
			form: url.Values{"csrf": {tok}, "phone": {phone}, "password": {pw}, "next": {next}}})
	}
	for _, tc := range []struct{ phone, pw string }{{"13800000001", "wrong"}, {"13900000000", "pw-admin-a"}} {
		r := submit(tc.phone, tc.pw, "")
		if r.StatusCode != 401 || !strings.Contains(r.Body, "手机号或密码错误") {
			t.Errorf("%s/%s: %d", tc.phone, tc.pw, r.StatusCode)
		}
		if _, _, ok := cookieValue(r, SessionCookie); ok {
			t.Errorf("%s: session cookie on failure", tc.phone)
		}
	}
	f.acc.staff["cashier-a"].locked = true
	if r := submit("13800000002", "pw-cashier-a", ""); r.StatusCode != 429 || !strings.Contains(r.Body, "登录失败次数过多") {
		t.Errorf("locked: %d %s", r.StatusCode, r.Body)
	}
	// Success: the session cookie and the redirect to where the person was going.
	r := submit("13800000001", "pw-admin-a", "/admin/communities/cm-a")
	sid, c, ok := cookieValue(r, SessionCookie)
	if r.StatusCode != 302 || r.Headers["Location"] != "/admin/communities/cm-a" || !ok {
		t.Fatalf("login: %d %v %v", r.StatusCode, r.Headers, r.Cookies)
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/admin"} {
		if !strings.Contains(c, attr) {
			t.Errorf("session cookie %q lacks %s", c, attr)
		}
	}
	if strings.Contains(c, "Secure") {
		t.Errorf("session cookie over http is Secure: %q", c)
	}
	if p, err := f.acc.Authenticate(context.Background(), sid); err != nil || p.StaffID != "admin-a" {
		t.Fatalf("cookie session: %+v %v", p, err)
	}
	// Redirects stay inside the console.
	for _, next := range []string{"//evil.example/x", "https://evil.example", "/adminx/../x", "/admin\\@evil", "/admin/login"} {
		if r := submit("13800000001", "pw-admin-a", next); r.Headers["Location"] != "/admin" && !strings.HasPrefix(r.Headers["Location"], "/admin/") || strings.Contains(r.Headers["Location"], "evil") || r.Headers["Location"] == "/admin/login" {
			t.Errorf("next %q → %q", next, r.Headers["Location"])
		}
	}
	// Over HTTPS the cookie is Secure.
	r = f.do(rq{method: "POST", path: "/admin/login", cookies: []string{preCookie + "=" + tok}, headers: map[string]string{"X-Forwarded-Proto": "https"},
		form: url.Values{"csrf": {tok}, "phone": {"13800000001"}, "password": {"pw-admin-a"}}})
	sid, c, _ = cookieValue(r, SessionCookie)
	if !strings.Contains(c, "; Secure") {
		t.Errorf("https session cookie %q", c)
	}
	// Logout ends the session (the latest: each login squeezed out the one before).
	s := session{sid, ""}
	p, _ := f.acc.Authenticate(context.Background(), sid)
	s.csrf = p.CSRF
	r = f.as(s, post("/admin/logout"))
	if r.StatusCode != 302 || r.Headers["Location"] != "/admin/login" {
		t.Fatalf("logout: %d %v", r.StatusCode, r.Headers)
	}
	if _, err := f.acc.Authenticate(context.Background(), sid); err == nil {
		t.Fatal("session alive after logout")
	}
}

func TestSMSStep(t *testing.T) {
	f := newFixture(t)
	f.acc.staff["manager-a"].sms = true
	tok := loginForm(t, f)
	r := f.do(rq{method: "POST", path: "/admin/login", cookies: []string{preCookie + "=" + tok},
		form: url.Values{"csrf": {tok}, "phone": {"13800000003"}, "password": {"pw-manager-a"}}})
	if r.StatusCode != 200 || !strings.Contains(r.Body, "短信验证") || !strings.Contains(r.Body, `value="ch-manager-a"`) || !strings.Contains(r.Body, "138****0003") {
		t.Fatalf("sms page: %d %s", r.StatusCode, r.Body)
	}
	if _, _, ok := cookieValue(r, SessionCookie); ok {
		t.Fatal("session before the SMS code")
	}
	tok2, _, _ := cookieValue(r, preCookie)
	verify := func(code string) web.Response {
		return f.do(rq{method: "POST", path: "/admin/login/sms", cookies: []string{preCookie + "=" + tok2},
			form: url.Values{"csrf": {tok2}, "challenge": {"ch-manager-a"}, "code": {code}}})
	}
	if r := verify("000000"); r.StatusCode != 400 || !strings.Contains(r.Body, "验证码错误或已过期") {
		t.Fatalf("bad code: %d %s", r.StatusCode, r.Body)
	}
	r = verify("123456")
	if _, _, ok := cookieValue(r, SessionCookie); r.StatusCode != 302 || !ok {
		t.Fatalf("good code: %d %v", r.StatusCode, r.Cookies)
	}
}

func TestSetPassword(t *testing.T) {
	f := newFixture(t)
	f.acc.setpw["link-1"] = "cashier-a"
	r := f.do(get("/admin/set-password?token=link-1"))
	tok, _, _ := cookieValue(r, preCookie)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `name="token" value="link-1"`) {
		t.Fatalf("form: %d %s", r.StatusCode, r.Body)
	}
	send := func(pw, pw2 string) web.Response {
		return f.do(rq{method: "POST", path: "/admin/set-password", cookies: []string{preCookie + "=" + tok},
			form: url.Values{"csrf": {tok}, "token": {"link-1"}, "password": {pw}, "password2": {pw2}}})
	}
	if r := send("short", "short"); r.StatusCode != 400 || !strings.Contains(r.Body, "密码至少 8 位") {
		t.Errorf("short: %d", r.StatusCode)
	}
	if r := send("long-enough-1", "long-enough-2"); r.StatusCode != 400 || !strings.Contains(r.Body, "两次输入的密码不一致") {
		t.Errorf("mismatch: %d", r.StatusCode)
	}
	// A password the policy refuses: its message, and the same link again.
	if r := send("新的密码很长很长", "新的密码很长很长"); r.StatusCode != 400 || !strings.Contains(r.Body, "同时包含字母和数字") ||
		!strings.Contains(r.Body, `name="token" value="link-1"`) {
		t.Fatalf("weak: %d %s", r.StatusCode, r.Body)
	}
	if r := send("新的密码很长很长2026", "新的密码很长很长2026"); r.StatusCode != 200 || !strings.Contains(r.Body, "密码已设置") {
		t.Fatalf("set: %d %s", r.StatusCode, r.Body)
	}
	if f.acc.staff["cashier-a"].password != "新的密码很长很长2026" {
		t.Fatal("password not set")
	}
	// The used link: the service's ErrBadToken is 链接已失效 (400), not a 500.
	if r := send("another-password-1", "another-password-1"); r.StatusCode != 400 || !strings.Contains(r.Body, "链接已失效") {
		t.Fatalf("second use: %d %s", r.StatusCode, r.Body)
	}
}

// ---------------------------------------------------------------- JSON API

func TestAPISessionAndCommunities(t *testing.T) {
	f := newFixture(t)
	r := f.do(rq{method: "POST", path: "/admin/api/session", json: `{"phone":"13800000001","password":"wrong"}`})
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal([]byte(r.Body), &e); r.StatusCode != 401 || e.Error.Code != "bad_credentials" || e.Error.Message != "手机号或密码错误" {
		t.Fatalf("wrong password: %d %s", r.StatusCode, r.Body)
	}
	r = f.do(rq{method: "POST", path: "/admin/api/session", json: `{"phone":"13800000001","password":"pw-admin-a"}`})
	var ok struct {
		CSRF  string    `json:"csrf_token"`
		Staff StaffJSON `json:"staff"`
	}
	sid, _, has := cookieValue(r, SessionCookie)
	if err := json.Unmarshal([]byte(r.Body), &ok); err != nil || r.StatusCode != 200 || !has || ok.CSRF == "" || ok.Staff.ID != "admin-a" || ok.Staff.CompanyID != coA || ok.Staff.Role != RoleAdmin {
		t.Fatalf("login: %d %s %v", r.StatusCode, r.Body, r.Cookies)
	}
	s := session{sid, ok.CSRF}
	r = f.as(s, get("/admin/api/communities"))
	var list struct {
		Communities []CommunityJSON `json:"communities"`
	}
	if err := json.Unmarshal([]byte(r.Body), &list); err != nil || r.StatusCode != 200 {
		t.Fatalf("communities: %d %s", r.StatusCode, r.Body)
	}
	if len(list.Communities) != 1 || list.Communities[0].ID != cmA || list.Communities[0].Name != "小区A" ||
		list.Communities[0].CodeURL != "https://pay.example.com/c/"+codeA {
		t.Fatalf("communities %+v", list.Communities)
	}
	// Logout needs the CSRF header, then ends the session.
	if r := f.do(rq{method: "DELETE", path: "/admin/api/session", cookies: []string{SessionCookie + "=" + sid}}); r.StatusCode != 403 || errorCode(t, r) != "csrf" {
		t.Fatalf("logout without CSRF: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(s, rq{method: "DELETE", path: "/admin/api/session"}); r.StatusCode != 204 {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(s, get("/admin/api/communities")); r.StatusCode != 401 {
		t.Fatalf("after logout: %d", r.StatusCode)
	}
	// The operator names the company.
	op := f.login("op")
	if r := f.as(op, get("/admin/api/communities")); r.StatusCode != 400 {
		t.Fatalf("operator without company: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(op, get("/admin/api/communities?company="+coB)); r.StatusCode != 200 || !strings.Contains(r.Body, cmB) {
		t.Fatalf("operator with company: %d %s", r.StatusCode, r.Body)
	}
}

// seedPaid stores n paid orders of community, a minute apart, and returns
// their ids newest first.
func seedPaid(t *testing.T, f *fixture, community, company, prefix string, n int, start time.Time) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("EP%s%s%02d", prefix, strings.Repeat("Q", 24-len(prefix)), i)
		o := order.Order{ID: id, CommunityID: community, CompanyID: company, CodeToken: "t", Channel: domain.Alipay,
			IfaceID: "if-ali", MerchantID: "2088", AppID: "2021", AmountFen: int64(100 * (i + 1)), RequestHash: "h"}
		if i == n-1 {
			o.Fields = map[string]string{"room": "3-201"}
		}
		stacktest.SeedOrder(t, f.st, o, start, start.Add(time.Duration(i)*time.Minute))
		ids = append([]string{id}, ids...)
	}
	return ids
}

func TestAPIPayments(t *testing.T) {
	f := newFixture(t)
	start := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	want := seedPaid(t, f, cmA, coA, "A", 5, start)
	seedPaid(t, f, cmB, coB, "B", 2, start)
	cashier := f.login("cashier-a")
	base := "/admin/api/communities/" + cmA + "/payments"
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		u := base + "?limit=2"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		r := f.as(cashier, get(u))
		var pg RecordsPageJSON
		if err := json.Unmarshal([]byte(r.Body), &pg); err != nil || r.StatusCode != 200 || len(pg.Payments) > 2 {
			t.Fatalf("page %d: %d %s", pages, r.StatusCode, r.Body)
		}
		if pages == 0 {
			p := pg.Payments[0]
			if pg.Community != "小区A" || p.PaidAt != "2025-03-01T16:04:00+08:00" || p.Amount != "5.00" || p.Status != "PAID" || p.Fields["room"] != "3-201" {
				t.Errorf("first record %+v of %+v", p, pg)
			}
		}
		for _, p := range pg.Payments {
			seen = append(seen, p.OrderID)
		}
		if pg.NextCursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging never ends")
		}
		cursor = pg.NextCursor
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("records %v, want %v (newest first, each once)", seen, want)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=garbage"} {
		if r := f.as(cashier, get(base+"?"+q)); r.StatusCode != 400 {
			t.Errorf("%s: %d", q, r.StatusCode)
		}
	}
	if r := f.as(cashier, get("/admin/api/communities/"+cmB+"/payments")); r.StatusCode != 404 || strings.Contains(r.Body, "EPB") {
		t.Fatalf("company B's records: %d %s", r.StatusCode, r.Body)
	}
}

// The records API applies the records filters (README "Contracts").
func TestAPIPaymentsFilters(t *testing.T) {
	f := newFixture(t)
	start := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	ids := seedPaid(t, f, cmA, coA, "F", 5, start) // 1.00 … 5.00 yuan, Alipay
	cashier := f.login("cashier-a")
	count := func(q string) int {
		t.Helper()
		r := f.as(cashier, get("/admin/api/communities/"+cmA+"/payments?"+q))
		var pg RecordsPageJSON
		if err := json.Unmarshal([]byte(r.Body), &pg); err != nil || r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", q, r.StatusCode, r.Body)
		}
		return len(pg.Payments)
	}
	for q, want := range map[string]int{"": 5, "min=3": 3, "max=2.00": 2, "channel=wechat": 0, "channel=alipay": 5,
		"q=3-201": 1, "q=" + ids[2]: 1, "from=2025-03-02": 0, "to=2025-03-01": 5} {
		if got := count(q); got != want {
			t.Errorf("payments?%s: %d records, want %d", q, got, want)
		}
	}
	if r := f.as(cashier, get("/admin/api/communities/"+cmA+"/payments?min=abc")); r.StatusCode != 400 || errorCode(t, r) != "invalid" {
		t.Errorf("bad filter: %d %s", r.StatusCode, r.Body)
	}
}

// The records page: rows newest first with times in Beijing time, the
// filters kept in the export and paging links, a bad filter shown on the
// page, another company's community 404.
func TestRecordsPage(t *testing.T) {
	f := newFixture(t)
	start := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	ids := seedPaid(t, f, cmA, coA, "P", 25, start)
	cashier := f.login("cashier-a")
	r := f.as(cashier, get("/admin/communities/"+cmA+"/records"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "小区A") || !strings.Contains(r.Body, ids[0]) || strings.Contains(r.Body, ids[24]) ||
		!strings.Contains(r.Body, "2025-03-01 16:24:00") || !strings.Contains(r.Body, "25.00") || !strings.Contains(r.Body, "房号：3-201") && !strings.Contains(r.Body, "room：3-201") {
		t.Fatalf("records page: %d %s", r.StatusCode, r.Body)
	}
	if strings.Index(r.Body, ids[0]) > strings.Index(r.Body, ids[1]) {
		t.Error("the newest record is not first")
	}
	next := regexp.MustCompile(`id="next" href="([^"]+)"`).FindStringSubmatch(r.Body)
	if next == nil {
		t.Fatalf("no next page link: %s", r.Body)
	}
	u, _ := url.Parse(html.UnescapeString(next[1]))
	q := map[string]string{}
	for k, v := range u.Query() {
		q[k] = v[0]
	}
	r2 := f.as(cashier, rq{method: "GET", path: u.Path, query: q})
	if r2.StatusCode != 200 || !strings.Contains(r2.Body, ids[24]) || strings.Contains(r2.Body, ids[0]+"<") || !strings.Contains(r2.Body, "回到第一页") {
		t.Fatalf("second page: %d %s", r2.StatusCode, r2.Body)
	}
	r = f.as(cashier, rq{method: "GET", path: "/admin/communities/" + cmA + "/records", query: map[string]string{"min": "24", "channel": "alipay"}})
	if !strings.Contains(r.Body, ids[0]) || strings.Contains(r.Body, ids[2]) || !strings.Contains(r.Body, `payments.csv?channel=alipay&amp;min=24`) ||
		!strings.Contains(r.Body, `value="alipay" selected`) {
		t.Fatalf("filtered page: %s", r.Body)
	}
	r = f.as(cashier, rq{method: "GET", path: "/admin/communities/" + cmA + "/records", query: map[string]string{"min": "abc"}})
	if r.StatusCode != 200 || !strings.Contains(r.Body, "最低金额格式不正确") || !strings.Contains(r.Body, `value="abc"`) {
		t.Fatalf("bad filter page: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(cashier, get("/admin/communities/"+cmB+"/records")); r.StatusCode != 404 || strings.Contains(r.Body, "小区B") {
		t.Fatalf("company B's records page: %d %s", r.StatusCode, r.Body)
	}
}

package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/infra/template"
	"github.com/estatepay/estatepay/shared/web"
)

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type reply struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, u, contentType, body string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// isGatewayMessage reports whether body is API Gateway's own {"message": msg}.
func isGatewayMessage(body, msg string) bool {
	var m map[string]any
	return json.Unmarshal([]byte(body), &m) == nil && len(m) == 1 && m["message"] == msg
}

func demoToken(t *testing.T, s *stack.Stack, id string) string {
	t.Helper()
	if s.Demo == nil {
		t.Fatal("no demo data")
	}
	for _, c := range s.Demo.Communities {
		if c.ID == id {
			return c.Token
		}
	}
	t.Fatalf("no demo community %s in %+v", id, s.Demo)
	return ""
}

func TestRouting(t *testing.T) {
	s := stacktest.Start(t)
	gw := s.URLs.Gateway

	r := do(t, "GET", gw+"/healthz", "", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || strings.TrimSpace(r.body) != `{"status":"ok"}` {
		t.Errorf("GET /healthz: %d %v %s", r.status, r.header, r.body)
	}
	if r.header.Get("Apigw-Requestid") == "" {
		t.Error("no Apigw-Requestid header")
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"GET", "/"},
		{"DELETE", "/healthz"}, // method mismatch
		{"POST", "/healthz"},
		{"PUT", "/api/orders"},
		{"GET", "/api/orders"},
		{"GET", "/c"},
		{"GET", "/c/a/b"}, // {token} matches one segment only
		{"GET", "/admin/api/communities/x/payments/extra"},
	} {
		// Unmatched requests take the template's $default route: the landing
		// function's 404 (JSON for a client that does not ask for HTML).
		r := do(t, c.method, gw+c.path, "", "")
		if r.status != 404 || isGatewayMessage(r.body, "Not Found") || !strings.Contains(r.body, `"code":"not_found"`) {
			t.Errorf("%s %s: %d %s, want the $default route's JSON 404", c.method, c.path, r.status, r.body)
		}
	}

	// Every route the template declares reaches its function: the answer is the
	// function's (it knows the route key), never the gateway's 404 or 5xx.
	tm, err := template.Load(filepath.Join(stacktest.Root(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range tm.Functions() {
		for _, e := range f.Events {
			if e.Type != "HttpApi" {
				continue
			}
			n++
			m, p := e.Route()
			path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(p, "probe")
			r := do(t, m, gw+path, "application/json", "{}")
			if isGatewayMessage(r.body, "Not Found") || isGatewayMessage(r.body, "Internal Server Error") || r.status >= 500 || r.status < 200 {
				t.Errorf("%s %s (%s): %d %s, want an answer from %s", m, path, p, r.status, r.body, f.LogicalID)
			}
		}
	}
	if n < 7 {
		t.Errorf("only %d HttpApi routes in the template", n)
	}
}

func TestPayloadRoundTrips(t *testing.T) {
	s := stacktest.Start(t)
	gw := s.URLs.Gateway
	tok := demoToken(t, s, "demo-both")
	const wechatUA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN"

	// 1. The landing function's OAuth redirect: its cookie comes back as Set-Cookie.
	r := do(t, "GET", gw+"/c/"+tok, "", "", "User-Agent", wechatUA)
	if r.status != 302 {
		t.Fatalf("GET /c/{token} in WeChat: %d %s", r.status, r.body)
	}
	var state *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "ep_oauth_state" {
			state = c
		}
	}
	if state == nil || len(state.Value) != 32 || state.Path != "/c/" || !state.HttpOnly || state.MaxAge != 600 || state.SameSite != http.SameSiteLaxMode {
		t.Fatalf("Set-Cookie %q: want ep_oauth_state, Path=/c/, Max-Age=600, HttpOnly, SameSite=Lax", r.header.Values("Set-Cookie"))
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), s.URLs.WeChatSandbox+"/connect/oauth2/authorize?") {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	if loc.Query().Get("state") != state.Value || loc.Query().Get("redirect_uri") != gw+"/c/"+tok {
		t.Fatalf("authorize URL %s: state or redirect_uri wrong (cookie %s)", loc, state.Value)
	}

	// 2. The sandbox authorizes and sends the browser back with code and state in
	// the query string; with the cookie the landing function matches the state,
	// exchanges the code, and renders the form for this payer's openid.
	a := do(t, "GET", loc.String(), "", "", "User-Agent", wechatUA)
	back, err := url.Parse(a.header.Get("Location"))
	if a.status != 302 || err != nil || !strings.HasPrefix(back.String(), gw+"/c/"+tok+"?") {
		t.Fatalf("sandbox authorize: %d %q", a.status, a.header.Get("Location"))
	}
	var uid string
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == "wxsandbox_uid" {
			uid = c.Value
		}
	}
	openid := wechatsb.OpenID(stack.DemoWeChatAppID, uid)

	// Without the state cookie the round trip must not succeed: OAuth again.
	r = do(t, "GET", back.String(), "", "", "User-Agent", wechatUA)
	if r.status != 302 || strings.Contains(r.body, "payform") || !strings.Contains(r.header.Get("Location"), "oauth_retry") {
		t.Errorf("callback without cookie: %d %q, want a repeated OAuth redirect", r.status, r.header.Get("Location"))
	}
	r = do(t, "GET", back.String(), "", "", "User-Agent", wechatUA, "Cookie", "other=1; ep_oauth_state="+state.Value+"; lang=zh")
	var payer web.Request
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == web.PayerCookieName {
			payer.Cookies = append(payer.Cookies, c.Name+"="+c.Value)
		}
	}
	p, err := web.PayerCookies{Key: []byte(s.Keys().PayerCookieKey)}.Read(payer, time.Now())
	if r.status != 200 || err != nil || p.OpenID != openid || !strings.Contains(r.body, `data-channel="wechat"`) {
		t.Errorf("callback with cookie: %d, want the pay form and a payer cookie for %s (%+v, %v): %.600s", r.status, openid, p, err, r.body)
	}

	// 3. Path parameters (two of them) reach the function.
	const order = "EPABCDEFGHIJKLMNOPQRSTUVWXYZ"
	r = do(t, "GET", gw+"/c/"+tok+"/orders/"+order, "", "")
	if r.status != 404 || !strings.Contains(r.body, "未找到该订单") || !strings.Contains(r.body, "阳光花园") {
		t.Errorf("result page for an unknown order: %d %.300s", r.status, r.body)
	}
	r = do(t, "GET", gw+"/c/"+tok+"/orders/not-an-order", "", "")
	if r.status != 404 {
		t.Errorf("result page for a malformed id: %d", r.status)
	}

	// 4. Query strings reach the function (admin: limit is validated).
	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	for _, c := range []struct {
		query, want string
		status      int
	}{
		{"?limit=0", "bad_limit", 400},
		{"?limit=5&cursor=%21%21bad", "bad_cursor", 400},
		{"?limit=5", `"community_id":"demo-both"`, 200},
	} {
		status, body := admin.Call(t, "GET", "/admin/api/communities/demo-both/payments"+c.query, "", nil)
		if status != c.status || !strings.Contains(string(body), c.want) {
			t.Errorf("payments%s: %d %s, want %d with %s", c.query, status, body, c.status, c.want)
		}
	}

	// 5. A JSON body and headers round trip: create an order, then read it by id.
	id := createOrder(t, gw, tok, 4321)
	r = do(t, "GET", gw+"/api/orders/"+id, "", "")
	if r.status != 200 || !strings.Contains(r.body, `"amount_fen":4321`) {
		t.Errorf("GET /api/orders/%s: %d %s", id, r.status, r.body)
	}
}

func createOrder(t *testing.T, gw, token string, fen int) string {
	t.Helper()
	body := fmt.Sprintf(`{"token":%q,"channel":"alipay","amount_fen":%d,"fields":{"room":"1-101"}}`, token, fen)
	r := do(t, "POST", gw+"/api/orders", "application/json", body, "Idempotency-Key", fmt.Sprintf("k-%d-%d", fen, time.Now().UnixNano()),
		"User-Agent", "Mozilla/5.0 AlipayClient/10.6.10")
	var v struct {
		OrderID string `json:"order_id"`
		Status  string `json:"status"`
	}
	if r.status != 201 || json.Unmarshal([]byte(r.body), &v) != nil || v.OrderID == "" {
		t.Fatalf("POST /api/orders: %d %s", r.status, r.body)
	}
	return v.OrderID
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := stacktest.Start(t, stacktest.Options{StateDir: dir})
	tokens1 := map[string]string{}
	for _, c := range s1.Demo.Communities {
		tokens1[c.ID] = c.Token
	}
	if len(tokens1) != 3 {
		t.Fatalf("demo communities: %+v", s1.Demo.Communities)
	}
	id := createOrder(t, s1.URLs.Gateway, tokens1["demo-both"], 777)

	// stack.json describes the running stack.
	var desc stack.Description
	b, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err != nil || json.Unmarshal(b, &desc) != nil {
		t.Fatalf("stack.json: %v %s", err, b)
	}
	if desc.URLs != s1.URLs {
		t.Errorf("stack.json urls %+v != %+v", desc.URLs, s1.URLs)
	}
	for name, u := range map[string]string{"gateway": desc.URLs.Gateway, "webview": desc.URLs.WeChatWebView, "wechat": desc.URLs.WeChatSandbox,
		"alipay": desc.URLs.AlipaySandbox, "alipay_gateway": desc.URLs.AlipayGateway, "dynamodb": desc.URLs.DynamoDB, "sqs": desc.URLs.SQS, "control": desc.URLs.Control} {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "http" || !strings.HasPrefix(pu.Host, "127.0.0.1:") {
			t.Errorf("stack.json %s url %q", name, u)
		}
	}
	if desc.Demo == nil || len(desc.Demo.Communities) != 3 || desc.Tables["OrdersTable"] == "" || desc.Queues["PaymentEventsQueue"] == "" {
		t.Errorf("stack.json incomplete: %s", b)
	}
	if !slices.Contains(desc.Schedules, "SweeperFunction.Sweep") || !slices.Contains(desc.Schedules, "FanoutFunction.Flush") || !slices.Contains(desc.Schedules, "SettleFunction.Settle") {
		t.Errorf("stack.json schedules %v", desc.Schedules)
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.json")); err != nil {
		t.Errorf("demo.json: %v", err)
	}
	checkAdminExamples(t, desc.Admin)

	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if r, err := http.Get(s1.URLs.Gateway + "/healthz"); err == nil {
		r.Body.Close()
		if r.Header.Get("Apigw-Requestid") != "" && r.StatusCode == 200 {
			t.Fatalf("the first stack's gateway still answers after Close")
		}
	}

	s2 := stacktest.Start(t, stacktest.Options{StateDir: dir})
	for _, c := range s2.Demo.Communities {
		if tokens1[c.ID] != c.Token {
			t.Errorf("demo %s token changed across restart: %s -> %s", c.ID, tokens1[c.ID], c.Token)
		}
	}
	r := do(t, "GET", s2.URLs.Gateway+"/api/orders/"+id, "", "")
	if r.status != 200 || !strings.Contains(r.body, `"order_id":"`+id+`"`) || !strings.Contains(r.body, `"amount_fen":777`) {
		t.Errorf("order after restart: %d %s", r.status, r.body)
	}
	// The restarted stack's landing still serves the old printed codes.
	r = do(t, "GET", s2.URLs.Gateway+"/c/"+tokens1["demo-alipay-only"], "", "", "User-Agent", "Mozilla/5.0 AlipayClient/10.6.10")
	if r.status != 200 || !strings.Contains(r.body, "翠湖小区") {
		t.Errorf("old code after restart: %d %.300s", r.status, r.body)
	}
	b2, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	var desc2 stack.Description
	if err != nil || json.Unmarshal(b2, &desc2) != nil || desc2.URLs != s2.URLs {
		t.Errorf("stack.json not rewritten for the new stack: %s", b2)
	}
}

// checkAdminExamples runs stack.json's console examples as curl would:
// admin.login (curl -c jar -H … -d '<json>' <url>) signs in, and
// admin.example (curl -b jar <url>) lists payment records with the cookie.
func checkAdminExamples(t *testing.T, a stack.AdminSettings) {
	t.Helper()
	login := regexp.MustCompile(`^curl -c jar -H 'Content-Type: application/json' -d '(\{[^']*\})' (http://\S+/admin/api/session)$`).FindStringSubmatch(a.Login)
	example := regexp.MustCompile(`^curl -b jar (http://\S+/admin/api/communities/[^/\s]+/payments)$`).FindStringSubmatch(a.Example)
	if login == nil || example == nil {
		t.Fatalf("stack.json admin examples: login %q, example %q", a.Login, a.Example)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Post(login[2], "application/json", strings.NewReader(login[1]))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"csrf_token"`) {
		t.Fatalf("admin.login example: %d %s", resp.StatusCode, body)
	}
	resp, err = c.Get(example[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"payments"`) {
		t.Errorf("admin.example with the login's cookie: %d %s", resp.StatusCode, body)
	}
}

func TestControlEndpoint(t *testing.T) {
	s := stacktest.Start(t)
	ctl := s.URLs.Control

	r := do(t, "POST", ctl+"/schedules/SweeperFunction.Sweep", "", "")
	var rep map[string]any
	if r.status != 200 || json.Unmarshal([]byte(r.body), &rep) != nil {
		t.Fatalf("fire sweep: %d %s", r.status, r.body)
	}
	for _, k := range []string{"Examined", "Paid", "Refunded", "Closed", "Postponed", "Failed", "Stopped"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report %s lacks %s", r.body, k)
		}
	}
	// A JSON body replaces the schedule's Input.
	r = do(t, "POST", ctl+"/schedules/SweeperFunction.Sweep", "application/json", `{"job":"sweep","manual":true}`)
	if r.status != 200 || !strings.Contains(r.body, "Examined") {
		t.Errorf("fire sweep with input: %d %s", r.status, r.body)
	}
	r = do(t, "POST", ctl+"/schedules/SweeperFunction.Sweep", "application/json", `{not json`)
	if r.status != 400 {
		t.Errorf("fire with a non-JSON body: %d %s", r.status, r.body)
	}
	r = do(t, "POST", ctl+"/schedules/NoSuch.Schedule", "", "")
	if r.status < 400 || !strings.Contains(r.body, "SweeperFunction.Sweep") {
		t.Errorf("unknown schedule: %d %s, want an error naming the known schedules", r.status, r.body)
	}
	r = do(t, "GET", ctl+"/", "", "")
	var d stack.Description
	if r.status != 200 || json.Unmarshal([]byte(r.body), &d) != nil || d.URLs != s.URLs {
		t.Errorf("GET control /: %d %s", r.status, r.body)
	}
	r = do(t, "POST", ctl+"/snapshot", "", "")
	if r.status != 204 {
		t.Errorf("snapshot: %d %s", r.status, r.body)
	}
}

// logBuffer collects the stack's log for polling.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

// startFixture runs the fixture template (testdata/fixture) with its functions
// built from source by the stack itself.
func startFixture(t *testing.T) (*stack.Stack, *logBuffer) {
	t.Helper()
	log := &logBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Root: filepath.Join("testdata", "fixture"), StateDir: t.TempDir(), Log: log,
		NoSchedules: true, SnapshotEvery: time.Hour})
	if err != nil {
		t.Fatalf("start fixture stack: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			t.Logf("fixture stack log:\n%s", log.String())
		}
	})
	return s, log
}

package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/domain/notification"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/web"
)

const (
	oaApp    = "wxoa0000000000001"
	oaSecret = "oa-app-secret"
	wechatUA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"
	// The name of cashier-a's account in the AccessTable: markup, to show it is escaped.
	oaName = "收银<b>甲</b>"
)

// oaClock is the accounts service's clock (bind links expire by it).
type oaClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *oaClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *oaClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// oaEnv is the console with official-account binding: the accounts service
// on the AccessTable (staff accounts seeded for the fixture's principals),
// the WeChat sandbox's OAuth for the official account, and the outbox's
// official-account API for test messages.
type oaEnv struct {
	f      *fixture
	clock  *oaClock
	wechat *httptest.Server
	outbox *outbox.Server
}

func newOAEnv(t *testing.T) *oaEnv {
	t.Helper()
	f := newFixture(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &oaEnv{f: f, clock: &oaClock{t: time.Now().UTC().Truncate(time.Millisecond)}}
	for _, s := range []struct {
		id, company, name, phone string
		role                     Role
	}{{"cashier-a", coA, oaName, "13800000002", RoleCashier}, {"admin-a", coA, "管理员甲", "13800000001", RoleAdmin},
		{"admin-b", coB, "管理员乙", "13800000011", RoleAdmin}} {
		st, err := staff.New(staff.Staff{ID: s.id, CompanyID: s.company, Name: s.name, Phone: s.phone, Email: s.id + "@example.com", Role: s.role}, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		st.Status = staff.Active
		if err := f.st.AccessRepo().Apply(context.Background(), accounts.Change{Staff: &st}); err != nil {
			t.Fatal(err)
		}
	}
	sb := wechatsb.New(wechatsb.Config{Apps: []wechatsb.App{{AppID: oaApp, Secret: oaSecret}}, Logger: quiet})
	e.wechat = httptest.NewServer(sb.Handler())
	t.Cleanup(e.wechat.Close)
	ob, err := outbox.New(outbox.Config{WeChatOA: map[string]string{oaApp: oaSecret}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.outbox = ob
	obSrv := httptest.NewServer(ob.Handler())
	t.Cleanup(obSrv.Close)
	f.h.WeChatLogin = wechatpay.OAuth{AppID: oaApp, Secret: oaSecret, OpenBaseURL: e.wechat.URL, APIBaseURL: e.wechat.URL, HTTPClient: e.wechat.Client()}
	f.h.OA = OfficialAccount{
		Binder:    &accounts.Service{Repo: f.st.AccessRepo(), Now: e.clock.Now, Log: quiet},
		FollowURL: "http://weixin.qq.com/r/estatepay-follow",
		Test: templateTest{TemplateID: "tpl-pay", Client: &wechatoa.Client{BaseURL: obSrv.URL, AppID: oaApp, Secret: oaSecret,
			Cache: oaTokenCache{N: f.st.NotificationRepo()}, HTTP: obSrv.Client()}},
	}
	return e
}

var bindLinkRE = regexp.MustCompile(`<code>(https://pay\.example\.com/admin/oa-bind\?t=[A-Za-z0-9_-]+)</code>`)

// issue asks for a bind link on 通知设置 as session s and returns it.
func (e *oaEnv) issue(t *testing.T, s session) string {
	t.Helper()
	r := e.f.as(s, post("/admin/notifications/oa-bind"))
	m := bindLinkRE.FindStringSubmatch(r.Body)
	if r.StatusCode != http.StatusOK || m == nil || !strings.Contains(r.Body, `aria-label="绑定二维码"><svg`) ||
		!strings.Contains(r.Body, "10 分钟内有效") || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("bind link page: %d %.3000s", r.StatusCode, r.Body)
	}
	return m[1]
}

// phone is a person's WeChat: the sandbox knows it by its cookie, so it
// has one openid for the official account.
type phone struct {
	client *http.Client
	env    *oaEnv
}

func (e *oaEnv) phone(t *testing.T) *phone {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: e.wechat.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &phone{client: c, env: e}
}

// openID is the phone's openid under the official account (after a round trip).
func (p *phone) openID(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(p.env.wechat.URL)
	for _, c := range p.client.Jar.Cookies(u) {
		if c.Name == "wxsandbox_uid" {
			return wechatsb.OpenID(oaApp, c.Value)
		}
	}
	t.Fatal("the phone has no sandbox identity")
	return ""
}

// start opens link in WeChat: the console checks it and sends the phone
// into the OAuth round trip; the sandbox sends it back with a code. It
// returns the request the phone makes on its way back, or the console's
// answer when it did not start a round trip.
func (p *phone) start(t *testing.T, link string) (rq, web.Response) {
	t.Helper()
	u, _ := url.Parse(link)
	hdr := map[string]string{"User-Agent": wechatUA, "Host": u.Host, "X-Forwarded-Proto": "https"}
	r := p.env.f.do(rq{method: "GET", path: u.Path + "?" + u.RawQuery, headers: hdr})
	if r.StatusCode != http.StatusFound {
		return rq{}, r
	}
	state, c, ok := cookieValue(r, oaStateCookie)
	loc := r.Headers["Location"]
	if !ok || !strings.HasPrefix(loc, p.env.wechat.URL+"/connect/oauth2/authorize?") || !strings.Contains(loc, "appid="+oaApp) ||
		!strings.Contains(loc, "scope=snsapi_base") || !strings.Contains(loc, "state="+state) ||
		!strings.Contains(c, "Path=/admin/oa-bind") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "Secure") {
		t.Fatalf("round trip start: %s %v", loc, r.Cookies)
	}
	res, err := p.client.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || back.Host != u.Host || back.Path != "/admin/oa-bind" || back.Query().Get("t") != u.Query().Get("t") {
		t.Fatalf("sandbox authorize: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	return rq{method: "GET", path: back.Path + "?" + back.RawQuery, headers: hdr, cookies: []string{oaStateCookie + "=" + state}}, web.Response{}
}

// open is the whole round trip: the page the phone ends on.
func (p *phone) open(t *testing.T, link string) web.Response {
	t.Helper()
	back, r := p.start(t, link)
	if back.path == "" {
		return r
	}
	return p.env.f.do(back)
}

func (e *oaEnv) bound(t *testing.T, id string) staff.Staff {
	t.Helper()
	st, err := e.f.st.AccessRepo().GetStaff(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A staff member binds their WeChat from 通知设置: the QR code's link,
// opened in WeChat, takes the official account's OAuth round trip through
// the sandbox and binds that openid to their own account; the link works
// once; the page then says 已绑定.
func TestBindOfficialAccountThroughOAuth(t *testing.T) {
	e := newOAEnv(t)
	s := e.f.login("cashier-a")
	r := e.f.as(s, get("/admin/notifications"))
	if !strings.Contains(r.Body, "未绑定") || !strings.Contains(r.Body, "生成绑定二维码") || strings.Contains(r.Body, "oa-bind?t=") {
		t.Fatalf("通知设置 before binding: %.3000s", r.Body)
	}
	link := e.issue(t, s)

	// Outside WeChat the link only says where to open it (and stays unused).
	u, _ := url.Parse(link)
	if r := e.f.do(get(u.Path + "?" + u.RawQuery)); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "请在微信中打开") {
		t.Fatalf("outside WeChat: %d %.1000s", r.StatusCode, r.Body)
	}
	me := e.phone(t)
	r = me.open(t, link)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "绑定成功") || !strings.Contains(r.Body, "收银&lt;b&gt;甲&lt;/b&gt;") ||
		strings.Contains(r.Body, oaName) || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("bind result: %d %.2000s", r.StatusCode, r.Body)
	}
	if v, _, _ := cookieValue(r, oaStateCookie); v != "" {
		t.Fatalf("the state cookie is left: %v", r.Cookies)
	}
	st := e.bound(t, "cashier-a")
	if st.OfficialOpenID != me.openID(t) || st.OpenID != "" || !st.OfficialBoundAt.Equal(e.clock.Now()) {
		t.Fatalf("account after binding: %+v (phone %s)", st, me.openID(t))
	}
	// Once: the same link again (another WeChat, or a refresh).
	if r := e.phone(t).open(t, link); r.StatusCode != http.StatusConflict || !strings.Contains(r.Body, "链接已被使用") {
		t.Fatalf("second open: %d %.1000s", r.StatusCode, r.Body)
	}
	if e.bound(t, "cashier-a").OfficialOpenID != me.openID(t) {
		t.Fatal("the second open changed the binding")
	}
	r = e.f.as(s, get("/admin/notifications"))
	if !strings.Contains(r.Body, "已绑定") || !strings.Contains(r.Body, "更换绑定的微信") || !strings.Contains(r.Body, "发送测试消息") {
		t.Fatalf("通知设置 after binding: %.3000s", r.Body)
	}
	// The fan-out's read of the recipients carries the bound openid.
	repo := e.f.st.NotificationRepo()
	if err := repo.PutPreference(context.Background(), notification.Preference{CompanyID: coA, CommunityID: cmA, StaffID: "cashier-a",
		Payments: true, Channel: notification.WeChatOA, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if subs, err := repo.Subscribers(context.Background(), coA, cmA); err != nil || len(subs) != 1 || subs[0].OpenID != me.openID(t) {
		t.Fatalf("subscribers: %+v %v", subs, err)
	}
	// Audited in the company's log, as done by the staff member.
	if n := auditCount(t, e, coA, "staff.official_account_bind"); n != 1 {
		t.Fatalf("%d bind entries in the audit log", n)
	}
}

func auditCount(t *testing.T, e *oaEnv, company, action string) int {
	t.Helper()
	entries, _, err := e.f.st.AccessRepo().AuditPage(context.Background(), company, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range entries {
		if x.Action == action {
			n++
		}
	}
	return n
}

// The link expires 10 minutes after it was made (the accounts service's
// clock); a way back with a state this browser did not start binds nothing.
func TestBindLinkExpiresAndNeedsItsState(t *testing.T) {
	e := newOAEnv(t)
	s := e.f.login("cashier-a")
	link := e.issue(t, s)
	me := e.phone(t)
	back, _ := me.start(t, link)
	forged := back
	forged.cookies = []string{oaStateCookie + "=someone-else"}
	if r := e.f.do(forged); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "微信授权已过期") {
		t.Fatalf("foreign state: %d %.1000s", r.StatusCode, r.Body)
	}
	noCookie := back
	noCookie.cookies = nil
	if r := e.f.do(noCookie); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("no state cookie: %d", r.StatusCode)
	}
	if e.bound(t, "cashier-a").OfficialOpenID != "" {
		t.Fatal("bound without the round trip's state")
	}
	// The round trip took too long: at 10 minutes the way back finds the link expired.
	e.clock.Add(10 * time.Minute)
	if r := e.f.do(back); r.StatusCode != http.StatusGone || !strings.Contains(r.Body, "链接已失效") {
		t.Fatalf("way back after 10 minutes: %d %.1000s", r.StatusCode, r.Body)
	}
	if r := e.phone(t).open(t, link); r.StatusCode != http.StatusGone || !strings.Contains(r.Body, "链接已失效") {
		t.Fatalf("open after 10 minutes: %d %.1000s", r.StatusCode, r.Body)
	}
	// A fresh link, opened at 9:59, binds.
	link = e.issue(t, s)
	e.clock.Add(10*time.Minute - time.Second)
	if r := me.open(t, link); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "绑定成功") {
		t.Fatalf("open at 9:59: %d %.1000s", r.StatusCode, r.Body)
	}
	// Unknown and empty tokens are 链接已失效 too.
	for _, tok := range []string{"", "nope"} {
		r := e.f.do(rq{method: "GET", path: "/admin/oa-bind?t=" + tok, headers: map[string]string{"User-Agent": wechatUA}})
		if r.StatusCode != http.StatusGone {
			t.Fatalf("token %q: %d", tok, r.StatusCode)
		}
	}
}

// Two phones open the same link at once: one binds, the other is told the
// link is used.
func TestBindLinkOpenedTwiceAtOnceBindsOnce(t *testing.T) {
	e := newOAEnv(t)
	link := e.issue(t, e.f.login("cashier-a"))
	phones := []*phone{e.phone(t), e.phone(t)}
	backs := make([]rq, len(phones))
	for i, p := range phones {
		backs[i], _ = p.start(t, link) // both pass the check: neither has bound yet
	}
	results := make([]web.Response, len(phones))
	var wg sync.WaitGroup
	for i := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.f.do(backs[i])
		}()
	}
	wg.Wait()
	won := -1
	for i, r := range results {
		switch {
		case r.StatusCode == http.StatusOK && strings.Contains(r.Body, "绑定成功") && won < 0:
			won = i
		case r.StatusCode == http.StatusConflict && strings.Contains(r.Body, "链接已被使用"):
		default:
			t.Fatalf("open %d: %d %.1000s", i, r.StatusCode, r.Body)
		}
	}
	if won < 0 || e.bound(t, "cashier-a").OfficialOpenID != phones[won].openID(t) {
		t.Fatalf("won %d, bound %q", won, e.bound(t, "cashier-a").OfficialOpenID)
	}
	if n := auditCount(t, e, coA, "staff.official_account_bind"); n != 1 {
		t.Fatalf("%d bind entries in the audit log, want 1", n)
	}
}

// A link binds the account it was made for, in its company, and nothing
// else: another company's admin cannot bind through it, operators get no
// link, and a link's account that has since left its company binds nothing.
func TestBindLinkStaysInItsCompany(t *testing.T) {
	e := newOAEnv(t)
	link := e.issue(t, e.f.login("cashier-a"))
	// Whoever opens the link binds cashier-a (the link is the authority), never admin-b.
	if r := e.phone(t).open(t, link); !strings.Contains(r.Body, "绑定成功") {
		t.Fatalf("open: %d %.1000s", r.StatusCode, r.Body)
	}
	if e.bound(t, "admin-b").OfficialOpenID != "" || e.bound(t, "admin-a").OfficialOpenID != "" {
		t.Fatal("the link bound another account")
	}
	op := e.f.login("op")
	if r := e.f.as(op, post("/admin/notifications/oa-bind")); !strings.Contains(r.Body, "平台运营账号没有通知设置") || strings.Contains(r.Body, "oa-bind?t=") {
		t.Fatalf("operator: %d %.1000s", r.StatusCode, r.Body)
	}
	// The account's record says another company than the session (a
	// principal that no longer matches its account): no link.
	st := e.bound(t, "admin-b")
	moved := st
	moved.CompanyID, moved.Version = coA, st.Version+1
	if err := e.f.st.AccessRepo().Apply(context.Background(), accounts.Change{Staff: &moved, PrevVersion: st.Version}); err != nil {
		t.Fatal(err)
	}
	if r := e.f.as(e.f.login("admin-b"), post("/admin/notifications/oa-bind")); r.StatusCode != http.StatusForbidden || strings.Contains(r.Body, "oa-bind?t=") {
		t.Fatalf("a session of another company than the account's: %d %.1000s", r.StatusCode, r.Body)
	}
}

// A recipient whose last message failed with 43004 (not following) sees on
// 通知设置 what to do: follow the account (its QR code and link), then
// 重新发送测试消息 — which, through the outbox's official-account API,
// says so while they still do not follow, and clears the problem once the
// message arrives.
func TestNotFollowingShowsFollowAndTestMessage(t *testing.T) {
	e := newOAEnv(t)
	s := e.f.login("cashier-a")
	me := e.phone(t)
	if r := me.open(t, e.issue(t, s)); !strings.Contains(r.Body, "绑定成功") {
		t.Fatalf("bind: %.1000s", r.Body)
	}
	ctx := context.Background()
	repo := e.f.st.NotificationRepo()
	if err := repo.PutPreference(ctx, notification.Preference{CompanyID: coA, CommunityID: cmA, StaffID: "cashier-a",
		Payments: true, Channel: notification.WeChatOA, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// As FanoutFunction records a 43004.
	if err := repo.SetProblem(ctx, coA, cmA, "cashier-a", "请先关注公众号，才能收到收款通知"); err != nil {
		t.Fatal(err)
	}
	r := e.f.as(s, get("/admin/notifications"))
	if !strings.Contains(r.Body, `id="oa-follow"`) || !strings.Contains(r.Body, "请先关注公众号") ||
		!strings.Contains(r.Body, `aria-label="公众号二维码"><svg`) || !strings.Contains(r.Body, "http://weixin.qq.com/r/estatepay-follow") ||
		!strings.Contains(r.Body, `action="/admin/notifications/oa-test"`) || !strings.Contains(r.Body, "重新发送测试消息") {
		t.Fatalf("通知设置 with 43004: %.4000s", r.Body)
	}
	e.outbox.FailOpenID(me.openID(t), wechatoa.CodeNotFollowing)
	if r := e.f.as(s, post("/admin/notifications/oa-test")); !strings.Contains(r.Body, "仍未关注公众号") {
		t.Fatalf("test while not following: %d %.1000s", r.StatusCode, r.Body)
	}
	if r := e.f.as(s, get("/admin/notifications")); !strings.Contains(r.Body, `id="oa-follow"`) {
		t.Fatal("the problem was cleared although the test failed")
	}
	e.outbox.FailOpenID(me.openID(t), 0) // they follow
	if r := e.f.as(s, post("/admin/notifications/oa-test")); !strings.Contains(r.Body, "测试消息已发送") {
		t.Fatalf("test after following: %d %.1000s", r.StatusCode, r.Body)
	}
	got := 0
	for _, m := range e.outbox.Messages() {
		if m.Channel == "wechat_oa" && m.To == me.openID(t) && m.Template == "tpl-pay" && strings.Contains(m.Body, "测试消息") {
			got++
		}
	}
	if got != 1 {
		t.Fatalf("%d test messages in the outbox to %s: %+v", got, me.openID(t), e.outbox.Messages())
	}
	r = e.f.as(s, get("/admin/notifications"))
	if strings.Contains(r.Body, `id="oa-follow"`) || strings.Contains(r.Body, "请先关注公众号，才能") {
		t.Fatalf("the problem is still shown after the test arrived: %.3000s", r.Body)
	}
	// The test message needs the CSRF token like every change.
	if r := e.f.do(rq{method: "POST", path: "/admin/notifications/oa-test", cookies: []string{SessionCookie + "=" + s.id}, form: url.Values{}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("test without CSRF: %d", r.StatusCode)
	}
}

// Without a configured official account there is nothing to bind: the
// page offers no QR code and the link says so.
func TestBindingNeedsTheOfficialAccount(t *testing.T) {
	f := newFixture(t)
	s := f.login("cashier-a")
	if r := f.as(s, get("/admin/notifications")); r.StatusCode != http.StatusOK || strings.Contains(r.Body, "生成绑定二维码") {
		t.Fatalf("page without an official account: %d %.2000s", r.StatusCode, r.Body)
	}
	if r := f.as(s, post("/admin/notifications/oa-bind")); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("issue without an official account: %d", r.StatusCode)
	}
	if r := f.do(rq{method: "GET", path: "/admin/oa-bind?t=x", headers: map[string]string{"User-Agent": wechatUA}}); r.StatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(r.Body, "公众号尚未开通") {
		t.Fatalf("link without an official account: %d", r.StatusCode)
	}
}

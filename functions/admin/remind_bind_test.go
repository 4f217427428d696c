package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain/house"
)

// remindBindStart opens the notice's 微信接收缴费提醒 link in WeChat and takes
// the round trip through the sandbox: the request the phone makes on the
// way back (with the state cookie it was given).
func (p *phone) remindBindStart(t *testing.T, noticeID string) (rq, string) {
	t.Helper()
	hdr := map[string]string{"User-Agent": wechatUA, "Host": "pay.example.com", "X-Forwarded-Proto": "https"}
	r := p.env.f.do(rq{method: "GET", path: remindBindPath + "?n=" + url.QueryEscape(noticeID), headers: hdr})
	state, c, ok := cookieValue(r, remindBindCookie)
	loc := r.Headers["Location"]
	if r.StatusCode != http.StatusFound || !ok || !strings.HasPrefix(loc, p.env.wechat.URL+"/connect/oauth2/authorize?") ||
		!strings.Contains(loc, "appid="+oaApp) || !strings.Contains(loc, "scope=snsapi_base") ||
		!strings.Contains(c, "Path=/admin/remind-bind") || !strings.Contains(c, "HttpOnly") || !strings.HasSuffix(state, "."+noticeID) {
		t.Fatalf("round trip start: %d %s %v", r.StatusCode, loc, r.Cookies)
	}
	res, err := p.client.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || back.Path != remindBindPath || back.Query().Get("n") != noticeID {
		t.Fatalf("sandbox authorize: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	return rq{method: "GET", path: back.Path + "?" + back.RawQuery, headers: hdr, cookies: []string{remindBindCookie + "=" + state}}, state
}

// A resident binds a WeChat to the house from its notice: the round trip
// through the official account stores the openid on the house's reminder
// throttle (audited without it); a wrong state, another notice's state or a
// notice whose house is not its company's binds nothing; staff unbind it.
func TestRemindBindThroughOAuth(t *testing.T) {
	e := newOAEnv(t)
	f := e.f
	ctx := context.Background()
	hs, _ := stacktest.SeedHouseBills(t, f.st, coA, cmA, "8", "", "801", 12000)
	other, _ := stacktest.SeedHouseBills(t, f.st, coA, cmA, "8", "", "802", 13000)
	issue := func(h house.House) string {
		t.Helper()
		id, _, err := bills.IssueNotice(ctx, f.st.HouseRepo(), f.st.BillRepo(), h, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	nid, otherNID := issue(hs), issue(other)
	rem := f.st.ReminderRepo()

	// Outside WeChat: nothing starts.
	if r := f.do(rq{method: "GET", path: remindBindPath + "?n=" + nid, headers: map[string]string{"User-Agent": "Mozilla/5.0 Chrome/120"}}); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "请在微信中打开") {
		t.Fatalf("outside WeChat: %d %.300s", r.StatusCode, r.Body)
	}
	// An unknown notice: no round trip.
	if r := f.do(rq{method: "GET", path: remindBindPath + "?n=NOPE", headers: map[string]string{"User-Agent": wechatUA}}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown notice: %d", r.StatusCode)
	}

	p := e.phone(t)
	back, _ := p.remindBindStart(t, nid)
	// The wrong state, no cookie, or the state of another notice's round trip: refused, nothing bound.
	wrong := back
	wrong.cookies = []string{remindBindCookie + "=forged." + nid}
	noCookie := back
	noCookie.cookies = nil
	swapped := back
	swapped.path = strings.Replace(back.path, "n="+nid, "n="+otherNID, 1)
	for name, r := range map[string]rq{"wrong state": wrong, "no cookie": noCookie, "another notice": swapped} {
		if got := f.do(r); got.StatusCode != http.StatusBadRequest || !strings.Contains(got.Body, "微信授权已过期") {
			t.Fatalf("%s: %d %.300s", name, got.StatusCode, got.Body)
		}
	}
	for _, id := range []string{hs.ID, other.ID} {
		if th, _ := rem.Throttle(ctx, coA, id); th.OpenID != "" {
			t.Fatalf("bound by a refused round trip: %+v", th)
		}
	}
	r := f.do(back)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "已开启微信提醒") || !strings.Contains(r.Body, `href="/n/`+nid+`"`) {
		t.Fatalf("bound page: %d %.1000s", r.StatusCode, r.Body)
	}
	if _, c, _ := cookieValue(r, remindBindCookie); !strings.Contains(c, "Max-Age=0") {
		t.Fatalf("state cookie not cleared: %v", r.Cookies)
	}
	openid := p.openID(t)
	th, err := rem.Throttle(ctx, coA, hs.ID)
	if err != nil || th.OpenID != openid || th.BoundAt.IsZero() || th.Version != 1 {
		t.Fatalf("throttle after binding: %+v %v", th, err)
	}
	// Audited, without the openid.
	admin := f.login("admin-a")
	if a := f.as(admin, get("/admin/audit")); !strings.Contains(a.Body, "微信接收催缴") || strings.Contains(a.Body, openid) {
		t.Fatalf("audit: %.2000s", a.Body)
	}
	// The house page shows the channels and the binding, masked.
	page := f.as(admin, get("/admin/cashier/houses/"+hs.ID))
	if !strings.Contains(page.Body, "已绑定微信 …"+openid[len(openid)-4:]) || strings.Contains(page.Body, openid) || !strings.Contains(page.Body, "解除微信绑定") {
		t.Fatalf("house page: %.3000s", page.Body)
	}

	// A notice that names another company than its house's (company B's
	// notice of company A's house): it binds nothing.
	forged, err := f.st.HouseRepo().GetNotice(ctx, otherNID)
	if err != nil {
		t.Fatal(err)
	}
	forged.ID, forged.CompanyID = forged.ID+"X", coB
	if err := f.st.HouseRepo().CreateNotice(ctx, forged); err != nil {
		t.Fatal(err)
	}
	p2 := e.phone(t)
	back2, _ := p2.remindBindStart(t, forged.ID)
	if got := f.do(back2); got.StatusCode != http.StatusNotFound {
		t.Fatalf("another company's house: %d %.300s", got.StatusCode, got.Body)
	}
	if th, _ := rem.Throttle(ctx, coA, other.ID); th.OpenID != "" || th.Version != 0 {
		t.Fatalf("another company's house bound: %+v", th)
	}

	// Another company's staff cannot unbind; the house's staff can.
	if got := f.as(f.login("admin-b"), rq{method: http.MethodPost, path: "/admin/cashier/houses/" + hs.ID + "/remind-wechat", form: url.Values{"unbind": {"1"}}}); got.StatusCode != http.StatusNotFound {
		t.Fatalf("another company's unbind: %d", got.StatusCode)
	}
	got := f.as(f.login("cashier-a"), rq{method: http.MethodPost, path: "/admin/cashier/houses/" + hs.ID + "/remind-wechat", form: url.Values{"unbind": {"1"}}})
	if got.StatusCode/100 != 3 || !strings.Contains(got.Headers["Location"], "done=remind_wechat_off") {
		t.Fatalf("unbind: %d %v", got.StatusCode, got.Headers)
	}
	if th, _ := rem.Throttle(ctx, coA, hs.ID); th.OpenID != "" || th.Version != 2 {
		t.Fatalf("after unbinding: %+v", th)
	}
}

// A house without a phone but with a bound WeChat is reached by
// RemindFunction: it is not on the 催缴单 batch; unbound, it is again.
func TestRemindPrintSkipsBoundWechat(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	hs, _ := stacktest.SeedHouseBills(t, f.st, coA, cmA, "7", "", "701", 10000)
	admin := f.login("admin-a")
	printed := func() bool {
		t.Helper()
		r := f.as(admin, get("/admin/reminders/print?community="+cmA))
		if r.StatusCode != http.StatusOK {
			t.Fatalf("print: %d %.300s", r.StatusCode, r.Body)
		}
		return strings.Contains(r.Body, ">"+hs.Label()+"<")
	}
	if !printed() {
		t.Fatal("a house without any contact is not on the batch")
	}
	if _, err := f.st.ReminderRepo().SetOpenID(ctx, coA, hs.ID, "oBound0701", time.Now()); err != nil {
		t.Fatal(err)
	}
	if printed() {
		t.Fatal("a house with a bound WeChat is on the batch")
	}
	if _, err := f.st.ReminderRepo().SetOpenID(ctx, coA, hs.ID, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if !printed() {
		t.Fatal("unbound, the house is not on the batch again")
	}
}

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/voice"
)

func announceFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	st := &store.Announcements{DB: f.st.DB, Table: "AnnouncementsTable"}
	f.h.Announcements = st
	at := time.Now().Add(-time.Minute)
	for _, a := range []store.Announcement{
		{Audience: store.CompanyAudience(coA), EventID: "EPA1:2", CompanyID: coA, CommunityID: cmA, CommunityName: "小区A", Channel: "微信",
			AmountFen: 12850, Text: "微信收款 128.50 元", Spoken: "微信收款一百二十八元五角", Tokens: []string{"wechat", "n1", "bai"}, OccurredAt: at},
		{Audience: store.ManagerAudience(coA, "manager-a"), EventID: "EPA1:2", CompanyID: coA, CommunityID: cmA, Channel: "微信",
			AmountFen: 12850, Text: "微信收款 128.50 元", OccurredAt: at},
		{Audience: store.CompanyAudience(coB), EventID: "EPB1:2", CompanyID: coB, CommunityID: cmB, Channel: "支付宝",
			AmountFen: 1, Text: "支付宝收款 0.01 元", OccurredAt: at},
	} {
		if _, err := st.PutAnnouncement(context.Background(), a, at); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func decodeAnnouncements(t *testing.T, body string) announcementsJSON {
	t.Helper()
	var out announcementsJSON
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return out
}

// Each caller hears their own: a company's staff who see its records the
// company's announcements, a manager their own codes' only (in the app),
// another company's staff nothing of it; the cursor carries on.
func TestAnnouncementsScope(t *testing.T) {
	f := announceFixture(t)
	for _, who := range []string{"admin-a", "cashier-a", "risk-a"} {
		r := f.as(f.login(who), get("/admin/api/announcements"))
		out := decodeAnnouncements(t, r.Body)
		if r.StatusCode != 200 || len(out.Items) != 1 || out.Cursor == "" || r.Headers["Cache-Control"] != "no-store" {
			t.Fatalf("%s: %d %s", who, r.StatusCode, r.Body)
		}
		it := out.Items[0]
		if it.ID != "EPA1:2" || it.Amount != "128.50" || it.Spoken != "微信收款一百二十八元五角" || it.CommunityName != "小区A" ||
			strings.Join(it.Clips, ",") != "wechat,n1,bai" || len(it.Time) != 8 || it.Channel != "微信" {
			t.Errorf("%s: item %+v", who, it)
		}
		// The next poll (lookback) may return it again; a bad cursor is 400 JSON.
		r = f.as(f.login(who), get("/admin/api/announcements?since="+out.Cursor))
		if r.StatusCode != 200 {
			t.Errorf("%s: poll with the cursor: %d %s", who, r.StatusCode, r.Body)
		}
		if r := f.as(f.login(who), get("/admin/api/announcements?since=bogus")); r.StatusCode != 400 || errorCode(t, r) != "bad_cursor" {
			t.Errorf("%s: bad cursor: %d %s", who, r.StatusCode, r.Body)
		}
	}
	r := f.as(f.login("admin-b"), get("/admin/api/announcements?company="+coA))
	if out := decodeAnnouncements(t, r.Body); len(out.Items) != 1 || out.Items[0].ID != "EPB1:2" {
		t.Errorf("company B's admin: %s", r.Body)
	}
	for _, who := range []string{"manager-a", "op"} {
		if r := f.as(f.login(who), get("/admin/api/announcements")); r.StatusCode != 403 {
			t.Errorf("%s reads the company's announcements: %d", who, r.StatusCode)
		}
	}
	r = f.as(f.login("manager-a"), get("/m/api/announcements"))
	if out := decodeAnnouncements(t, r.Body); r.StatusCode != 200 || len(out.Items) != 1 || out.Items[0].ID != "EPA1:2" {
		t.Errorf("the manager's own: %d %s", r.StatusCode, r.Body)
	}
	if r := f.as(f.login("admin-a"), get("/m/api/announcements")); r.StatusCode != 403 {
		t.Errorf("an admin in the managers' API: %d", r.StatusCode)
	}
}

// The console page inlines the script exactly as its CSP hash allows, with
// fetches to our origin; the managers' home carries it too; the cashier
// desk links to the page.
func TestAnnouncePages(t *testing.T) {
	f := announceFixture(t)
	r := f.as(f.login("cashier-a"), get("/admin/announce"))
	csp := r.Headers["Content-Security-Policy"]
	src := "/admin/announce.js?v=" + announceJSVersion()
	if r.StatusCode != 200 || !strings.Contains(r.Body, `<script src="`+src+`"></script>`) || !strings.Contains(r.Body, `id="announce-on"`) {
		t.Fatalf("page: %d %s", r.StatusCode, r.Body)
	}
	if !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "'unsafe-inline'") {
		t.Errorf("CSP %s", csp)
	}
	if js := f.do(get(src)); js.StatusCode != 200 || js.Body != announceJS || !strings.Contains(js.Headers["Cache-Control"], "immutable") ||
		!strings.HasPrefix(js.Headers["Content-Type"], "text/javascript") {
		t.Errorf("the script: %d %v", js.StatusCode, js.Headers)
	}
	if !strings.Contains(r.Body, `data-voice-version="`+voice.Version()+`"`) {
		t.Error("no clip version on the page")
	}
	if r := f.as(f.login("cashier-a"), get("/admin/cashier")); !strings.Contains(r.Body, `href="/admin/announce"`) {
		t.Error("the cashier desk does not link to 收款播报")
	}
	mf := newMapiFixture(t)
	m := mf.as(mf.login("manager-a"), get("/m"))
	if m.StatusCode != 200 {
		t.Errorf("managers' home: %d %s", m.StatusCode, m.Body)
	} else {
		if !strings.Contains(m.Body, announceJS+"</script>") || !strings.Contains(m.Body, `data-api="/m/api/announcements"`) ||
			!strings.Contains(m.Headers["Content-Security-Policy"], hashSource(mobileJS)) {
			t.Errorf("managers' home without 收款播报: %s", m.Headers["Content-Security-Policy"])
		}
	}
}

// Clips are served to anyone, cached for good when the URL names the
// current set; unknown ones are 404.
func TestVoiceClips(t *testing.T) {
	f := newFixture(t)
	r := f.do(get("/admin/voice/wechat.wav?v=" + voice.Version()))
	b, _ := base64.StdEncoding.DecodeString(r.Body)
	want, _ := voice.Clip("wechat")
	if r.StatusCode != 200 || !r.IsBase64Encoded || string(b) != string(want) || r.Headers["Content-Type"] != "audio/wav" ||
		!strings.Contains(r.Headers["Cache-Control"], "immutable") {
		t.Fatalf("clip: %d %v", r.StatusCode, r.Headers)
	}
	if r := f.do(get("/admin/voice/wechat.wav?v=old")); r.Headers["Cache-Control"] != "no-cache" {
		t.Errorf("an old version cached: %v", r.Headers)
	}
	for _, p := range []string{"/admin/voice/nope.wav", "/admin/voice/wechat", "/admin/voice/..%2Fx.wav"} {
		if r := f.do(get(p)); r.StatusCode != 404 {
			t.Errorf("%s: %d", p, r.StatusCode)
		}
	}
}
